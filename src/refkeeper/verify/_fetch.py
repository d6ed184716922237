"""Asking Crossref what it says now about a batch of stored works (see ``verify``).

Many works per request (``/works?filter=doi:A,doi:B,...``, ``VERIFY_FIELDS`` only), each
request kept under Crossref's request-line limit (``Packer``), then one ``/works/{doi}``
lookup for each DOI a batch did not return, because only a single lookup tells a DOI
Crossref does not have (404) or an alias (answered with another DOI) from one that was
merely not listed. Each answer is compared with the stored record by ``check_record``.

Crossref knows only the DOIs it registered: a 404 there says nothing about a DataCite or
mEDRA DOI. Whether a DOI exists at all is asked of the DOI system (the handle API,
``DoiClient.exists``), once per DOI Crossref lacks; a DOI is reported ``not-found`` only
when the DOI system says it does not exist. Works whose agency is recorded as another
than Crossref skip Crossref altogether: one handle lookup each.

Beside Crossref: works with a PMID are asked of PubMed, the batch's PMIDs in one
``esummary`` request (NCBI's pace), whose publication types "Retracted Publication" (the
work is retracted: a ``retraction`` notice from the source ``pubmed``) and "Retraction of
Publication" (the work is itself a retraction notice: ``notice_for``, not a problem) are
read; arXiv preprints are asked of arXiv, the batch's IDs in one ``id_list`` request
(one every 3 s), whose DOI or journal reference of the published version make a
``published-version`` finding.

A preprint's version of record is found from either side: the preprint's own record
(``relation`` ``is-preprint-of``, read by ``check_record``), arXiv (above), or a version of
record whose ``relation`` ``has-preprint`` names it. The last is asked of Crossref for the
batch's preprints (works of type ``posted-content``) that have no published version yet,
all in one filter request (``versions_of_record``): at most one request per batch, none
for a batch without such a preprint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote_plus, urlsplit

from .._crossref import CrossrefClient
from .._errors import CrossrefError, InputError
from .._identifiers import CROSSREF, arxiv_of_doi
from .._models import PMID_KEY_PREFIX, is_internal_key, normalize_doi
from .._registries import (
    ARXIV_BATCH,
    IDCONV_BATCH,
    ArxivClient,
    DoiClient,
    NcbiClient,
    relation_chunks,
    versions_of_record,
)
from ._checks import PUBLISHED_VERSION, Check, add_notice, check_record

# DOIs per batch request. About 100 average DOIs fill Crossref's request line (below);
# more would rarely fit and would make responses of megabytes (records carry references).
DEFAULT_BATCH_SIZE = 100
MAX_BATCH_SIZE = 1000  # Crossref's cap on rows
# Bytes of path and query string per request. Crossref's front end allows 4096 bytes for
# the whole request line, "GET " and " HTTP/1.1\r\n" included, and answers 414 past it
# (CrossRef/rest-api-doc#251); 4000 leaves room for them and a little to spare.
MAX_REQUEST_TARGET = 4000

# What a batch asks Crossref for (``select``; each is on the /works whitelist, and one
# that is not would fail every batch): the fields of ``Work`` and the notices. Full
# records can carry thousands of references; without them responses stay small and the
# run's memory flat. Single lookups (/works/{doi}) cannot select and return everything.
VERIFY_FIELDS = (
    "DOI", "title", "author", "container-title", "volume", "issue", "page", "type", "publisher",
    "issued", "published", "published-print", "published-online", "created",
    "updated-by", "update-to", "relation", "deposited",
)

# What Crossref's filter accepts as a DOI; others (and DOIs with a comma, which would
# split the filter) are looked up one by one.
_FILTERABLE = re.compile(r"^10\.\d{4,}(?:\.\d+)*/[^\s,]+$")


def filterable(doi: str) -> bool:
    """Whether ``doi`` can go in a ``filter=doi:...`` batch (else: a single lookup)."""
    return bool(_FILTERABLE.match(doi)) and len(doi) < 1000


class Packer:
    """Sizes batches so that the request ``CrossrefClient.works_by_doi`` sends stays under
    ``MAX_REQUEST_TARGET``: requests encodes parameters with ``quote_plus``."""

    def __init__(self, client: CrossrefClient, batch_size: int,
                 limit: int = MAX_REQUEST_TARGET) -> None:
        self.batch_size = batch_size
        self.limit = limit
        self.fixed = (
            len(urlsplit(client.base_url).path) + len("/works?filter=") + len("&rows=")
            + len(str(batch_size)) + len("&select=") + len(quote_plus(",".join(VERIFY_FIELDS)))
            + (len("&mailto=") + len(quote_plus(client.mailto)) if client.mailto else 0)
        )

    @staticmethod
    def cost(doi: str) -> int:
        return len(quote_plus(f"doi:{doi}")) + len("%2C")

    def target_length(self, dois: list[str]) -> int:
        """The request target's length for ``dois`` (what the tests hold it to)."""
        return self.fixed - len(str(self.batch_size)) + len(str(len(dois))) + sum(
            map(self.cost, dois)) - len("%2C")


