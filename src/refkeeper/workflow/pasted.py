"""The references a reader pastes with a request (see ``workflow``).

A reader's comment or reference list is split (``reflist``), each reference resolved
(``Resolver``) and kept with the request as written. Only a *matched* reference ever gets
a DOI; ambiguous ones keep their candidates, unmatched ones stay visible without one.
With a stance, matched references become links to the request's claim, asserted by the
reader and unconfirmed until an editor confirms them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .._errors import InputError, UsageError
from .._models import MATCHED, Resolution, normalize_doi
from .._store import Store, now
from ._common import DEFAULT_ACTOR, _log, _one, _stance, _timestamp
from .article_claims import Article, Claim, get_article, get_claim
from .claim_links import Link, _insert_link, _live_link
from .reader_requests import Request, add_request, get_request
from .reflist import split_text


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

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Pasted:
    """The outcome of pasting a reader's comment or list: the request, each reference as
    resolved, the reader-asserted links made from them, and the prose around them."""

    request: Request
    references: list[ReaderReference]
    links: list[Link] = field(default_factory=list)
    prose: str = ""
    skipped: list[str] = field(default_factory=list)  # why a matched reference was not linked


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


def reader_references(store: Store, request: int | str | Request) -> list[ReaderReference]:
    """The references the reader gave with a request, in their order."""
    req = get_request(store, request)
    return [
        _reference_from_row(r)
        for r in store.db.query(
            "SELECT * FROM request_references WHERE request_id = ? ORDER BY position", [req.id]
        )
    ]


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


def reference_counts(store: Store, request_ids: list[int]) -> dict[int, dict[str, int]]:
    """For each request, how many of the reader's references are matched, ambiguous,
    unmatched (errors count as unmatched: no DOI): ``{request_id: {status: n}}``."""
    out: dict[int, dict[str, int]] = {
        i: {"matched": 0, "ambiguous": 0, "unmatched": 0} for i in request_ids
    }
    if not request_ids:
        return out
    marks = ",".join("?" * len(request_ids))
    for rid, status, n in store.db.execute(
        f"SELECT request_id, status, COUNT(*) FROM request_references WHERE request_id IN ({marks})"
        " GROUP BY request_id, status", list(request_ids)
    ):
        key = "unmatched" if status == "error" else status
        out[rid][key] += n
    return out
