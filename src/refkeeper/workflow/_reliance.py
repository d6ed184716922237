"""What in the workflow leans on given works (see ``workflow``): for re-verification, which
names the claims and open requests a retracted or corrected work affects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .._models import normalize_doi
from .._store import Store
from ._claims import Article, Claim, claims_by_id
from ._common import unique
from ._links import Link, live_links_to
from ._requests import Request, open_requests, open_requests_about, requests_with


@dataclass
class ClaimLink:
    """A live link with its claim and the claim's article."""

    link: Link
    claim: Claim
    article: Article


@dataclass
class Relying:
    """What leans on one work: the live links of claims to it, and the open requests it
    was given in answer to, that pasted a reference matched to it, or that ask about a
    claim linked to it."""

    doi: str
    links: list[ClaimLink] = field(default_factory=list)
    open_requests: list[Request] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.links or self.open_requests)


def relying_on(store: Store, dois: Iterable[str]) -> dict[str, Relying]:
    """DOI -> what leans on it (``Relying``, empty when nothing does), for each of ``dois``
    (lower-cased); links and requests oldest first."""
    wanted = unique(normalize_doi(d) for d in dois)
    out = {d: Relying(d) for d in wanted}
    if not wanted:
        return out
    found = live_links_to(store, wanted)
    claims = claims_by_id(store, unique(lk.claim_id for lk in found))
    for lk in found:
        if lk.claim_id in claims:
            out[lk.doi].links.append(ClaimLink(lk, *claims[lk.claim_id]))
    pairs = set(requests_with(store, wanted))
    still_open = {r.id: r for r in open_requests(store, unique(rid for rid, _ in pairs))}
    # A reader asking for a claim's evidence leans on every work the claim is linked to,
    # even before a work is given in answer.
    linked: dict[int, list[str]] = {}
    for lk in found:
        linked.setdefault(lk.claim_id, []).append(lk.doi)
    for req in open_requests_about(store, list(linked)):
        still_open[req.id] = req
        pairs.update((req.id, doi) for doi in linked[req.claim_id])
    for rid, doi in sorted(pairs):
        if rid in still_open and doi in out:
            out[doi].open_requests.append(still_open[rid])
    return out
