"""Reading Scopus CSV exports into plain entries in the Crossref shape, one row at a time.

Scopus writes one row per document under a header of its own column names ("Authors",
"Author full names", "Title", "Year", "Source title", "DOI", "Document Type", "EID", ...),
usually after a UTF-8 byte-order mark; the user chooses which columns are exported, so a
file is Scopus's when its header has ``Title`` and a column only Scopus writes (``EID``,
``Source title``, ``Author(s) ID``, ``Author full names``). Rows are read with Python's
``csv`` module (quoted fields with commas, quotes and line breaks).

Names: "Author full names" (newer exports: ``Murakami, Eiichi (7402969788); ...``) is
preferred to "Authors", which is ``Murakami E.; Tanaka Y.`` in older exports and
``Murakami, E.; Tanaka, Y.`` in newer ones. Document types are read through the one type
table (``crossref_type("scopus", ...)``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator

from refkeeper._errors import InputError
from refkeeper.bibimport._doi import clean_doi
from refkeeper.bibimport._entry import ImportEntry, identifier_fields
from refkeeper.export import crossref_type

__all__ = ["SCOPUS_ONLY_COLUMNS", "csv_columns", "looks_like_scopus", "read_scopus", "scopus_entries"]

# Columns no other tool's CSV is known to write; one of them (with Title) makes a file Scopus's.
SCOPUS_ONLY_COLUMNS = frozenset({"EID", "Source title", "Author(s) ID", "Author full names"})

_NO_AUTHOR = re.compile(r"\[No author(?: name)? available\]", re.I)
_SCOPUS_ID = re.compile(r"\s*\(\d+\)\s*$")  # "Murakami, Eiichi (7402969788)"
# "J.", "J.K.", "J.-P.", "Ch." : a token of initials at the end of an old-style name
_INITIALS = re.compile(r"(?:[A-Z][a-z]?\.)(?:-?[A-Z][a-z]?\.)*")
_PAGES = re.compile(r"\d+")


def csv_columns(head: str) -> list[str] | None:
    """The column names of a CSV text's header line, or ``None`` when the text does not
    start like a table: fewer than four fields, an empty or over-long name, or a second row
    with another number of fields (prose with commas is no header)."""
    text = head.lstrip("\ufeff")
    first = text.split("\n", 1)[0].rstrip("\r")
    if first.count(",") < 3 or first.lstrip().startswith(("@", "%", "{", "[", "<")):
        return None
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        names = [c.strip() for c in next(rows)]
        second = next(rows, None)
        # the head may end inside the second row: only a whole one (another follows) can
        # be too short
        whole = next(rows, None) is not None
    except csv.Error:
        names, second, whole = [c.strip() for c in next(csv.reader([first]))], None, False
    if len(names) < 4 or not all(0 < len(c) <= 60 for c in names):
        return None
    if second and (len(second) > len(names) or whole and len(second) != len(names)):
        return None
    return names


def looks_like_scopus(columns: Iterable[str]) -> bool:
    """Whether a CSV header is a Scopus export's."""
    names = set(columns)
    return "Title" in names and bool(names & SCOPUS_ONLY_COLUMNS)


def _person(name: str) -> dict | None:
    """One Scopus author: "Surname, Given (id)", "Surname, I." or "Surname I.J."."""
    name = " ".join(_SCOPUS_ID.sub("", name).split())
    if not name or _NO_AUTHOR.fullmatch(name):
        return None
    if "," in name:
        family, _, given = name.partition(",")
        family, given = family.strip(), given.strip()
        return {"family": family, "given": given} if given else {"family": family}
    words = name.split(" ")
    initials = []
    while len(words) > 1 and _INITIALS.fullmatch(words[-1]):
        initials.insert(0, words.pop())
    if not initials:
        return {"name": name}  # a group or organisation, kept whole
    return {"family": " ".join(words), "given": " ".join(initials)}


