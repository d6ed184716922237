"""Readers' requests for the references behind an article (see ``workflow``).

Owns the ``requests`` table, the works given in answer (``request_works``) and the
references a reader pasted (``request_references``): recording a request, finding and
listing requests, declining one, and the rows behind pasting (``_pasted``) and answering
(``_answers``), which decide what to write and call here to write it.

A **request** is a reader asking for the references behind an article (optionally one
claim of it); it moves from ``open`` to ``answered`` (recording the works given) or
``declined`` (with a reason).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .._errors import NotFoundError, UsageError
from .._store import Store, now
from ._claims import Article, Claim, get_article, get_claim
from ._common import DEFAULT_ACTOR, check_stance, first_row, from_row, parse_doi, parse_id, timestamp
from ._history import log
from ._reflist import input_lines

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
    comment: str | None = None  # everything the reader pasted, as pasted (m008), if any
    stance: str | None = None   # what the reader said their references do to the claim (m012)

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
    searched_as: str | None = None  # the text an editor searched instead (m006), if any
    line: int | None = None  # the lines of the request's comment it came from (m008)
    end_line: int | None = None

    @property
    def pending(self) -> bool:
        """Recorded but not resolved yet (the desk resolves in the background)."""
        return self.resolved_at is None

    def to_json(self) -> dict:
        return asdict(self) | {"pending": self.pending}


@dataclass
class ProseChunk:
    """A chunk of a reader's comment taken for prose (or marked not a reference by an
    editor), kept with the lines it came from so it can be brought back as a reference."""

    id: int
    request_id: int
    text: str
    line: int | None = None
    end_line: int | None = None
    added_at: str | None = None

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
    comment: str | None = None,
    stance: str | None = None,
) -> Request:
    """Record a reader's request for the references behind an article (or one claim of it).

    ``received_at`` is when the reader asked (ISO date or time; default now): the queue is
    ordered by it. ``comment``: everything the reader pasted, kept as pasted. ``stance``:
    what the reader says their references do to the claim (needs ``claim``).
    """
    reader = " ".join((reader or "").split())
    if not reader:
        raise UsageError("a request needs the reader's name or handle")
    with store.write():
        art = get_article(store, article)
        c = get_claim(store, claim) if claim is not None else None
        if c is not None and c.article_id != art.id:
            raise UsageError(f"claim {c.id} belongs to article {c.article_id}, not {art.id}")
        if stance is not None:
            stance = check_stance(stance)
            if c is None:
                raise UsageError("a stance for the reader's references needs the claim they are about")
        cur = store.db.execute(
            "INSERT INTO requests (article_id, claim_id, reader, contact, text, status, received_at,"
            " added_by, comment, stance) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)",
            [art.id, c.id if c else None, reader, contact, text, timestamp(received_at), actor, comment,
             stance],
        )
        req_id = cur.lastrowid
        log(store, actor, "request.add", article_id=art.id, claim_id=c.id if c else None,
             request_id=req_id, details={"reader": reader, "contact": contact, "text": text})
    return get_request(store, req_id)


def get_request(store: Store, request: int | str | Request) -> Request:
    """The request with this ID; ``NotFoundError`` if there is none."""
    req_id = parse_id(request.id if isinstance(request, Request) else request, "request")
    row = first_row(store, "SELECT * FROM requests WHERE id = ?", [req_id])
    if row is None:
        raise NotFoundError(f"no request {req_id} (see `refkeeper request list`)")
    return from_row(Request, row)


def _request_filter(
    store: Store, status: str | None, article: int | str | Article | None
) -> tuple[str, list]:
    """The WHERE clause (with its parameters) choosing requests by status and article."""
    where, params = [], []
    if status is not None:
        if status not in STATUSES:
            raise UsageError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        where.append("status = ?")
        params.append(status)
    if article is not None:
        where.append("article_id = ?")
        params.append(get_article(store, article).id)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def requests(
    store: Store,
    status: str | None = None,
    article: int | str | Article | None = None,
) -> list[Request]:
    """Requests, oldest first (by when they were received), optionally by status/article."""
    cond, params = _request_filter(store, status, article)
    sql = f"SELECT * FROM requests{cond} ORDER BY received_at, id"
    return [from_row(Request, r) for r in store.db.query(sql, params)]


def decline_request(
    store: Store, request: int | str | Request, reason: str, actor: str = DEFAULT_ACTOR
) -> Request:
    """Decline an open request, saying why (the reason is kept and shown)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise UsageError("say why the request is declined (--reason)")
    with store.write():
        req = get_request(store, request)
        if req.status != "open":
            raise UsageError(f"request {req.id} is already {req.status}")
        store.db.execute(
            "UPDATE requests SET status = 'declined', reason = ?, closed_at = ?, closed_by = ? WHERE id = ?",
            [reason, now(), actor, req.id],
        )
        log(store, actor, "request.decline", article_id=req.article_id, claim_id=req.claim_id,
            request_id=req.id, details={"reason": reason, "status": {"before": "open", "after": "declined"}})
    return get_request(store, req.id)


