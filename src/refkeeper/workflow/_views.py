"""What the desk's pages show, each read in one call (see ``workflow``).

The web desk only parses a request, calls one library function and renders. A page that
shows several things (an article with its claims at a glance, a claim with its history,
a work with where it is used and how it was verified) gets them here, composed from the
public functions of the modules that own the tables; there is no SQL in this module.
``fetch_work`` stores a work by DOI, fetched through the client it is given (the desk's
one shared client), the way ``refkeeper add`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import verify
from .._crossref import CrossrefClient
from .._errors import NotFoundError
from .._identifiers import kept_doi
from .._models import Work, is_internal_key
from .._store import Store
from ..export import STYLES, format_reference, problem_note
from ._claims import Article, Claim, get_article, get_claim
from ._common import parse_doi
from ._history import HistoryEntry, history
from ._links import ClaimReport, ClaimSummary, Link, claim_report, claim_summaries, links
from ._requests import Request, WorkUse, requests, requests_for_work


@dataclass
class ArticleDetails:
    """An article, its claims at a glance (counts per stance, problem flags), its requests."""

    article: Article
    claims: list[ClaimSummary]
    requests: list[Request]


def article_details(store: Store, article: int | str | Article) -> ArticleDetails:
    art = get_article(store, article)
    return ArticleDetails(art, claim_summaries(store, art), requests(store, article=art))


@dataclass
class ClaimDetails:
    """A claim with its linked works (removed links included, marked), its flags, and its
    history, oldest first."""

    report: ClaimReport
    history: list[HistoryEntry]

    def live(self, stance: str) -> list:
        return self.report.by_stance(stance)

    @property
    def removed(self) -> list:
        return [lw for lw in self.report.links if not lw.link.live]


def claim_details(store: Store, claim: int | str | Claim) -> ClaimDetails:
    c = get_claim(store, claim)
    return ClaimDetails(claim_report(store, c, include_removed=True), history(store, claim=c))


@dataclass
class WorkDetails:
    """A stored work: its record, the claims that link it (live links, with the claim), the
    requests that involve it, what re-verification recorded, and the work as a reference
    in each style (text, with the problem note a reader must see)."""

    work: Work
    links: list[tuple[Link, Claim]]
    requests: list[WorkUse]
    verification: verify.History
    references: dict[str, str] = field(default_factory=dict)  # style -> one line of text
    note: str | None = None  # "Retracted", "Corrected" ... or None

    @property
    def problems(self) -> list[str] | None:
        return self.verification.problems


def work_details(store: Store, doi: str) -> WorkDetails:
    work = store.require_work(parse_doi(doi))
    ver = verify.history(store, work.key)
    note = problem_note(ver.problems)
    return WorkDetails(
        work,
        [(lk, get_claim(store, lk.claim_id)) for lk in links(store, doi=work.key)],
        requests_for_work(store, work.key),
        ver,
        {style: format_reference(work, style, "text", note=note) for style in STYLES},
        note,
    )


def fetch_work(store: Store, doi: str, client: CrossrefClient | None) -> Work:
    """The stored work for ``doi``; fetched through ``client`` and stored if it is not
    stored yet. ``NotFoundError`` when Crossref does not know the DOI (or, with no client,
    offline, when it is not stored); ``InputError`` for text that is not a DOI."""
    d = kept_doi(store, parse_doi(doi))
    work = store.get_work(d)
    if work is not None:
        return work
    # A work without a DOI is only ever stored, never fetched.
    record = client.work(d) if client is not None and not is_internal_key(d) else None
    if record is None:
        raise NotFoundError(f"no work with DOI {d}" + ("" if client is not None else
                                                          " in the database (the desk is offline)"))
    return store.add_work(record, "crossref")
