"""Checking the DOIs of a BibTeX file against Crossref without importing anything
(``verify_bib``; see ``verify``).

Each entry with a DOI gets the problem kinds of a stored work's check and a diff of the
fields a person would call wrong (title words, year, volume, issue, first page) between
the entry and Crossref. Nothing is stored.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .._crossref import CrossrefClient
from .._errors import UsageError
from .._models import Work
from .._registries import DoiClient
from ..bibimport import read_bibliography
from ._checks import worst
from ._fetch import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, Item, Packer, fetch_batch, filterable


@dataclass
class BibEntryResult:
    """One entry of a checked BibTeX file."""

    key: str
    doi: str | None
    outcome: str  # ok | changed (differs from Crossref) | problem | error | no-doi
    kinds: list[str] = field(default_factory=list)
    notices: list[dict] = field(default_factory=list)
    diff: dict = field(default_factory=dict)  # {field: [bib, Crossref]}
    alias_of: str | None = None
    error: str | None = None


@dataclass
class BibReport:
    """What ``verify_bib`` found; nothing is stored."""

    path: str
    entries: list[BibEntryResult]
    requests: int

    @property
    def findings(self) -> list[BibEntryResult]:
        order = {"problem": 0, "changed": 1, "error": 2}
        found = [e for e in self.entries if e.outcome in order]
        return sorted(found, key=lambda e: (order[e.outcome], worst(e.kinds), e.key))

    @property
    def exit_code(self) -> int:
        return 1 if self.findings else 0

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "entries": len(self.entries),
            "checked": sum(e.doi is not None for e in self.entries),
            "without_doi": [e.key for e in self.entries if e.outcome == "no-doi"],
            "requests": self.requests,
            "needs_attention": bool(self.findings),
            "findings": [asdict(e) for e in self.findings],
        }


def _bib_diff(bib: dict, upstream: dict) -> dict:
    """Differences a person would call wrong: title words, year, volume, first page; only
    for fields the entry has (a BibTeX file is no full record)."""
    from .._match import compact

    a, b = Work.from_crossref(bib), Work.from_crossref(upstream)
    diff = {}
    if a.title and b.title and compact(a.title) != compact(b.title):
        diff["title"] = [a.title, b.title]
    for f in ("year", "volume", "issue"):
        va, vb = getattr(a, f), getattr(b, f)
        if va is not None and vb is not None and str(va).strip() != str(vb).strip():
            diff[f] = [va, vb]
    first = [re.split(r"[-–]", p.strip())[0] if p else None for p in (a.pages, b.pages)]
    if all(first) and first[0] != first[1]:
        diff["pages"] = [a.pages, b.pages]
    return diff


def verify_bib(path: str | Path, client: CrossrefClient,
               batch_size: int = DEFAULT_BATCH_SIZE, handles: DoiClient | None = None) -> BibReport:
    """Check the DOIs of a BibTeX file against Crossref without importing anything.

    Each entry with a DOI (``doi`` field, or a doi.org ``url``) gets the problem kinds of
    ``verify`` and a diff of title, year, volume, issue and first page against Crossref;
    entries without a DOI are listed as ``no-doi``. A DOI Crossref lacks is asked of the
    DOI system (``handles``): ``not-found`` only when it says the DOI does not exist.
    Raises ``InputError`` for a file that cannot be read or parsed, ``CrossrefError``
    when Crossref fails for good.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise UsageError(f"batch size must be between 1 and {MAX_BATCH_SIZE}")
    # The importer's reader: one reading of BibTeX (DOI in doi/url/note, LaTeX undone)
    # for `refkeeper import` and for this check. Its parse complaints are not findings.
    parsed, _problems = read_bibliography(path, "bibtex")
    entries: list[BibEntryResult] = []
    by_doi: dict[str, list[tuple[BibEntryResult, dict]]] = {}
    for n, entry in enumerate(parsed, 1):
        doi = entry.doi
        res = BibEntryResult(entry.key or f"#{n}", doi, "no-doi" if doi is None else "ok")
        entries.append(res)
        if doi is not None:
            by_doi.setdefault(doi, []).append((res, {**entry.record, "DOI": doi}))
    packer = Packer(client, batch_size)
    requests = 0
    batch: list[Item] = []
    length = packer.fixed

    def flush() -> None:
        nonlocal requests, batch, length
        checks, n = fetch_batch(client, batch, handles)
        requests += n
        for item, chk in zip(batch, checks, strict=True):
            for res, bib in by_doi[item.doi]:
                res.kinds, res.notices, res.alias_of, res.error = (
                    chk.kinds, chk.notices, chk.alias_of, chk.error)
                if chk.outcome == "error":
                    res.outcome = "error"
                    continue
                # The entry's own fields play the stored record: what differs is worth a look.
                res.diff = _bib_diff(bib, chk.upstream) if chk.upstream is not None else {}
                res.outcome = "problem" if chk.kinds else "changed" if res.diff else "ok"
        batch, length = [], packer.fixed

    for doi, uses in by_doi.items():
        cost = packer.cost(doi) if filterable(doi) else 0
        if batch and (len(batch) >= batch_size or length + cost > packer.limit):
            flush()
        batch.append(Item(doi, uses[0][1], []))
        length += cost
    if batch:
        flush()
    return BibReport(str(path), entries, requests)
