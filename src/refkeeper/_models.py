"""Plain data types passed between refkeeper's modules."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ._errors import InputError, RefkeeperError
from ._text import fold


def first_text(value: Any) -> str | None:
    """The first non-empty value of a Crossref field that may be a list (``title``,
    ``container-title``...), as stripped text; None when there is none."""
    if isinstance(value, list):
        value = next((v for v in value if v), None)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


# The date fields of a Crossref record, most telling first: the one order in which every
# reader of a publication date (year, month, export dates) tries them.
DATE_FIELDS = ("issued", "published", "published-print", "published-online", "created")


def record_date_parts(record: dict) -> list:
    """The ``date-parts`` of the first date field (in ``DATE_FIELDS`` order) with a year."""
    for key in DATE_FIELDS:
        parts = (record.get(key) or {}).get("date-parts") or []
        if parts and parts[0] and parts[0][0]:
            return parts[0]
    return []


def record_year(record: dict) -> int | None:
    """Publication year of a Crossref record, trying the date fields in Crossref's order."""
    for key in DATE_FIELDS:
        parts = (record.get(key) or {}).get("date-parts") or []
        if parts and parts[0] and parts[0][0]:
            try:
                return int(parts[0][0])
            except (TypeError, ValueError):
                continue
    return None


def person_name(person: dict) -> str:
    """'Family, Given' for people, the whole name for organisations."""
    if person.get("family"):
        given = person.get("given")
        return f"{person['family']}, {given}" if given else person["family"]
    return person.get("name") or person.get("literal") or ""


# A work without a DOI is stored under an internal key that can never be taken for a DOI
# (DOIs always start "10."): "pmid:<digits>" for a PubMed-only work, "rk:<id>" otherwise.
# The key sits in the record as KEY_FIELD (a record with a DOI needs none).
KEY_FIELD = "refkeeper-key"
PMID_KEY_PREFIX = "pmid:"
RK_KEY_PREFIX = "rk:"


def is_internal_key(key: str | None) -> bool:
    """True for the key of a work without a DOI (``pmid:...``, ``rk:...``)."""
    return bool(key) and key.startswith((PMID_KEY_PREFIX, RK_KEY_PREFIX))


def doi_of_key(key: str | None) -> str | None:
    """The DOI a work key is, or None for an internal key: the one way from a key (a
    ``links.doi``, ``request_works.doi``...) to something that may be written as a DOI."""
    return None if not key or is_internal_key(key) else key


def record_key(record: dict) -> str:
    """The work key of a stored record: its DOI (lower-cased), else its internal key;
    "" when it has neither."""
    doi = record.get("DOI")
    if doi:
        return normalize_doi(doi)
    return str(record.get(KEY_FIELD) or "").strip().lower()


def _key_words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", fold(text or "")))


def work_identity(record: dict) -> tuple[str, int | None, str] | None:
    """What identifies a work without a DOI or other identifier: its title's words
    (case, accents and punctuation folded), its year and its first author's (else
    editor's) folded surname; None for a record without a title."""
    title = _key_words(" ".join(str(t) for t in (record.get("title") or []) if t))
    if not title:
        return None
    people = [p for p in record.get("author") or record.get("editor") or [] if isinstance(p, dict)]
    first = people[0] if people else {}
    surname = _key_words(first.get("family") or first.get("literal") or first.get("name") or "")
    return title, record_year(record), surname


