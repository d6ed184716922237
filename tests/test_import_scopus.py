"""Scopus CSV exports: read by their header, names in both of Scopus's styles, document
types through the one type table; a CSV that is not Scopus's is refused by what it is."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from refkeeper._errors import InputError
from refkeeper.bibimport import open_bibliography, parse_bibliography, read_bibliography, sniff_format
from refkeeper.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "import"
MURAKAMI = ("Effect of periarticular and intraarticular lidocaine injections for sacroiliac joint "
            "pain: prospective comparative study")


def _import(tmp_path, *args):
    return CliRunner().invoke(cli, ["--db", str(tmp_path / "r.db"), "import", "--offline",
                                    *map(str, args)])


def test_a_scopus_export_with_a_byte_order_mark_is_told_by_its_header_and_read_row_by_row():
    bib = open_bibliography(FIXTURES / "scopus-export.csv")
    assert (bib.format, str(bib.encoding)) == ("scopus", "UTF-8, BOM")
    entries = list(bib)
    assert [e.key for e in entries] == ["2-s2.0-34250373012", "2-s2.0-31344444407",
                                        "2-s2.0-85000000001", "2-s2.0-85000000002"]
    # the first row's abstract spans two lines: the second row starts on line 4
    assert [e.line for e in entries] == [2, 4, 5, 6]
    first = entries[0].record
    assert first["title"] == [MURAKAMI]
    assert first["DOI"] == "10.1007/s00776-007-1126-1"
    assert first["container-title"] == ["Journal of Orthopaedic Science"]
    assert first["short-container-title"] == ["J. Orthop. Sci."]
    assert first["issued"] == {"date-parts": [[2007]]}
    assert (first["volume"], first["issue"], first["page"]) == ("12", "3", "274-280")
    assert first["ISSN"] == ["0949-2658"] and entries[1].record["ISSN"] == ["1297-319X"]
    assert first["x-pmid"] == "17530379"


def test_author_full_names_are_preferred_and_scopus_ids_dropped():
    entries, _ = read_bibliography(FIXTURES / "scopus-export.csv")
    assert entries[0].record["author"][:2] == [{"family": "Murakami", "given": "Eiichi"},
                                               {"family": "Tanaka", "given": "Yasuhisa"}]
    # no full names: the "Surname, I." column, particles and hyphenated initials kept
    assert entries[1].record["author"][:3] == [
        {"family": "Berthelot", "given": "J.-M."}, {"family": "Labat", "given": "J.-J."},
        {"family": "Le Goff", "given": "B."}]
    assert "author" not in entries[2].record  # "[No author name available]"
    assert entries[3].record["author"] == [{"family": "van der Berg", "given": "H."},
                                           {"name": "World Health Organization"}]


def test_older_exports_write_surname_then_initials_without_a_comma():
    entries, problems = read_bibliography(FIXTURES / "scopus-old-authors.csv")
    assert problems == []
    assert entries[0].record["author"] == [{"family": "Murakami", "given": "E."},
                                           {"family": "Tanaka", "given": "Y."},
                                           {"family": "Aizawa", "given": "T."}]
    assert entries[1].record["author"] == [{"family": "Berthelot", "given": "J.-M."},
                                           {"family": "Le Goff", "given": "B."},
                                           {"family": "Van der Berg", "given": "H.J.K."}]


def test_document_types_map_through_the_one_type_table():
    entries, _ = read_bibliography(FIXTURES / "scopus-export.csv")
    assert [e.record["type"] for e in entries] == [
        "journal-article", "journal-article", "proceedings", "book-chapter"]
    header = "Title,Year,Source title,Document Type,EID\n"
    rows = "".join(f'"T{n}",2020,"S","{t}",2-s2.0-{n}\n' for n, t in enumerate(
        ["Conference Paper", "Book", "Letter", "Erratum", "Report", "Something New"]))
    entries, _ = parse_bibliography(header + rows, "scopus")
    assert [e.record["type"] for e in entries] == [
        "proceedings-article", "book", "journal-article", "journal-article", "report", "other"]


def test_a_placeholder_doi_is_reported_with_its_line_and_not_read():
    entries, problems = read_bibliography(FIXTURES / "scopus-export.csv")
    assert "DOI" not in entries[2].record
    assert problems == ["line 5: DOI 'DOI' is not a DOI; not read"]
    assert entries[2].record["article-number"] == "e0123"
    assert entries[2].record["ISBN"] == ["9783030000001", "3030000001"]


def test_the_import_command_reads_a_scopus_export_by_content_and_by_name(tmp_path):
    result = _import(tmp_path, FIXTURES / "scopus-old-authors.csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("ADDED") == 2
    assert "(scopus, UTF-8)" in result.stderr
    (tmp_path / "b").mkdir()
    named = tmp_path / "export.txt"
    named.write_bytes((FIXTURES / "scopus-old-authors.csv").read_bytes())
    assert _import(tmp_path / "b", "--from", "scopus", named).exit_code == 0
    (tmp_path / "c").mkdir()  # --format: the same option, named as export names it
    assert "ADDED" in _import(tmp_path / "c", "--format", "scopus", named).stdout


def test_a_scopus_export_given_as_another_format_is_named_with_the_way_to_read_it(tmp_path):
    as_ris = tmp_path / "scopus.ris"
    as_ris.write_bytes((FIXTURES / "scopus-export.csv").read_bytes())
    with pytest.raises(InputError, match=r"no RIS entry read: the file looks like a Scopus CSV "
                                         r"export \(read it with --from scopus\)"):
        read_bibliography(as_ris)
    with pytest.raises(InputError, match="looks like a Scopus CSV export"):
        read_bibliography(FIXTURES / "scopus-export.csv", "csl-json")
    result = _import(tmp_path, "--from", "bibtex", FIXTURES / "scopus-old-authors.csv")
    assert result.exit_code == 2 and "--from scopus" in result.output
    assert "Traceback" not in result.output


def test_a_csv_that_is_not_scopus_is_refused_naming_its_columns(tmp_path):
    zotero = tmp_path / "zotero.csv"
    zotero.write_text('"Key","Item Type","Publication Year","Author","Title","Publication Title"\n'
                      '"ABCD1234","journalArticle","2007","Murakami, Eiichi","Effect","J Orthop Sci"\n',
                      encoding="utf-8")
    with pytest.raises(InputError, match=r"looks like a CSV table with columns Key, Item Type, "
                                         r"Publication Year, Author, Title, Publication Title, "
                                         r"which is not read"):
        open_bibliography(zotero)
    with pytest.raises(InputError, match=r"not a Scopus CSV export: its columns are Key, Item Type"):
        read_bibliography(zotero, "scopus")
    result = _import(tmp_path, zotero)
    assert result.exit_code == 2 and "Item Type" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("head", "found"), [
    ("Authors,Title,Year,Source title,EID\nA,B,2000,C,2-s2.0-1\n", "scopus"),
    ('\ufeff"Title","Year","Author full names","DOI"\n', "scopus"),
    ("Authors,Title,Year,Journal\nA,B,2000,C\n", "csv"),
    # prose with commas before BibTeX is no header
    ("Exported by a tool, version 5, for you, today\nand more, words\nthird line\n@article{a,}", "bibtex"),
    ("@article{a, title = {A, B, C, D}}\n", "bibtex"),
])
def test_a_csv_header_is_told_from_prose_and_scopus_from_other_tables(head, found):
    assert sniff_format(head) == found
