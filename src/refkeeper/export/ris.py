"""RIS, the tagged format EndNote, Zotero and Mendeley exchange: written here, read with rispy.

Writing is a few lines per work (``TY  - JOUR`` ... ``ER  - ``), streamed. Every value is
one line: line breaks and control characters in Crossref text are collapsed to spaces, so
no value can start a tag of its own (``ER  - `` in a title stays text). Titles are plain
text (RIS has no markup): italics dropped, sub- and superscripts inline (``CO2``).

Reading (``read_ris``) parses with ``rispy`` and maps the tags back to the Crossref shape
the store keeps, for ``refkeeper import``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TextIO
from urllib.parse import unquote

import rispy

from refkeeper._models import Work, normalize_doi
from refkeeper.export.fields import _first, date_parts, doi_url, work_container, work_title
from refkeeper.export.keys import KeyAssigner
from refkeeper.export.markup import _clean, plain_title

__all__ = ["RIS_TYPES", "read_ris", "ris_type", "work_to_ris", "write_ris"]

# Crossref type -> RIS reference type.
RIS_TYPES = {
    "journal-article": "JOUR",
    "proceedings-article": "CPAPER",
    "book-chapter": "CHAP",
    "book-section": "CHAP",
    "book-part": "CHAP",
    "book-track": "CHAP",
    "reference-entry": "ENCYC",
    "book": "BOOK",
    "monograph": "BOOK",
    "reference-book": "BOOK",
    "book-set": "BOOK",
    "book-series": "BOOK",
    "edited-book": "EDBOOK",
    "proceedings": "CONF",
    "report": "RPRT",
    "report-series": "RPRT",
    "report-component": "RPRT",
    "dissertation": "THES",
    "posted-content": "UNPB",
    "dataset": "DATA",
    "database": "DATA",
    "standard": "STAND",
    "journal-issue": "JFULL",
    "journal": "JFULL",
}

# RIS reference type -> the Crossref type an imported entry is stored as.
_CROSSREF_TYPES = {
    "JOUR": "journal-article", "EJOUR": "journal-article", "MGZN": "journal-article",
    "NEWS": "journal-article", "INPR": "journal-article", "JFULL": "journal-issue",
    "CPAPER": "proceedings-article", "CONF": "proceedings", "CHAP": "book-chapter",
    "ECHAP": "book-chapter", "ENCYC": "reference-entry", "DICT": "reference-entry",
    "BOOK": "book", "EBOOK": "book", "EDBOOK": "edited-book", "RPRT": "report",
    "THES": "dissertation", "UNPB": "posted-content", "DATA": "dataset",
    "DBASE": "dataset", "STAND": "standard",
}

_CHAPTER_LIKE = {"CHAP", "CPAPER", "ENCYC"}


def ris_type(crossref_type: str | None) -> str:
    """The RIS reference type for a Crossref work type (``GEN`` for anything unknown)."""
    return RIS_TYPES.get(crossref_type or "", "GEN")


def _one_line(value) -> str | None:
    value = _first(value)
    if not value:
        return None
    return " ".join(_clean(value).split()) or None


def _person(p: dict) -> str | None:
    family = _one_line(p.get("family"))
    if family:
        parts = [family, _one_line(p.get("given")) or ""]
        if _one_line(p.get("suffix")):
            parts.append(_one_line(p.get("suffix")))
        return ", ".join(parts).rstrip(", ")
    return _one_line(p.get("name") or p.get("literal") or p.get("given"))


def _people(work: Work, role: str) -> list[str]:
    record = work.record or {}
    if record.get(role):
        return [n for n in (_person(p) for p in record[role] if isinstance(p, dict)) if n]
    if role == "author" and "author" not in record:
        return [a for a in (_one_line(a) for a in work.authors) if a]
    return []


_RANGE = re.compile(r"^\s*([^\s\-‐‑‒–—]+)\s*(?:-{1,2}|[‐‑‒–—])\s*([^\s\-‐‑‒–—]+)\s*$")


def work_to_ris(work: Work, key: str | None = None, note: str | None = None) -> list[tuple[str, str]]:
    """The (tag, value) lines of one RIS record, ``TY`` first and ``ER`` last."""
    record = work.record or {}
    rtype = ris_type(work.type or record.get("type"))
    lines: list[tuple[str, str]] = [("TY", rtype)]

    def put(tag: str, value) -> None:
        value = _one_line(value)
        if value:
            lines.append((tag, value))

    put("ID", key)
    title = work_title(work)
    put("TI", plain_title(title) if title else None)
    for name in _people(work, "author"):
        put("AU", name)
    for name in _people(work, "editor"):
        put("A2" if rtype in _CHAPTER_LIKE else "ED", name)
    container = work_container(work)
    put("T2", plain_title(container) if container else None)
    put("J2", record.get("short-container-title"))

    parts = []
    for p in date_parts(record)[:3]:
        try:
            parts.append(int(p))
        except (TypeError, ValueError):
            break
    year = work.year or (parts[0] if parts else None)
    if year:
        put("PY", str(year))
    if len(parts) > 1:  # RIS dates are YYYY/MM/DD/other; the year alone is PY
        put("DA", f"{parts[0]:04d}/{parts[1]:02d}/{parts[2]:02d}/" if len(parts) > 2
            else f"{parts[0]:04d}/{parts[1]:02d}//")
    put("VL", work.volume or record.get("volume"))
    put("IS", work.issue or record.get("issue"))
    pages = _one_line(work.pages or record.get("page"))
    if pages:
        m = _RANGE.match(pages)
        if m:
            put("SP", m.group(1))
            put("EP", m.group(2))
        else:
            put("SP", pages)
    elif _one_line(record.get("article-number")):
        put("SP", record.get("article-number"))
    institution = _first([i.get("name") for i in record.get("institution") or []
                          if isinstance(i, dict)])
    put("PB", (institution if rtype in ("THES", "RPRT") and institution else None)
        or work.publisher or record.get("publisher"))
    put("CY", record.get("publisher-location"))
    put("ET", record.get("edition-number"))
    put("SN", _first(record.get("ISBN")) if rtype in ("BOOK", "EDBOOK", "CHAP")
        and record.get("ISBN") else _first(record.get("ISSN")) or _first(record.get("ISBN")))
    put("LA", record.get("language"))
    if rtype == "THES":
        put("M3", record.get("degree") or "Dissertation")
    doi = "".join(_clean(record.get("DOI") or work.doi or "").split())
    if doi:
        put("DO", doi)
        put("UR", doi_url(doi))
    put("N1", note)
    lines.append(("ER", ""))
    return lines


def write_ris(
    works: Iterable[Work],
    fp: TextIO,
    keys: dict[str, str] | None = None,
    *,
    notes: dict[str, str] | None = None,
) -> dict[str, str]:
    """Stream works to ``fp`` as RIS (UTF-8 text), one record at a time; return DOI -> key.

    ``ID`` is the work's citation key, the same as in BibTeX and CSL-JSON.
    """
    assign = KeyAssigner(keys)
    notes = {normalize_doi(d): n for d, n in (notes or {}).items()}
    first = True
    for work in works:
        key = assign(work)
        if key is None:
            continue
        if not first:
            fp.write("\n")
        first = False
        lines = work_to_ris(work, key, notes.get(normalize_doi(work.doi)))
        fp.write("".join(f"{tag}  - {value}\n" for tag, value in lines))
    return assign.assigned


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------

# rispy's own mapping, plus ED (editor), and no ";" splitting of URLs: a DOI may hold ";".
_MAPPING = {**rispy.TAG_KEY_MAPPING, "ED": "editors", "JF": "journal_full"}
_LIST_TAGS = [*rispy.LIST_TYPE_TAGS, "ED", "SN"]


def _ris_person(name: str) -> dict | None:
    name = " ".join(name.split())
    if not name:
        return None
    if "," not in name:
        return {"name": name}
    family, _, rest = name.partition(",")
    given, _, suffix = rest.partition(",")
    person = {"family": family.strip()}
    if given.strip():
        person["given"] = given.strip()
    if suffix.strip():
        person["suffix"] = suffix.strip()
    return person


def read_ris(text: str) -> tuple[list[dict], list[str]]:
    """Records (Crossref shape, ``x-citation-key`` from ``ID``) and problems found in RIS
    ``text``. A record whose ``ER`` line is missing at the end of the file is reported."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    entries = rispy.loads(text, mapping=_MAPPING, list_tags=_LIST_TAGS,
                          delimiter_tags_mapping={}, skip_unknown_tags=True)
    problems = []
    started = sum(1 for line in text.split("\n") if line.startswith("TY  -"))
    if started > len(entries):
        problems.append(f"{started - len(entries)} record(s) without an ER line were not read")
    return [_ris_to_record(e) for e in entries], problems