def work_key_for(record: dict, pmid: str | None = None) -> str:
    """The key a work without a DOI is stored under: ``pmid:<n>`` when it has a PMID, else
    ``rk:`` and a short hash of what identifies it, so the same entry (from this file or
    another) gets the same key again: its normalised title, year and first author's
    surname; for an entry without a title, the whole record as written."""
    if pmid:
        digits = re.sub(r"\D", "", str(pmid))
        if digits:
            return f"{PMID_KEY_PREFIX}{int(digits)}"
    found = work_identity(record)
    if found is not None:
        title, year, surname = found
        identity = f"{title}|{year or ''}|{surname}"
    else:
        identity = json.dumps({k: v for k, v in record.items() if not k.startswith("x-")
                               and k != KEY_FIELD}, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()
    return f"{RK_KEY_PREFIX}{digest[:16]}"


@dataclass
class Work:
    """A bibliographic work as Crossref describes it; ``record`` keeps the full message.

    ``key`` is the work key it is stored under: its DOI, or an internal key for a work
    without one (``is_internal_key``). ``doi`` is the DOI only: None for such a work, so
    code that writes a DOI (exports, links to doi.org, Crossref look-ups) cannot be handed
    an internal key by mistake.
    """

    key: str
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    container: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    type: str | None = None
    publisher: str | None = None
    record: dict = field(default_factory=dict, repr=False)

    @property
    def doi(self) -> str | None:
        return doi_of_key(self.key)

    @property
    def has_doi(self) -> bool:
        return self.doi is not None

    @classmethod
    def from_crossref(cls, record: dict) -> Work:
        return cls(
            key=record_key(record),
            title=first_text(record.get("title")),
            authors=[person_name(a) for a in record.get("author") or [] if person_name(a)],
            year=record_year(record),
            container=first_text(record.get("container-title")),
            volume=first_text(record.get("volume")),
            issue=first_text(record.get("issue")),
            pages=first_text(record.get("page")),
            type=record.get("type"),
            publisher=record.get("publisher"),
            record=record,
        )


def normalize_doi(doi: str) -> str:
    """DOIs are case-insensitive; refkeeper stores and compares them lower-cased."""
    return doi.strip().lower()


_DOI = re.compile(r"10\.\d{4,9}/\S+", re.IGNORECASE)
# Trailing punctuation that is never part of a DOI written at the end of a sentence.
_DOI_TRAIL = ".,;:)]}>\"'"


def extract_dois(text: str) -> list[str]:
    """DOIs written in a citation, in any common form, without trailing punctuation.

    >>> extract_dois("Nature 1(2). https://doi.org/10.1038/nphys1170.")
    ['10.1038/nphys1170']
    """
    found: list[str] = []
    for m in _DOI.finditer(text):
        doi = m.group(0)
        # Balanced parentheses are part of some DOIs (10.1016/S0140-6736(05)...);
        # strip trailing punctuation only while it is unbalanced or sentence-final.
        while doi and doi[-1] in _DOI_TRAIL:
            if doi[-1] == ")" and doi.count("(") >= doi.count(")"):
                break
            doi = doi[:-1]
        if doi.lower() not in (d.lower() for d in found):
            found.append(doi)
    return found


def parse_doi(text: str) -> str:
    """The DOI a person gave (``10.1007/...``, ``doi:10.1007/...``, ``https://doi.org/...``),
    lower-cased; an ``InputError`` (exit code 2) when ``text`` holds no DOI.

    The one check of "is this a DOI" for every command and the Crossref client alike.
    """
    found = extract_dois(text or "")
    if not found:
        raise InputError(f"not a DOI: {text!r}")
    return normalize_doi(found[0])


_INTERNAL_KEY = re.compile(r"\s*(?:pmid:\s*(\d{1,9})|rk:([0-9a-f]{6,64}))\s*$", re.IGNORECASE)


def parse_work_key(text: str) -> str:
    """The work key a person gave: an internal key (``rk:...``, ``pmid:N``) as it is, else
    the DOI ``parse_doi`` reads (an ``InputError`` when ``text`` holds neither). What
    commands that name a stored work (link, show, export, history) take."""
    m = _INTERNAL_KEY.match(text or "")
    if m:
        return f"{PMID_KEY_PREFIX}{int(m.group(1))}" if m.group(1) else f"{RK_KEY_PREFIX}{m.group(2).lower()}"
    return parse_doi(text)


def problem_kinds(raw: Any) -> list[str] | None:
    """A work's recorded problems (``works.problems``: a JSON list, or the list itself) as
    normalised kinds ("retraction", "expression-of-concern", ...).

    None when the work was never checked (or the value is unreadable); [] when it was
    checked and found fine. Entries may be kinds or ``{"kind": ...}`` objects.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, list):
        return None
    kinds = []
    for p in raw:
        kind = p.get("kind") if isinstance(p, dict) else p
        if isinstance(kind, str) and kind.strip():
            kinds.append(kind.strip().lower().replace("_", "-").replace(" ", "-"))
    return kinds


@dataclass
class Evidence:
    """How one candidate's fields compare with the citation."""

    agree: list[str] = field(default_factory=list)
    disagree: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Candidate:
    """A work that might be the one a citation means, with the validation's verdict.

    ``doi`` is None for a work without one (a PubMed-only work found by its PMID); its
    work key is then ``key`` (and in the JSON as ``work``)."""

    doi: str | None
    score: float
    title: str | None
    evidence: Evidence = field(default_factory=Evidence)
    work: Work | None = field(default=None, repr=False)
    engine_score: float | None = None
    work_key: str | None = None  # set for a work without a DOI

    @property
    def key(self) -> str | None:
        return self.doi or self.work_key

    def to_json(self) -> dict:
        out = {"doi": self.doi, "score": round(self.score, 4), "title": self.title}
        if self.doi is None and self.work_key:
            out["work"] = self.work_key
        return out


MATCHED, AMBIGUOUS, UNMATCHED, ERROR = "matched", "ambiguous", "unmatched", "error"


@dataclass
class Resolution:
    """The answer for one citation: matched, ambiguous, unmatched or error."""

    input: str
    status: str
    doi: str | None = None
    score: float | None = None
    candidates: list[Candidate] = field(default_factory=list)
    error: str | None = None
    method: str | None = None
    cached: bool = False
    # What a person should know about how the answer came about ("DOI ... not found").
    notes: list[str] = field(default_factory=list)
    # For an error answer that came from a failure (Crossref down, say), the failure: the
    # CLI's exit code depends on its kind. Not part of the JSON contract.
    failure: RefkeeperError | None = field(default=None, repr=False, compare=False)
    # Identifiers learnt for the matched work on the way (scheme -> value: "pmid", "arxiv",
    # "agency"...), recorded with it by the resolver. Not part of the JSON contract.
    identifiers: dict = field(default_factory=dict, repr=False, compare=False)
    # The key of the matched work when it has no DOI (a PubMed-only work: "pmid:N"); the
    # JSON then carries it as ``work`` beside ``doi`` null. ``doi`` is only ever a DOI.
    work_key: str | None = None

    @property
    def key(self) -> str | None:
        """The matched work's key: its DOI, else its internal key; None when not matched."""
        return self.doi or self.work_key

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def to_json(self) -> dict:
        """The stable JSON contract of ``refkeeper resolve --json``."""
        return {
            "input": self.input,
            "status": self.status,
            "doi": self.doi,
            "score": None if self.score is None else round(self.score, 4),
            "candidates": [c.to_json() for c in self.candidates],
            "error": self.error,
        } | ({"work": self.work_key} if self.doi is None and self.work_key else {})
