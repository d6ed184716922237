"""Answering readers' requests (see ``workflow``).

What the desk already knows for a request (``known_for``: confirmed links, earlier
answers), the request with everything needed to answer it (``request_report``), the
queue of open requests, answering (``answer_request``) or declining a request, and the
reply to post for an answered one (``reply``), formatted and grouped by stance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .._errors import UsageError
from .._models import Work
from .._store import Store, now
from ..export import problem_note
from ..export.styles import format_reference
from ._common import DEFAULT_ACTOR, _log, _stance, _stored_work, _unique
from .article_claims import Article, Claim, get_article, get_claim
from .claim_links import LinkedWork, _link_from_row, _linked_work, _live_link
from .pasted import ReaderReference, reader_references
from .reader_requests import Request, get_request, requests

# Headings of the reply, in the order they are posted.
_STANCE_HEADINGS = {
    "supports": "Supporting",
    "contests": "Contesting",
    "mentions": "Also relevant",
    None: "References",
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
    problems = store.work_problems(w.doi for w, _ in rep.answer)
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


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


@dataclass
class RequestDetails:
    """A request as the desk's request page shows it: the report, the candidates (with
    their field-by-field evidence) of every reference that is not matched, keyed by the
    reference's ID, the works the editor can give or link (matched references first, then
    what is known), the claim's live links by DOI, and the reply once answered."""

    report: RequestReport
    candidates: dict[int, list]  # reference id -> [Candidate], best first
    works: list[Work]
    links: dict[str, LinkedWork]
    reply: str | None


def request_details(store: Store, request: int | str | Request,
                    style: str = "vancouver") -> RequestDetails:
    """Everything the request page needs, read in one call."""
    from .claim_links import claim_report

    rep = request_report(store, request)
    cands: dict[int, list] = {}
    for r in rep.references:
        if r.status in ("ambiguous", "unmatched"):
            cached = store.cached_resolution(r.searched_as or r.text)
            cands[r.id] = cached.candidates if cached is not None else []
    dois = _unique([r.doi for r in rep.references if r.doi] + rep.known.dois()
                   + [w.doi for w, _ in rep.answer])
    works = [store.require_work(d) for d in dois]
    links: dict[str, LinkedWork] = {}
    if rep.claim is not None:
        links = {lw.link.doi: lw for lw in claim_report(store, rep.claim.id).links if lw.link.live}
    text = reply(store, rep.request.id, style=style) if rep.request.status == "answered" else None
    return RequestDetails(rep, cands, works, links, text)
