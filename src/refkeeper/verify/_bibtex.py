"""Checking the DOIs of a BibTeX file against Crossref without importing anything
(``verify_bib``; see ``verify``).

Each entry with a DOI gets the problem kinds of a stored work's check and a diff of the
fields a person would call wrong (title words, year, volume, issue, first page) between
the entry and Crossref. Entries without a DOI but with a PMID, PMCID or arXiv ID are
checked through their registry: the PMID must exist in PubMed (``esummary``, whose
retraction marks count as for stored works), a PMCID in PMC (the ID converter), an arXiv
ID at arXiv; the DOI the registry names (PubMed's, or the arXiv paper's DataCite DOI) is
then checked like a DOI the entry wrote. NCBI and arXiv are asked in batches at their
documented pace (the clients' limiters). Nothing is stored.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .._crossref import CrossrefClient
from .._errors import CrossrefError, UsageError
from .._identifiers import ARXIV, PMCID, PMID, arxiv_doi, arxiv_of_doi
from .._models import Work, normalize_doi
from .._registries import IDCONV_BATCH, ArxivClient, DoiClient, NcbiClient, article_ids
from ..bibimport import read_bibliography
from ._checks import KINDS, worst
from ._fetch import (
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_SIZE,
    Item,
    Packer,
    arxiv_checks,
    arxiv_notice,
    fetch_batch,
    filterable,
    pubmed_checks,
    pubmed_notices,
)


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
    # The PMID, PMCID and arXiv ID the entry gives; for an entry without a DOI, ``doi`` is
    # the one its registry named (None when it names none).
    identifiers: dict = field(default_factory=dict)

    def add(self, notices: list[dict]) -> None:
        """Findings of another registry (PubMed, arXiv) on top of the DOI's check."""
        if not notices or self.outcome == "error":
            return
        self.notices = [*self.notices, *notices]
        self.kinds = sorted(set(self.kinds) | {n["kind"] for n in notices}, key=KINDS.index)
        self.outcome = "problem"


