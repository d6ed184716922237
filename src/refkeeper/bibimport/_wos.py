"""Reading Web of Science tagged exports (``FN Clarivate Analytics Web of Science``,
``PT J`` ...) with rispy's ``WokParser`` into plain entries in the Crossref shape."""

from __future__ import annotations

import rispy

from refkeeper.bibimport._doi import clean_doi
from refkeeper.bibimport._entry import ImportEntry, numbered

__all__ = ["read_wos"]

_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}


def _person(name: str) -> dict | None:
    family, _, given = (" ".join(name.split())).partition(",")
    if not family:
        return None
    return {"family": family.strip(), "given": given.strip()} if given.strip() else {"family": family}


def _type(e: dict) -> str:
    doc = (e.get("document_type") or "").lower()
    if "chapter" in doc:
        return "book-chapter"
    if "proceedings" in doc or e.get("publication_type") == "C":
        return "proceedings-article"
    if e.get("publication_type") == "B":
        return "book"
    return "journal-article"


def _record(e: dict, problems: list[str], n: int) -> dict:
    rec: dict = {"type": _type(e)}
    raw = e.get("doi") or ""
    doi = clean_doi(raw)
    if raw and not doi:
        problems.append(f"record {n}: DI {raw[:80]!r} is not a DOI; not read")
    if doi:
        rec["DOI"] = doi
    if e.get("document_title"):
        rec["title"] = [e["document_title"]]
    if e.get("publication_name"):
        rec["container-title"] = [e["publication_name"]]
    if e.get("iso_source_abbreviation"):
        rec["short-container-title"] = [e["iso_source_abbreviation"]]
    people = [p for p in map(_person, e.get("author_full_name") or e.get("authors") or []) if p]
    people += [{"name": g} for g in e.get("group_authors") or [] if g.strip()]
    if people:
        rec["author"] = people
    year = (e.get("publication_year") or "").strip()
    if year.isdigit():
        parts = [int(year)]
        month = _MONTHS.get((e.get("publication_date") or "")[:3].upper())
        if month:
            parts.append(month)
        rec["issued"] = {"date-parts": [parts]}
    for name, field in (("volume", "volume"), ("issue", "issue"), ("publisher", "publisher"),
                        ("language", "language"), ("article_number", "article-number")):
        if (e.get(name) or "").strip():
            rec[field] = e[name].strip()
    bp, ep = (e.get("beginning_page") or "").strip(), (e.get("ending_page") or "").strip()
    if bp:
        rec["page"] = f"{bp}-{ep}" if ep and ep != bp else bp
    issn = [x for x in (e.get("issn"), e.get("eissn")) if x]
    if issn:
        rec["ISSN"] = issn
    return rec


def read_wos(text: str) -> tuple[list[ImportEntry], list[str]]:
    """The records of a Web of Science tagged export (key from the accession number ``UT``)
    and the problems found (a ``DI`` that is not a DOI)."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    records = rispy.loads(text, implementation=rispy.WokParser, skip_unknown_tags=True)
    problems: list[str] = []
    pairs = []
    for n, e in enumerate(records, 1):
        key = (e.get("accession_number") or "").strip() or None
        pairs.append((key.replace("WOS:", "WOS") if key else None, _record(e, problems, n)))
    return numbered(pairs), problems
