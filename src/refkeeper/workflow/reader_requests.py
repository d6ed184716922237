"""Readers' requests for the references behind an article (see ``workflow``): recording
one, finding it, listing them.

A **request** is a reader asking for the references behind an article (optionally one
claim of it); it moves from ``open`` to ``answered`` (recording the works given) or
``declined`` (with a reason). The references a reader pastes with a request are kept by
``pasted``; answering, declining and the reply to post are in ``answers``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .._errors import NotFoundError, UsageError
from .._store import Store
from ._common import DEFAULT_ACTOR, _id, _log, _one, _timestamp
from .article_claims import Article, Claim, get_article, get_claim

STATUSES = ("open", "answered", "declined")


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


@dataclass
class QueueItem:
    """One row of the desk's request queue: the request, where it points, and how many of
    the reader's references are matched / ambiguous / unmatched."""

    request: Request
    article: Article
    claim: Claim | None
    counts: dict[str, int]


@dataclass
class QueuePage:
    items: list[QueueItem]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def request_queue(
    store: Store,
    status: str | None = None,
    article: int | str | Article | None = None,
    page: int = 1,
    per_page: int = 25,
) -> QueuePage:
    """The request queue, one page of it: open requests first, then the others, oldest
    first within each (by when they were received); optionally one status or article."""
    from .pasted import reference_counts  # pasted builds on this module

    where, params = [], []
    if status is not None:
        if status not in STATUSES:
            raise UsageError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        where.append("status = ?")
        params.append(status)
    if article is not None:
        where.append("article_id = ?")
        params.append(get_article(store, article).id)
    if per_page < 1 or per_page > 500:
        raise UsageError("per page must be between 1 and 500")
    page = max(1, int(page))
    cond = " WHERE " + " AND ".join(where) if where else ""
    total = store.db.execute(f"SELECT COUNT(*) FROM requests{cond}", params).fetchone()[0]
    rows = [Request(**r) for r in store.db.query(
        f"SELECT * FROM requests{cond} ORDER BY status != 'open', received_at, id LIMIT ? OFFSET ?",
        params + [per_page, (page - 1) * per_page])]
    counts = reference_counts(store, [r.id for r in rows])
    arts: dict[int, Article] = {}
    items = []
    for r in rows:
        if r.article_id not in arts:
            arts[r.article_id] = get_article(store, r.article_id)
        items.append(QueueItem(r, arts[r.article_id],
                               get_claim(store, r.claim_id) if r.claim_id is not None else None,
                               counts[r.id]))
    return QueuePage(items, total, page, per_page)


# -- where a work is used (the desk, issue 10) ---------------------------------------------


@dataclass
class WorkUse:
    """A request that involves a work: ``given`` when the work was given in the answer,
    ``pasted`` when the reader's own reference resolved to it (both can hold)."""

    request: Request
    given: bool = False
    pasted: bool = False


def requests_for_work(store: Store, doi: str) -> list[WorkUse]:
    """The requests a work was given in answer to or that a reader's reference resolved
    to, oldest first."""
    from ._common import _doi

    d = _doi(doi)
    uses: dict[int, WorkUse] = {}
    for row in store.db.query(
        "SELECT r.*, x.how FROM requests r JOIN ("
        " SELECT request_id, 'given' AS how FROM request_works WHERE doi = ?"
        " UNION ALL SELECT request_id, 'pasted' FROM request_references WHERE doi = ?"
        ") x ON x.request_id = r.id ORDER BY r.received_at, r.id", [d, d]):
        how = row.pop("how")
        use = uses.setdefault(row["id"], WorkUse(Request(**row)))
        setattr(use, how, True)
    return list(uses.values())
