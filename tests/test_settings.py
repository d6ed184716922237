"""Settings are read once, at the edge; the library takes explicit arguments."""

from __future__ import annotations

import ast
from pathlib import Path

from click.testing import CliRunner
from conftest import READER_REFERENCES, SAMPLE

from refkeeper import CrossrefClient, CrossrefSource, IndexSource, Settings, Store
from refkeeper.cli import cli

SRC = Path(__file__).resolve().parent.parent / "src" / "refkeeper"
# The edges: the only code allowed to look at the process environment.
EDGES = ("cli", "web")


def test_settings_come_from_the_three_contract_variables():
    s = Settings.from_environ({
        "REFKEEPER_DB": "/data/desk.db",
        "REFKEEPER_CROSSREF_URL": "http://127.0.0.1:8080",
        "REFKEEPER_MAILTO": "ed@example.org",
        "REFKEEPER_EDITOR": "anna",  # a CLI option's default, not a setting of the library
    })
    assert s == Settings(db="/data/desk.db", crossref_url="http://127.0.0.1:8080", mailto="ed@example.org")


def test_unset_or_empty_variables_keep_the_defaults():
    for environ in ({}, {"REFKEEPER_DB": "", "REFKEEPER_CROSSREF_URL": "", "REFKEEPER_MAILTO": ""}):
        s = Settings.from_environ(environ)
        assert (s.db, s.crossref_url, s.mailto) == ("refs.db", "https://api.crossref.org", None)


def test_the_library_ignores_the_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REFKEEPER_DB", str(tmp_path / "elsewhere.db"))
    monkeypatch.setenv("REFKEEPER_CROSSREF_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("REFKEEPER_MAILTO", "someone@example.org")
    client = CrossrefClient()
    assert (client.base_url, client.mailto) == ("https://api.crossref.org", None)
    store = Store()
    assert store.path == "refs.db" and (tmp_path / "refs.db").exists()
    store.close()
    assert not (tmp_path / "elsewhere.db").exists()


def test_no_module_below_the_edges_reads_the_environment():
    readers = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0] in EDGES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                readers.append(f"{rel}:{node.lineno}")
    assert readers == []


def test_services_are_built_from_settings(tmp_path):
    settings = Settings(db=str(tmp_path / "desk.db"), crossref_url="http://127.0.0.1:8080/",
                        mailto="ed@example.org")
    client = settings.client(max_retries=1)
    assert (client.base_url, client.mailto, client.max_retries) == (
        "http://127.0.0.1:8080", "ed@example.org", 1)
    store = settings.store()
    assert store.path == str(tmp_path / "desk.db")
    online = settings.resolver(store)
    assert isinstance(online.source, CrossrefSource)
    assert online.source.client.base_url == "http://127.0.0.1:8080"
    offline = settings.resolver(store, offline=True, refresh=True)
    assert isinstance(offline.source, IndexSource) and offline.source.store is store and offline.refresh


def test_the_db_option_wins_over_the_environment(tmp_path):
    chosen, other = str(tmp_path / "chosen.db"), str(tmp_path / "other.db")
    runner = CliRunner(env={"REFKEEPER_DB": other})
    assert runner.invoke(cli, ["--db", chosen, "snapshot", "import", str(SAMPLE)]).exit_code == 0
    result = runner.invoke(cli, ["--db", chosen, "resolve", "--offline", READER_REFERENCES[1]])
    assert result.exit_code == 0 and "MATCHED" in result.output
    assert not Path(other).exists()
