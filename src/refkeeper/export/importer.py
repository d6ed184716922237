"""``refkeeper import``: bring an existing bibliography (BibTeX, RIS, CSL-JSON) into the store.

What the user wrote is theirs:

* their citation keys are kept (pinned in ``works.bibtex_key``), so a later export of the
  same works writes the same keys;
* an entry with a DOI that is not stored yet is stored as the user wrote it
  (``works.source = 'import'``), no network needed;
* an entry whose DOI is already stored is compared field by field with what is stored; a
  difference is shown as a diff and applied only with ``update=True`` (``--update``);
* an entry without a DOI is resolved through ``Resolver`` from a citation built from its
  fields. Only a ``matched`` answer gives it a DOI; ``ambiguous`` ones are reported with
  their candidates for an editor to choose, ``unmatched`` ones are reported: no DOI is
  ever guessed, and the works table (keyed by DOI) gets nothing for them.

Readers: ``read_bibliography(path)`` picks the format from the file name (``.bib``,
``.ris``/``.txt``, ``.json``) or the content, and returns ``ImportEntry`` objects; they are
usable on their own (re-verifying a ``.bib`` without importing it, for instance).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
import pybtex.errors
from pybtex.database.input.bibtex import Parser as BibTeXParser

from refkeeper._errors import InputError, UsageError
from refkeeper._match import CitationFeatures, container_agreement, extract_dois
from refkeeper._models import AMBIGUOUS, ERROR, MATCHED, Candidate, Work, normalize_doi
from refkeeper._text import STOPWORDS, fold, words
from refkeeper.export.csl import csl_to_record, read_csl_json
from refkeeper.export.fields import work_title
from refkeeper.export.keys import KEY_PATTERN
from refkeeper.export.markup import plain_title
from refkeeper.export.ris import read_ris

__all__ = [
    "ImportEntry",
    "ImportResult",
    "import_entries",
    "latex_to_text",
    "parse_bibliography",
    "read_bibliography",
]

FINDINGS = ("differs", "ambiguous", "unmatched", "duplicate", "error")


@dataclass
class ImportEntry:
    """One entry of a bibliography file, in the Crossref shape the store keeps."""

    index: int  # 1-based position in the file
    key: str | None
    record: dict

    @property
    def doi(self) -> str | None:
        doi = self.record.get("DOI")
        return normalize_doi(doi) if doi else None

    @property
    def label(self) -> str:
        """How messages name the entry: its key, else its position and title."""
        if self.key:
            return self.key
        title = plain_title((self.record.get("title") or [""])[0])
        return f"#{self.index} {title[:60]}".strip()

    def work(self) -> Work:
        return Work.from_crossref({**self.record, "DOI": self.record.get("DOI") or ""})

    def citation(self) -> str:
        """A Vancouver reference built from the entry's fields, for the resolver; an entry
        with an author and a year but no title is a short mention ("Murakami et al. (2007)"),
        which the resolver answers with candidates rather than a guess."""
        from refkeeper.export.styles import format_reference

        work = self.work()
        people = [p for p in self.record.get("author") or [] if p.get("family")]
        if not work.title and people and work.year:
            more = " et al." if len(self.record.get("author") or []) > 1 else ""
            return f"{people[0]['family']}{more} ({work.year})"
        return format_reference(work, "vancouver", "text")


@dataclass
class ImportResult:
    """What happened to one entry.

    ``status``: ``added`` (stored as written), ``resolved`` (no DOI in the file; the
    resolver matched one), ``unchanged``, ``updated`` (``--update`` applied the diff),
    ``differs`` (stored work differs; nothing changed), ``ambiguous`` / ``unmatched`` (no
    DOI found; nothing stored), ``duplicate`` (DOI already in this file), ``error``.
    ``diff`` lists (field, stored value, file value); ``notes`` say what else to know
    (a key that could not be kept).
    """

    entry: ImportEntry
    status: str
    doi: str | None = None
    key: str | None = None
    diff: list[tuple[str, str, str]] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def finding(self) -> bool:
        """True when an editor has to look at this entry."""
        return self.status in FINDINGS or bool(self.notes)

    def to_json(self) -> dict:
        return {
            "index": self.entry.index,
            "key": self.key or self.entry.key,
            "status": self.status,
            "doi": self.doi,
            "title": plain_title((self.entry.record.get("title") or [""])[0]) or None,
            "diff": [{"field": f, "stored": a, "file": b} for f, a, b in self.diff],
            "candidates": [c.to_json() for c in self.candidates],
            "notes": self.notes,
        }


# --------------------------------------------------------------------------------------
# LaTeX -> text
# --------------------------------------------------------------------------------------

# Escapes that mean one literal character; replaced by private-use placeholders before
# LaTeX decoding so the characters cannot be re-read as LaTeX.
_LITERALS = [
    (r"\\textbackslash\s*(?:\{\})?", "\\"), (r"\\textbraceleft\s*(?:\{\})?", "{"),
    (r"\\textbraceright\s*(?:\{\})?", "}"), (r"\\textasciitilde\s*(?:\{\})?", "~"),
    (r"\\textasciicircum\s*(?:\{\})?", "^"), (r"\\textless\s*(?:\{\})?", "<"),
    (r"\\textgreater\s*(?:\{\})?", ">"), (r"\\\{", "{"), (r"\\\}", "}"), (r"\\\$", "$"),
    (r"\\&", "&"), (r"\\%", "%"), (r"\\#", "#"), (r"\\_", "_"),
]
_LITERAL_RE = re.compile("|".join(f"({p})" for p, _ in _LITERALS))
_PH = 0xE000  # placeholders U+E000.. for the literals, U+E100.. for style tags
_STYLE_CMDS = {
    "textit": "i", "emph": "i", "textsl": "i", "mathit": "i", "textsubscript": "sub",
    "textsuperscript": "sup", "textsc": "scp", "texttt": None, "textbf": None, "textrm": None,
    "textnormal": None, "mbox": None, "text": None, "textup": None, "mathrm": None,
}
_STYLE_TAGS = ("i", "sub", "sup", "scp")


def _styles(s: str) -> str:
    """``\\textit{x}`` -> placeholder-tagged x, through nested braces."""
    out = []
    i = 0
    cmd = re.compile(r"\\(" + "|".join(_STYLE_CMDS) + r")\s*\{")
    while True:
        m = cmd.search(s, i)
        if not m:
            out.append(s[i:])
            return "".join(out)
        out.append(s[i : m.start()])
        depth, j = 1, m.end()
        while j < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            j += 1
        inner = _styles(s[m.end() : j - 1] if depth == 0 else s[m.end() :])
        tag = _STYLE_CMDS[m.group(1)]
        if tag:
            n = _STYLE_TAGS.index(tag)
            inner = chr(_PH + 0x100 + 2 * n) + inner + chr(_PH + 0x101 + 2 * n)
        out.append(inner)
        i = j


def latex_to_text(value: str, markup: bool = False) -> str:
    """A BibTeX field value as Unicode text: accents and symbols decoded, escapes undone,
    grouping braces removed, whitespace collapsed.

    With ``markup=True`` (titles) italics, sub/superscripts and small caps come back as
    Crossref-style tags (``<i>``, ``<sub>``, ``<sup>``, ``<scp>``) and ``& < >`` in the text
    are written as entities, so the tags are the only markup.
    """
    literals: list[str] = []

    def keep(m: re.Match) -> str:
        for n, (_, char) in enumerate(_LITERALS):
            if m.group(n + 1) is not None:
                literals.append(char)
                return chr(_PH + len(literals) - 1) if len(literals) < 0x100 else char
        return m.group(0)

    s = _LITERAL_RE.sub(keep, value)
    s = _styles(s)
    try:
        s = codecs.decode(s, "ulatex")
    except (UnicodeError, ValueError, KeyError, IndexError):
        pass
    s = s.replace("{", "").replace("}", "").replace("~", "\u00a0")
    if markup:
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = []
    for ch in s:
        code = ord(ch)
        if _PH <= code < _PH + len(literals):
            lit = literals[code - _PH]
            if markup:
                lit = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}.get(lit, lit)
            out.append(lit)
        elif _PH + 0x100 <= code < _PH + 0x100 + 2 * len(_STYLE_TAGS):
            n, closing = divmod(code - _PH - 0x100, 2)
            if markup:
                out.append(f"</{_STYLE_TAGS[n]}>" if closing else f"<{_STYLE_TAGS[n]}>")
        else:
            out.append(ch)
    return " ".join("".join(out).replace("\u00a0", " ").split())


# --------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------

_BIBTEX_TYPES = {
    "article": "journal-article", "inproceedings": "proceedings-article",
    "conference": "proceedings-article", "incollection": "book-chapter",
    "inbook": "book-chapter", "book": "book", "mvbook": "book", "collection": "edited-book",
    "proceedings": "proceedings", "techreport": "report", "report": "report",
    "phdthesis": "dissertation", "mastersthesis": "dissertation", "thesis": "dissertation",
    "dataset": "dataset", "online": "posted-content", "unpublished": "posted-content",
    "inreference": "reference-entry", "reference": "reference-book", "manual": "report",
    "standard": "standard",
}
_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], 1)}


def _bib_person(person) -> dict | None:
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


def _bib_doi(fields) -> str | None:
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


def _bibtex_records(text: str) -> tuple[list[tuple[str, dict]], list[str]]:
    with pybtex.errors.capture() as errors:
        try:
            data = BibTeXParser().parse_string(text)
        except Exception as exc:  # pybtex raises its own types and plain ones on bad input
            raise InputError(f"cannot parse BibTeX: {exc}") from None
    problems = [str(e) for e in errors]
    out = []
    for key, entry in data.entries.items():
        f = entry.fields
        btype = entry.type.lower()
        rec: dict = {"type": _BIBTEX_TYPES.get(btype, "other")}
        doi = _bib_doi(f)
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
            people = [p for p in (_bib_person(p) for p in entry.persons.get(role, [])) if p]
            if people:
                rec[role] = people
        year_text = f.get("year") or f.get("date") or ""
        m = re.search(r"\d{4}", year_text)
        if m:
            parts = [int(m.group(0))]
            month = f.get("month", "").strip().lower()
            date = re.match(r"\d{4}-(\d{1,2})", f.get("date", ""))
            mo = date.group(1) if date else month
            number = int(mo) if mo.isdigit() else _MONTHS.get(mo) or next(
                (n for name, n in _MONTHS.items() if mo[:3] and name.startswith(mo[:3])), None)
            if number and 1 <= number <= 12:
                parts.append(number)
            rec["issued"] = {"date-parts": [parts]}
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
        out.append((key, rec))
    return out, problems


def _sniff(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".bib", ".bibtex"):
        return "bibtex"
    if suffix in (".ris",):
        return "ris"
    if suffix in (".json", ".csljson"):
        return "csl-json"
    head = text.lstrip("\ufeff \t\r\n")[:200]
    if head.startswith(("[", "{")):
        return "csl-json"
    if re.match(r"(?:\d+\.\s*\n)?TY  -", head):
        return "ris"
    if "@" in text[:10000]:
        return "bibtex"
    raise InputError(f"{path}: cannot tell the format; name it .bib, .ris or .json")


def parse_bibliography(text: str, fmt: str) -> tuple[list[ImportEntry], list[str]]:
    """Entries and parse problems of a bibliography ``text`` in ``fmt``
    ("bibtex", "ris" or "csl-json")."""
    problems: list[str] = []
    pairs: list[tuple[str | None, dict]] = []
    if fmt == "bibtex":
        pairs, problems = _bibtex_records(text)
    elif fmt == "ris":
        records, problems = read_ris(text)
        pairs = [(r.pop("x-citation-key", None), r) for r in records]
    elif fmt == "csl-json":
        records = [csl_to_record(i) for i in read_csl_json(text)]
        pairs = [(r.pop("x-citation-key", None), r) for r in records]
    else:
        raise UsageError(f"unknown bibliography format {fmt!r}")
    return [ImportEntry(i, key, rec) for i, (key, rec) in enumerate(pairs, 1)], problems


def read_bibliography(path: str | Path, fmt: str | None = None) -> tuple[list[ImportEntry], list[str]]:
    """Entries and parse problems of a bibliography file (format from ``fmt``, else from the
    file name, else from the content). Raises ``InputError`` if it cannot be read at all."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"no such file: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {p}: {exc}") from None
    return parse_bibliography(text, fmt or _sniff(p, text))


