"""Issue 11 as a hostile or clumsy user meets it, through the command line: a reply built
from hostile names, databases refkeeper may not write, a Crossref answering oddly shaped
JSON to re-verification, bibliography files that used to lose text, and Crossref's limits
announced by a real server (the stand-in over real HTTP) to a real `refkeeper` process.

The other failures of the issue are specified where their commands are: tests/test_cli.py
(wrong-shape answers to `resolve`, IDs, exit codes, `export -o`), tests/test_shared_db.py
(several writers, read-only and newer databases, snapshot lines), tests/test_import.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import READER_REFERENCES, SAMPLE
from standin import StandIn

from refkeeper.cli import cli

MURAKAMI = "10.1007/s00776-007-1126-1"
HOSTILE = "<script>alert(1)</script> [me](javascript:alert(1))"


def run(*args, input=None, env=None):
    return CliRunner(env=env).invoke(cli, [str(a) for a in args], input=input)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "refs.db"
    result = run("--db", path, "snapshot", "import", SAMPLE)
    assert result.exit_code == 0, result.output
    return path


def sample_records(n: int) -> list[dict]:
    import gzip

    with gzip.open(SAMPLE, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for _, line in zip(range(n), fh, strict=False)]


# -- item 4: the Markdown reply ----------------------------------------------------------------


def test_request_reply_markdown_renders_hostile_names_and_notes_as_text(db, tmp_path):
    from markdown_it import MarkdownIt

    comment = tmp_path / "comment.txt"
    comment.write_text(f"{HOSTILE}\n\n{READER_REFERENCES[1]}\n", encoding="utf-8")
    steps = [
        ("article", "add", f"Pain {HOSTILE}", "--slug", "pain"),
        ("claim", "add", "pain", f"*Injections* work {HOSTILE}"),
        ("request", "add", "--article", "pain", "--claim", "1", "--reader", HOSTILE,
         "--from-file", comment, "--offline"),
        ("request", "answer", "1", "--doi", MURAKAMI, "--stance", "contests", "--note", f"# See {HOSTILE}"),
    ]
    for args in steps:
        result = run("--db", db, *args, "--by", HOSTILE)
        assert result.exit_code == 0, (args, result.output)
    reply = run("--db", db, "request", "reply", "1", "--markdown", "--style", "apa")
    assert reply.exit_code == 0, reply.output
    md = reply.output
    # A lax renderer, as a comment system allowing HTML in Markdown is: raw HTML on, and
    # every link scheme accepted (markdown-it refuses javascript: by default).
    renderer = MarkdownIt("commonmark", {"html": True})
    renderer.validateLink = lambda url: True
    html = renderer.render(md)
    assert "<script" not in html and "<h1" not in html and "<em>Injections" not in html
    hrefs = [t.attrGet("href") for tok in renderer.parse(md) for t in [tok, *(tok.children or [])]
             if t.attrGet("href")]
    assert hrefs == [f"https://doi.org/{MURAKAMI}"]
    text = html.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    assert HOSTILE in text and f"# See {HOSTILE}" in text and f"*Injections* work {HOSTILE}" in text


# -- item 5: databases refkeeper must not write ----------------------------------------------


def test_a_read_only_database_exports_but_refuses_add_and_claim_add_in_one_line(db):
    assert run("--db", db, "article", "add", "An article", "--slug", "a").exit_code == 0
    os.chmod(db, 0o444)
    try:
        exported = run("--db", db, "export", "--format", "bibtex", MURAKAMI)
        assert exported.exit_code == 0 and "@article{murakami2007effect," in exported.output
        # `add` is refused before Crossref is asked: the URL below answers nothing.
        env = {"REFKEEPER_CROSSREF_URL": "http://127.0.0.1:9"}
        for args in (("add", "10.1016/j.jbspin.2005.03.004"), ("claim", "add", "a", "A claim")):
            result = run("--db", db, *args, env=env)
            assert result.exit_code == 2, result.output
            assert result.output.strip().splitlines() == [
                f"Error: cannot write to {db}: the file is read-only (mode 0444)"]
    finally:
        os.chmod(db, 0o644)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
        assert conn.execute("SELECT bibtex_key FROM works WHERE doi = ?", [MURAKAMI]).fetchone()[0] is None


def test_a_read_only_database_answers_offline_resolution_without_keeping_the_answer(db):
    os.chmod(db, 0o444)
    try:
        result = run("--db", db, "resolve", "--offline", READER_REFERENCES[1])
        batch = run("--db", db, "resolve", "--offline", "--json", "-", input=READER_REFERENCES[1] + "\n")
    finally:
        os.chmod(db, 0o644)
    assert result.exit_code == 0 and f"MATCHED  {MURAKAMI}" in result.output
    assert batch.exit_code == 0 and json.loads(batch.output)["doi"] == MURAKAMI
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM citations").fetchone()[0] == 0


def test_a_newer_database_refuses_add_and_claim_add_naming_the_versions(db):
    assert run("--db", db, "article", "add", "An article", "--slug", "a").exit_code == 0
    with sqlite3.connect(db) as conn:
        known = conn.execute("SELECT max(name) FROM _sqlite_migrations").fetchone()[0].split("_")[0]
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
                     " VALUES ('refkeeper', 'm099_from_the_future', '2031-01-01')")
    for args in (("add", "10.1016/j.jbspin.2005.03.004"), ("claim", "add", "a", "A claim")):
        result = run("--db", db, *args, env={"REFKEEPER_CROSSREF_URL": "http://127.0.0.1:9"})
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == [
            f"Error: {db} was written by a newer refkeeper (schema m099; this version knows up to {known})"]


# -- item 2: re-verification against oddly shaped answers ----------------------------------------


def test_verify_reports_a_record_of_the_wrong_shape_as_one_work_and_checks_the_rest(tmp_path):
    records = sample_records(40)
    path = tmp_path / "refs.db"
    with StandIn(records) as server:
        env = {"REFKEEPER_CROSSREF_URL": server.url, "REFKEEPER_MAILTO": "editor@example.org"}
        assert run("--db", path, "add", records[0]["DOI"], records[1]["DOI"], records[2]["DOI"],
                   env=env).exit_code == 0
        server.revise(records[1]["DOI"], {**records[1], "author": "Smith, J.", "title": 7})
        result = run("--db", path, "verify", "--all", "--json", env=env)
    assert "Traceback" not in result.output
    report = json.loads(result.stdout)
    assert report["run"]["status"] == "finished"
    assert report["counts"]["checked"] == 3 and report["counts"]["errors"] == 1


def test_verify_against_a_crossref_answering_the_wrong_shape_stops_in_one_line_and_resumes(db):
    from test_crossref import json_server

    with json_server(lambda path, query: "Service Unavailable") as url:
        result = run("--db", db, "verify", "--all", env={"REFKEEPER_CROSSREF_URL": url})
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "INTERRUPTED" in result.stdout
    assert result.stderr.splitlines()[0] == (
        "Error: Crossref answered a DOI list with an unexpected shape: a JSON str, not an object")
    assert "again to continue" in result.stderr


# -- items 6 and 8: what a bibliography file may hold ---------------------------------------------


def test_import_keeps_a_percent_sign_in_a_braced_title(tmp_path):
    bib = tmp_path / "library.bib"
    bib.write_text("% exported 2024 -- 100% checked\n"
                   "@article{pct, title = {Percent 100% and more}, author = {Doe, Jane},\n"
                   "  journal = {J Test}, year = {2001}, doi = {10.5555/percent}}\n", encoding="utf-8")
    db = tmp_path / "refs.db"
    result = run("--db", db, "import", "--offline", bib)
    assert result.exit_code == 0, result.output
    shown = run("--db", db, "export", "--format", "csl-json", "10.5555/percent")
    assert json.loads(shown.output)[0]["title"] == "Percent 100% and more"


def test_import_reads_a_ris_doi_as_one_token_and_says_when_a_do_line_is_no_doi(tmp_path):
    ris = tmp_path / "library.ris"
    ris.write_text("TY  - JOUR\nTI  - Effect of periarticular and intraarticular lidocaine\nPY  - 2007\n"
                   "DO  - 10.1007/s00776-007-1126-1\nsee also the erratum\nER  - \n\n"
                   "TY  - JOUR\nTI  - No DOI here\nDO  - see the publisher's site\nER  - \n",
                   encoding="utf-8")
    db = tmp_path / "refs.db"
    result = run("--db", db, "import", "--offline", ris)
    assert "Traceback" not in result.output
    assert "see the publisher's site" in result.output and "is not a DOI" in result.output
    with sqlite3.connect(db) as conn:
        keys = [r[0] for r in conn.execute("SELECT doi FROM works ORDER BY rowid")]
    # the entry whose DO line is no DOI is kept as a work without one, never under that text
    assert keys[0] == MURAKAMI and len(keys) == 2 and keys[1].startswith("rk:")


# -- item 7: limits, as a real `refkeeper` process meets them --------------------------------------


def resolve_batch(url: str, db, lines: list[str], **env) -> list[dict]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REFKEEPER_")}
    proc = subprocess.run([sys.executable, "-m", "refkeeper.cli", "--db", str(db), "resolve", "--json", "-"],
                          input="".join(x + "\n" for x in lines), capture_output=True, text=True,
                          env={**environ, "REFKEEPER_CROSSREF_URL": url, **env}, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    answers = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [a["input"] for a in answers] == lines
    return answers


def test_a_batch_mixing_dois_and_searches_is_never_refused_by_a_server_counting_them_together(tmp_path):
    """One rate limit over /works/{doi} and /works, one request at a time, no mailto: the
    client must pace both kinds of request by that one budget (12 of 333 were refused)."""
    records = sample_records(12)
    lines = []
    for rec in records:
        lines.append(f"doi:{rec['DOI']}")
        lines.append(f"{rec['title'][0]}. {(rec.get('container-title') or [''])[0]}")
    with StandIn(records, rate_limit=6, concurrency=1) as server:
        answers = resolve_batch(server.url, tmp_path / "refs.db", lines)
        stats = server.stats
    assert stats["works_doi"] >= 12 and stats["works_query"] >= 12
    assert stats["refused_rate"] == 0 and stats["refused_concurrency"] == 0
    assert not [a for a in answers if a["status"] == "error"]


def test_without_a_mailto_the_batch_uses_the_concurrency_the_server_announces(tmp_path):
    records = [{"DOI": f"10.5555/pool{i}", "title": [f"Pool sizing work number {i}"]} for i in range(30)]
    with StandIn(records, concurrency=8, latency=0.2) as server:
        answers = resolve_batch(server.url, tmp_path / "refs.db",
                                [f"Pool sizing work number {i}. 2001" for i in range(40)])
        stats = server.stats
    assert not [a for a in answers if a["status"] == "error"]
    assert stats["max_in_flight"] == 8 and stats["refused_concurrency"] == 0