def _people(row: dict) -> list[dict]:
    full = (row.get("Author full names") or "").strip()
    short = (row.get("Authors") or "").strip()
    value = full or short
    if not value:
        return []
    return [p for p in map(_person, value.split(";")) if p]


def _issn(value: str) -> list[str]:
    out = []
    for v in re.split(r"[;,]\s*|\s+", value):
        v = v.strip().upper()
        if re.fullmatch(r"\d{7}[\dX]", v):
            v = f"{v[:4]}-{v[4:]}"  # Scopus writes ISSNs without their hyphen
        if v:
            out.append(v)
    return out


def _record(row: dict, problems: list[str]) -> dict:
    def get(column: str) -> str:
        return " ".join((row.get(column) or "").split())

    rec: dict = {"type": crossref_type("scopus", get("Document Type"))}
    raw = get("DOI")
    doi = clean_doi(raw)
    if raw and not doi:
        problems.append(f"DOI {raw[:80]!r} is not a DOI; not read")
    if doi:
        rec["DOI"] = doi
    if get("Title"):
        rec["title"] = [get("Title")]
    if get("Source title"):
        rec["container-title"] = [get("Source title")]
    if get("Abbreviated Source Title"):
        rec["short-container-title"] = [get("Abbreviated Source Title")]
    people = _people(row)
    if people:
        rec["author"] = people
    year = get("Year")
    if re.fullmatch(r"-?\d{1,4}", year):
        rec["issued"] = {"date-parts": [[int(year)]]}
    for column, field in (("Volume", "volume"), ("Issue", "issue"), ("Publisher", "publisher"),
                          ("Language of Original Document", "language"),
                          ("Art. No.", "article-number")):
        if get(column):
            rec[field] = get(column)
    start, end = get("Page start"), get("Page end")
    if start:
        rec["page"] = f"{start}-{end}" if end and end != start else start
    for column, field in (("ISSN", "ISSN"), ("ISBN", "ISBN")):
        values = _issn(get(column)) if field == "ISSN" else [
            v for v in re.split(r"[;,]\s*|\s+", get(column)) if v]
        if values:
            rec[field] = values
    rec.update(identifier_fields(pmid=get("PubMed ID")))
    return rec


def scopus_entries(lines: Iterable[str], problems: list[str]) -> Iterator[ImportEntry]:
    """The rows of a Scopus CSV export given as lines, streamed (key from ``EID``); what is
    wrong is appended to ``problems``. ``InputError`` when the header is not Scopus's, naming
    the columns it has."""
    lines = iter(lines)
    first = next(lines, "")
    reader = csv.DictReader(_chain(first.lstrip("\ufeff"), lines))
    columns = [c.strip() for c in reader.fieldnames or []]
    if not looks_like_scopus(columns):
        shown = ", ".join(columns[:6]) + (", ..." if len(columns) > 6 else "")
        raise InputError(f"not a Scopus CSV export: its columns are {shown or 'none'} "
                         "(a Scopus export has Title and EID or Source title)")
    reader.fieldnames = columns
    index = 0
    line = reader.line_num + 1  # where the next row starts (a quoted field may span lines)
    try:
        for row in reader:
            start, line = line, reader.line_num + 1
            if not any((v or "").strip() for k, v in row.items() if k is not None):
                continue
            index += 1
            if None in row:  # more fields than the header names
                problems.append(f"line {start}: row has {len(columns) + len(row[None])} fields, "
                                f"the header {len(columns)}; the extra ones are not read")
            entry_problems: list[str] = []
            record = _record(row, entry_problems)
            key = " ".join((row.get("EID") or "").split()) or None
            entry = ImportEntry(index, key, record, line=start)
            entry.notes += [f"line {start}: {p}" for p in entry_problems]
            yield entry
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: CSV not read past here: {exc}")


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def read_scopus(text: str) -> tuple[list[ImportEntry], list[str]]:
    """The rows of a Scopus CSV export and the problems found."""
    problems: list[str] = []
    entries = list(scopus_entries(io.StringIO(text, newline=""), problems))
    return entries, problems + [note for e in entries for note in e.notes]