# --------------------------------------------------------------------------------------
# Importing
# --------------------------------------------------------------------------------------

_COMPARED = ("type", "title", "author", "container-title", "issued", "volume", "issue", "page")


def _show(record: dict, name: str) -> str:
    value = record.get(name)
    if name == "author":
        return "; ".join(
            (f"{p.get('family')}, {p.get('given')}" if p.get("given") else p.get("family"))
            if p.get("family") else (p.get("name") or p.get("literal") or "")
            for p in value or [] if isinstance(p, dict))
    if name == "issued":
        parts = ((value or {}).get("date-parts") or [[]])[0]
        return "-".join(str(p) for p in parts if p is not None)
    if name == "page":
        value = value or record.get("article-number")  # exports write it as the page
    if name == "title":
        value = work_title(Work(doi="", record=record))  # title and subtitle, as exported
    if isinstance(value, list):
        value = next((v for v in value if v), "")
    return plain_title(str(value)) if value else ""


def _norm(name: str, record: dict) -> object:
    shown = _show(record, name)
    if name == "author":
        return [re.sub(r"\W+", "", fold(p.get("family") or p.get("name") or ""))
                for p in record.get("author") or [] if isinstance(p, dict)]
    if name == "issued":
        return shown.split("-")[0]  # a year; months are too often missing on one side
    if name == "page":
        m = re.match(r"(\w+)(?:-(\w+))?", shown)
        if not m:
            return shown
        first, last = m.groups()
        if last and first.isdigit() and last.isdigit() and len(last) < len(first):
            last = first[: len(first) - len(last)] + last  # 274-80 is 274-280
        return (first, None if last == first else last)
    return re.sub(r"\W+", "", fold(shown))


