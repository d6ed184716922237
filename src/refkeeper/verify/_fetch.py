"""Asking Crossref what it says now about a batch of stored works (see ``verify``).

Many works per request (``/works?filter=doi:A,doi:B,...``, ``VERIFY_FIELDS`` only), each
request kept under Crossref's request-line limit (``Packer``), then one ``/works/{doi}``
lookup for each DOI a batch did not return, because only a single lookup tells a DOI
that is gone (404) or an alias (answered with another DOI) from one that was merely not
listed. Each answer is compared with the stored record by ``check_record``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote_plus, urlsplit

from .._crossref import CrossrefClient
from .._errors import CrossrefError, InputError
from .._models import normalize_doi
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


def fetch_batch(client: CrossrefClient, items: list[Item]) -> tuple[list[Check], int]:
    """Check one batch: (results in order, requests made). Raises ``CrossrefError`` when
    Crossref fails for good; nothing of the batch is then kept."""
    listed = [it.doi for it in items if filterable(it.doi)]
    found, n = _fetch_listed(client, listed) if listed else ({}, 0)
    out = []
    for it in items:
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
        try:
            out.append(check_record(it.record, rec, it.doi, it.known, selected))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            # A record shaped in a way nobody foresaw costs one work, not the whole run.
            out.append(Check(it.doi, "error", error=f"unreadable Crossref record: {exc!r}"))
    return out, n