@dataclass
class BibReport:
    """What ``verify_bib`` found; nothing is stored."""

    path: str
    entries: list[BibEntryResult]
    requests: int  # Crossref's (and the DOI system's)
    registry_requests: int = 0  # NCBI's and arXiv's

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
            "checked": sum(e.outcome != "no-doi" for e in self.entries),
            "without_doi": [e.key for e in self.entries if e.outcome == "no-doi"],
            "requests": self.requests,
            "registry_requests": self.registry_requests,
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
               batch_size: int = DEFAULT_BATCH_SIZE, handles: DoiClient | None = None,
               *, ncbi: NcbiClient | None = None, arxiv: ArxivClient | None = None) -> BibReport:
    """Check the DOIs of a BibTeX file against Crossref without importing anything.

    Each entry with a DOI (``doi`` field, or a doi.org ``url``) gets the problem kinds of
    ``verify`` and a diff of title, year, volume, issue and first page against Crossref;
    entries without a DOI are listed as ``no-doi`` unless they give a PMID or PMCID
    (checked in PubMed through ``ncbi``) or an arXiv ID (through ``arxiv``): one that does
    not exist there is ``not-found``, PubMed's retraction marks are ``retraction``s, and the
    DOI the registry names is checked like a written one. A DOI Crossref lacks is asked of
    the DOI system (``handles``): ``not-found`` only when it says the DOI does not exist.
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
    pmids: dict[str, str] = {}  # DOI -> PMID the entry gives: PubMed asked with the DOI's batch
    named: list[tuple[BibEntryResult, dict]] = []
    for n, entry in enumerate(parsed, 1):
        doi = entry.doi
        ids = {s: entry.record[f"x-{s}"] for s in (PMID, PMCID, ARXIV) if entry.record.get(f"x-{s}")}
        res = BibEntryResult(entry.key or f"#{n}", doi, "ok", identifiers=ids)
        entries.append(res)
        if doi is not None:
            by_doi.setdefault(doi, []).append((res, {**entry.record, "DOI": doi}))
            if ids.get(PMID):
                pmids.setdefault(doi, ids[PMID])
        elif ids and ((ncbi is not None and (PMID in ids or PMCID in ids))
                      or (arxiv is not None and ARXIV in ids)):
            named.append((res, entry.record))
        else:
            res.outcome = "no-doi"
    answered: set[str] = set()  # arXiv DOIs whose entry arXiv has already given
    registry_requests = _identified(named, by_doi, ncbi, arxiv, answered)
    packer = Packer(client, batch_size)
    requests = 0
    batch: list[Item] = []
    length = packer.fixed

    def flush() -> None:
        nonlocal requests, registry_requests, batch, length
        checks, n = fetch_batch(client, batch, handles)
        requests += n
        # PubMed and arXiv apart, to count their requests apart (one each per batch at most).
        rest = [(it, c) for it, c in zip(batch, checks, strict=True) if it.doi not in answered]
        registry_requests += pubmed_checks(ncbi, batch, checks) + arxiv_checks(
            arxiv, [it for it, _ in rest], [c for _, c in rest])
        for item, chk in zip(batch, checks, strict=True):
            for res, bib in by_doi[item.doi]:
                extra = [x for x in res.notices if x not in chk.notices]
                res.kinds, res.notices, res.alias_of, res.error = (
                    chk.kinds, chk.notices, chk.alias_of, chk.error)
                if chk.outcome == "error":
                    res.outcome = "error"
                    continue
                # The entry's own fields play the stored record: what differs is worth a look.
                res.diff = _bib_diff(bib, chk.upstream) if chk.upstream is not None else {}
                res.outcome = "problem" if chk.kinds else "changed" if res.diff else "ok"
                res.add(extra)  # what PubMed said of an entry known by its PMID
        batch, length = [], packer.fixed

    for doi, uses in by_doi.items():
        cost = packer.cost(doi) if filterable(doi) else 0
        if batch and (len(batch) >= batch_size or length + cost > packer.limit):
            flush()
        # arXiv's DOIs are DataCite's: the DOI system, not Crossref, says whether they exist.
        batch.append(Item(doi, uses[0][1], [], "datacite" if arxiv_of_doi(doi) else None,
                          pmids.get(doi)))
        length += cost
    if batch:
        flush()
    return BibReport(str(path), entries, requests, registry_requests)


def _not_found(source: str, label: str) -> dict:
    return {"kind": "not-found", "type": source, "doi": None, "sources": [source], "date": None,
            "label": label}


def _identified(named: list[tuple[BibEntryResult, dict]],
                by_doi: dict[str, list[tuple[BibEntryResult, dict]]],
                ncbi: NcbiClient | None, arxiv: ArxivClient | None, answered: set[str]) -> int:
    """Check entries known only by a PMID, PMCID or arXiv ID in their registries: each
    that exists and names a DOI joins ``by_doi`` (checked like a written DOI, with PubMed's
    notices kept in its result); one that does not exist is ``not-found``. A registry
    failing costs those entries an error. The arXiv DOIs arXiv has answered for are added
    to ``answered``. Returns the registry requests made."""
    asked = 0
    pubmed = [(res, rec) for res, rec in named if PMID in res.identifiers or PMCID in res.identifiers]
    pubmed = pubmed if ncbi is not None else []
    if pubmed:
        try:
            pmcids = list(dict.fromkeys(f"PMC{r.identifiers[PMCID]}" for r, _ in pubmed
                                        if PMCID in r.identifiers and PMID not in r.identifiers))
            converted = ncbi.convert(pmcids) if pmcids else {}
            asked += -(-len(pmcids) // IDCONV_BATCH)
            for res, _ in pubmed:
                if PMID not in res.identifiers:
                    got = converted.get(f"PMC{res.identifiers[PMCID]}", {})
                    res.identifiers[PMID] = got.get(PMID) or ""
                    res.doi = normalize_doi(got["doi"]) if got.get("doi") else None
            wanted = list(dict.fromkeys(r.identifiers[PMID] for r, _ in pubmed if r.identifiers[PMID]))
            summaries = ncbi.summaries(wanted) if wanted else {}
            asked += -(-len(wanted) // IDCONV_BATCH)
        except CrossrefError as exc:
            for res, _ in pubmed:
                res.outcome, res.error = "error", f"PubMed could not be asked: {exc}"
            pubmed = []
        for res, rec in pubmed:
            pmid = res.identifiers[PMID]
            if not pmid:  # the converter knows every PMCID in PMC: this one is not there
                res.identifiers.pop(PMID)
                res.add([_not_found("pmc", f"PMCID PMC{res.identifiers[PMCID]} is not in PubMed Central")])
                continue
            summary = summaries.get(pmid)
            if summary is None:
                res.add([_not_found("pubmed", f"PMID {pmid} is not in PubMed")])
                continue
            found, _ = pubmed_notices(summary)
            res.doi = res.doi or (normalize_doi(article_ids(summary)["doi"])
                                  if article_ids(summary).get("doi") else None)
            res.add(found)
            if res.doi:
                by_doi.setdefault(res.doi, []).append((res, {**rec, "DOI": res.doi}))
    # An arXiv ID names the DOI when PubMed named none (or was not asked) and said nothing
    # against the entry.
    papers = [(res, rec) for res, rec in named
              if ARXIV in res.identifiers and res.doi is None and res.outcome == "ok"]
    if arxiv is not None and papers:
        ids = list(dict.fromkeys(r.identifiers[ARXIV] for r, _ in papers))
        try:
            known = arxiv.entries(ids)
        except CrossrefError as exc:
            for res, _ in papers:
                res.outcome, res.error = "error", f"arXiv could not be asked: {exc}"
            return asked + 1
        asked += 1
        for res, rec in papers:
            if res.identifiers[ARXIV] not in known:
                res.add([_not_found("arxiv", f"arXiv {res.identifiers[ARXIV]} is not at arXiv")])
                continue
            res.doi = arxiv_doi(res.identifiers[ARXIV])
            # arXiv has said all it knows: its published version is not asked again.
            notice = arxiv_notice(known[res.identifiers[ARXIV]], res.doi)
            res.add([notice] if notice else [])
            answered.add(res.doi)
            by_doi.setdefault(res.doi, []).append((res, {**rec, "DOI": res.doi}))
    return asked
