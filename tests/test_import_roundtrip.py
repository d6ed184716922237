"""Property: random valid works survive export -> import -> export -> import unchanged, and
every file written is read the same by two independent parsers (pybtex, bibtexparser)."""

from __future__ import annotations

import io
import unicodedata

import bibtexparser
import pybtex.errors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pybtex.database.input.bibtex import Parser as PybtexParser

from refkeeper._models import Work
from refkeeper.bibimport import latex_to_text, parse_bibliography
from refkeeper.export import export_works, plain_title

# What real titles and names hold: accents, LaTeX's special characters, Greek, scripts,
# dashes, symbols. (Typographic quotes are left out: ASCII LaTeX writes them as ' by design.)
_TEXT = st.sampled_from(list(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;()!?/+=-'"
    "&%$#_{}~^\\<>" "éüçñøßåŁłÖÉàõčš" "αβγΛΣΩ" "₂₃²³⁺" "–—µ×°±≤∼…"))
_WORD = st.text(_TEXT, min_size=1, max_size=12).map(lambda s: " ".join(s.split())).filter(
    lambda s: s and s[0].isalpha())
_NAME = st.text(st.sampled_from(list("abcdefghijklmnopqrstuvwxyzéüçñøßåłö")), min_size=2, max_size=10)


_DOI_SUFFIX = st.text("abcdefghij0123456789", min_size=3, max_size=8)


# Years before 1 AD (ISO 8601's numbering, as biblatex writes them), months, ranges of
# years and of months, open ends ([0]). No days: classic BibTeX has no field for one
# (tests/test_import_dates.py checks days through biblatex, RIS and CSL-JSON).
_YEARS = st.integers(-999, 2030).filter(bool)


@st.composite
def dates(draw):
    start = [draw(_YEARS)]
    if draw(st.booleans()):
        start.append(draw(st.integers(1, 12)))
    kind = draw(st.sampled_from(["one", "one", "range", "open"]))
    if kind == "one":
        return [start]
    if kind == "open":
        return [start, [0]]
    end = [draw(st.integers(start[0], 2030).filter(bool))]
    if len(start) > 1:
        end.append(draw(st.integers(start[1] if end[0] == start[0] else 1, 12)))
    return [start] if end == start else [start, end]


@st.composite
def records(draw):
    title = " ".join(draw(st.lists(_WORD, min_size=1, max_size=8)))
    people = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["person", "person", "literal", "one name"]))
        if kind == "literal":  # a corporate author with "and" and a comma
            people.append({"name": f"{draw(_NAME).title()} and {draw(_NAME).title()}, Inc."})
        elif kind == "one name":  # CSL's given-only or literal one-word name
            people.append({"name": draw(_NAME).title()})
        else:
            people.append({"family": draw(_NAME).title(), "given": draw(_NAME).title()})
    record = {
        "DOI": f"10.5555/{draw(_DOI_SUFFIX)}", "type": "journal-article", "title": [title],
        "container-title": [" ".join(draw(st.lists(_WORD, min_size=1, max_size=4)))],
        "issued": {"date-parts": draw(dates())},
        "volume": str(draw(st.integers(1, 400))),
    }
    if people:
        record["author"] = people
    return record


def _fields(record: dict) -> dict:
    return {
        "doi": record["DOI"].lower(),
        "title": plain_title(record["title"][0]),
        "container": plain_title(record["container-title"][0]),
        "authors": record.get("author", []),
        "issued": record["issued"],
        "volume": record["volume"],
    }


def _export(records_: list[dict], ascii_only: bool) -> str:
    buf = io.StringIO()
    export_works([Work.from_crossref(r) for r in records_], buf, "bibtex", ascii=ascii_only)
    return buf.getvalue()


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=5, unique_by=lambda r: r["DOI"]), st.booleans())
def test_random_works_survive_export_and_import_through_pybtex_and_bibtexparser(works, ascii_only):
    bib = _export(works, ascii_only)
    entries, problems = parse_bibliography(bib, "bibtex")
    assert problems == []
    assert [_fields(e.record) for e in entries] == [
        {**_fields(w), "title": unicodedata.normalize("NFC", " ".join(plain_title(w["title"][0]).split()))}
        for w in works]
    # once imported, exported again: the same file, the same entries
    again = _export([{**e.record, "DOI": e.record["DOI"]} for e in entries], ascii_only)
    assert again == bib
    # two independent parsers read the same entries, keys and fields from the file
    with pybtex.errors.capture() as errors:
        pyb = PybtexParser().parse_string(bib)
    assert not list(errors)
    independent = bibtexparser.parse_string(bib)
    assert not independent.failed_blocks
    keys = [e.key for e in entries]
    assert list(pyb.entries.keys()) == keys == [e.key for e in independent.entries]
    for entry, p_entry, b_entry in zip(entries, pyb.entries.values(), independent.entries, strict=True):
        assert latex_to_text(p_entry.fields["title"], markup=True) == entry.record["title"][0]
        assert latex_to_text(b_entry.fields_dict["title"].value.strip('"'), markup=True) == (
            entry.record["title"][0])
        assert p_entry.fields["doi"] == b_entry.fields_dict["doi"].value.strip('"')
        authors = [p for p in entry.record.get("author", [])]
        assert len(p_entry.persons.get("author", [])) == len(authors)