@dataclass
class Item:
    doi: str
    record: dict
    known: list[str]
    agency: str | None = None  # as recorded; None when unknown
    pmid: str | None = None  # as recorded; PubMed is asked about works that have one

    def __post_init__(self) -> None:
        # A PubMed-only work is stored under its PMID (``pmid:<n>``).
        if self.pmid is None and self.doi.startswith(PMID_KEY_PREFIX):
            self.pmid = self.doi[len(PMID_KEY_PREFIX):]

    @property
    def arxiv(self) -> str | None:
        """The arXiv ID of a work stored under its arXiv DOI (a preprint on arXiv)."""
        return arxiv_of_doi(self.doi)


def at_crossref(item: Item) -> bool:
    """Whether Crossref is worth asking about ``item`` (its agency is Crossref or unknown)."""
    return item.agency in (None, CROSSREF)


def _fetch_listed(client: CrossrefClient, dois: list[str]) -> tuple[dict[str, dict], int]:
    """Records of ``dois`` (``VERIFY_FIELDS`` only) by one filter request, halving the
    batch if Crossref refuses it as malformed or too long (single lookups then settle the
    odd DOI)."""
    try:
        items = client.works_by_doi(dois, select=list(VERIFY_FIELDS))
    except CrossrefError as exc:
        if exc.status not in (400, 413, 414):
            raise
        if len(dois) == 1:
            return {}, 1
        mid = len(dois) // 2
        a, na = _fetch_listed(client, dois[:mid])
        b, nb = _fetch_listed(client, dois[mid:])
        return {**a, **b}, 1 + na + nb
    return {normalize_doi(i["DOI"]): i for i in items if isinstance(i, dict) and i.get("DOI")}, 1


def fetch_batch(client: CrossrefClient, items: list[Item],
                handles: DoiClient | None = None, ncbi: NcbiClient | None = None,
                arxiv: ArxivClient | None = None) -> tuple[list[Check], int]:
    """Check one batch: (results in order, requests made). Raises ``CrossrefError`` when
    Crossref fails for good; nothing of the batch is then kept. ``handles`` is the DOI
    system, asked about DOIs Crossref does not have; without it such a DOI is an error,
    never ``not-found``. ``ncbi`` (PubMed) is asked about works with a PMID, ``arxiv``
    about arXiv preprints; without them those are not asked."""
    out, n = _crossref_checks(client, items, handles)
    n += pubmed_checks(ncbi, items, out)
    n += arxiv_checks(arxiv, items, out)
    n += preprint_checks(client, items, out)
    return out, n


def _crossref_checks(client: CrossrefClient, items: list[Item],
                     handles: DoiClient | None) -> tuple[list[Check], int]:
    listed = [it.doi for it in items if filterable(it.doi) and at_crossref(it)]
    found, n = _fetch_listed(client, listed) if listed else ({}, 0)
    out = []
    for it in items:
        if is_internal_key(it.doi):
            out.append(without_doi(it))
            continue
        if not at_crossref(it):
            check, asked = elsewhere(client, handles, it, ask_agency=False)
            out.append(check)
            n += asked
            continue
        rec = found.get(it.doi)
        selected = rec is not None
        if rec is None:
            try:
                rec = client.work(it.doi)
            except InputError as exc:
                out.append(Check(it.doi, "error", error=str(exc)))
                continue
            except CrossrefError as exc:
                if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                    n += 1
                    out.append(Check(it.doi, "error", error=str(exc)))
                    continue
                raise
            n += 1
            if rec is None:
                check, asked = elsewhere(client, handles, it, ask_agency=True)
                out.append(check)
                n += asked
                continue
        try:
            out.append(check_record(it.record, rec, it.doi, it.known, selected))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            # A record shaped in a way nobody foresaw costs one work, not the whole run.
            out.append(Check(it.doi, "error", error=f"unreadable Crossref record: {exc!r}"))
    return out, n