def open_requests(store: Store, ids: list[int]) -> list[Request]:
    """The open requests among ``ids``."""
    return _open_where(store, "id", ids)


def open_requests_about(store: Store, claim_ids: list[int]) -> list[Request]:
    """The open requests about any of ``claim_ids`` (a reader asking for the evidence of a
    claim leans on every work the claim is linked to)."""
    return _open_where(store, "claim_id", claim_ids)


def _open_where(store: Store, column: str, values: list[int]) -> list[Request]:
    out: list[Request] = []
    for i in range(0, len(values), 500):
        chunk = values[i:i + 500]
        out += [from_row(Request, r) for r in store.db.query(
            f"SELECT * FROM requests WHERE {column} IN ({','.join('?' * len(chunk))})"
            " AND status = 'open' ORDER BY id", chunk)]
    return out


# -- the works given in answer (request_works) --------------------------------------------


def answer_works(store: Store, request: Request) -> list[tuple[str, str | None]]:
    """(doi, stance) of the works given in answer to a request, in the order given."""
    return [(r["doi"], r["stance"]) for r in store.db.query(
        "SELECT doi, stance FROM request_works WHERE request_id = ? ORDER BY rowid", [request.id])]


def earlier_answers(store: Store, request: Request) -> list[tuple[int, str, str | None]]:
    """(request, doi, stance) given in answer to the other requests on the same claim
    (a request without a claim: on the same article, without a claim), oldest first."""
    if request.claim_id is not None:
        scope, scope_id = "r.claim_id = ?", request.claim_id
    else:
        scope, scope_id = "r.article_id = ? AND r.claim_id IS NULL", request.article_id
    return [(r["request_id"], r["doi"], r["stance"]) for r in store.db.query(
        f"SELECT w.request_id, w.doi, w.stance FROM request_works w JOIN requests r"
        f" ON r.id = w.request_id WHERE {scope} AND r.id != ? ORDER BY r.closed_at, w.rowid",
        [scope_id, request.id])]


def answer_stances(store: Store, claim_id: int, doi: str) -> list[str]:
    """The stances a work was given with in answers to requests on a claim."""
    return [r["stance"] for r in store.db.query(
        "SELECT DISTINCT w.stance FROM request_works w JOIN requests r ON r.id = w.request_id"
        " WHERE r.claim_id = ? AND w.doi = ? AND w.stance IS NOT NULL", [claim_id, doi])]


def answer_dois(store: Store, *, request: Request | None = None, article: Article | None = None,
                stance: str | None = None) -> list[str]:
    """DOIs given in answer to one request (in the order given) or to an article's
    requests (by request, then order given), optionally only those with ``stance``."""
    where, params = [], []
    if request is not None:
        where.append("w.request_id = ?")
        params.append(request.id)
    if article is not None:
        where.append("r.article_id = ?")
        params.append(article.id)
    if stance is not None:
        where.append("w.stance = ?")
        params.append(stance)
    sql = ("SELECT w.doi FROM request_works w JOIN requests r ON r.id = w.request_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.id, w.rowid")
    return [r[0] for r in store.db.execute(sql, params)]


def record_answer(store: Store, request: Request, works: list[tuple[str, str | None]],
                  note: str | None, actor: str) -> None:
    """Give ``works`` (doi, stance) in answer; an open request becomes answered; ``note``
    (when given and changed) is kept. Recorded in history when anything changed."""
    with store.write():
        stamp = now()
        for doi, stance in works:
            store.db.execute(
                "INSERT INTO request_works (request_id, doi, stance, added_by, added_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [request.id, doi, stance, actor, stamp],
            )
        changes: dict = {"works": [{"doi": d, "stance": s} for d, s in works]}
        if request.status == "open":
            store.db.execute(
                "UPDATE requests SET status = 'answered', closed_at = ?, closed_by = ? WHERE id = ?",
                [stamp, actor, request.id],
            )
            changes["status"] = {"before": "open", "after": "answered"}
        if note is not None and note != request.note:
            store.db.execute("UPDATE requests SET note = ? WHERE id = ?", [note, request.id])
            changes["note"] = {"before": request.note, "after": note}
        if works or len(changes) > 1:
            log(store, actor, "request.answer", article_id=request.article_id,
                claim_id=request.claim_id, request_id=request.id, details=changes)


