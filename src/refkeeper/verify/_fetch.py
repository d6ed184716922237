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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote_plus, urlsplit

from .._crossref import CrossrefClient
from .._errors import CrossrefError, InputError
from .._identifiers import CROSSREF
from .._models import normalize_doi
from .._registries import DoiClient
from ._checks import Check, check_record

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
                handles: DoiClient | None = None) -> tuple[list[Check], int]:
    """Check one batch: (results in order, requests made). Raises ``CrossrefError`` when
    Crossref fails for good; nothing of the batch is then kept. ``handles`` is the DOI
    system, asked about DOIs Crossref does not have; without it such a DOI is an error,
    never ``not-found``."""
    listed = [it.doi for it in items if filterable(it.doi) and at_crossref(it)]
    found, n = _fetch_listed(client, listed) if listed else ({}, 0)
    out = []
    for it in items:
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