def without_doi(it: Item) -> Check:
    """The check of a work without a DOI: no DOI to find dead or ask Crossref about, so it
    is ``ok`` as stored (the problems known from its notices stand); a PubMed-only work is
    then asked of PubMed like any work with a PMID (``pubmed_checks``)."""
    check = check_record(it.record, dict(it.record), it.doi, it.known)
    check.replacement, check.upstream = None, None
    return check


def elsewhere(client: CrossrefClient, handles: DoiClient | None, it: Item,
              ask_agency: bool) -> tuple[Check, int]:
    """Check a DOI Crossref does not have (or was not asked about): the DOI system says
    whether it exists; one that exists is ``ok`` (its agency learnt from Crossref's
    ``/agency`` when ``ask_agency``), one it does not know is ``not-found``. A failure of
    the DOI system costs this work an error, not the batch. (check, requests made)."""
    if handles is None:
        return Check(it.doi, "error", error="Crossref does not have this DOI and the DOI "
                     "system was not asked whether it exists"), 0
    try:
        exists = handles.exists(it.doi)
    except (CrossrefError, InputError) as exc:
        return Check(it.doi, "error", error=str(exc)), 1
    if not exists:
        return check_record(it.record, None, it.doi, it.known), 1
    agency, asked = it.agency, 1
    if ask_agency:
        try:
            agency = client.agency(it.doi)
        except CrossrefError:
            agency = None  # learnt next time; the DOI exists all the same
        asked += 1
    check = check_record(it.record, dict(it.record, DOI=it.doi), it.doi, it.known)
    check.replacement, check.upstream, check.agency = None, None, agency
    return check, asked


# --- PubMed and arXiv ----------------------------------------------------------------------

# PubMed publication types (esummary ``pubtype``) and ``references`` types by what they say.
RETRACTED_PUBLICATION = "retracted publication"
RETRACTION_OF_PUBLICATION = "retraction of publication"


def pubmed_notices(summary: dict) -> tuple[list[dict], list[dict]]:
    """(notices about the work, works it is itself a notice about) from a PubMed summary:
    "Retracted Publication" is a ``retraction`` notice from ``pubmed`` (with the notice's
    PMID when the summary's ``references`` name it: "Retraction in"); "Retraction of
    Publication" makes the work a retraction notice about the PMIDs "Retraction of" names."""
    types = {str(t).strip().lower() for t in summary.get("pubtype") or []}
    refs = [r for r in summary.get("references") or [] if isinstance(r, dict)]

    def pmids(reftype: str) -> list[str]:
        return [str(r["pmid"]) for r in refs
                if str(r.get("reftype") or "").lower() == reftype and r.get("pmid")]

    found, notice_for = [], []
    if RETRACTED_PUBLICATION in types:
        notice = {"kind": "retraction", "type": "Retracted Publication", "doi": None,
                  "sources": ["pubmed"], "date": None, "label": None}
        by = pmids("retraction in")
        if by:
            notice["pmid"] = by[0]
        found.append(notice)
    if RETRACTION_OF_PUBLICATION in types:
        for pmid in pmids("retraction of") or [None]:
            notice_for.append({"doi": None, "pmid": pmid, "kind": "retraction",
                               "type": "Retraction of Publication"})
    return found, notice_for


