"""BibTeX export of stored works, written with pybtex.

Everything that comes from Crossref is treated as untrusted text. This module and
``latex`` do all LaTeX escaping themselves and hand pybtex's BibTeX writer values that
are already final:

* pybtex 0.26's writer escapes ``% & _ #`` (and ``~``) through latexcodec but leaves
  ``\\ { } $ ^`` alone, and it would also escape ``doi``/``url``, which must stay verbatim
  (a DOI with ``_`` read back would come out as ``\\_``). So ``_Writer`` below switches the
  writer's encoding step off and only keeps its quoting, brace checking and layout.
* Text fields are escaped so that no character from Crossref can start a LaTeX command or
  change brace depth: ``{`` and ``}`` become ``\\textbraceleft{}``/``\\textbraceright{}``
  (BibTeX counts ``\\{`` as a brace, so ``\\{`` would unbalance the entry), ``\\`` becomes
  ``\\textbackslash{}`` and so on. Every brace in the output is one these modules wrote.
* ``doi`` is written raw (it is a verbatim field in biblatex and is read back unchanged);
  ``url`` is ``https://doi.org/`` plus the DOI percent-encoded as a URI path.
* Titles: JATS/HTML/MathML markup becomes ``\\textit``, ``\\textsubscript``,
  ``\\textsuperscript``, ``\\textsc``; words whose capitals must survive a bibliography
  style's sentence-casing (DNA, mRNA, NF-κB, CO2, McDonald) are wrapped in braces.

Entries are written one at a time (a one-entry ``BibliographyData`` per work), so exporting
a large store never holds the whole file in memory. Keys come from ``KeyAssigner``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import TextIO

from pybtex.bibtex.exceptions import BibTeXError
from pybtex.database import BibliographyData, Entry, Person
from pybtex.database.output.bibtex import Writer

from refkeeper._models import Work, first_text, record_year
from refkeeper.export._fields import (
    DateRange,
    date_range,
    edtf_date,
    work_container,
    work_doi,
    work_institution,
    work_people,
    work_title,
    work_url,
)
from refkeeper.export._keys import KeyAssigner, keyed
from refkeeper.export._latex import escape_chars, latex_escape, title_to_latex
from refkeeper.export._markup import plain_title, squeeze
from refkeeper.export._types import type_names

__all__ = ["MONTHS", "entry_type", "to_bibtex", "work_to_entry", "write_bibtex"]

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


# --------------------------------------------------------------------------------------
# Entry types
# --------------------------------------------------------------------------------------

def entry_type(crossref_type: str | None, biblatex: bool = False) -> str:
    """The BibTeX entry type for a Crossref work type (``misc`` for anything unknown).

    ``posted-content`` (preprints) is ``@online`` when writing for biblatex, ``@misc`` for
    classic BibTeX, which has no such type.
    """
    if crossref_type == "posted-content" and biblatex:
        return "online"
    return type_names(crossref_type).bibtex


# --------------------------------------------------------------------------------------
# Names, pages, months
# --------------------------------------------------------------------------------------

_AND = re.compile(r"(?i)(?<!\S)and(?!\S)")


def _protect_and(part: str) -> str:
    if "and" in part.lower():
        part = _AND.sub(lambda m: "{" + m.group(0) + "}", part)
    return "{" + part + "}" if "," in part else part


def _person(person: dict, ascii: bool) -> Person | None:
    family = squeeze(person.get("family") or "")
    if family:
        given = squeeze(person.get("given") or "")
        suffix = squeeze(person.get("suffix") or "")
        if not given:
            # Without a comma BibTeX would read "Smith Jones" as first name Smith, and
            # "Doe, Jr." as first name Jr.: keep the family name (and suffix) in one group.
            whole = f"{family} {suffix}" if suffix else family
            if " " in whole:
                return Person(last="{" + escape_chars(whole, ascii) + "}")
        return Person(
            last=_protect_and(escape_chars(family, ascii)),
            first=_protect_and(escape_chars(given, ascii)) if given else "",
            lineage=_protect_and(escape_chars(suffix, ascii)) if suffix else "",
        )
    whole = person.get("name") or person.get("literal") or person.get("given") or ""
    whole = latex_escape(whole, ascii)
    if not whole:
        return None
    # An organisation: one "last name" in braces, so BibTeX neither splits nor abbreviates it.
    return Person(last="{" + whole + "}")


def _persons(work: Work, role: str, ascii: bool) -> list[Person]:
    people = (_person(p, ascii) for p in work_people(work, role))
    return [p for p in people if p is not None]


_PAGE_RANGE = re.compile(r"\s*([^\s\-‐‑‒–—]+)\s*(?:-{1,2}|[‐‑‒–—])\s*([^\s\-‐‑‒–—]+)\s*")


def _pages(pages: str, ascii: bool) -> str:
    """Page ranges with BibTeX's "--", each page escaped (the dash is ours, not text)."""
    parts = []
    for part in pages.split(","):
        m = _PAGE_RANGE.fullmatch(part)
        parts.append(f"{latex_escape(m.group(1), ascii)}--{latex_escape(m.group(2), ascii)}"
                     if m else latex_escape(part.strip(), ascii))
    return ", ".join(p for p in parts if p)


