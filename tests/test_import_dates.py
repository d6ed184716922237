"""Dates keep their sign, month, day and range through import and every export.

What each format writes (and reads back):

* CSL-JSON: ``date-parts`` with two dates for a range, ``[0]`` for an open end (the CSL
  test suite's convention); years before 1 AD one lower, as CSL counts them (no year 0:
  biblatex's -0379, 380 BC in ISO 8601's numbering, is CSL's -380).
* biblatex: ``date`` as ISO 8601 / EDTF writes it (``-0379-02``, ``2019-03/2019-05``,
  ``2019/..``).
* classic BibTeX: ``year`` and ``month`` as they should print, BibTeX having no date type:
  ``year = {2019--2021}``, ``year = {2019--}`` (open), ``month = mar # "--" # may``. A day
  has no field there and is the one thing left out.
* RIS: ``PY`` the signed four-digit year (``-0379``), ``DA`` ``YYYY/MM/DD/other`` with the
  whole range in "other" as ISO 8601 writes it (``2019/03//2019-03/2019-05``): a reader
  that knows no range keeps the start and the text.
"""

from __future__ import annotations

import io
import json

import pytest
from pybtex.database.input.bibtex import Parser as PybtexParser

from refkeeper._models import Work
from refkeeper.bibimport import parse_bibliography
from refkeeper.export import date_range, edtf_date, export_works, write_bibtex

# (date-parts, biblatex date, classic BibTeX year and month, RIS PY and DA)
CASES = [
    ([[-379, 2]], "-0379-02", ("-379", "feb"), ("-0379", "-0379/02//")),
    ([[1988], [1992]], "1988/1992", ("1988--1992", None), ("1988", "1988///1988/1992")),
    ([[2004, 2], [2004, 5]], "2004-02/2004-05", ("2004", 'feb # "--" # may'),
     ("2004", "2004/02//2004-02/2004-05")),
    ([[2019], [0]], "2019/..", ("2019--", None), ("2019", "2019///2019/..")),
    ([[2019, 3], [0]], "2019-03/..", ("2019--", "mar"), ("2019", "2019/03//2019-03/..")),
    ([[2019, 11], [2020, 2]], "2019-11/2020-02", ("2019--2020", 'nov # "--" # feb'),
     ("2019", "2019/11//2019-11/2020-02")),
    ([[-400], [-379]], "-0400/-0379", ("-400---379", None), ("-0400", "-0400///-0400/-0379")),
    ([[2019, 3, 4]], "2019-03-04", ("2019", "mar"), ("2019", "2019/03/04/")),
    ([[2007]], "2007", ("2007", None), ("2007", None)),
]
IDS = [c[1] for c in CASES]


def _works(parts):
    return [Work.from_crossref({"DOI": "10.5555/date", "type": "book", "title": ["A dated work"],
                                "issued": {"date-parts": parts}})]


def _read_back(text: str, fmt: str) -> list:
    (entry,), problems = parse_bibliography(text, fmt)
    assert problems == []
    return entry.record["issued"]["date-parts"]


@pytest.mark.parametrize(("parts", "biblatex", "classic", "ris"), CASES, ids=IDS)
def test_biblatex_writes_the_date_as_read_and_reads_it_back(parts, biblatex, classic, ris):
    bib = f"@book{{k, title = {{A dated work}}, date = {{{biblatex}}}}}"
    assert _read_back(bib, "bibtex") == parts
    assert edtf_date(date_range({"issued": {"date-parts": parts}})) == biblatex
    buf = io.StringIO()
    write_bibtex(_works(parts), buf, biblatex=True)
    assert f'date = "{biblatex}"' in buf.getvalue() and "year =" not in buf.getvalue()
    assert _read_back(buf.getvalue(), "bibtex") == parts