# -- the references a reader pasted (request_references) ----------------------------------


def reader_references(store: Store, request: int | str | Request) -> list[ReaderReference]:
    """The references the reader gave with a request, in their order."""
    req = get_request(store, request)
    return [
        reference_from_row(r)
        for r in store.db.query(
            "SELECT * FROM request_references WHERE request_id = ? ORDER BY position", [req.id]
        )
    ]


def reference_from_row(row: dict) -> ReaderReference:
    row = dict(row)
    row["candidates"] = json.loads(row["candidates"]) if row["candidates"] else []
    return from_row(ReaderReference, row)


def add_reference(store: Store, request: Request, text: str, status: str, doi: str | None,
                  score: float | None, candidates: list[str], error: str | None,
                  resolved_at: str | None, line: int | None = None, end_line: int | None = None,
                  position: int | None = None) -> ReaderReference:
    """Keep one reference the reader gave, after those the request already has (or at
    ``position``, moving the later ones down). ``resolved_at`` None: still to resolve
    (kept as unmatched until it is)."""
    with store.write():
        last = store.db.execute(
            "SELECT COALESCE(MAX(position), 0) + 1 FROM request_references WHERE request_id = ?",
            [request.id]).fetchone()[0]
        if position is None or position >= last:
            position = last
        else:
            store.db.execute("UPDATE request_references SET position = position + 1"
                             " WHERE request_id = ? AND position >= ?", [request.id, position])
        cur = store.db.execute(
            "INSERT INTO request_references (request_id, position, text, status, doi, score, candidates,"
            " error, resolved_at, line, end_line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [request.id, position, text, status, doi, score,
             json.dumps(candidates) if candidates else None, error, resolved_at, line, end_line],
        )
        return reference_from_row(first_row(store, "SELECT * FROM request_references WHERE id = ?",
                                            [cur.lastrowid]))


def reference_at(store: Store, request: int | str | Request, position: int | str) -> ReaderReference:
    """A request's reference by its number in the reader's list (1, 2, ...); ``UsageError``
    naming the numbers there are if there is none."""
    req = get_request(store, request)
    text = str(position).strip()
    n = int(text) if text.isdigit() else -1
    row = first_row(store, "SELECT * FROM request_references WHERE request_id = ? AND position = ?",
                    [req.id, n])
    if row is None:
        total = store.db.execute("SELECT COUNT(*) FROM request_references WHERE request_id = ?",
                                 [req.id]).fetchone()[0]
        have = f"its references are 1 to {total}" if total else "it has no references"
        raise UsageError(f"request {req.id} has no reference {position}: {have}"
                         f" (see `refkeeper request chunks {req.id}`)")
    return reference_from_row(row)


def set_reference(store: Store, ref: ReaderReference, **values) -> ReaderReference:
    """Change a reference's columns (``values``) without recording history: for the
    workflow's corrections, which record one entry for the whole correction."""
    if "candidates" in values:
        values["candidates"] = json.dumps(values["candidates"]) if values["candidates"] else None
    sets = ", ".join(f"{k} = ?" for k in values)
    with store.write():
        store.db.execute(f"UPDATE request_references SET {sets} WHERE id = ?", [*values.values(), ref.id])
        return reference_from_row(first_row(store, "SELECT * FROM request_references WHERE id = ?",
                                            [ref.id]))


def delete_reference(store: Store, ref: ReaderReference) -> None:
    """Take a reference out of the reader's list; the later ones move up."""
    with store.write():
        store.db.execute("DELETE FROM request_references WHERE id = ?", [ref.id])
        store.db.execute("UPDATE request_references SET position = position - 1"
                         " WHERE request_id = ? AND position > ?", [ref.request_id, ref.position])


def pending_references(store: Store, request: int | str | Request) -> list[ReaderReference]:
    """The references recorded but not resolved yet, in the reader's order."""
    req = get_request(store, request)
    return [reference_from_row(r) for r in store.db.query(
        "SELECT * FROM request_references WHERE request_id = ? AND resolved_at IS NULL ORDER BY position",
        [req.id])]