def _ris_to_record(e: dict) -> dict:
    def one(*names):
        for n in names:
            v = e.get(n)
            if isinstance(v, list):
                v = next((x for x in v if x and x.strip()), None)
            if v and str(v).strip():
                return " ".join(str(v).split())
        return None

    rtype = (one("type_of_reference") or "GEN").upper()
    rec: dict = {"type": _CROSSREF_TYPES.get(rtype, "other")}
    doi = one("doi")
    if not doi:
        for url in e.get("urls") or []:
            m = re.search(r"doi\.org/(10\.\S+)", url)
            if m:
                doi = unquote(m.group(1))
                break
    if doi:
        rec["DOI"] = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", doi, flags=re.I)
    title = one("title", "primary_title")
    if title:
        rec["title"] = [title]
    container = one("secondary_title", "journal_full", "journal_name", "alternate_title3")
    if container:
        rec["container-title"] = [container]
    short = one("alternate_title1", "alternate_title2")
    if short:
        rec["short-container-title"] = [short]
    authors = [p for p in (_ris_person(a) for a in (e.get("authors") or []) +
                           (e.get("first_authors") or [])) if p]
    if authors:
        rec["author"] = authors
    editors = [p for p in (_ris_person(a) for a in (e.get("editors") or []) +
                           (e.get("secondary_authors") or [])) if p]
    if editors:
        rec["editor"] = editors
    date = one("date", "year", "publication_year")
    if date:
        nums = [int(x) for x in re.findall(r"\d+", date)[:3]]
        if nums and 1000 <= nums[0] <= 2999:
            rec["issued"] = {"date-parts": [[n for n in nums if n] or nums[:1]]}
    year = one("year", "publication_year")
    if year and re.match(r"\d{4}", year):
        parts = rec.get("issued", {}).get("date-parts", [[None]])[0]
        if parts[0] != int(year[:4]):
            rec["issued"] = {"date-parts": [[int(year[:4])]]}
    for field, names in (("volume", ("volume",)), ("issue", ("number",)),
                         ("publisher", ("publisher",)), ("publisher-location", ("place_published",)),
                         ("edition-number", ("edition",)), ("language", ("language",))):
        v = one(*names)
        if v:
            rec[field] = v
    sp, ep = one("start_page"), one("end_page")
    if sp:
        rec["page"] = f"{sp}-{ep}" if ep and ep != sp else sp
    sn = [s.strip() for s in e.get("issn") or [] if s and s.strip()]
    if sn:
        isbn = [s for s in sn if len(re.sub(r"[^0-9Xx]", "", s)) in (10, 13)]
        issn = [s for s in sn if s not in isbn]
        if isbn:
            rec["ISBN"] = isbn
        if issn:
            rec["ISSN"] = issn
    if rec["type"] == "dissertation" and rec.get("publisher"):
        rec["institution"] = [{"name": rec["publisher"]}]
    key = one("id")
    if key:
        rec["x-citation-key"] = key
    return rec