@pytest.mark.parametrize(("parts", "biblatex", "classic", "ris"), CASES, ids=IDS)
def test_classic_bibtex_writes_year_and_month_as_they_should_print(parts, biblatex, classic, ris):
    buf = io.StringIO()
    export_works(_works(parts), buf, "bibtex")
    text = buf.getvalue()
    year, month = classic
    assert f'year = "{year}"' in text
    assert (f"month = {month}" in text) if month else ("month" not in text)
    without_day = [p[:2] for p in parts]
    if len(parts) == 1 or parts[0][:2] != parts[1][:2]:
        assert _read_back(text, "bibtex") == without_day
    # pybtex, an independent reader, sees the month range as BibTeX prints it
    fields = next(iter(PybtexParser().parse_string(text).entries.values())).fields
    assert fields["year"] == year
    if month and "#" in month:
        names = {"feb": "February", "may": "May", "nov": "November"}
        first, last = month.split(' # "--" # ')
        assert fields["month"] == f"{names[first]}--{names[last]}"


@pytest.mark.parametrize(("parts", "biblatex", "classic", "ris"), CASES, ids=IDS)
def test_ris_keeps_the_sign_in_py_and_the_range_in_da(parts, biblatex, classic, ris):
    buf = io.StringIO()
    export_works(_works(parts), buf, "ris")
    text = buf.getvalue()
    py, da = ris
    assert f"PY  - {py}\n" in text
    assert (f"DA  - {da}\n" in text) if da else ("DA  -" not in text)
    assert _read_back(text, "ris") == parts


@pytest.mark.parametrize(("parts", "biblatex", "classic", "ris"), CASES, ids=IDS)
def test_csl_json_writes_two_date_parts_for_a_range_and_reads_them_back(parts, biblatex, classic, ris):
    buf = io.StringIO()
    export_works(_works(parts), buf, "csl-json")
    (item,) = json.loads(buf.getvalue())
    # CSL has no year 0 (-380 is 380 BC), ISO 8601 and biblatex do (-379 is 380 BC)
    csl = [[p[0] - 1 if p[0] < 0 else p[0], *p[1:]] for p in parts]
    assert item["issued"] == {"date-parts": csl}
    assert _read_back(buf.getvalue(), "csl-json") == parts


@pytest.mark.filterwarnings("ignore:The following arguments for Reference are unsupported")
@pytest.mark.parametrize(("biblatex", "printed"), [
    ("-0379-02", "(380 BC)"), ("-0400/-0379", "(401 BC–380 BC)"), ("1988/1992", "(1988–1992)"),
    ("2019/..", "(2019–)"),
])
def test_a_csl_processor_prints_what_biblatex_means(biblatex, printed):
    pytest.importorskip("citeproc")
    from citeproc import (
        Citation,
        CitationItem,
        CitationStylesBibliography,
        CitationStylesStyle,
        formatter,
    )
    from citeproc.source.json import CiteProcJSON

    (entry,), _ = parse_bibliography(f"@book{{k, title = {{T}}, date = {{{biblatex}}}}}", "bibtex")
    buf = io.StringIO()
    export_works([entry.work()], buf, "csl-json")
    items = json.loads(buf.getvalue())
    style = CitationStylesStyle("harvard-cite-them-right", validate=False)
    bibliography = CitationStylesBibliography(style, CiteProcJSON(items), formatter.plain)
    bibliography.register(Citation([CitationItem(items[0]["id"])]))
    assert printed in str(bibliography.bibliography()[0])


@pytest.mark.parametrize(("text", "parts"), [
    ("2019/", [[2019], [0]]),  # biblatex's own open end
    ("2019-03-04T10:00:00Z", [[2019, 3, 4]]),
    ("2019-21", [[2019]]),  # EDTF's seasons: the year alone
    ("1988/1988", [[1988]]),
])
def test_other_biblatex_dates_read_as_their_parts(text, parts):
    assert _read_back(f"@book{{k, title = {{T}}, date = {{{text}}}}}", "bibtex") == parts


def test_an_open_start_is_said_and_the_end_kept():
    (entry,), problems = parse_bibliography("@book{k, title = {T}, date = {../2019}}", "bibtex")
    assert entry.record["issued"] == {"date-parts": [[2019]]}
    assert problems == ["line 1: date '../2019' has an open start, which is not kept: read as its end"]


