"""Files as other tools write them: byte-order marks, declared and undeclared encodings,
Web of Science exports, files with nothing to read."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from refkeeper._errors import InputError
from refkeeper.bibimport import open_bibliography, read_bibliography
from refkeeper.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "import"


def _import(tmp_path, *args):
    return CliRunner().invoke(cli, ["--db", str(tmp_path / "r.db"), "import", "--offline", *map(str, args)])


@pytest.mark.parametrize(("name", "encoding", "title"), [
    ("jabref-windows-1252.bib", "cp1252, declared",
     "Régularité des solutions et équations de Navier–Stokes"),
    ("utf16-bom.bib", "UTF-16, BOM", "Straße, café and naïve façades: a survey"),
    ("utf8-bom.ris", "UTF-8, BOM", "Straße, café and naïve façades"),
    ("undeclared-latin1.bib", "detected",
     "Über die Größe der Flüsse in Ölfeldern: eine Übersicht für Ärzte"),
])
def test_byte_order_marks_and_declared_or_detected_encodings_are_honoured(tmp_path, name, encoding, title):
    bib = open_bibliography(FIXTURES / name)
    assert encoding in str(bib.encoding)
    (entry,) = list(bib)
    assert entry.record["title"] == [title]
    result = _import(tmp_path, FIXTURES / name)
    assert "ADDED" in result.stdout
    assert f"({bib.format}, {bib.encoding})" in result.stderr  # the report says which encoding


def test_an_undeclared_single_byte_file_is_detected_not_refused():
    bib = open_bibliography(FIXTURES / "undeclared-latin1.bib")
    assert bib.encoding.how == "detected"
    (entry,) = list(bib)
    assert entry.record["author"][0] == {"family": "Müller", "given": "Jürgen"}


def test_a_web_of_science_export_is_read_and_named_when_given_as_ris(tmp_path):
    entries, problems = read_bibliography(FIXTURES / "wos-savedrecs.txt")
    assert problems == []
    assert [e.doi for e in entries] == ["10.1007/s00776-007-1126-1", "10.1016/j.jbspin.2005.03.004"]
    assert entries[0].record["title"] == [
        "Effect of periarticular and intraarticular lidocaine injections for sacroiliac joint pain: "
        "prospective comparative study"]
    assert entries[0].record["author"][0] == {"family": "Murakami", "given": "Eiichi"}
    assert entries[0].record["issued"] == {"date-parts": [[2007, 5]]}
    with pytest.raises(InputError, match="no RIS entry read: the file looks like a Web of Science "
                                         r"tagged export \(read it with --from wos\)"):
        read_bibliography(FIXTURES / "wos-named-as.ris")
    result = _import(tmp_path, FIXTURES / "wos-named-as.ris")
    assert result.exit_code == 2 and "Web of Science" in result.output and "Traceback" not in result.output
    assert _import(tmp_path, "--from", "wos", FIXTURES / "wos-named-as.ris").exit_code == 0


def test_a_file_with_no_readable_entry_is_an_error_not_zero_entries(tmp_path):
    with pytest.raises(InputError, match="no BibTeX entry read"):
        read_bibliography(FIXTURES / "empty-of-entries.bib")
    result = _import(tmp_path, FIXTURES / "empty-of-entries.bib")
    assert result.exit_code == 2 and "no BibTeX entry read" in result.output
    # a format recognised but not read is named (Scopus CSV: tests/test_import_scopus.py)
    medline = tmp_path / "pubmed.txt"
    medline.write_text("PMID- 17530379\nTI  - Effect of periarticular lidocaine\n", encoding="utf-8")
    with pytest.raises(InputError, match="looks like a PubMed/MEDLINE export, which is not read"):
        open_bibliography(medline)
    with pytest.raises(InputError, match="no RIS entry read: the file looks like a PubMed/MEDLINE export$"):
        read_bibliography(medline, "ris")


def test_a_byte_order_mark_that_lies_is_an_input_error(tmp_path):
    bad = tmp_path / "y.bib"
    bad.write_bytes(b"\xef\xbb\xbf@article{a, title = {\xff}}")
    with pytest.raises(InputError, match="starts with a UTF-8 byte-order mark, but is not UTF-8"):
        open_bibliography(bad)


def test_csl_names_with_only_given_or_only_literal_come_out_right_in_ris():
    import io
    import json

    from refkeeper.bibimport import parse_bibliography
    from refkeeper.export import export_works

    csl = json.dumps([{"id": "k", "type": "book", "title": "Annual report", "DOI": "10.5555/annual",
                       "author": [{"given": "Plato"}, {"literal": "Barnes and Noble, Inc."},
                                  {"family": "Doe", "given": "Jane"},
                                  {"literal": "World Health Organization"}]}])
    (entry,), _ = parse_bibliography(csl, "csl-json")
    people = [{"name": "Plato"}, {"name": "Barnes and Noble, Inc."}, {"family": "Doe", "given": "Jane"},
              {"name": "World Health Organization"}]
    assert entry.record["author"] == people
    buf = io.StringIO()
    export_works([entry.work()], buf, "ris")
    assert "AU  - Barnes and Noble, Inc.,\n" in buf.getvalue() and "AU  - Plato\n" in buf.getvalue()
    (again,), _ = parse_bibliography(buf.getvalue(), "ris")
    assert again.record["author"] == people


def test_a_ris_file_whose_only_record_never_ends_says_why_nothing_was_read(tmp_path):
    cut = tmp_path / "cut.ris"
    cut.write_text("TY  - JOUR\nTI  - Effect of periarticular lidocaine\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no RIS entry read: .*\(1 record\(s\) without an ER line"):
        read_bibliography(cut)