def _year_month(date: DateRange) -> tuple[str, str | None]:
    """Classic BibTeX's ``year`` and ``month`` for a date: BibTeX has no date type, only the
    text styles print, so a range is written as it should print: ``2019--2021`` (an open end
    ``2019--``), months ``mar # "--" # may`` (a field value ``mar--may`` here). A day has
    no field and is left out; a negative year is written as the number (``-379``)."""
    start, end = date.start, date.end
    year = str(start[0])
    if end is not None and (not end or end[0] != start[0]):
        year += f"--{end[0]}" if end else "--"
    month = MONTHS[start[1] - 1] if len(start) > 1 else None
    if month and end and len(end) > 1 and end[:2] != start[:2]:
        month += "--" + MONTHS[end[1] - 1]
    return year, month


# --------------------------------------------------------------------------------------
# Entries
# --------------------------------------------------------------------------------------


def _braces_balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


_CONTAINER_FIELD = {
    "article": "journal",
    "inproceedings": "booktitle",
    "incollection": "booktitle",
    "book": "series",
    "techreport": "series",
    "phdthesis": None,
}


def work_to_entry(
    work: Work,
    key: str | None = None,
    note: str | None = None,
    ascii: bool = False,
    biblatex: bool = False,
    ids: dict[str, str] | None = None,
) -> Entry:
    """A pybtex ``Entry`` for a work, every value already escaped LaTeX.

    ``ids`` are the work's other identifiers (``pmid``, ``pmcid``, ``arxiv``): written as
    biblatex and JabRef write them, ``pmid = {17530380}``, ``pmcid = {PMC1234567}``,
    ``eprint = {2101.00001}`` with ``archivePrefix = {arXiv}`` (and ``eprinttype``).

    Write it with this module's writer (``write_bibtex``/``to_bibtex``): pybtex's own writer
    would escape the escapes again. ``doi`` is the record's DOI as is, ``url`` its doi.org
    link; ``month`` is a BibTeX month macro name (``mar``, or ``mar--may`` for a range).
    Dates: ``year``/``month`` for classic BibTeX (``_year_month``), biblatex's ``date``
    (``-0379-02``, ``2019-03/2019-05``, ``2019/..``) with ``biblatex=True``.
    """
    record = work.record or {}
    etype = entry_type(work.type or record.get("type"), biblatex)
    fields: dict[str, str] = {}

    def put(name: str, value, *, text: bool = True) -> None:
        value = first_text(value)
        if value:
            value = latex_escape(value, ascii) if text else value
            if value:
                fields[name] = value

    title = work_title(work)
    if title:
        latex_title = title_to_latex(title, ascii)
        if latex_title:
            fields["title"] = latex_title

    container = work_container(work)
    container_field = _CONTAINER_FIELD.get(etype, "howpublished")
    if etype == "inproceedings" and not container:
        container = (record.get("event") or {}).get("name")
    if container_field and container:
        # Journal names keep their capitals; protect the whole name only where a style
        # might case-change it (booktitle, series, howpublished are printed as given).
        # Crossref writes entities and markup in container titles too ("Neurology &amp;
        # Psychiatry"): decode them like titles, then escape.
        put(container_field, plain_title(container))

    date = date_range(record)
    if date and biblatex:
        fields["date"] = edtf_date(date)  # biblatex's own field: signs, days and ranges kept
    elif date:
        fields["year"], month = _year_month(date)
        if month:
            fields["month"] = month
    elif work.year or record_year(record):
        fields["year"] = str(work.year or record_year(record))
    put("volume", work.volume or record.get("volume"))
    if etype in ("article", "misc", "online", "techreport"):
        put("number", work.issue or record.get("issue"))
    pages = work.pages or first_text(record.get("page")) or first_text(record.get("article-number"))
    if pages:
        pages = _pages(squeeze(first_text(pages) or ""), ascii)
        if pages:
            fields["pages"] = pages

    publisher = work.publisher or record.get("publisher")
    institution = work_institution(work)
    if etype == "techreport":
        put("institution", institution or publisher)
    elif etype == "phdthesis":
        put("school", institution or publisher)
    else:
        if etype in ("misc", "online") and institution and "howpublished" not in fields:
            put("howpublished", institution)
        put("publisher", publisher)

    isbn = first_text(record.get("ISBN")) or first_text(
        [i.get("value") for i in record.get("isbn-type") or [] if isinstance(i, dict)]
    )
    put("issn", record.get("ISSN"))
    put("isbn", isbn)

    doi = work_doi(work)
    if doi and _braces_balanced(doi):
        fields["doi"] = doi
    url = work_url(work)
    if url:
        fields["url"] = url
    ids = ids or {}
    # Digits and arXiv's own characters only, never from free text: written as they are.
    if ids.get("pmid"):
        fields["pmid"] = ids["pmid"]
    if ids.get("pmcid"):
        fields["pmcid"] = "PMC" + ids["pmcid"]
    if ids.get("arxiv"):
        fields["eprint"] = ids["arxiv"]
        fields["archivePrefix"] = "arXiv"  # BibTeX styles (JabRef, arXiv's own)
        fields["eprinttype"] = "arxiv"  # biblatex's name for the same
    if note:
        put("note", note)

    persons: dict[str, list[Person]] = {}
    authors = _persons(work, "author", ascii)
    if authors:
        persons["author"] = authors
    if etype in ("book", "incollection", "inproceedings"):
        editors = _persons(work, "editor", ascii)
        if editors:
            persons["editor"] = editors

    entry = Entry(etype, fields=fields, persons=persons)
    entry.key = key
    return entry


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


