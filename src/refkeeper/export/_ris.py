"""RIS, the tagged format EndNote, Zotero and Mendeley exchange.

Writing is a few lines per work (``TY  - JOUR`` ... ``ER  - ``), streamed. Every value is
one line: line breaks and control characters in Crossref text are collapsed to spaces, so
no value can start a tag of its own (``ER  - `` in a title stays text). Titles are plain
text (RIS has no markup): italics dropped, sub- and superscripts inline (``CO2``).

Reading RIS back is the importer's (``refkeeper.bibimport``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TextIO

from refkeeper._identifiers import arxiv_url
from refkeeper._models import Work, first_text
from refkeeper.export._fields import (
    DateRange,
    date_range,
    edtf_date,
    one_line,
    work_container,
    work_doi,
    work_institution,
    work_people,
    work_title,
    work_url,
)
from refkeeper.export._keys import KeyAssigner, keyed
from refkeeper.export._markup import plain_title
from refkeeper.export._types import type_names

__all__ = ["ris_type", "work_to_ris", "write_ris"]

_CHAPTER_LIKE = {"CHAP", "CPAPER", "ENCYC"}


def ris_type(crossref_type: str | None) -> str:
    """The RIS reference type for a Crossref work type (``GEN`` for anything unknown)."""
    return type_names(crossref_type).ris


def _person(p: dict) -> str | None:
    family = one_line(p.get("family"))
    if family:
        parts = [family, one_line(p.get("given")) or ""]
        if one_line(p.get("suffix")):
            parts.append(one_line(p.get("suffix")))
        return ", ".join(parts).rstrip(", ")
    whole = one_line(p.get("name") or p.get("literal") or p.get("given"))
    # One name, not "family, given": without a comma it is read whole; with one, EndNote's
    # convention for corporate authors, a trailing comma ("Barnes and Noble, Inc.,").
    return f"{whole}," if whole and "," in whole else whole


def _ris_year(year: int) -> str:
    # RIS years are four digits; a year before 1 AD keeps its sign (ISO 8601: -0379 is
    # 380 BC): a reader that drops it misreads the year, one that keeps it does not.
    return f"{year:05d}" if year < 0 else f"{year:04d}"


def _ris_da(date: DateRange) -> str | None:
    """``DA`` (``YYYY/MM/DD/other``) when the date says more than ``PY``: its month and day,
    and for a range its start there and the whole range, as ISO 8601 writes it
    (``2019-03/2019-05``, ``2019/..``), in the free "other" part, which readers that know no
    range keep as text."""
    start = date.start
    if len(start) < 2 and date.end is None:
        return None
    month = f"{start[1]:02d}" if len(start) > 1 else ""
    day = f"{start[2]:02d}" if len(start) > 2 else ""
    other = edtf_date(date) if date.end is not None else ""
    return f"{_ris_year(start[0])}/{month}/{day}/{other}"


_RANGE = re.compile(r"^\s*([^\s\-‐‑‒–—]+)\s*(?:-{1,2}|[‐‑‒–—])\s*([^\s\-‐‑‒–—]+)\s*$")


def work_to_ris(work: Work, key: str | None = None, note: str | None = None,
                ids: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The (tag, value) lines of one RIS record, ``TY`` first and ``ER`` last.

    ``ids``: the PMID is ``AN`` (accession number) in the database ``DB  - PubMed``, as
    EndNote's PubMed import writes it (Zotero reads them as archive and location), the
    PMCID ``C2`` (EndNote's PubMed field for it: ``PMC1234567``); an arXiv
    ID is a second ``UR``, its abstract page, which every reader keeps."""
    record = work.record or {}
    rtype = ris_type(work.type or record.get("type"))
    lines: list[tuple[str, str]] = [("TY", rtype)]

    def put(tag: str, value) -> None:
        value = one_line(value)
        if value:
            lines.append((tag, value))

    put("ID", key)
    title = work_title(work)
    put("TI", plain_title(title) if title else None)
    for person in work_people(work, "author"):
        put("AU", _person(person))
    for person in work_people(work, "editor"):
        put("A2" if rtype in _CHAPTER_LIKE else "ED", _person(person))
    container = work_container(work)
    put("T2", plain_title(container) if container else None)
    put("J2", record.get("short-container-title"))

    date = date_range(record)
    if date:
        put("PY", _ris_year(date.start[0]))
        da = _ris_da(date)
        if da:
            put("DA", da)
    elif work.year:
        put("PY", _ris_year(work.year))
    put("VL", work.volume or record.get("volume"))
    put("IS", work.issue or record.get("issue"))
    pages = one_line(work.pages or record.get("page"))
    if pages:
        m = _RANGE.match(pages)
        if m:
            put("SP", m.group(1))
            put("EP", m.group(2))
        else:
            put("SP", pages)
    elif one_line(record.get("article-number")):
        put("SP", record.get("article-number"))
    institution = work_institution(work)
    put("PB", (institution if rtype in ("THES", "RPRT") and institution else None)
        or work.publisher or record.get("publisher"))
    put("CY", record.get("publisher-location"))
    put("ET", record.get("edition-number"))
    put("SN", first_text(record.get("ISBN")) if rtype in ("BOOK", "EDBOOK", "CHAP")
        and record.get("ISBN") else first_text(record.get("ISSN")) or first_text(record.get("ISBN")))
    put("LA", record.get("language"))
    if rtype == "THES":
        put("M3", record.get("degree") or "Dissertation")
    doi = work_doi(work)
    if doi:
        put("DO", doi)
    put("UR", work_url(work))
    ids = ids or {}
    if ids.get("pmid"):  # AN is an accession number in the database DB names
        put("DB", "PubMed")
        put("AN", ids["pmid"])
    put("C2", "PMC" + ids["pmcid"] if ids.get("pmcid") else None)
    put("UR", arxiv_url(ids["arxiv"]) if ids.get("arxiv") else None)
    put("N1", note)
    lines.append(("ER", ""))
    return lines


def write_ris(
    works: Iterable[Work],
    fp: TextIO,
    keys: dict[str, str] | None = None,
    *,
    notes: dict[str, str] | None = None,
    identifiers: dict[str, dict[str, str]] | None = None,
) -> dict[str, str]:
    """Stream works to ``fp`` as RIS (UTF-8 text), one record at a time; return DOI -> key.

    ``ID`` is the work's citation key, the same as in BibTeX and CSL-JSON.
    """
    assign = KeyAssigner(keys)
    for n, (work, key, note, ids) in enumerate(keyed(works, assign, notes, identifiers)):
        if n:
            fp.write("\n")
        fp.write("".join(f"{tag}  - {value}\n" for tag, value in work_to_ris(work, key, note, ids)))
    return assign.assigned