def append_comment(store: Store, request: Request, text: str) -> int:
    """Add what a reader pasted later to the request's comment (after a blank line); the
    number of lines before it, to add to the pasted text's line numbers."""
    with store.write():
        before = get_request(store, request).comment
        if not before:
            store.db.execute("UPDATE requests SET comment = ? WHERE id = ?", [text, request.id])
            return 0
        store.db.execute("UPDATE requests SET comment = ? WHERE id = ?",
                         [before + "\n\n" + text, request.id])
        return len(input_lines(before)) + 1


# -- the chunks of a reader's comment taken for prose (request_prose) ---------------------


def add_prose(store: Store, request: Request, text: str, line: int | None,
              end_line: int | None) -> ProseChunk:
    """Keep one chunk of the reader's comment that is not a reference."""
    with store.write():
        cur = store.db.execute(
            "INSERT INTO request_prose (request_id, text, line, end_line, added_at) VALUES (?, ?, ?, ?, ?)",
            [request.id, text, line, end_line, now()])
        return from_row(ProseChunk, first_row(store, "SELECT * FROM request_prose WHERE id = ?",
                                              [cur.lastrowid]))


def prose_chunks(store: Store, request: int | str | Request) -> list[ProseChunk]:
    """A request's prose chunks, in the comment's order (those without lines last)."""
    req = get_request(store, request)
    return [from_row(ProseChunk, r) for r in store.db.query(
        "SELECT * FROM request_prose WHERE request_id = ? ORDER BY line IS NULL, line, id", [req.id])]


def get_prose(store: Store, request: int | str | Request, chunk: int | str) -> ProseChunk:
    """One of a request's prose chunks by its ID; ``UsageError`` if it is not that request's."""
    req = get_request(store, request)
    text = str(chunk).strip()
    row = first_row(store, "SELECT * FROM request_prose WHERE id = ? AND request_id = ?",
                    [int(text) if text.isdigit() else -1, req.id])
    if row is None:
        raise UsageError(f"request {req.id} has no prose chunk {chunk}"
                         f" (see `refkeeper request chunks {req.id}`)")
    return from_row(ProseChunk, row)


def delete_prose(store: Store, chunk: ProseChunk) -> None:
    with store.write():
        store.db.execute("DELETE FROM request_prose WHERE id = ?", [chunk.id])


def matched_reference_dois(store: Store, request: Request) -> list[str]:
    """The DOIs of the reader's references that matched, in the reader's order."""
    return [r[0] for r in store.db.execute(
        "SELECT doi FROM request_references WHERE request_id = ? AND doi IS NOT NULL ORDER BY position",
        [request.id])]


def requests_with(store: Store, dois: list[str]) -> list[tuple[int, str]]:
    """(request, doi) for every request given one of ``dois`` in answer or that pasted a
    reference matching one."""
    out: list[tuple[int, str]] = []
    for i in range(0, len(dois), 500):
        chunk = dois[i:i + 500]
        marks = ",".join("?" * len(chunk))
        out += [(r[0], r[1]) for r in store.db.execute(
            f"SELECT request_id, doi FROM request_works WHERE doi IN ({marks})", chunk)]
        out += [(r[0], r[1]) for r in store.db.execute(
            f"SELECT request_id, doi FROM request_references WHERE doi IN ({marks})", chunk)]
    return out


def get_reference(store: Store, request: int | str | Request, reference: int | str) -> ReaderReference:
    """One of a request's references, by its ID; ``NotFoundError`` if it is not that request's."""
    req = get_request(store, request)
    ref_id = str(reference).strip()
    row = first_row(store, "SELECT * FROM request_references WHERE id = ? AND request_id = ?",
                    [int(ref_id) if ref_id.isdigit() else -1, req.id])
    if row is None:
        raise NotFoundError(f"request {req.id} has no reference {reference}")
    return reference_from_row(row)


def update_reference(store: Store, ref: ReaderReference, actor: str, action: str,
                     **values) -> ReaderReference:
    """Change a reference an editor decided on (``values``: its columns); recorded in
    history as ``action`` with the values before and after."""
    before = {k: getattr(ref, k) for k in values}
    if "candidates" in values:
        values["candidates"] = json.dumps(values["candidates"]) if values["candidates"] else None
    values["resolved_at"] = now()
    sets = ", ".join(f"{k} = ?" for k in values)
    with store.write():
        store.db.execute(f"UPDATE request_references SET {sets} WHERE id = ?", [*values.values(), ref.id])
        after = reference_from_row(first_row(store, "SELECT * FROM request_references WHERE id = ?",
                                             [ref.id]))
        req = get_request(store, ref.request_id)
        log(store, actor, action, article_id=req.article_id, claim_id=req.claim_id, request_id=req.id,
            doi=after.doi, details={"reference": ref.position,
                                    "before": before, "after": {k: getattr(after, k) for k in before}})
    return after


