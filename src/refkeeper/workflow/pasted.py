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

from .._errors import InputError, NotFoundError, UsageError
from .._models import MATCHED, Resolution, Work, normalize_doi
from .._store import Store, now
from ._common import DEFAULT_ACTOR, _doi, _log, _one, _stance, _timestamp
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


# -- the web desk: a request recorded at once, its references resolved in the background,
# and an editor's decisions on each reference (issue 10) ----------------------------------


@dataclass
class PendingRequest:
    """A request recorded from a pasted comment whose references are not resolved yet:
    ``resolve_pending`` resolves ``texts`` (in order) and keeps each as it is answered."""

    request: Request
    texts: list[str]
    stance: str | None = None
    prose: str = ""


def open_request_from_comment(
    store: Store,
    article: int | str | Article,
    reader: str,
    comment: str,
    claim: int | str | Claim | None = None,
    stance: str | None = None,
    contact: str | None = None,
    received_at: str | None = None,
    actor: str = DEFAULT_ACTOR,
) -> PendingRequest:
    """Record a request from a reader's comment pasted whole, at once, without resolving:
    the same checks and split as ``add_request_from_comment``; the references to resolve
    come back in ``texts`` for ``resolve_pending`` (the desk runs it in the background)."""
    chunks = split_text(comment or "")
    if not chunks:
        raise InputError("the comment is empty")
    prose = "\n\n".join(c.text for c in chunks if not c.is_reference)
    art = get_article(store, article)
    c = get_claim(store, claim) if claim is not None else None
    if stance is not None:
        stance = _stance(stance)
        if c is None:
            raise UsageError("a stance for the reader's references needs the claim they are about")
    req = add_request(store, art, reader, prose or None, claim=c, contact=contact,
                      received_at=received_at, actor=actor)
    return PendingRequest(req, [ch.text for ch in chunks if ch.is_reference], stance, prose)


def resolve_pending(
    store: Store,
    pending: PendingRequest,
    resolver,
    progress=None,
    actor: str = DEFAULT_ACTOR,
) -> Pasted:
    """Resolve a pending request's references in order, keeping each (and its reader link,
    with a stance) as soon as it is answered; ``progress(reference)`` after each."""
    out = Pasted(pending.request, [], prose=pending.prose)
    if not pending.texts:
        return out
    for res in resolver.resolve_many(pending.texts):
        with store.db.atomic():
            one = _store_references(store, pending.request, [res], pending.stance, actor)
        out.references += one.references
        out.links += one.links
        out.skipped += one.skipped
        if progress is not None:
            progress(one.references[0])
    return out


def get_reference(store: Store, request: int | str | Request, reference: int | str) -> ReaderReference:
    """One of a request's references, by its ID; ``NotFoundError`` if it is not that request's."""
    req = get_request(store, request)
    ref_id = str(reference).strip()
    row = _one(store, "SELECT * FROM request_references WHERE id = ? AND request_id = ?",
               [int(ref_id) if ref_id.isdigit() else -1, req.id])
    if row is None:
        raise NotFoundError(f"request {req.id} has no reference {reference}")
    return _reference_from_row(row)


def _work_for(store: Store, resolver, doi: str) -> Work:
    """The stored work for ``doi``, fetched through the resolver's client (and stored) if
    it is not stored yet; ``NotFoundError`` if Crossref does not know it."""
    work = store.get_work(doi)
    if work is not None:
        return work
    client = getattr(resolver, "client", None)
    record = client.work(doi) if client is not None else None
    if record is None:
        raise NotFoundError(f"no work with DOI {doi}" + ("" if client else " in the database (offline)"))
    store.add_records([record], "crossref")
    return store.require_work(doi)


