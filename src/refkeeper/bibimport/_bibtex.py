"""Reading BibTeX into plain entries in the Crossref shape, one entry at a time.

The file is cut into entries by ``scan_blocks`` and each entry read on its own
(``parse_entry``), so a syntax error costs that entry alone and is reported with its line
and key; names are split by pybtex's ``Person``. Keys: an entry without one gets a key
made from its fields; a key used again for another work (another DOI) is kept under a new
key. Both are reported, in the entry's notes and the problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from pybtex.bibtex.utils import split_name_list
from pybtex.database import Person

from refkeeper.bibimport._dates import parse_date
from refkeeper.bibimport._doi import clean_doi
from refkeeper.bibimport._entry import ImportEntry, identifier_fields
from refkeeper.bibimport._latex import latex_to_text
from refkeeper.bibimport._scan import EntrySyntaxError, parse_entry, scan_blocks
from refkeeper.export import bibtex_key, crossref_type

__all__ = ["bibtex_entries", "read_bibtex"]

_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], 1)}


_AND = re.compile(r"\s+and\s+", re.I)
_SIMPLE_NAME = re.compile(r"([^,{}\\]+),([^,{}\\]*)")  # "Family, Given" with nothing to decode


def _names(value: str) -> list[dict]:
    """The people of a name list ("A and B and {C and D, Inc.}")."""
    if not value.strip():
        return []
    names = _AND.split(value.strip()) if "{" not in value else split_name_list(value)
    people = []
    for name in names:
        m = _SIMPLE_NAME.fullmatch(name.strip())
        if m and " " not in m.group(1).strip() and m.group(1).strip()[:1].isupper():
            # the common case, read directly (pybtex's Person costs ~30 µs a name)
            family, given = " ".join(m.group(1).split()), " ".join(m.group(2).split())
            person = {"family": latex_to_text(family)}
            if given:
                person["given"] = latex_to_text(given)
        else:
            person = _person(Person(name))
        if person:
            people.append(person)
    return people


def _person(person) -> dict | None:
    last = " ".join(person.prelast_names + person.last_names)
    first = " ".join(person.first_names + person.middle_names)
    if len(person.last_names) == 1 and not first and not person.prelast_names:
        raw = person.last_names[0]
        if _one_group(raw) and (" " in raw or not raw.startswith("{\\")):
            # the whole name in braces: an organisation, or one name (how CSL's
            # given-only and literal names are written), kept whole
            name = latex_to_text(raw)
            return {"name": name} if name else None
    family = latex_to_text(last)
    if not family:
        return None
    out = {"family": family}
    if first:
        out["given"] = latex_to_text(first)
    if person.lineage_names:
        out["suffix"] = latex_to_text(" ".join(person.lineage_names))
    return out


def _one_group(raw: str) -> bool:
    """Whether ``raw`` is one brace group, ``{...}`` (not ``{\\"O}zt{\\"u}rk``)."""
    if not (raw.startswith("{") and raw.endswith("}")):
        return False
    depth = 0
    for i, ch in enumerate(raw):
        depth += 1 if ch == "{" else -1 if ch == "}" else 0
        if depth == 0:
            return i == len(raw) - 1
    return False


def _doi(fields: dict[str, str]) -> tuple[str | None, str | None]:
    """The entry's DOI (``doi`` field, else a DOI in ``url``, ``eprint`` or ``note``) and a
    problem with its ``doi`` field, if it holds no DOI syntax."""
    raw = fields.get("doi", "").strip()
    doi = clean_doi(raw)
    problem = f"doi {raw[:80]!r} is not a DOI; not read" if raw and not doi else None
    if not doi:
        for name in ("url", "eprint", "note", "howpublished"):
            value = fields.get(name) or ""
            if "10." in value:
                doi = clean_doi(value)
                if doi:
                    break
    return doi, problem


def _month(value: str) -> int | None:
    mo = value.strip().lower().rstrip(".")
    number = int(mo) if mo.isdigit() else _MONTHS.get(mo) or next(
        (n for name, n in _MONTHS.items() if len(mo) >= 3 and name.startswith(mo[:3])), None)
    return number if number and 1 <= number <= 12 else None


_YEAR = re.compile(r"(?<![\d-])(-?\d{4})(?!\d)")
_SHORT_YEAR = re.compile(r"\s*\{?(-?\d{1,4})\}?\s*")
# Classic BibTeX's ranges: "2019--2021", "2019--" (open), "-0400---0379"; "1998-99" too.
_YEAR_RANGE = re.compile(r"\s*(-?\d{1,4})\s*(?:--?|[–—/])\s*(-?\d{1,4}|\.\.)?\s*")
_MONTH_RANGE = re.compile(r"\s*([^-–—/]+?)\s*(?:--?|[–—/])\s*([^-–—/]+?)\s*")
_DASHES = re.compile(r"\s*[-–—]+\s*")
_LIST = re.compile(r"[,;]\s*|\s+")


def _years(value: str) -> tuple[int, int | None] | None:
    """The year of a ``year`` field and the end of its range (0: an open end), if any."""
    value = value.replace("{", "").replace("}", "")
    m = _YEAR_RANGE.fullmatch(value)
    if m:
        start, end = int(m.group(1)), m.group(2)
        if end in (None, ".."):
            return start, 0
        if start > 0 and len(end) < len(m.group(1)) and not end.startswith("-"):
            end = m.group(1)[:len(m.group(1)) - len(end)] + end  # "1998-99"
        if int(end) > start:
            return start, int(end)
        # "2019-03", "2019-2019": no range; the year alone
    m = _YEAR.search(value) or _SHORT_YEAR.fullmatch(value)
    return (int(m.group(1)), None) if m else None


def _issued(fields: dict[str, str], problems: list[str]) -> list[list[int]] | None:
    """Crossref date-parts: ``date`` (biblatex: signed years, months, ranges ``a/b``, open
    ``a/..``), else ``year`` (a range ``2019--2021`` too) and ``month`` (``mar # "--" # may``
    too, as classic BibTeX writes a range of months)."""
    date = fields.get("date", "")
    if date.strip():
        parts, note = parse_date(date)
        if note:
            problems.append(note)
        if parts:
            return parts
    years = _years(fields.get("year", ""))
    if not years:
        return None
    month_text = fields.get("month", "")
    m = _MONTH_RANGE.fullmatch(month_text) if not month_text.strip().isdigit() else None
    first, last = (_month(m.group(1)), _month(m.group(2))) if m else (_month(month_text), None)
    start = [years[0], first] if first else [years[0]]
    if years[1] is None and not last:
        return [start]
    if years[1] == 0:
        return [start, [0]]
    end_year = years[1] if years[1] is not None else years[0]
    return [start, [end_year, last] if last and first else [end_year]]


def _record(btype: str, f: dict[str, str], problems: list[str]) -> dict:
    rec: dict = {"type": crossref_type("bibtex", btype)}
    doi, problem = _doi(f)
    if problem:
        problems.append(problem)
    if doi:
        rec["DOI"] = doi
    title = latex_to_text(f.get("title", ""), markup=True)
    if title:
        rec["title"] = [title]
    subtitle = latex_to_text(f.get("subtitle", ""), markup=True)
    if subtitle:
        rec["subtitle"] = [subtitle]
    container = f.get("journal") or f.get("journaltitle") or f.get("booktitle") or (
        f.get("series") if btype in ("book", "techreport", "report") else "")
    container = latex_to_text(container or "", markup=True)
    if container:
        rec["container-title"] = [container]
    short = latex_to_text(f.get("shortjournal", ""))
    if short:
        rec["short-container-title"] = [short]
    for role in ("author", "editor"):
        people = _names(f.get(role, ""))
        if people:
            rec[role] = people
    issued = _issued(f, problems)
    if issued:
        rec["issued"] = {"date-parts": issued}
    for name, fieldname in (("volume", "volume"), ("number", "issue"),
                            ("publisher", "publisher"), ("address", "publisher-location"),
                            ("location", "publisher-location"), ("edition", "edition-number"),
                            ("language", "language")):
        v = latex_to_text(f.get(name, ""))
        if v and fieldname not in rec:
            rec[fieldname] = v
    pages = latex_to_text(f.get("pages", ""))
    if pages:
        rec["page"] = _DASHES.sub("-", pages)
    school = latex_to_text(f.get("school", "") or f.get("institution", ""))
    if school:
        rec["institution"] = [{"name": school}]
        rec.setdefault("publisher", school)
    for name, fieldname in (("issn", "ISSN"), ("isbn", "ISBN")):
        values = [v for v in _LIST.split(latex_to_text(f.get(name, ""))) if v]
        if values:
            rec[fieldname] = values
    # A work without a DOI keeps the link it is found at (exported again as its url).
    url = f.get("url", "").strip().strip("{}").strip()
    if url and not rec.get("DOI") and re.match(r"(?i)https?://\S+$", url):
        rec["URL"] = url
    # PMID, PMCID and arXiv ID as biblatex and JabRef write them (eprint + archivePrefix).
    archive = (f.get("archiveprefix") or f.get("eprinttype") or "").strip("{} ").lower()
    rec.update(identifier_fields(
        f.get("pmid", "").strip("{} "), f.get("pmcid", "").strip("{} "),
        f.get("eprint", "").strip("{} ") if archive == "arxiv" else None))
    return rec


def bibtex_entries(lines: Iterable[str], problems: list[str]) -> Iterator[ImportEntry]:
    """The entries of BibTeX text given as lines, streamed; what is wrong is appended to
    ``problems`` as it is met (an entry that cannot be read, with its line and key). What
    became of one entry (a key made for it, a DOI field refused) is in its ``notes``."""
    macros: dict[str, str] = {}
    keys: dict[str, tuple[str | None, int]] = {}  # lower-cased key -> (DOI, line)
    index = 0
    for block in scan_blocks(lines):
        if block.broken:
            problems.append(f"line {block.line}: entry {_key_of(block.text)!r} not read: {block.broken}")
            continue
        try:
            etype, key, fields = parse_entry(block.text, macros)
        except EntrySyntaxError as exc:
            problems.append(f"line {block.line}: entry {_key_of(block.text)!r} not read: {exc}")
            continue
        if key is None:
            continue  # @string, @comment, @preamble
        entry_problems: list[str] = []
        record = _record(etype, fields, entry_problems)
        index += 1
        entry = ImportEntry(index, key or None, record, line=block.line)
        entry.notes += [f"line {block.line}: {p}" for p in entry_problems]
        _keep_key(entry, keys)
        yield entry


def _key_of(text: str) -> str:
    m = re.match(r"@\s*[\w-]+\s*[{(]\s*([^,\s]*)", text)
    return m.group(1) if m else ""


def _keep_key(entry: ImportEntry, keys: dict[str, tuple[str | None, int]]) -> None:
    """An entry without a key gets one made from its fields; an entry whose key an earlier
    entry of another work has (another DOI, or another title when neither has a DOI) gets a
    new one. The same key for the same work stays: the importer reports the duplicate."""
    key, doi = entry.key, entry.doi
    if key:
        first = keys.get(key.lower())
        if first is None:
            keys[key.lower()] = (doi or _title_of(entry), entry.line or 0)
            return
        if first[0] == (doi or _title_of(entry)):
            return
        taken = set(keys)
        n = 2
        while f"{key}-{n}".lower() in taken:
            n += 1
        new = f"{key}-{n}"
        entry.notes.append(f"line {entry.line}: key {key!r} is also the key of another work "
                           f"(line {first[1]}): kept as {new!r}")
    else:
        new = bibtex_key(entry.work(), set(keys))
        entry.notes.append(f"line {entry.line}: entry without a key: kept as {new!r}")
    entry.key = new
    keys[new.lower()] = (doi or _title_of(entry), entry.line or 0)


def _title_of(entry: ImportEntry) -> str:
    return " ".join((entry.record.get("title") or [""])[0].lower().split())


def read_bibtex(text: str) -> tuple[list[ImportEntry], list[str]]:
    """The entries of BibTeX ``text`` and the problems found (an entry that could not be
    read, with its line and key; a key made or changed)."""
    problems: list[str] = []
    entries = list(bibtex_entries(text.splitlines(keepends=True), problems))
    return entries, problems + [note for e in entries for note in e.notes]