_BRACES = re.compile(r"[{}]")
_MONTH_RANGE = re.compile("(?:" + "|".join(MONTHS) + ")--(?:" + "|".join(MONTHS) + ")")


class _Writer(Writer):
    """pybtex's BibTeX writer without its LaTeX encoding step (values arrive escaped).

    Keeps pybtex's quoting, brace check and layout; writes ``month`` as a bare macro.
    """

    def __init__(self) -> None:
        super().__init__(encoding="UTF-8")

    def _encode(self, text: str) -> str:
        return text

    def check_braces(self, s: str) -> None:
        """pybtex's check, stricter (a ``}`` before its ``{`` fails too) and fast: only the
        braces are visited, and most values have none."""
        if "{" not in s and "}" not in s:
            return
        depth = 0
        for brace in _BRACES.findall(s):
            depth += 1 if brace == "{" else -1
            if depth < 0:
                break
        if depth != 0:
            raise BibTeXError(f"String has unmatched braces: {s}")

    def _write_field(self, stream, type, value):
        if type.lower() == "month" and value in MONTHS:
            stream.write(f",\n    {type} = {value}")
        elif type.lower() == "month" and _MONTH_RANGE.fullmatch(value):
            first, last = value.split("--")
            stream.write(f',\n    {type} = {first} # "--" # {last}')
        else:
            super()._write_field(stream, type, value)


def write_bibtex(
    works: Iterable[Work],
    fp: TextIO,
    keys: dict[str, str] | None = None,
    ascii: bool = False,
    *,
    notes: dict[str, str] | None = None,
    biblatex: bool = False,
    identifiers: dict[str, dict[str, str]] | None = None,
) -> dict[str, str]:
    """Stream works to ``fp`` as BibTeX, one entry at a time; return DOI -> key used.

    ``keys`` maps (lower-cased) DOIs to keys chosen earlier, which are kept so a work keeps
    its key across exports; new keys avoid every key in ``keys``. ``notes`` maps DOIs to a
    ``note`` field (retraction notices), ``identifiers`` DOIs to their PMID, PMCID and arXiv
    ID (``pmid``, ``pmcid``, ``eprint`` fields). A DOI seen twice is written once. ``ascii=True``
    writes pure ASCII with LaTeX accent commands instead of UTF-8.
    """
    assign = KeyAssigner(keys)
    writer = _Writer()
    for n, (work, key, note, ids) in enumerate(keyed(works, assign, notes, identifiers)):
        if n:
            fp.write("\n")
        entry = work_to_entry(work, key, note=note, ascii=ascii, biblatex=biblatex, ids=ids)
        writer.write_stream(BibliographyData(entries={key: entry}), fp)
    return assign.assigned


def to_bibtex(
    works: Iterable[Work],
    keys: dict[str, str] | None = None,
    ascii: bool = False,
    *,
    notes: dict[str, str] | None = None,
    biblatex: bool = False,
    identifiers: dict[str, dict[str, str]] | None = None,
) -> str:
    """The BibTeX of ``works`` as one string (see ``write_bibtex``)."""
    buf = io.StringIO()
    write_bibtex(works, buf, keys, ascii, notes=notes, biblatex=biblatex, identifiers=identifiers)
    return buf.getvalue()