def _update_reference(store: Store, ref: ReaderReference, actor: str, action: str,
                      **values) -> ReaderReference:
    before = {k: getattr(ref, k) for k in values}
    if "candidates" in values:
        values["candidates"] = json.dumps(values["candidates"]) if values["candidates"] else None
    values["resolved_at"] = now()
    sets = ", ".join(f"{k} = ?" for k in values)
    store.db.execute(f"UPDATE request_references SET {sets} WHERE id = ?", [*values.values(), ref.id])
    after = _reference_from_row(_one(store, "SELECT * FROM request_references WHERE id = ?", [ref.id]))
    req = get_request(store, ref.request_id)
    _log(store, actor, action, article_id=req.article_id, claim_id=req.claim_id, request_id=req.id,
         doi=after.doi, details={"reference": ref.position,
                                 "before": before, "after": {k: getattr(after, k) for k in before}})
    return after


def accept_candidate(store: Store, request: int | str | Request, reference: int | str, doi: str,
                     resolver, actor: str = DEFAULT_ACTOR) -> ReaderReference:
    """An editor chooses one of an ambiguous reference's candidates: it becomes matched
    with that DOI (the work is fetched and stored if need be). Only a listed candidate."""
    ref = get_reference(store, request, reference)
    d = _doi(doi)
    if d not in [normalize_doi(c) for c in ref.candidates]:
        raise UsageError(f"{d} is not a candidate for reference {ref.position}")
    _work_for(store, resolver, d)
    with store.db.atomic():
        return _update_reference(store, ref, actor, "request.reference.accept", status=MATCHED, doi=d,
                                 candidates=[], error=None)


def reject_candidates(store: Store, request: int | str | Request, reference: int | str,
                      actor: str = DEFAULT_ACTOR) -> ReaderReference:
    """An editor rejects every candidate (or the match) of a reference: it stays without a DOI."""
    ref = get_reference(store, request, reference)
    with store.db.atomic():
        return _update_reference(store, ref, actor, "request.reference.reject", status="unmatched",
                                 doi=None, score=None, candidates=[])


def search_reference_again(store: Store, request: int | str | Request, reference: int | str, text: str,
                           resolver, actor: str = DEFAULT_ACTOR) -> ReaderReference:
    """Resolve a reference again from text an editor edited; the reader's words are kept,
    the searched text beside them (``searched_as``). A match gets a DOI as in pasting."""
    ref = get_reference(store, request, reference)
    text = " ".join((text or "").split())
    if not text:
        raise UsageError("type the text to search for")
    res = resolver.resolve(text)
    return _keep_resolution(store, ref, res, text, actor, "request.reference.search")


def enter_reference_doi(store: Store, request: int | str | Request, reference: int | str, doi: str,
                        resolver, actor: str = DEFAULT_ACTOR) -> ReaderReference:
    """An editor types the DOI of a reference: the record is fetched and checked against
    the reader's text like any candidate. If it fits, the reference is matched; if not, it
    becomes that DOI's one candidate, with the evidence, for the editor to accept or not."""
    from .._match import CitationFeatures, decide, rank
    from .._models import AMBIGUOUS, Resolution

    ref = get_reference(store, request, reference)
    d = _doi(doi)
    work = _work_for(store, resolver, d)
    cands = rank([work], CitationFeatures.parse(ref.text))
    status, best = decide(cands)
    searched = f"{ref.text} [DOI entered: {d}]"
    if status == MATCHED and best is not None:
        res = Resolution(searched, MATCHED, d, best.score, cands, method="doi")
    else:
        res = Resolution(searched, AMBIGUOUS, None, cands[0].score if cands else None, cands, method="doi")
    store.save_resolution(res, source="offline" if getattr(resolver, "offline", False) else "crossref")
    return _keep_resolution(store, ref, res, searched, actor, "request.reference.doi")


def _keep_resolution(store: Store, ref: ReaderReference, res: Resolution, searched: str, actor: str,
                     action: str) -> ReaderReference:
    doi = normalize_doi(res.doi) if res.status == MATCHED and res.doi else None
    if doi and store.get_work(doi) is None:
        if res.best is None or res.best.work is None:
            raise InputError(f"matched {doi}, but its record is missing: `refkeeper add {doi}`")
        store.add_records([res.best.work.record], "crossref")
    cands = [c.doi for c in res.candidates] if res.status != MATCHED else []
    with store.db.atomic():
        return _update_reference(store, ref, actor, action, status=res.status, doi=doi, score=res.score,
                                 candidates=cands, error=res.error, searched_as=searched)