def _same_journal(a: str, b: str) -> bool:
    """'J Orthop Sci' and 'Journal of Orthopaedic Science' name the same journal: every word
    of the longer name abbreviated, in order, by the shorter, and no word left over."""
    wa = [w for w in words(a) if w not in STOPWORDS]
    wb = [w for w in words(b) if w not in STOPWORDS]
    if not wa or len(wa) != len(wb):
        return False
    return (container_agreement([a], CitationFeatures.parse(b)) == 1.0
            or container_agreement([b], CitationFeatures.parse(a)) == 1.0)


def record_diff(stored: dict, incoming: dict) -> list[tuple[str, str, str]]:
    """(field, stored, incoming) for the compared fields the incoming record has and that
    differ beyond case, accents, punctuation and markup. A journal name matches either the
    stored full title or its abbreviation."""
    diff = []
    for name in _COMPARED:
        if not incoming.get(name):
            continue
        a, b = _norm(name, stored), _norm(name, incoming)
        if name == "container-title" and (b == _norm("short-container-title", stored) or _same_journal(
                _show(stored, name), _show(incoming, name))):
            continue
        if a != b:
            diff.append((name, _show(stored, name), _show(incoming, name)))
    return diff


def _usable_key(key: str | None) -> tuple[str | None, str | None]:
    if not key:
        return None, None
    key = key.strip()
    if KEY_PATTERN.fullmatch(key):
        return key, None
    return None, f"key {key!r} is not usable (ASCII letters, digits, _ : . + / -); one will be made"


