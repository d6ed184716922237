"""Reading RIS (with rispy) into plain entries in the Crossref shape.

A line that is not a tag continues the value above it; the lines are joined here, in one
pass, before rispy sees them (rispy joins them one at a time, which is quadratic in a long
value). A DOI is one token: a ``DO`` value that is not DOI syntax is reported, not read,
and the lines after ``DO`` that are not tags are never part of it.
"""

from __future__ import annotations

import re

import rispy

from refkeeper.bibimport._dates import parse_date
from refkeeper.bibimport._doi import clean_doi
from refkeeper.bibimport._entry import ImportEntry, identifier_fields, numbered
from refkeeper.export import crossref_type

__all__ = ["read_ris"]

# rispy's own mapping, plus ED (editor), and no ";" splitting of URLs: a DOI may hold ";".
_MAPPING = {**rispy.TAG_KEY_MAPPING, "ED": "editors", "JF": "journal_full"}
_LIST_TAGS = [*rispy.LIST_TYPE_TAGS, "ED", "SN"]


def _is_tag(line: str) -> bool:
    # rispy's own test for a tag line ("TY  - ...")
    return line[2:5] == "  -" and line[:2].isupper() and line[0:1].isalpha()


def _join_continuations(text: str) -> str:
    """Every value on one line: a line that is not a tag is appended to the tag line above
    it (with a space), except after ``DO``, where it is dropped."""
    lines: list[str] = []
    parts: list[str] = []  # the current tag line and its continuations
    for line in text.split("\n"):
        if _is_tag(line) or not parts:
            if parts:
                lines.append(" ".join(parts))
            parts = [line]
        elif line.strip() and not parts[0].startswith("DO  -"):
            parts.append(line.strip())
    if parts:
        lines.append(" ".join(parts))
    return "\n".join(lines)


def _person(name: str) -> dict | None:
    name = " ".join(name.split())
    if not name:
        return None
    if "," not in name:
        return {"name": name}
    if name.endswith(","):  # a corporate name kept whole (EndNote's trailing comma)
        return {"name": name.rstrip(", ")} if name.rstrip(", ") else None
    family, _, rest = name.partition(",")
    given, _, suffix = rest.partition(",")
    person = {"family": family.strip()}
    if given.strip():
        person["given"] = given.strip()
    if suffix.strip():
        person["suffix"] = suffix.strip()
    return person


# RIS dates: YYYY/MM/DD/other (a signed year is kept: -0379 is 380 BC)
_RIS_DATE = re.compile(r"\s*(-?\d{4})(?:/(\d{0,2})(?:/(\d{0,2})(?:/(.*))?)?)?\s*")


def _date(value: str) -> list[list[int]] | None:
    """The date-parts of a ``DA``/``PY``/``Y1`` value: ``YYYY/MM/DD/other``, where "other"
    may hold the whole range as ISO 8601 writes it (``2019-03/2019-05``, ``2019/..``: what
    refkeeper writes for a range), else the first numbers of whatever the value is."""
    m = _RIS_DATE.fullmatch(value)
    if m:
        parts = [int(m.group(1))] + [int(g) for g in m.group(2, 3) if g]
        if len(parts) > 1 and not 1 <= parts[1] <= 12:
            parts = parts[:1]
        other, _ = parse_date(m.group(4) or "") if "/" in (m.group(4) or "") else (None, None)
        if other and len(other) == 2 and other[0][:len(parts)] == parts[:len(other[0])]:
            return other
        return [parts]
    nums = [int(x) for x in re.findall(r"\d+", value)[:3]]
    if nums and 1000 <= nums[0] <= 2999:
        return [[n for n in nums if n] or nums[:1]]
    return None


def _record(e: dict, problems: list[str], n: int) -> dict:
    def one(*names):
        for name in names:
            v = e.get(name)
            if isinstance(v, list):
                v = next((x for x in v if x and x.strip()), None)
            if v and str(v).strip():
                return " ".join(str(v).split())
        return None

    rtype = (one("type_of_reference") or "GEN").upper()
    rec: dict = {"type": crossref_type("ris", rtype)}
    raw = one("doi")
    doi = clean_doi(raw)
    if raw and not doi:
        problems.append(f"record {n}: DO {raw[:80]!r} is not a DOI; not read")
    if not doi:
        for url in e.get("urls") or []:
            doi = clean_doi(url) if "10." in url else None
            if doi:
                break
    if doi:
        rec["DOI"] = doi
    title = one("title", "primary_title")
    if title:
        rec["title"] = [title]
    container = one("secondary_title", "journal_full", "journal_name", "alternate_title3")
    if container:
        rec["container-title"] = [container]
    short = one("alternate_title1", "alternate_title2")
    if short:
        rec["short-container-title"] = [short]
    authors = [p for p in (_person(a) for a in (e.get("authors") or []) +
                           (e.get("first_authors") or [])) if p]
    if authors:
        rec["author"] = authors
    editors = [p for p in (_person(a) for a in (e.get("editors") or []) +
                           (e.get("secondary_authors") or [])) if p]
    if editors:
        rec["editor"] = editors
    date = one("date", "year", "publication_year")
    issued = _date(date) if date else None
    if issued:
        rec["issued"] = {"date-parts": issued}
    year = one("year", "publication_year")
    m = re.match(r"-?\d{4}", year or "")
    if m and (issued or [[None]])[0][0] != int(m.group()):
        rec["issued"] = {"date-parts": [[int(m.group())]]}
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
    # The PMID is the accession number (AN) of a record whose database (DB) is PubMed or
    # MEDLINE; EndNote writes the PMCID in C2; an arXiv abstract page in UR names the ID.
    database = (one("name_of_database") or "").lower()
    pmid = one("accession_number") if "pubmed" in database or "medline" in database else None
    pmcid = one("custom2")
    arxiv = next((m.group(1) for url in e.get("urls") or [] for m in
                  [re.search(r"arxiv\.org/abs/(\S+?)/?$", url or "")] if m), None)
    rec.update(identifier_fields(pmid, pmcid if pmcid and pmcid.upper().startswith("PMC") else None,
                                 arxiv))
    # A work without a DOI keeps the link it is found at (exported again as its UR).
    link = next((u.strip() for u in e.get("urls") or [] if u and re.match(r"(?i)https?://\S+$", u.strip())
                 and "arxiv.org/abs/" not in u), None)
    if link and not rec.get("DOI"):
        rec["URL"] = link
    return rec


def read_ris(text: str) -> tuple[list[ImportEntry], list[str]]:
    """The entries of RIS ``text`` (key from ``ID``) and the problems found: a record whose
    ``ER`` line is missing at the end of the file, a ``DO`` that is not a DOI."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    records = rispy.loads(_join_continuations(text), mapping=_MAPPING, list_tags=_LIST_TAGS,
                          delimiter_tags_mapping={}, skip_unknown_tags=True)
    problems: list[str] = []
    started = sum(1 for line in text.split("\n") if line.startswith("TY  -"))
    if started > len(records):
        problems.append(f"{started - len(records)} record(s) without an ER line were not read")
    pairs = []
    for n, e in enumerate(records, 1):
        key = e.get("id")
        key = " ".join(key.split()) if isinstance(key, str) and key.strip() else None
        pairs.append((key, _record(e, problems, n)))
    return numbered(pairs), problems