def pubmed_checks(ncbi: NcbiClient | None, items: list[Item], checks: list[Check]) -> int:
    """Add what PubMed says (``pubmed_notices``) to the checks of the works with a PMID:
    one ``esummary`` request for the batch. PubMed failing costs those works an error
    (they are due again next run), never the batch. Returns the requests made."""
    asked = [(it, c) for it, c in zip(items, checks, strict=True) if it.pmid and c.outcome != "error"]
    if ncbi is None or not asked:
        return 0
    pmids = list(dict.fromkeys(it.pmid for it, _ in asked))
    try:
        summaries = ncbi.summaries(pmids)
    except CrossrefError as exc:
        for _, c in asked:
            c.outcome, c.error = "error", f"PubMed could not be asked: {exc}"
        return -(-len(pmids) // IDCONV_BATCH)
    for it, c in asked:
        summary = summaries.get(it.pmid)
        if summary is None:
            continue
        found, notice_for = pubmed_notices(summary)
        for notice in found:
            add_notice(c, {**notice, "doi": notice["doi"] or it.doi}, it.known)
        c.notice_for += [n for n in notice_for if n not in c.notice_for]
    return -(-len(pmids) // IDCONV_BATCH)


def arxiv_checks(arxiv: ArxivClient | None, items: list[Item], checks: list[Check]) -> int:
    """Add a ``published-version`` finding to the checks of arXiv preprints whose version
    of record arXiv knows (its DOI, else only a journal reference): one ``id_list``
    request for the batch. arXiv failing costs nothing but the finding, which the next
    run asks again (the works' checks stand). Returns the requests made."""
    asked = [(it, c) for it, c in zip(items, checks, strict=True) if it.arxiv and c.outcome != "error"]
    if arxiv is None or not asked:
        return 0
    ids = list(dict.fromkeys(it.arxiv for it, _ in asked))
    try:
        entries = arxiv.entries(ids)
    except CrossrefError:
        return -(-len(ids) // ARXIV_BATCH)
    for it, c in asked:
        notice = arxiv_notice(entries.get(it.arxiv) or {}, it.doi)
        if notice is not None:
            add_notice(c, notice, it.known)
    return -(-len(ids) // ARXIV_BATCH)


def arxiv_notice(entry: dict, doi: str) -> dict | None:
    """The ``published-version`` notice an arXiv entry (``ArxivClient.entries``) makes for
    the preprint ``doi``: the published version's DOI, else only its journal reference;
    None when arXiv knows of no published version."""
    published, ref = entry.get("x-published-doi"), entry.get("x-journal-ref")
    if published and normalize_doi(published) != normalize_doi(doi):
        return {"kind": PUBLISHED_VERSION, "type": "arxiv-doi", "doi": normalize_doi(published),
                "sources": ["arxiv"], "date": None, "label": ref}
    if ref and not published:
        return {"kind": PUBLISHED_VERSION, "type": "journal-ref", "doi": None,
                "sources": ["arxiv"], "date": None, "label": ref}
    return None


PREPRINT_TYPES = ("posted-content",)


def is_preprint(record: dict | None) -> bool:
    """Whether a record is a preprint (Crossref's ``posted-content``; arXiv's and DataCite's
    preprints are stored under that type too)."""
    return bool(record) and record.get("type") in PREPRINT_TYPES


def preprint_checks(client: CrossrefClient, items: list[Item], checks: list[Check]) -> int:
    """Add a ``published-version`` finding (type ``has-preprint``, source ``relation``) to
    the checks of the batch's preprints that a version of record names in its ``relation``
    ``has-preprint``, for those without a published version found yet: one Crossref
    request for the batch (``versions_of_record``), none without such a preprint. Crossref
    failing costs nothing but the finding, asked again next run. Returns the requests made."""
    asked = [(it, c) for it, c in zip(items, checks, strict=True)
             if c.outcome != "error" and PUBLISHED_VERSION not in c.kinds
             and (is_preprint(c.upstream) or is_preprint(it.record))]
    if not asked:
        return 0
    found: dict[str, list[str]] = {}
    n = 0
    for chunk in relation_chunks(it.doi for it, _ in asked):
        n += 1
        try:
            found.update(versions_of_record(client, chunk))
        except CrossrefError:
            continue
    for it, c in asked:
        for vor in found.get(it.doi, []):
            add_notice(c, {"kind": PUBLISHED_VERSION, "type": "has-preprint", "doi": vor,
                           "sources": ["relation"], "date": None, "label": None}, it.known)
    return n
