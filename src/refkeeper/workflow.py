"""The editor's workflow: articles, claims, links to works, readers' reference requests.

An **article** has **claims** (statements a reader could ask "says who?" about). A **link**
ties a claim to a stored work with a stance — ``supports``, ``contests`` or ``mentions`` —
and says who asserted it (the editor, a reader, an import), when, and whether an editor
confirmed it: an assertion with provenance, never a guess shown as fact. A **request** is a
reader asking for the references behind an article (optionally one claim); it moves from
``open`` to ``answered`` (recording the works given) or ``declined`` (with a reason). The
references a reader pastes with a request are split (``reflist``), resolved (``Resolver``)
and kept as written; only a matched reference ever gets a DOI.

Every change to articles, claims, links and requests is appended to ``history`` (who,
what, when, the values before and after); the database refuses to update or delete
history rows, and links are removed by marking them, so a removed link stays visible.

Each function here is one editor action and runs in one transaction: an unknown ID, a DOI
not stored, an invalid stance raise ``NotFoundError``/``UsageError`` and nothing is
written. ``actor`` names the person acting (the CLI passes ``--by`` or ``$REFKEEPER_EDITOR``).

    >>> from refkeeper import Store, workflow
    >>> store = Store("refs.db")
    >>> art = workflow.add_article(store, "Treatment of the sacroiliac joint", url="https://...")
    >>> claim = workflow.add_claim(store, art.id, "Manual therapy helped 72%, physiotherapy 20%")
    >>> workflow.link(store, claim.id, "10.1007/s00586-013-2833-2", "supports")
    >>> workflow.works_for(store, claim=claim.id)          # DOIs, e.g. for BibTeX export
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from .claims import ProposedClaim, propose_claims
from .errors import InputError, NotFoundError, UsageError
from .export import problem_note, write_bibtex
from .match import extract_dois
from .models import MATCHED, Resolution, Work, normalize_doi
from .reflist import split_text
from .store import Store, now
from .styles import format_reference
from .text import fold

__all__ = [
    "ASSERTERS",
    "STANCES",
    "STATUSES",
    "Article",
    "Claim",
    "ClaimReport",
    "HistoryEntry",
    "Known",
    "Link",
    "LinkedWork",
    "Pasted",
    "ReaderReference",
    "Request",
    "RequestReport",
    "add_article",
    "add_claim",
    "add_reader_references",
    "add_request",
    "add_request_from_comment",
    "answer_request",
    "articles",
    "bibtex_for",
    "claim_report",
    "claims",
    "confirm_link",
    "decline_request",
    "get_article",
    "get_claim",
    "get_request",
    "history",
    "keep_proposed",
    "known_for",
    "link",
    "links",
    "propose",
    "queue",
    "reply",
    "request_report",
    "requests",
    "unlink",
    "works_for",
]

STANCES = ("supports", "contests", "mentions")
ASSERTERS = ("editor", "reader", "imported")
STATUSES = ("open", "answered", "declined")
DEFAULT_ACTOR = "editor"

# Headings of the reply, in the order they are posted.
_STANCE_HEADINGS = {
    "supports": "Supporting",
    "contests": "Contesting",
    "mentions": "Also relevant",
    None: "References",
}


# -- data types ---------------------------------------------------------------------------


@dataclass
class Article:
    """An article the desk keeps references for (``articles`` table)."""

    id: int
    title: str
    url: str | None = None
    slug: str | None = None
    text: str | None = field(default=None, repr=False)
    added_by: str | None = None
    added_at: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Claim:
    """A statement in an article (``claims`` table); ``location`` says where it sits."""

    id: int
    article_id: int
    text: str
    location: str | None = None
    quote: str | None = None
    origin: str = "editor"  # editor | proposed
    added_by: str | None = None
    added_at: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Link:
    """An assertion that a work supports, contests or mentions a claim (``links`` table).

    ``asserted_by`` is editor, reader or imported (``asserted_by_name`` the reader's name);
    ``confirmed`` says an editor stands behind it. ``removed_at`` is None while it is live.
    """

    id: int
    claim_id: int
    doi: str
    stance: str
    asserted_by: str
    asserted_by_name: str | None = None
    request_id: int | None = None
    note: str | None = None
    confirmed: bool = False
    confirmed_by: str | None = None
    confirmed_at: str | None = None
    created_by: str | None = None
    created_at: str | None = None
    removed_at: str | None = None
    removed_by: str | None = None
    removed_reason: str | None = None

    @property
    def live(self) -> bool:
        return self.removed_at is None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Request:
    """A reader asking for the references behind an article or claim (``requests`` table)."""

    id: int
    article_id: int
    reader: str
    claim_id: int | None = None
    contact: str | None = None
    text: str | None = None
    status: str = "open"  # open | answered | declined
    reason: str | None = None
    note: str | None = None
    received_at: str | None = None
    added_by: str | None = None
    closed_at: str | None = None
    closed_by: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class ReaderReference:
    """One reference as a reader wrote it, with what resolving it found.

    ``doi`` is set only when the reference was matched; ambiguous ones keep their
    ``candidates`` for the editor to choose from, unmatched ones stay without a DOI.
    """

    id: int
    request_id: int
    position: int
    text: str
    status: str
    doi: str | None = None
    score: float | None = None
    candidates: list[str] = field(default_factory=list)
    error: str | None = None
    resolved_at: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class HistoryEntry:
    """One appended change: who did what, when, to which rows; ``details`` before/after."""

    id: int
    at: str
    actor: str
    action: str
    article_id: int | None = None
    claim_id: int | None = None
    link_id: int | None = None
    request_id: int | None = None
    doi: str | None = None
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class LinkedWork:
    """A link with its work and the problems re-verification recorded for that work.

    ``problems`` is None when the work was never checked, ``[]`` when it was and is fine,
    else the kinds recorded ("retraction", "correction", "not-found", ...).
    """

    link: Link
    work: Work
    problems: list[str] | None = None

    def to_json(self) -> dict:
        return {**self.link.to_json(), "title": self.work.title, "year": self.work.year,
                "authors": self.work.authors, "container": self.work.container,
                "problems": self.problems}


@dataclass
class ClaimReport:
    """What ``claim show`` prints: the claim, its article, its linked works by stance, flags."""

    claim: Claim
    article: Article
    links: list[LinkedWork]
    flags: list[str] = field(default_factory=list)

    def by_stance(self, stance: str) -> list[LinkedWork]:
        return [lw for lw in self.links if lw.link.stance == stance and lw.link.live]

    def to_json(self) -> dict:
        return {
            "claim": self.claim.to_json(),
            "article": {"id": self.article.id, "title": self.article.title, "url": self.article.url},
            "links": [lw.to_json() for lw in self.links],
            "flags": self.flags,
        }


@dataclass
class Known:
    """What the desk already knows for a request's claim (or, without a claim, its article):
    the editor-confirmed live links, and the works given in answer to earlier requests."""

    links: list[LinkedWork] = field(default_factory=list)
    earlier: list[tuple[int, str, str | None]] = field(default_factory=list)  # (request, doi, stance)

    def dois(self) -> list[str]:
        return _unique([lw.link.doi for lw in self.links] + [doi for _, doi, _ in self.earlier])

    def __bool__(self) -> bool:
        return bool(self.links or self.earlier)

    def to_json(self) -> dict:
        return {
            "links": [lw.to_json() for lw in self.links],
            "earlier_answers": [{"request_id": r, "doi": d, "stance": s} for r, d, s in self.earlier],
        }


@dataclass
class RequestReport:
    """A request with its article, claim, the reader's references, the answer and what is known."""

    request: Request
    article: Article
    claim: Claim | None
    references: list[ReaderReference]
    answer: list[tuple[Work, str | None]]  # (work, stance) given in answer, in order
    known: Known

    def to_json(self) -> dict:
        return {
            "request": self.request.to_json(),
            "article": {"id": self.article.id, "title": self.article.title, "url": self.article.url},
            "claim": self.claim.to_json() if self.claim else None,
            "references": [r.to_json() for r in self.references],
            "answer": [{"doi": w.doi, "stance": s, "title": w.title} for w, s in self.answer],
            "known": self.known.to_json(),
        }


@dataclass
class Pasted:
    """The outcome of pasting a reader's comment or list: the request, each reference as
    resolved, the reader-asserted links made from them, and the prose around them."""

    request: Request
    references: list[ReaderReference]
    links: list[Link] = field(default_factory=list)
    prose: str = ""
    skipped: list[str] = field(default_factory=list)  # why a matched reference was not linked


# -- articles -----------------------------------------------------------------------------


def add_article(
    store: Store,
    title: str,
    url: str | None = None,
    slug: str | None = None,
    text: str | None = None,
    actor: str = DEFAULT_ACTOR,
) -> Article:
    """Add an article. ``slug`` (default: made from the title) can stand in for its ID."""
    title = " ".join((title or "").split())
    if not title:
        raise UsageError("an article needs a title")
    if slug is not None:
        slug = slug.strip()
        if not slug or slug.isdigit() or not re.fullmatch(r"[\w.\-]+", slug):
            raise UsageError(f"slug {slug!r}: use letters, digits, '-', '.' or '_', not only digits")
    with store.db.atomic():
        if slug is None:
            slug = _free_slug(store, _slugify(title))
        elif _one(store, "SELECT id FROM articles WHERE slug = ?", [slug]):
            raise UsageError(f"slug {slug!r} is already used by another article")
        stamp = now()
        cur = store.db.execute(
            "INSERT INTO articles (title, url, slug, text, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?)",
            [title, url, slug, text, actor, stamp],
        )
        art_id = cur.lastrowid
        _log(store, actor, "article.add", article_id=art_id,
             details={"title": title, "url": url, "slug": slug})
    return get_article(store, art_id)


def get_article(store: Store, article: int | str | Article) -> Article:
    """The article with this ID or slug; ``NotFoundError`` if there is none."""
    if isinstance(article, Article):
        article = article.id
    key = str(article).strip()
    if key.isdigit():
        row = _one(store, "SELECT * FROM articles WHERE id = ?", [int(key)])
    else:
        row = _one(store, "SELECT * FROM articles WHERE slug = ?", [key])
    if row is None:
        raise NotFoundError(f"no article {key!r} (see `refkeeper article list`)")
    return Article(**row)


def articles(store: Store) -> list[Article]:
    """All articles, oldest first."""
    return [Article(**r) for r in store.db.query("SELECT * FROM articles ORDER BY id")]


# -- claims -------------------------------------------------------------------------------


def add_claim(
    store: Store,
    article: int | str | Article,
    text: str,
    location: str | None = None,
    quote: str | None = None,
    actor: str = DEFAULT_ACTOR,
    origin: str = "editor",
) -> Claim:
    """Add a claim to an article: the statement in the editor's words, where it sits
    (``location``: paragraph number, anchor) and the article's own words (``quote``)."""
    text = " ".join((text or "").split())
    if not text:
        raise UsageError("a claim needs its text")
    with store.db.atomic():
        art = get_article(store, article)
        cur = store.db.execute(
            "INSERT INTO claims (article_id, text, location, quote, origin, added_by, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [art.id, text, location, quote, origin, actor, now()],
        )
        claim_id = cur.lastrowid
        _log(store, actor, "claim.add", article_id=art.id, claim_id=claim_id,
             details={"text": text, "location": location, "quote": quote, "origin": origin})
    return get_claim(store, claim_id)


def get_claim(store: Store, claim: int | str | Claim) -> Claim:
    """The claim with this ID; ``NotFoundError`` if there is none."""
    claim_id = _id(claim.id if isinstance(claim, Claim) else claim, "claim")
    row = _one(store, "SELECT * FROM claims WHERE id = ?", [claim_id])
    if row is None:
        raise NotFoundError(f"no claim {claim_id} (see `refkeeper claim list`)")
    return Claim(**row)


def claims(store: Store, article: int | str | Article | None = None) -> list[Claim]:
    """Claims of one article (or all), in the order they were added."""
    if article is None:
        rows = store.db.query("SELECT * FROM claims ORDER BY id")
    else:
        rows = store.db.query("SELECT * FROM claims WHERE article_id = ? ORDER BY id",
                              [get_article(store, article).id])
    return [Claim(**r) for r in rows]


def propose(store: Store, article: int | str | Article) -> list[ProposedClaim]:
    """Sentences of the article's text that carry a finding, for the editor to keep or drop."""
    art = get_article(store, article)
    if not art.text:
        raise UsageError(f"article {art.id} has no text to propose claims from (add it with --text-file)")
    return propose_claims(art.text)


def keep_proposed(
    store: Store,
    article: int | str | Article,
    numbers: Iterable[int] | str,
    actor: str = DEFAULT_ACTOR,
) -> list[Claim]:
    """Store the proposals with these numbers (or ``"all"``) as claims; the rest are dropped.

    A proposal kept before (same sentence in the same article) is not added twice.
    """
    art = get_article(store, article)
    proposals = propose(store, art)
    by_number = {p.number: p for p in proposals}
    if numbers == "all":
        chosen = proposals
    else:
        wanted = [_id(n, "proposal") for n in numbers]
        bad = [n for n in wanted if n not in by_number]
        if bad:
            raise UsageError(
                f"no proposal {bad[0]}: article {art.id} has proposals 1-{len(proposals)}"
                if proposals else f"article {art.id} has no proposals"
            )
        chosen = [by_number[n] for n in dict.fromkeys(wanted)]
    kept = []
    with store.db.atomic():
        for p in chosen:
            if _one(store, "SELECT id FROM claims WHERE article_id = ? AND quote = ?", [art.id, p.text]):
                continue
            kept.append(add_claim(store, art, p.text, location=p.location, quote=p.text,
                                  actor=actor, origin="proposed"))
    return kept


# -- links --------------------------------------------------------------------------------


def link(
    store: Store,
    claim: int | str | Claim,
    doi: str,
    stance: str,
    note: str | None = None,
    asserted_by: str = "editor",
    asserted_by_name: str | None = None,
    confirmed: bool | None = None,
    request: int | str | Request | None = None,
    actor: str = DEFAULT_ACTOR,
) -> Link:
    """Link a stored work to a claim with a stance; return the live link.

    An editor's link is confirmed unless ``confirmed=False``; a reader's or an import's is
    not, until an editor links the same work with the same stance (which confirms it).
    A claim has at most one live link per work: linking it again with the same stance
    confirms it or changes its note (both recorded in history); with another stance it
    is refused — unlink first, so the change is on record.
    """
    stance = _stance(stance)
    if asserted_by not in ASSERTERS:
        raise UsageError(f"asserted_by must be one of {', '.join(ASSERTERS)}, not {asserted_by!r}")
    if confirmed is None:
        confirmed = asserted_by == "editor"
    with store.db.atomic():
        c = get_claim(store, claim)
        work = _stored_work(store, doi)
        req = get_request(store, request) if request is not None else None
        existing = _live_link(store, c.id, work.doi)
        if existing is None:
            return _insert_link(store, c, work.doi, stance, note, asserted_by, asserted_by_name,
                                confirmed, req.id if req else None, actor)
        if existing.stance != stance:
            raise UsageError(
                f"claim {c.id} already has {work.doi} as '{existing.stance}' (link {existing.id}); "
                f"unlink it first to change the stance"
            )
        stamp = now()
        if confirmed and not existing.confirmed:
            store.db.execute(
                "UPDATE links SET confirmed = 1, confirmed_by = ?, confirmed_at = ? WHERE id = ?",
                [actor, stamp, existing.id],
            )
            _log(store, actor, "link.confirm", article_id=c.article_id, claim_id=c.id,
                 link_id=existing.id, doi=work.doi,
                 details={"stance": stance, "asserted_by": existing.asserted_by,
                          "asserted_by_name": existing.asserted_by_name})
        if note is not None and note != existing.note:
            store.db.execute("UPDATE links SET note = ? WHERE id = ?", [note, existing.id])
            _log(store, actor, "link.note", article_id=c.article_id, claim_id=c.id,
                 link_id=existing.id, doi=work.doi, details={"before": existing.note, "after": note})
        return _get_link(store, existing.id)


def confirm_link(store: Store, link_id: int | str, actor: str = DEFAULT_ACTOR) -> Link:
    """Confirm a live link (e.g. one a reader asserted) as the editor's own."""
    lk = _get_link(store, _id(link_id, "link"))
    if not lk.live:
        raise UsageError(f"link {lk.id} was removed on {lk.removed_at}; link the work again instead")
    return link(store, lk.claim_id, lk.doi, lk.stance, confirmed=True, actor=actor)


def unlink(
    store: Store,
    claim: int | str | Claim,
    doi: str,
    reason: str | None = None,
    actor: str = DEFAULT_ACTOR,
) -> Link:
    """Remove the live link between a claim and a work. The row stays, marked removed
    (who, when, why), and the removal is in history with the link as it was."""
    with store.db.atomic():
        c = get_claim(store, claim)
        d = _doi(doi)
        existing = _live_link(store, c.id, d)
        if existing is None:
            raise NotFoundError(f"claim {c.id} has no live link to {d}")
        store.db.execute(
            "UPDATE links SET removed_at = ?, removed_by = ?, removed_reason = ? WHERE id = ?",
            [now(), actor, reason, existing.id],
        )
        _log(store, actor, "link.remove", article_id=c.article_id, claim_id=c.id, link_id=existing.id,
             doi=d, details={"reason": reason, "link": existing.to_json()})
        return _get_link(store, existing.id)


def links(
    store: Store,
    claim: int | str | Claim | None = None,
    doi: str | None = None,
    include_removed: bool = False,
) -> list[Link]:
    """Links of a claim and/or a work, oldest first; live ones only unless ``include_removed``."""
    where, params = [], []
    if claim is not None:
        where.append("claim_id = ?")
        params.append(get_claim(store, claim).id)
    if doi is not None:
        where.append("doi = ?")
        params.append(_doi(doi))
    if not include_removed:
        where.append("removed_at IS NULL")
    sql = "SELECT * FROM links" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    return [_link_from_row(r) for r in store.db.query(sql, params)]


def claim_report(store: Store, claim: int | str | Claim, include_removed: bool = False) -> ClaimReport:
    """The claim with its linked works (by stance, with recorded problems) and its flags.

    Flagged: a claim whose only support — every live supporting work — has a problem
    recorded against it (retraction, correction, a DOI that no longer resolves ...).
    """
    c = get_claim(store, claim)
    art = get_article(store, c.article_id)
    linked = [_linked_work(store, lk) for lk in links(store, c.id, include_removed=include_removed)]
    flags = []
    supports = [lw for lw in linked if lw.link.live and lw.link.stance == "supports"]
    if supports and all(lw.problems for lw in supports):
        which = "; ".join(f"{lw.work.doi} ({', '.join(lw.problems)})" for lw in supports)
        flags.append(f"its only support has a problem recorded: {which}")
    return ClaimReport(c, art, linked, flags)


# -- requests -----------------------------------------------------------------------------


def add_request(
    store: Store,
    article: int | str | Article,
    reader: str,
    text: str | None = None,
    claim: int | str | Claim | None = None,
    contact: str | None = None,
    received_at: str | None = None,
    actor: str = DEFAULT_ACTOR,
) -> Request:
    """Record a reader's request for the references behind an article (or one claim of it).

    ``received_at`` is when the reader asked (ISO date or time; default now): the queue is
    ordered by it.
    """
    reader = " ".join((reader or "").split())
    if not reader:
        raise UsageError("a request needs the reader's name or handle")
    with store.db.atomic():
        art = get_article(store, article)
        c = get_claim(store, claim) if claim is not None else None
        if c is not None and c.article_id != art.id:
            raise UsageError(f"claim {c.id} belongs to article {c.article_id}, not {art.id}")
        cur = store.db.execute(
            "INSERT INTO requests (article_id, claim_id, reader, contact, text, status, received_at,"
            " added_by) VALUES (?, ?, ?, ?, ?, 'open', ?, ?)",
            [art.id, c.id if c else None, reader, contact, text, _timestamp(received_at), actor],
        )
        req_id = cur.lastrowid
        _log(store, actor, "request.add", article_id=art.id, claim_id=c.id if c else None,
             request_id=req_id, details={"reader": reader, "contact": contact, "text": text})
    return get_request(store, req_id)


def add_request_from_comment(
    store: Store,
    article: int | str | Article,
    reader: str,
    comment: str,
    resolver,
    claim: int | str | Claim | None = None,
    stance: str | None = None,
    contact: str | None = None,
    text: str | None = None,
    received_at: str | None = None,
    actor: str = DEFAULT_ACTOR,
) -> Pasted:
    """Record a request from a reader's comment pasted whole.

    The comment is split (``reflist.split_text``): its prose becomes the request's text
    (unless ``text`` is given), its references are resolved with ``resolver`` and kept as
    written (see ``add_reader_references`` for ``stance`` and linking).
    """
    chunks = split_text(comment or "")
    prose = "\n\n".join(c.text for c in chunks if not c.is_reference)
    if not chunks:
        raise InputError("the comment is empty")
    # Check everything that can be refused before resolving (which stores its answers).
    if not " ".join((reader or "").split()):
        raise UsageError("a request needs the reader's name or handle")
    _timestamp(received_at)
    art = get_article(store, article)
    c = get_claim(store, claim) if claim is not None else None
    if c is not None and c.article_id != art.id:
        raise UsageError(f"claim {c.id} belongs to article {c.article_id}, not {art.id}")
    if stance is not None:
        _stance(stance)
        if c is None:
            raise UsageError("a stance for the reader's references needs the claim they are about (--claim)")
    resolutions = _resolve([ch.text for ch in chunks if ch.is_reference], resolver)
    with store.db.atomic():
        req = add_request(store, art, reader, text if text is not None else (prose or None),
                          claim=c, contact=contact, received_at=received_at, actor=actor)
        pasted = _store_references(store, req, resolutions, stance, actor)
    pasted.prose = prose
    return pasted


def add_reader_references(
    store: Store,
    request: int | str | Request,
    pasted: str,
    resolver,
    stance: str | None = None,
    actor: str = DEFAULT_ACTOR,
) -> Pasted:
    """Split a pasted reference list (or whole comment), resolve each reference and keep it
    with the request, as written, after any references it already has.

    Only a *matched* reference gets a DOI; ambiguous ones keep their candidates, unmatched
    ones stay visible without a DOI. With ``stance`` (what the reader says the references
    do to the request's claim), each matched reference is linked to that claim as asserted
    by the reader, unconfirmed, until an editor confirms it; a work the claim already has a
    live link to is left as it is.
    """
    req = get_request(store, request)
    if stance is not None:
        _stance(stance)
        if req.claim_id is None:
            raise UsageError(f"request {req.id} is about no claim, so its references cannot be linked")
    chunks = split_text(pasted or "")
    refs = [ch.text for ch in chunks if ch.is_reference]
    if not refs:
        raise InputError("no references found in the pasted text")
    resolutions = _resolve(refs, resolver)
    with store.db.atomic():
        out = _store_references(store, req, resolutions, stance, actor)
    out.prose = "\n\n".join(c.text for c in chunks if not c.is_reference)
    return out


def get_request(store: Store, request: int | str | Request) -> Request:
    """The request with this ID; ``NotFoundError`` if there is none."""
    req_id = _id(request.id if isinstance(request, Request) else request, "request")
    row = _one(store, "SELECT * FROM requests WHERE id = ?", [req_id])
    if row is None:
        raise NotFoundError(f"no request {req_id} (see `refkeeper request list`)")
    return Request(**row)


def requests(
    store: Store,
    status: str | None = None,
    article: int | str | Article | None = None,
) -> list[Request]:
    """Requests, oldest first (by when they were received), optionally by status/article."""
    where, params = [], []
    if status is not None:
        if status not in STATUSES:
            raise UsageError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        where.append("status = ?")
        params.append(status)
    if article is not None:
        where.append("article_id = ?")
        params.append(get_article(store, article).id)
    sql = ("SELECT * FROM requests" + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY received_at, id")
    return [Request(**r) for r in store.db.query(sql, params)]


def reader_references(store: Store, request: int | str | Request) -> list[ReaderReference]:
    """The references the reader gave with a request, in their order."""
    req = get_request(store, request)
    return [
        _reference_from_row(r)
        for r in store.db.query(
            "SELECT * FROM request_references WHERE request_id = ? ORDER BY position", [req.id]
        )
    ]


def known_for(store: Store, request: int | str | Request) -> Known:
    """What is already known for a request: the confirmed live links of its claim and the
    works given in answer to other requests on that claim (without a claim: the article's
    confirmed links and earlier answers on the same article)."""
    req = get_request(store, request)
    if req.claim_id is not None:
        rows = store.db.query(
            "SELECT * FROM links WHERE claim_id = ? AND removed_at IS NULL AND confirmed = 1 ORDER BY id",
            [req.claim_id],
        )
        scope = "r.claim_id = ?"
        scope_id = req.claim_id
    else:
        rows = store.db.query(
            "SELECT l.* FROM links l JOIN claims c ON c.id = l.claim_id WHERE c.article_id = ?"
            " AND l.removed_at IS NULL AND l.confirmed = 1 ORDER BY l.id",
            [req.article_id],
        )
        scope = "r.article_id = ? AND r.claim_id IS NULL"
        scope_id = req.article_id
    linked = [_linked_work(store, _link_from_row(r)) for r in rows]
    earlier = [
        (r["request_id"], r["doi"], r["stance"])
        for r in store.db.query(
            f"SELECT w.request_id, w.doi, w.stance FROM request_works w JOIN requests r"
            f" ON r.id = w.request_id WHERE {scope} AND r.id != ? ORDER BY r.closed_at, w.rowid",
            [scope_id, req.id],
        )
    ]
    return Known(linked, earlier)


def request_report(store: Store, request: int | str | Request) -> RequestReport:
    """A request with everything an editor needs to answer it."""
    req = get_request(store, request)
    art = get_article(store, req.article_id)
    c = get_claim(store, req.claim_id) if req.claim_id is not None else None
    answer = [
        (store.require_work(r["doi"]), r["stance"])
        for r in store.db.query(
            "SELECT doi, stance FROM request_works WHERE request_id = ? ORDER BY rowid", [req.id]
        )
    ]
    return RequestReport(req, art, c, reader_references(store, req), answer, known_for(store, req))


def queue(store: Store) -> list[RequestReport]:
    """The open requests, oldest first, each with what is already known for its claim."""
    return [request_report(store, r) for r in requests(store, status="open")]


def answer_request(
    store: Store,
    request: int | str | Request,
    dois: Iterable[str] = (),
    stance: str | None = None,
    note: str | None = None,
    reuse: bool = False,
    actor: str = DEFAULT_ACTOR,
) -> RequestReport:
    """Answer a request with stored works; it becomes ``answered``.

    ``reuse=True`` adds everything already known (``known_for``): the claim's confirmed
    links and earlier answers, so a repeated question is answered in one step. Each work's
    stance is ``stance`` if given, else its link to the request's claim (without a claim:
    its one stance across the article's links, or an earlier answer's). Answering again
    adds works; works already given are kept as they were. A declined request cannot be
    answered.
    """
    if stance is not None:
        stance = _stance(stance)
    with store.db.atomic():
        req = get_request(store, request)
        if req.status == "declined":
            raise UsageError(f"request {req.id} was declined ({req.reason}); it cannot be answered")
        wanted = [_stored_work(store, d).doi for d in dois]
        if reuse:
            wanted += known_for(store, req).dois()
        wanted = _unique(wanted)
        if not wanted:
            raise UsageError(
                f"nothing to answer request {req.id} with: give --doi"
                + ("" if reuse else ", or --reuse what is known for its claim")
            )
        given = {r["doi"] for r in store.db.query(
            "SELECT doi FROM request_works WHERE request_id = ?", [req.id])}
        stamp = now()
        added = []
        for d in wanted:
            if d in given:
                continue
            s = stance or _stance_for(store, req, d)
            store.db.execute(
                "INSERT INTO request_works (request_id, doi, stance, added_by, added_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [req.id, d, s, actor, stamp],
            )
            added.append({"doi": d, "stance": s})
        changes: dict = {"works": added}
        if req.status == "open":
            store.db.execute(
                "UPDATE requests SET status = 'answered', closed_at = ?, closed_by = ? WHERE id = ?",
                [stamp, actor, req.id],
            )
            changes["status"] = {"before": "open", "after": "answered"}
        if note is not None and note != req.note:
            store.db.execute("UPDATE requests SET note = ? WHERE id = ?", [note, req.id])
            changes["note"] = {"before": req.note, "after": note}
        if added or len(changes) > 1:
            _log(store, actor, "request.answer", article_id=req.article_id, claim_id=req.claim_id,
                 request_id=req.id, details=changes)
    return request_report(store, req.id)


def decline_request(
    store: Store, request: int | str | Request, reason: str, actor: str = DEFAULT_ACTOR
) -> Request:
    """Decline an open request, saying why (the reason is kept and shown)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise UsageError("say why the request is declined (--reason)")
    with store.db.atomic():
        req = get_request(store, request)
        if req.status != "open":
            raise UsageError(f"request {req.id} is already {req.status}")
        stamp = now()
        store.db.execute(
            "UPDATE requests SET status = 'declined', reason = ?, closed_at = ?, closed_by = ? WHERE id = ?",
            [reason, stamp, actor, req.id],
        )
        _log(store, actor, "request.decline", article_id=req.article_id, claim_id=req.claim_id,
             request_id=req.id, details={"reason": reason, "status": {"before": "open", "after": "declined"}})
    return get_request(store, req.id)


def reply(
    store: Store,
    request: int | str | Request,
    style: str = "vancouver",
    fmt: str = "text",
    include_unresolved: bool = True,
) -> str:
    """The answer to post for an answered request: the works given, formatted in ``style``
    (vancouver, apa) as ``fmt`` (text, markdown) with DOI links, grouped by stance; works
    with a problem recorded say so ("Retracted"). With ``include_unresolved``, the reader's
    own references that matched no DOI are listed as they wrote them, marked as such.
    """
    if fmt not in ("text", "markdown"):
        raise UsageError(f"reply format must be text or markdown, not {fmt!r}")
    rep = request_report(store, request)
    req = rep.request
    if req.status != "answered":
        raise UsageError(f"request {req.id} is {req.status}; answer it first (`refkeeper request answer`)")
    md = fmt == "markdown"
    title = f"“{rep.article.title}”"
    head = f"{req.reader}: the references for {title}"
    if rep.claim is not None:
        head += f", on “{rep.claim.text}”"
    lines = [head + ":"]
    if req.note:
        lines += ["", req.note]
    problems = _problems_of(store, [w.doi for w, _ in rep.answer])
    n = 0
    for stance, heading in _STANCE_HEADINGS.items():
        group = [w for w, s in rep.answer if s == stance]
        if not group:
            continue
        lines += ["", f"**{heading}**" if md else f"{heading}:"]
        for w in group:
            n += 1
            note = problem_note(problems.get(w.doi))
            lines.append(f"{n}. {format_reference(w, style, fmt, note=note)}")
    unresolved = [r for r in rep.references if r.doi is None]
    if include_unresolved and unresolved:
        lines += ["", "**Not yet matched to a DOI**" if md else "Not yet matched to a DOI:"]
        for r in unresolved:
            lines.append(f"- {_md_escape(r.text) if md else r.text}")
    return "\n".join(lines) + "\n"


# -- export and history ----------------------------------------------------------------------


def works_for(
    store: Store,
    article: int | str | Article | None = None,
    claim: int | str | Claim | None = None,
    request: int | str | Request | None = None,
    stance: str | None = None,
) -> list[str]:
    """DOIs (lower-cased, each once, in the order they were linked or given) for export.

    * ``claim``: the works of the claim's live links;
    * ``article``: the works of its claims' live links, then the works given in answer to
      its requests;
    * ``request``: the works given in answer, then the reader's references that matched;
    * ``stance``: only links (and answer works) with that stance; alone, every live link
      with that stance.

    Filters combine (all must hold). Unknown IDs raise ``NotFoundError``, an invalid
    stance ``UsageError``; no filter at all is a ``UsageError``.
    """
    if article is None and claim is None and request is None and stance is None:
        raise UsageError("say which works: an article, a claim, a request or a stance")
    if stance is not None:
        stance = _stance(stance)
    art = get_article(store, article) if article is not None else None
    c = get_claim(store, claim) if claim is not None else None
    req = get_request(store, request) if request is not None else None

    link_where, link_params = ["l.removed_at IS NULL"], []
    if c is not None:
        link_where.append("l.claim_id = ?")
        link_params.append(c.id)
    if art is not None:
        link_where.append("cl.article_id = ?")
        link_params.append(art.id)
    if stance is not None:
        link_where.append("l.stance = ?")
        link_params.append(stance)
    if req is not None:
        # Works of a request, narrowed by the other filters.
        answer_where, answer_params = ["w.request_id = ?"], [req.id]
        if stance is not None:
            answer_where.append("w.stance = ?")
            answer_params.append(stance)
        dois = [r[0] for r in store.db.execute(
            "SELECT w.doi FROM request_works w WHERE " + " AND ".join(answer_where) + " ORDER BY w.rowid",
            answer_params)]
        if stance is None:
            dois += [r[0] for r in store.db.execute(
                "SELECT doi FROM request_references WHERE request_id = ? AND doi IS NOT NULL"
                " ORDER BY position", [req.id])]
        if c is not None or art is not None:
            allowed = set(_link_dois(store, link_where, link_params))
            if art is not None and c is None:
                allowed |= set(_answer_dois(store, art.id, stance))
            dois = [d for d in dois if d in allowed]
        return _unique(dois)
    dois = _link_dois(store, link_where, link_params)
    if art is not None and c is None:
        dois += _answer_dois(store, art.id, stance)
    return _unique(dois)


def bibtex_for(store: Store, dois: Iterable[str], ascii: bool = False) -> str:
    """BibTeX for stored works, keeping each work's stored key (new keys are stored);
    works with a problem recorded carry a note ("Retracted")."""
    dois = [_doi(d) for d in dois]
    notes = {d: n for d, p in _problems_of(store, dois).items() if (n := problem_note(p))}
    buf = io.StringIO()
    used = write_bibtex(store.works(dois), buf, store.bibtex_keys(), ascii, notes=notes)
    store.set_bibtex_keys(used)
    return buf.getvalue()


def history(
    store: Store,
    article: int | str | Article | None = None,
    claim: int | str | Claim | None = None,
    request: int | str | Request | None = None,
    doi: str | None = None,
) -> list[HistoryEntry]:
    """The recorded changes, oldest first, optionally for one article, claim, request or work."""
    where, params = [], []
    if article is not None:
        where.append("article_id = ?")
        params.append(get_article(store, article).id)
    if claim is not None:
        where.append("claim_id = ?")
        params.append(get_claim(store, claim).id)
    if request is not None:
        where.append("request_id = ?")
        params.append(get_request(store, request).id)
    if doi is not None:
        where.append("doi = ?")
        params.append(_doi(doi))
    sql = "SELECT * FROM history" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    out = []
    for r in store.db.query(sql, params):
        r["details"] = json.loads(r["details"]) if r["details"] else {}
        out.append(HistoryEntry(**r))
    return out


# -- internals --------------------------------------------------------------------------------


def _one(store: Store, sql: str, params: list) -> dict | None:
    return next(iter(store.db.query(sql, params)), None)


def _id(value, what: str) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise UsageError(f"{what} id must be a number, not {value!r}")
    return int(text)


def _timestamp(text: str | None) -> str:
    """An ISO date or time as refkeeper stores times (UTC, seconds), so the queue sorts."""
    if not text:
        return now()
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"not an ISO date or time: {text!r} (e.g. 2024-05-31 or 2024-05-31T14:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def _stance(stance: str) -> str:
    s = (stance or "").strip().lower()
    if s not in STANCES:
        raise UsageError(f"stance must be one of {', '.join(STANCES)}, not {stance!r}")
    return s


def _doi(text: str) -> str:
    found = extract_dois(text or "")
    if not found:
        raise InputError(f"not a DOI: {text!r}")
    return normalize_doi(found[0])


def _stored_work(store: Store, doi: str) -> Work:
    return store.require_work(_doi(doi))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _slugify(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", fold(title)).strip("-")[:60].rstrip("-")
    return slug or "article"


def _free_slug(store: Store, base: str) -> str:
    slug, n = base, 1
    while _one(store, "SELECT id FROM articles WHERE slug = ?", [slug]):
        n += 1
        slug = f"{base}-{n}"
    return slug


def _log(store: Store, actor: str, action: str, *, article_id=None, claim_id=None, link_id=None,
         request_id=None, doi=None, details: dict | None = None) -> None:
    store.db.execute(
        "INSERT INTO history (at, actor, action, article_id, claim_id, link_id, request_id, doi, details)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [now(), actor or DEFAULT_ACTOR, action, article_id, claim_id, link_id, request_id, doi,
         json.dumps(details or {}, ensure_ascii=False)],
    )


def _link_from_row(row: dict) -> Link:
    row = dict(row)
    row["confirmed"] = bool(row["confirmed"])
    return Link(**row)


def _get_link(store: Store, link_id: int) -> Link:
    row = _one(store, "SELECT * FROM links WHERE id = ?", [link_id])
    if row is None:
        raise NotFoundError(f"no link {link_id}")
    return _link_from_row(row)


def _live_link(store: Store, claim_id: int, doi: str) -> Link | None:
    row = _one(store, "SELECT * FROM links WHERE claim_id = ? AND doi = ? AND removed_at IS NULL",
               [claim_id, doi])
    return _link_from_row(row) if row else None


def _insert_link(store, claim: Claim, doi, stance, note, asserted_by, asserted_by_name, confirmed,
                 request_id, actor) -> Link:
    stamp = now()
    cur = store.db.execute(
        "INSERT INTO links (claim_id, doi, stance, asserted_by, asserted_by_name, request_id, note,"
        " confirmed, confirmed_by, confirmed_at, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [claim.id, doi, stance, asserted_by, asserted_by_name, request_id, note, int(confirmed),
         actor if confirmed else None, stamp if confirmed else None, actor, stamp],
    )
    _log(store, actor, "link.add", article_id=claim.article_id, claim_id=claim.id, link_id=cur.lastrowid,
         request_id=request_id, doi=doi,
         details={"stance": stance, "asserted_by": asserted_by, "asserted_by_name": asserted_by_name,
                  "confirmed": bool(confirmed), "note": note})
    return _get_link(store, cur.lastrowid)


def _problem_kinds(raw) -> list[str] | None:
    """``works.problems`` as a list of kinds: None never checked, [] fine."""
    if raw is None:
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    kinds = []
    for p in value:
        kind = p.get("kind") if isinstance(p, dict) else p
        if isinstance(kind, str) and kind:
            kinds.append(kind)
    return kinds


def _problems_of(store: Store, dois: Iterable[str]) -> dict[str, list[str]]:
    """DOI -> recorded problem kinds, for the given works that have any."""
    out = {}
    for d in _unique(dois):
        row = store.db.execute("SELECT problems FROM works WHERE doi = ?", [d]).fetchone()
        kinds = _problem_kinds(row[0]) if row else None
        if kinds:
            out[d] = kinds
    return out


def _linked_work(store: Store, lk: Link) -> LinkedWork:
    row = store.db.execute("SELECT problems FROM works WHERE doi = ?", [lk.doi]).fetchone()
    return LinkedWork(lk, store.require_work(lk.doi), _problem_kinds(row[0]) if row else None)


def _reference_from_row(row: dict) -> ReaderReference:
    row = dict(row)
    row["candidates"] = json.loads(row["candidates"]) if row["candidates"] else []
    return ReaderReference(**row)


def _resolve(texts: list[str], resolver) -> list[Resolution]:
    # In order, through the resolver's cache (and its concurrency when online).
    return list(resolver.resolve_many(texts)) if texts else []


def _store_references(store: Store, req: Request, resolutions: list[Resolution], stance: str | None,
                      actor: str) -> Pasted:
    start = store.db.execute(
        "SELECT COALESCE(MAX(position), 0) FROM request_references WHERE request_id = ?", [req.id]
    ).fetchone()[0]
    stamp = now()
    refs, made, skipped = [], [], []
    claim = get_claim(store, req.claim_id) if req.claim_id is not None else None
    for i, res in enumerate(resolutions, start + 1):
        # A DOI only for a match: never a candidate's, never a guess. The matched work is
        # stored (links and answers point at it); a resolver without a store did not.
        doi = normalize_doi(res.doi) if res.status == MATCHED and res.doi else None
        if doi and store.get_work(doi) is None:
            if res.best is None or res.best.work is None:
                raise InputError(f"matched {doi}, but its record is missing: `refkeeper add {doi}`")
            store.add_records([res.best.work.record], "crossref")
        status = res.status
        cands = [c.doi for c in res.candidates] if res.status != MATCHED else []
        cur = store.db.execute(
            "INSERT INTO request_references (request_id, position, text, status, doi, score, candidates,"
            " error, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [req.id, i, res.input, status, doi, res.score, json.dumps(cands) if cands else None,
             res.error, stamp],
        )
        refs.append(_reference_from_row(_one(store, "SELECT * FROM request_references WHERE id = ?",
                                             [cur.lastrowid])))
        if stance and claim is not None and doi:
            existing = _live_link(store, claim.id, doi)
            if existing is not None:
                skipped.append(f"{doi}: claim {claim.id} already has it as '{existing.stance}'"
                               f" (link {existing.id})")
                continue
            made.append(_insert_link(store, claim, doi, stance, None, "reader", req.reader, False,
                                     req.id, actor))
    _log(store, actor, "request.references", article_id=req.article_id, claim_id=req.claim_id,
         request_id=req.id,
         details={"references": [{"position": r.position, "status": r.status, "doi": r.doi,
                                  "text": r.text} for r in refs],
                  "stance": stance})
    return Pasted(req, refs, made, skipped=skipped)


def _stance_for(store: Store, req: Request, doi: str) -> str | None:
    """The stance a work has in answer to a request, from what the desk recorded."""
    if req.claim_id is not None:
        lk = _live_link(store, req.claim_id, doi)
        if lk is not None:
            return lk.stance
        rows = store.db.query(
            "SELECT DISTINCT w.stance FROM request_works w JOIN requests r ON r.id = w.request_id"
            " WHERE r.claim_id = ? AND w.doi = ? AND w.stance IS NOT NULL", [req.claim_id, doi])
    else:
        rows = store.db.query(
            "SELECT DISTINCT l.stance FROM links l JOIN claims c ON c.id = l.claim_id"
            " WHERE c.article_id = ? AND l.doi = ? AND l.removed_at IS NULL", [req.article_id, doi])
    stances = [r["stance"] for r in rows]
    return stances[0] if len(stances) == 1 else None


def _link_dois(store: Store, where: list[str], params: list) -> list[str]:
    return [r[0] for r in store.db.execute(
        "SELECT l.doi FROM links l JOIN claims cl ON cl.id = l.claim_id WHERE "
        + " AND ".join(where) + " ORDER BY l.id", params)]


def _answer_dois(store: Store, article_id: int, stance: str | None) -> list[str]:
    sql = ("SELECT w.doi FROM request_works w JOIN requests r ON r.id = w.request_id"
           " WHERE r.article_id = ?")
    params: list = [article_id]
    if stance is not None:
        sql += " AND w.stance = ?"
        params.append(stance)
    return [r[0] for r in store.db.execute(sql + " ORDER BY r.id, w.rowid", params)]


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)