def reference_counts(store: Store, request_ids: list[int]) -> dict[int, dict[str, int]]:
    """For each request, how many of the reader's references are matched, ambiguous,
    unmatched (errors count as unmatched: no DOI): ``{request_id: {status: n}}``."""
    out: dict[int, dict[str, int]] = {
        i: {"matched": 0, "ambiguous": 0, "unmatched": 0} for i in request_ids
    }
    for i in range(0, len(request_ids), 500):
        chunk = list(request_ids[i:i + 500])
        for rid, status, n in store.db.execute(
            f"SELECT request_id, status, COUNT(*) FROM request_references"
            f" WHERE request_id IN ({','.join('?' * len(chunk))}) AND resolved_at IS NOT NULL"
            f" GROUP BY request_id, status", chunk
        ):
            key = "unmatched" if status == "error" else status
            out[rid][key] += n
    return out


# -- the desk's queue and where a work is used --------------------------------------------


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
    cond, params = _request_filter(store, status, article)
    if per_page < 1 or per_page > 500:
        raise UsageError("per page must be between 1 and 500")
    page = max(1, int(page))
    total = store.db.execute(f"SELECT COUNT(*) FROM requests{cond}", params).fetchone()[0]
    rows = [from_row(Request, r) for r in store.db.query(
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
    d = parse_doi(doi)
    uses: dict[int, WorkUse] = {}
    for row in store.db.query(
        "SELECT r.*, x.how FROM requests r JOIN ("
        " SELECT request_id, 'given' AS how FROM request_works WHERE doi = ?"
        " UNION ALL SELECT request_id, 'pasted' FROM request_references WHERE doi = ?"
        ") x ON x.request_id = r.id ORDER BY r.received_at, r.id", [d, d]):
        how = row.pop("how")
        use = uses.setdefault(row["id"], WorkUse(from_row(Request, row)))
        setattr(use, how, True)
    return list(uses.values())


# -- merging two works (workflow.merge_works) ---------------------------------------------


def move_work(store: Store, old: str, new: str) -> dict:
    """Make every answer and reader's reference naming the work ``old`` name ``new``.

    A request that was given both keeps ``new``'s row (with its stance); ``old``'s stance,
    when it differs, is returned under ``stances_dropped``. Candidate lists of ambiguous
    references name ``new`` instead of ``old`` (once). Returns what moved, by request.
    """
    moved: dict = {"request_works": [], "stances_dropped": [], "request_references": []}
    with store.write() as db:
        given = db.execute("SELECT request_id, stance FROM request_works WHERE doi = ? ORDER BY rowid",
                           [old]).fetchall()
        for request_id, stance in given:
            both = db.execute("SELECT stance FROM request_works WHERE request_id = ? AND doi = ?",
                              [request_id, new]).fetchone()
            if both is None:
                db.execute("UPDATE request_works SET doi = ? WHERE request_id = ? AND doi = ?",
                           [new, request_id, old])
                moved["request_works"].append(request_id)
            else:
                db.execute("DELETE FROM request_works WHERE request_id = ? AND doi = ?", [request_id, old])
                if stance != both[0]:
                    moved["stances_dropped"].append(
                        {"request": request_id, "dropped": stance, "kept": both[0]})
        moved["request_references"] = [r[0] for r in db.execute(
            "SELECT id FROM request_references WHERE doi = ? ORDER BY id", [old]).fetchall()]
        db.execute("UPDATE request_references SET doi = ? WHERE doi = ?", [new, old])
        for ref_id, cands in db.execute(
                "SELECT id, candidates FROM request_references WHERE instr(candidates, ?) > 0",
                [json.dumps(old)]).fetchall():
            listed = list(dict.fromkeys(new if d == old else d for d in json.loads(cands)))
            db.execute("UPDATE request_references SET candidates = ? WHERE id = ?",
                       [json.dumps(listed), ref_id])
            if ref_id not in moved["request_references"]:
                moved["request_references"].append(ref_id)
    return moved
