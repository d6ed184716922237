"""Works without a DOI are first-class (issue 12 "Entries without a DOI are dropped"): a
book, a thesis, a report and an old article import, export, verify, link and show like any
other work, under an internal key that is never taken for a DOI."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SAMPLE
from deskclient import token
from standin import StandIn

from refkeeper import Store, is_internal_key, workflow
from refkeeper._crossref import CrossrefClient
from refkeeper._registries import DoiClient, NcbiClient
from refkeeper.bibimport import import_entries, parse_bibliography, read_bibliography
from refkeeper.cli import cli
from refkeeper.export import export_store
from refkeeper.verify import verify

LIBRARY = Path(__file__).parent / "fixtures" / "nodoi" / "library.bib"
KEYS = ["knuth1984", "thiebaux1998", "who2003", "snow1855"]
WHO_URL = "https://apps.who.int/iris/handle/10665/42682"
MURAKAMI = "10.1007/s00776-007-1126-1"


def _run(args, db, **kw):
    return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False, **kw)


def _imported(tmp_path) -> Path:
    db = tmp_path / "refs.db"
    result = _run(["import", "--offline", "--json", str(LIBRARY)], db)
    assert result.exit_code == 0, result.output
    return db


def _rows(output: str) -> dict[str, dict]:
    return {r["key"]: r for r in map(json.loads, output.splitlines())}


def test_a_book_a_thesis_a_report_and_an_old_article_without_dois_are_all_stored(tmp_path):
    db = tmp_path / "refs.db"
    result = _run(["import", "--offline", str(LIBRARY)], db)
    assert result.exit_code == 0, result.output  # a work stored without a DOI is no finding
    assert "4 entries from" in result.stderr and "4 added-without-doi" in result.stderr
    assert "not stored" not in result.stderr
    store = Store(db)
    works = list(store.works())
    assert len(works) == 4
    assert all(w.doi is None and is_internal_key(w.key) and w.key.startswith("rk:") for w in works)
    by_key = {store.get_key(w.key): w for w in works}
    assert sorted(by_key) == sorted(KEYS)  # the file's keys are pinned
    assert by_key["knuth1984"].record["ISBN"] == ["0-201-13447-0"]
    assert by_key["knuth1984"].publisher == "Addison-Wesley" and by_key["knuth1984"].type == "book"
    assert by_key["thiebaux1998"].authors == ["Thiébaux, Sylvie"]
    assert by_key["who2003"].record["URL"] == WHO_URL
    assert by_key["snow1855"].container == "Edinburgh Medical Journal"
    store.close()


def test_importing_the_same_file_again_changes_nothing(tmp_path):
    db = _imported(tmp_path)
    store = Store(db)
    before = store.db.execute("SELECT doi, bibtex_key, updated_at FROM works ORDER BY doi").fetchall()
    store.close()
    again = _run(["import", "--offline", "--json", str(LIBRARY)], db)
    assert again.exit_code == 0
    rows = _rows(again.stdout)
    assert {r["status"] for r in rows.values()} == {"unchanged"}
    assert all(r["doi"] is None and r["work"].startswith("rk:") for r in rows.values())
    store = Store(db)
    assert store.db.execute("SELECT doi, bibtex_key, updated_at FROM works ORDER BY doi").fetchall() == before
    store.close()


def test_the_same_entry_written_by_another_file_finds_the_same_work(tmp_path):
    db = _imported(tmp_path)
    other = tmp_path / "other.ris"
    # Snow's article as another tool writes it: other key, other spelling of the title.
    other.write_text("TY  - JOUR\nID  - Snow1856\nAU  - Snow, J.\n"
                     "TI  - On the Mode of Communication of Cholera.\n"
                     "T2  - Edinburgh medical journal\nPY  - 1856\nER  - \n", encoding="utf-8")
    result = _run(["import", "--offline", "--json", str(other)], db)
    [row] = _rows(result.stdout).values()
    first = _rows(_run(["import", "--offline", "--json", str(LIBRARY)], db).stdout)["snow1855"]
    assert row["work"] == first["work"]
    # the same work, whose key the first file pinned: a different key is a difference to show
    assert row["status"] == "differs" and ["key", "snow1855", "Snow1856"] in [
        [d["field"], d["stored"], d["file"]] for d in row["diff"]]


@pytest.mark.parametrize("fmt", ["bibtex", "csl-json", "ris"])
def test_every_export_carries_them_without_a_doi_and_reads_back_as_the_same_works(tmp_path, fmt):
    db = _imported(tmp_path)
    store = Store(db)
    buf = io.StringIO()
    export_store(store, buf, fmt)
    text = buf.getvalue()
    assert "doi.org" not in text and "rk:" not in text
    assert not re.search(r"(?im)^\s*(doi\s*=|DO  -)|\"DOI\"", text)
    assert WHO_URL in text  # the link it was imported with
    entries, problems = parse_bibliography(text, fmt)
    assert problems == [] and [e.key for e in entries] == KEYS
    results = list(import_entries(store, entries))
    assert [r.status for r in results] == ["unchanged"] * 4, [(r.entry.key, r.diff) for r in results]
    assert store.count_works() == 4
    store.close()


def test_bibtexparser_reads_the_bibtex_export_as_four_entries_without_a_doi(tmp_path):
    bibtexparser = pytest.importorskip("bibtexparser")
    db = _imported(tmp_path)
    text = _run(["export"], db).stdout
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks
    entries = {e.key: e for e in library.entries}
    assert sorted(entries) == sorted(KEYS)
    assert {e.entry_type for e in entries.values()} == {"book", "phdthesis", "techreport", "article"}
    assert not any("doi" in e.fields_dict for e in entries.values())
    assert entries["knuth1984"].fields_dict["isbn"].value == "0-201-13447-0"
    assert entries["who2003"].fields_dict["url"].value == WHO_URL
    assert "url" not in entries["snow1855"].fields_dict


def test_a_work_key_given_to_export_and_show_names_the_work(tmp_path):
    db = _imported(tmp_path)
    key = _rows(_run(["import", "--offline", "--json", str(LIBRARY)], db).stdout)["knuth1984"]["work"]
    shown = _run(["show", key], db)
    assert shown.exit_code == 0
    assert f"no DOI (stored as {key})" in shown.stdout and "0-201-13447-0" in shown.stdout
    assert _run(["export", key], db).stdout.startswith("@book{knuth1984,")
    assert _run(["show", "rk:0000000000000000"], db).exit_code != 0


@pytest.fixture
def registries():
    with StandIn([SAMPLE]) as server:
        yield server


def test_verify_calls_none_of_them_dead_and_asks_no_registry_about_them(tmp_path, registries):
    db = _imported(tmp_path)
    store = Store(db)
    store.import_snapshot(SAMPLE)  # works with DOIs beside them
    registries.reset()
    kw = {"backoff": 0.01, "timeout": 5}
    report = verify(store, all=True,
                    client=CrossrefClient(base_url=registries.url, mailto="e@example.org", **kw),
                    handles=DoiClient(registries.urls["doi_url"], **kw),
                    ncbi=NcbiClient(registries.urls["ncbi_url"], idconv_url=registries.urls["idconv_url"],
                                    email="e@example.org", **kw))
    assert report.status == "finished" and report.without_doi == 4
    no_doi = {w.key for w in store.works() if w.doi is None}
    assert not [f for f in report.findings if f.doi in no_doi]
    assert not any("rk%3A" in t or "rk:" in t for t, _ in registries.history)
    assert all(store.recorded_problems(k) == [] for k in no_doi)  # checked, and fine
    store.close()
    out = _run(["verify", "--all"], db, env={**registries.environ})
    assert "4 without a DOI: no DOI to check" in out.stdout


def test_a_claim_links_to_a_work_without_a_doi_from_the_command_line(tmp_path):
    db = _imported(tmp_path)
    store = Store(db)
    art = workflow.add_article(store, "Cholera and water", slug="cholera")
    claim = workflow.add_claim(store, art.id, "Cholera spreads through water.")
    snow = next(w for w in store.works() if w.title.startswith("On the mode"))
    store.close()
    result = _run(["link", str(claim.id), snow.key, "--stance", "supports"], db)
    assert result.exit_code == 0, result.output
    assert snow.key in result.stdout
    shown = _run(["claim", "show", str(claim.id)], db).stdout
    assert snow.key in shown and "no DOI" in shown
    store = Store(db)
    [lk] = workflow.links(store, claim.id)
    assert lk.doi == snow.key and lk.stance == "supports"
    assert [h.action for h in workflow.history(store, doi=snow.key)] == ["link.add"]
    assert _run(["history", "--doi", snow.key], db).exit_code == 0
    # the claim's export carries the work, without a DOI
    bib = _run(["export", "--claim", str(claim.id)], db).stdout
    assert bib.startswith("@article{snow1855,") and "doi" not in bib
    store.close()


def test_the_desk_shows_a_work_without_a_doi_and_links_a_claim_to_it(client, db):
    store = Store(db)
    entries, _ = read_bibliography(LIBRARY)
    [result] = import_entries(store, entries[:1])  # the book
    store.close()
    key = result.work
    page = client.get(f"/works/{key}")
    assert page.status_code == 200
    assert "The TeXbook" in page.text and "no DOI" in page.text and "0-201-13447-0" in page.text
    assert "doi.org/rk" not in page.text
    works = client.get("/works", params={"q": "TeXbook Knuth"}).text
    assert f'href="/works/{key}"' in works.replace("%3A", ":") and "no DOI" in works
    form = {"doi": key, "stance": "supports", "csrf_token": token(client)}
    posted = client.post("/claims/1/links", data=form, follow_redirects=True)
    assert posted.status_code == 200 and "The TeXbook" in posted.text
    assert f"Linked {key}" in posted.text
