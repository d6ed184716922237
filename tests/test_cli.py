"""The command line, run as a user runs it: CliRunner for most, a real process for stdin bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import READER_REFERENCES, SAMPLE

from refkeeper.cli import cli

MURAKAMI_DOI = "10.1007/s00776-007-1126-1"


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "refs.db")
    result = CliRunner().invoke(cli, ["--db", path, "snapshot", "import", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "imported 302 works" in result.output
    return path


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_help_teaches_the_commands():
    out = run("--help").output
    for word in ("resolve", "add", "show", "export", "snapshot", "REFKEEPER_CROSSREF_URL"):
        assert word in out
    assert "matched" in run("resolve", "--help").output


def test_resolve_prints_status_doi_and_evidence(db):
    result = run("--db", db, "resolve", "--offline", READER_REFERENCES[1])
    assert result.exit_code == 0
    assert f"MATCHED  {MURAKAMI_DOI}" in result.output
    assert "agree: title, author, year" in result.output


def test_resolve_json_from_stdin_keeps_order_and_contract(db):
    result = run("--db", db, "resolve", "--offline", "--json", "-",
                 input="\n".join(READER_REFERENCES) + "\n")
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert [x["status"] for x in lines] == ["unmatched", "matched", "unmatched"]
    assert [x["input"] for x in lines] == READER_REFERENCES
    for x in lines:
        assert set(x) == {"input", "status", "doi", "score", "candidates", "error"}
    assert lines[1]["candidates"][0] == {
        "doi": MURAKAMI_DOI, "score": lines[1]["score"], "title": lines[1]["candidates"][0]["title"]
    }
    assert result.exit_code == 0


def test_bad_stdin_lines_become_error_lines_in_place(db, tmp_path):
    """Empty, undecodable and huge lines each get their own error answer; nothing is lost."""
    data = b"\n".join(
        [
            READER_REFERENCES[1].encode(),
            b"",
            b"Caf\xe9 au lait \xff\xfe 2001",
            b"x" * 20_000,
            READER_REFERENCES[0].encode(),
        ]
    ) + b"\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFKEEPER_")}
    proc = subprocess.run(
        [sys.executable, "-m", "refkeeper.cli", "--db", db, "resolve", "--offline", "--json", "-"],
        input=data, capture_output=True, env=env, timeout=60,
    )
    lines = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert [x["status"] for x in lines] == ["matched", "error", "error", "error", "unmatched"]
    assert "empty" in lines[1]["error"]
    assert "UTF-8" in lines[2]["error"]
    assert "longer than" in lines[3]["error"]
    assert proc.returncode == 1  # finished, with findings
    assert b"Traceback" not in proc.stderr


def test_usage_errors_exit_2_with_one_line(db):
    for args in (["resolve"], ["show", "10.1/not-stored"], ["show", "not a doi"], ["add"]):
        result = run("--db", db, *args)
        assert result.exit_code == 2, args
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert "Traceback" not in result.output


def test_show_and_export_a_stored_work(db, tmp_path):
    shown = run("--db", db, "show", f"https://doi.org/{MURAKAMI_DOI}")
    assert shown.exit_code == 0 and "Journal of Orthopaedic Science" in shown.output
    out = tmp_path / "refs.bib"
    result = run("--db", db, "export", "--format", "bibtex", "-o", str(out), MURAKAMI_DOI)
    assert result.exit_code == 0
    text = out.read_text()
    assert "@article{murakami2007effect," in text
    assert "pages = \"274--280\"" in text
    # The key is stored: a second export of everything keeps it.
    again = run("--db", db, "export")
    assert "@article{murakami2007effect," in again.output
    assert again.output.count("@") == 302


def test_database_path_comes_from_the_environment(db):
    result = CliRunner(env={"REFKEEPER_DB": db}).invoke(cli, ["show", MURAKAMI_DOI])
    assert result.exit_code == 0


def test_resolve_and_add_talk_to_the_crossref_url_from_the_environment(standin_clean, tmp_path):
    db = str(tmp_path / "refs.db")
    env = {"REFKEEPER_CROSSREF_URL": standin_clean.url, "REFKEEPER_MAILTO": "ed@example.org"}
    runner = CliRunner(env=env)
    text = "Miles SH, Ololo H: Traditional surgeons in sub-Saharan Africa: images from south Sudan. "
    text += "Int J STD AIDS 2003, 14(8):505-8."
    result = runner.invoke(cli, ["--db", db, "resolve", "--json", "-"], input=text + "\n")
    assert json.loads(result.output)["doi"] == "10.1258/095646203767869057"
    added = runner.invoke(cli, ["--db", db, "add", "--json", "10.1016/S0140-6736(05)67402-8",
                                "10.9999/missing"])
    assert added.exit_code == 1  # one DOI was not found: a finding
    statuses = [json.loads(x)["status"] for x in added.output.splitlines()]
    assert statuses == ["added", "not-found"]
    assert "requests" in str(standin_clean.stats) and standin_clean.stats["works_doi"] == 2


def test_crossref_down_is_a_one_line_error_answer(tmp_path):
    env = {"REFKEEPER_CROSSREF_URL": "http://127.0.0.1:9"}  # discard port: nothing answers
    result = CliRunner(env=env).invoke(
        cli, ["--db", str(tmp_path / "r.db"), "add", "10.1007/s00776-007-1126-1"]
    )
    assert result.exit_code == 2
    assert result.output.startswith("Error: Crossref unreachable")


def test_a_batch_against_a_crossref_that_is_down_answers_every_line_and_exits_2(tmp_path):
    env = {"REFKEEPER_CROSSREF_URL": "http://127.0.0.1:9"}
    lines = [f"Author A. A title about topic {i}. J Test. 2001;{i}:1-9." for i in range(5)]
    result = CliRunner(env=env).invoke(
        cli, ["--db", str(tmp_path / "r.db"), "resolve", "--json", "-"], input="\n".join(lines)
    )
    answers = [json.loads(x) for x in result.stdout.splitlines()]
    assert [a["input"] for a in answers] == lines
    assert all(a["status"] == "error" and "unreachable" in a["error"] for a in answers)
    # Unreachable is not a finding about the citations: exit 2, as for add and verify.
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Crossref unreachable") and len(result.stderr.splitlines()) == 1


def test_resolving_one_citation_against_a_crossref_that_is_down_exits_2(tmp_path):
    env = {"REFKEEPER_CROSSREF_URL": "http://127.0.0.1:9"}
    result = CliRunner(env=env).invoke(cli, ["--db", str(tmp_path / "r.db"), "resolve", READER_REFERENCES[1]])
    assert result.exit_code == 2
    assert "ERROR  Crossref unreachable" in result.stdout
    assert result.stderr.startswith("Error: Crossref unreachable")


def test_a_crossref_answer_of_the_wrong_shape_is_an_error_line_and_the_batch_goes_on(tmp_path):
    """Each citation's search gets its own answer; two come back as valid JSON of the wrong
    shape. Those lines are errors in their place; the others are answered as usual."""
    import gzip

    from test_crossref import json_server

    murakami = next(json.loads(line) for line in gzip.open(SAMPLE)
                    if json.loads(line)["DOI"].lower() == MURAKAMI_DOI)
    berthelot, murakami_text, borowsky = READER_REFERENCES

    def answer(path, query):
        q = query.get("query.bibliographic", "")
        if q.startswith("Berthelot"):
            return "Service Unavailable"
        if q.startswith("Borowsky"):
            return {"status": "ok", "message": {"items": [{"DOI": 10.1016, "title": ["x"]}]}}
        return {"status": "ok", "message": {"items": [murakami]}}

    with json_server(answer) as url:
        result = CliRunner(env={"REFKEEPER_CROSSREF_URL": url}).invoke(
            cli, ["--db", str(tmp_path / "r.db"), "resolve", "--json", "-"],
            input="\n".join(READER_REFERENCES) + "\n")
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["input"] for x in lines] == [berthelot, murakami_text, borowsky]
    assert [x["status"] for x in lines] == ["error", "matched", "error"]
    assert lines[1]["doi"] == MURAKAMI_DOI
    assert "unexpected shape" in lines[0]["error"] and "unexpected shape" in lines[2]["error"]
    assert result.exit_code == 1  # finished, with findings


@pytest.mark.parametrize("args", [
    ["claim", "show", str(2**63)],
    ["link", str(2**64), MURAKAMI_DOI, "--stance", "supports"],
    ["request", "show", "99999999999999999999999"],
    ["history", "--claim", str(2**63)],
    ["history", "--request", "12x"],
    ["export", "--claim", str(2**63)],
])
def test_an_id_no_database_can_hold_is_a_one_line_input_error(db, args):
    result = run("--db", db, *args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and "ID must be a whole number" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_the_largest_id_sqlite_holds_is_simply_not_found(db):
    result = run("--db", db, "claim", "show", str(2**63 - 1))
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "OverflowError" not in result.output and "ID must be" not in result.output


@pytest.mark.parametrize("args", [["resolve", READER_REFERENCES[1]], ["add", MURAKAMI_DOI],
                                  ["resolve", "--json", "-"]])
def test_a_crossref_url_that_can_never_work_fails_at_once_with_one_line(tmp_path, args):
    runner = CliRunner(env={"REFKEEPER_CROSSREF_URL": "ftp://api.crossref.org"})
    result = runner.invoke(cli, ["--db", str(tmp_path / "r.db"), *args], input=READER_REFERENCES[1] + "\n")
    assert result.exit_code == 2
    assert result.output.startswith("Error: the Crossref URL must be an http:// or https:// address")
    assert len(result.output.strip().splitlines()) == 1


def test_offline_resolution_does_not_need_a_usable_crossref_url(db):
    result = CliRunner(env={"REFKEEPER_CROSSREF_URL": "ftp://api.crossref.org"}).invoke(
        cli, ["--db", db, "resolve", "--offline", READER_REFERENCES[1]])
    assert result.exit_code == 0 and f"MATCHED  {MURAKAMI_DOI}" in result.output


def test_export_to_a_symlink_writes_its_target_and_keeps_the_link(db, tmp_path):
    target = tmp_path / "library" / "refs.bib"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "refs.bib"
    link.symlink_to(target)
    result = run("--db", db, "export", "--force", "-o", str(link), MURAKAMI_DOI)
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert "@article{murakami2007effect," in target.read_text()
    assert f"wrote 1 entries to {link} (the file that was there is replaced)" in result.output


def test_export_does_not_overwrite_a_file_unless_forced(db, tmp_path):
    out = tmp_path / "refs.bib"
    out.write_text("my hand-edited library\n")
    refused = run("--db", db, "export", "-o", str(out), MURAKAMI_DOI)
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines()[-1].endswith("exists: pass --force to overwrite it")
    assert out.read_text() == "my hand-edited library\n"
    forced = run("--db", db, "export", "-f", "-o", str(out), MURAKAMI_DOI)
    assert forced.exit_code == 0 and "@article{murakami2007effect," in out.read_text()


def test_export_into_a_device_writes_into_it(db):
    result = run("--db", db, "export", "-o", "/dev/null", MURAKAMI_DOI)
    assert result.exit_code == 0, result.output
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


@pytest.mark.parametrize("where, message", [
    ("missing/refs.bib", "does not exist"),
    ("/dev/full", "no space left"),
])
def test_export_to_a_path_that_cannot_be_written_is_one_line(db, tmp_path, where, message):
    if where.startswith("/dev/") and not os.path.exists(where):
        pytest.skip(f"no {where} here")
    path = where if where.startswith("/") else str(tmp_path / where)
    result = run("--db", db, "export", "-o", path)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