def import_entries(
    store,
    entries: Iterable[ImportEntry],
    resolver=None,
    *,
    update: bool = False,
) -> Iterator[ImportResult]:
    """Import ``entries`` into ``store``, one ``ImportResult`` per entry, in order.

    ``resolver`` (a ``Resolver`` on the same store, online or offline) resolves entries
    without a DOI; without one they are reported ``unmatched``. With ``update=True`` a
    stored work that differs from the file takes the file's fields (and key).
    """
    entries = list(entries)
    resolutions = {}
    missing = [e for e in entries if not e.doi]
    if missing and resolver is not None:
        answers = resolver.resolve_many(e.citation() for e in missing)
        resolutions = {e.index: r for e, r in zip(missing, answers, strict=True)}
    seen: dict[str, ImportEntry] = {}
    for entry in entries:
        result = _import_one(store, entry, resolutions.get(entry.index), seen, update)
        if result.doi and result.status not in ("duplicate", "error"):
            seen.setdefault(result.doi, entry)
        yield result


def _import_one(store, entry: ImportEntry, resolution, seen: dict, update: bool) -> ImportResult:
    key, key_note = _usable_key(entry.key)
    notes = [key_note] if key_note else []
    doi = entry.doi
    resolved = False
    if not doi:
        if resolution is None:
            return ImportResult(entry, "unmatched", notes=notes + ["no DOI, and not resolved"])
        if resolution.status == ERROR:
            return ImportResult(entry, "error", notes=notes + [resolution.error or "error"])
        if resolution.status == AMBIGUOUS:
            return ImportResult(entry, "ambiguous", candidates=resolution.candidates, notes=notes)
        if resolution.status != MATCHED or not resolution.doi:
            return ImportResult(entry, "unmatched", notes=notes)
        doi, resolved = normalize_doi(resolution.doi), True
    if doi in seen:
        return ImportResult(entry, "duplicate", doi=doi,
                            notes=notes + [f"same DOI as entry {seen[doi].label}"])

    stored = store.get_work(doi)
    if stored is None and resolved:
        # The resolver stores what it matches; when it could not, there is nothing to add.
        return ImportResult(entry, "error", doi=doi, notes=notes + ["matched work not stored"])
    old_key = store.get_key(doi) if stored is not None else None
    if stored is None:
        record = {k: v for k, v in entry.record.items() if not k.startswith("x-")}
        record["DOI"] = entry.record.get("DOI") or doi
        store.add_records([record], "import")
        status, diff = "added", []
    else:
        diff = [] if resolved else record_diff(stored.record, entry.record)
        if key and old_key and key != old_key:
            diff.append(("key", old_key, key))
        if not diff:
            status = "resolved" if resolved else "unchanged"
        elif not update:
            return ImportResult(entry, "differs", doi=doi, key=old_key, diff=diff, notes=notes)
        else:
            fields = {n: entry.record[n] for n, _, _ in diff if n != "key" and n in entry.record}
            if fields:
                merged = {**stored.record, **fields}
                merged.pop("score", None)
                if "title" in fields:  # the file's title is whole: keep its subtitle, or none
                    merged.pop("subtitle", None)
                    if entry.record.get("subtitle"):
                        merged["subtitle"] = entry.record["subtitle"]
                store.add_records([merged], "import")
            status = "resolved" if resolved else "updated"
    if key and (key != old_key):
        owner = store.key_owner(key)
        if owner is not None and owner != doi:
            notes.append(f"key {key!r} is already used by {owner}; "
                         + (f"keeping {old_key!r}" if old_key else "one will be made"))
            key = old_key
        else:
            store.pin_key(doi, key)
    elif not key:
        key = old_key
    return ImportResult(entry, status, doi=doi, key=key, diff=diff, notes=notes)
