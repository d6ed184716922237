"""Reading BibTeX (with pybtex) into plain entries in the Crossref shape.

A ``%`` outside entries starts a comment to the end of its line, as in biber and btparse,
so a commented-out entry stays out; inside an entry's braces or quotes ``%`` is text
(``Percent 100% and more``), in pybtex and in ``latex_to_text`` alike.
"""

from __future__ import annotations

import re

import pybtex.errors
from pybtex.database.input.bibtex import Parser as BibTeXParser

from refkeeper._errors import InputError
from refkeeper._match import extract_dois
from refkeeper.bibimport._entry import ImportEntry, numbered
from refkeeper.bibimport._latex import latex_to_text
from refkeeper.export import crossref_type

__all__ = ["read_bibtex", "strip_comments"]

_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], 1)}

_ENTRY_START = re.compile(r"@\s*[\w-]*\s*([{(])")
_BRACES = re.compile(r"[{}]")
_PAREN_ENTRY = re.compile(r'[{}()"]')


def _entry_end(text: str, at: int) -> int:
    """Where the entry starting with the ``@`` at ``at`` ends (just past its closing
    delimiter; the end of the text if it never closes)."""
    m = _ENTRY_START.match(text, at)
    if not m:
        return at + 1  # a lone "@" is text between entries
    depth = 0
    if m.group(1) == "{":
        for brace in _BRACES.finditer(text, m.end(1) - 1):
            depth += 1 if brace.group(0) == "{" else -1
            if depth == 0:
                return brace.end()
        return len(text)
    quoted = False  # "(" entries: a ")" inside a quoted or braced value is text
    for ch in _PAREN_ENTRY.finditer(text, m.end(1)):
        c = ch.group(0)
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif depth == 0 and c == '"':
            quoted = not quoted
        elif depth == 0 and not quoted and c == ")":
            return ch.end()
    return len(text)


def strip_comments(text: str) -> str:
    """``text`` without the ``%`` comments between entries (each to the end of its line;
    the line breaks stay, so pybtex's line numbers still hold). Linear in ``text``."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        at, pc = text.find("@", pos), text.find("%", pos)
        if pc != -1 and (at == -1 or pc < at):
            out.append(text[pos:pc])
            nl = text.find("\n", pc)
            pos = len(text) if nl == -1 else nl
        elif at == -1:
            out.append(text[pos:])
            break
        else:
            end = _entry_end(text, at)
            out.append(text[pos:end])
            pos = end
    return "".join(out)


def _person(person) -> dict | None:
    last = " ".join(person.prelast_names + person.last_names)
    first = " ".join(person.first_names + person.middle_names)
    if len(person.last_names) == 1 and not first and not person.prelast_names:
        raw = person.last_names[0]
        if raw.startswith("{") and raw.endswith("}") and " " in raw:
            name = latex_to_text(raw)
            return {"name": name} if name else None  # an organisation, kept whole
    family = latex_to_text(last)
    if not family:
        return None
    out = {"family": family}
    if first:
        out["given"] = latex_to_text(first)
    if person.lineage_names:
        out["suffix"] = latex_to_text(" ".join(person.lineage_names))
    return out


def _doi(fields) -> str | None:
    raw = (fields.get("doi") or "").strip()
    if raw:
        raw = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", raw, flags=re.I).strip()
        if raw.startswith("10."):
            # Exporters escape DOIs inconsistently (10.1000/a\_b): undo LaTeX escapes only.
            return re.sub(r"\\([_&%#$])", r"\1", raw.replace("{", "").replace("}", ""))
    for name in ("url", "eprint", "note"):
        value = fields.get(name) or ""
        if "doi" in value.lower() or "10." in value:
            found = extract_dois(value.replace("%2F", "/").replace("%2f", "/"))
            if found:
                return found[0]
    return None


def _month(fields) -> int | None:
    month = fields.get("month", "").strip().lower()
    date = re.match(r"\d{4}-(\d{1,2})", fields.get("date", ""))
    mo = date.group(1) if date else month
    number = int(mo) if mo.isdigit() else _MONTHS.get(mo) or next(
        (n for name, n in _MONTHS.items() if mo[:3] and name.startswith(mo[:3])), None)
    return number if number and 1 <= number <= 12 else None


def _record(entry) -> dict:
    f = entry.fields
    btype = entry.type.lower()
    rec: dict = {"type": crossref_type("bibtex", btype)}
    doi = _doi(f)
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
        people = [p for p in (_person(p) for p in entry.persons.get(role, [])) if p]
        if people:
            rec[role] = people
    m = re.search(r"\d{4}", f.get("year") or f.get("date") or "")
    if m:
        month = _month(f)
        rec["issued"] = {"date-parts": [[int(m.group(0)), month] if month else [int(m.group(0))]]}
    for name, fieldname in (("volume", "volume"), ("number", "issue"),
                            ("publisher", "publisher"), ("address", "publisher-location"),
                            ("location", "publisher-location"), ("edition", "edition-number"),
                            ("language", "language")):
        v = latex_to_text(f.get(name, ""))
        if v and fieldname not in rec:
            rec[fieldname] = v
    pages = latex_to_text(f.get("pages", ""))
    if pages:
        rec["page"] = re.sub(r"\s*[-–—]+\s*", "-", pages)
    school = latex_to_text(f.get("school", "") or f.get("institution", ""))
    if school:
        rec["institution"] = [{"name": school}]
        rec.setdefault("publisher", school)
    for name, fieldname in (("issn", "ISSN"), ("isbn", "ISBN")):
        values = [v for v in re.split(r"[,;]\s*|\s+", latex_to_text(f.get(name, ""))) if v]
        if values:
            rec[fieldname] = values
    return rec


def read_bibtex(text: str) -> tuple[list[ImportEntry], list[str]]:
    """The entries of BibTeX ``text`` and the problems pybtex reported (an entry it could
    not read, a duplicate key). Raises ``InputError`` when nothing can be parsed at all."""
    with pybtex.errors.capture() as errors:
        try:
            data = BibTeXParser().parse_string(strip_comments(text))
        except Exception as exc:  # pybtex raises its own types and plain ones on bad input
            raise InputError(f"cannot parse BibTeX: {exc}") from None
    problems = [str(e) for e in errors]
    return numbered((key, _record(entry)) for key, entry in data.entries.items()), problems