@pytest.mark.parametrize(("year", "month", "parts"), [
    ("{2019--2021}", None, [[2019], [2021]]),
    ("{1998-99}", None, [[1998], [1999]]),
    ("{2019--}", "mar", [[2019, 3], [0]]),
    ("2019", 'mar # "--" # may', [[2019, 3], [2019, 5]]),
    ("{-379}", None, [[-379]]),
    ("{2019-03}", None, [[2019]]),  # no range: an end before its start
    ("{in press, 2019}", None, [[2019]]),
])
def test_classic_bibtex_year_ranges_and_month_ranges_are_read(year, month, parts):
    more = f", month = {month}" if month else ""
    assert _read_back(f"@article{{k, title = {{T}}, year = {year}{more}}}", "bibtex") == parts


@pytest.mark.parametrize(("da", "parts"), [
    ("2007/05/01/", [[2007, 5, 1]]),
    ("2007/05//Spring", [[2007, 5]]),
    ("-0379/02//", [[-379, 2]]),
    ("2019///2019/2021", [[2019], [2021]]),
    ("2019/03//2018/2019", [[2019, 3]]),  # a range that does not start at DA's date: not it
    ("May 2007", [[2007]]),
])
def test_ris_da_values_as_tools_write_them(da, parts):
    year = str(parts[0][0]) if parts[0][0] > 0 else f"{parts[0][0]:05d}"
    ris = f"TY  - JOUR\nTI  - T\nPY  - {year}\nDA  - {da}\nER  - \n"
    assert _read_back(ris, "ris") == parts


@pytest.mark.parametrize(("issued", "parts"), [
    ({"date-parts": [[2019], [0]]}, [[2019], [0]]),
    ({"date-parts": [[2019], []]}, [[2019], [0]]),
    ({"date-parts": [["2019", "3"], ["2019", "5"]]}, [[2019, 3], [2019, 5]]),
    ({"raw": "2019-03/2019-05"}, [[2019, 3], [2019, 5]]),
    ({"literal": "Spring 1998"}, [[1998]]),
])
def test_csl_dates_as_tools_write_them(issued, parts):
    csl = json.dumps([{"id": "k", "type": "book", "title": "T", "issued": issued}])
    assert _read_back(csl, "csl-json") == parts


def test_dates_survive_the_store_from_import_to_every_export(tmp_path):
    from click.testing import CliRunner

    from refkeeper.cli import cli

    bib = tmp_path / "dated.bib"
    bib.write_text("@book{ancient, title = {Ancient things}, date = {-0379-02}, doi = {10.5555/anc}}\n"
                   "@book{span, title = {Span}, date = {2019-03/2019-05}, doi = {10.5555/span}}\n"
                   "@book{open, title = {Open}, date = {2019/..}, doi = {10.5555/open}}\n",
                   encoding="utf-8")
    db = ["--db", str(tmp_path / "r.db")]
    assert CliRunner().invoke(cli, [*db, "import", "--offline", str(bib)]).exit_code == 0
    expected = [[[-379, 2]], [[2019, 3], [2019, 5]], [[2019], [0]]]
    for fmt in ("bibtex", "ris", "csl-json"):
        out = CliRunner().invoke(cli, [*db, "export", "--format", fmt]).stdout
        entries, _ = parse_bibliography(out, fmt)
        by_doi = {e.doi: e.record["issued"]["date-parts"] for e in entries}
        assert [by_doi[d] for d in ("10.5555/anc", "10.5555/span", "10.5555/open")] == expected, fmt


@pytest.mark.parametrize(("parts", "apa", "vancouver"), [
    ([[-379, 2]], "(380 BCE)", "380 BCE Feb"),
    ([[1988], [1992]], "(1988–1992)", "1988–1992"),
    ([[2019], [0]], "(2019–)", "2019–"),
    ([[2004, 2], [2004, 5]], "(2004)", "2004 Feb-May"),  # NLM's range of months
    ([[2019, 11], [2020, 2]], "(2019–2020)", "2019 Nov-2020 Feb"),
    ([[2019, 3], [0]], "(2019–)", "2019 Mar–"),
])
def test_reference_styles_print_ranges_and_eras(parts, apa, vancouver):
    work = Work.from_crossref({"DOI": "10.5555/date", "type": "journal-article", "title": ["A dated work"],
                               "container-title": ["J Dates"], "author": [{"family": "Doe", "given": "Jane"}],
                               "issued": {"date-parts": parts}})
    from refkeeper.export import format_reference

    assert apa in format_reference(work, "apa", "text")
    assert f". {vancouver}." in format_reference(work, "vancouver", "text")
