"""The references a reader pastes with a request (see ``workflow``); the rows are kept by
``_requests`` (``request_references``) and ``_links``.

A reader's comment or reference list is split (``split_text``), each reference resolved
(``Resolver``) and kept with the request as written. Only a *matched* reference ever gets
a DOI; ambiguous ones keep their candidates, unmatched ones stay visible without one.
With a stance, matched references become links to the request's claim, asserted by the
reader and unconfirmed until an editor confirms them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._errors import InputError, NotFoundError, UsageError
from .._match import CitationFeatures, decide, rank
from .._models import AMBIGUOUS, MATCHED, Resolution, Work, normalize_doi
from .._store import Store, now
from ._claims import Article, Claim, get_article, get_claim
from ._common import DEFAULT_ACTOR, check_stance, parse_doi, timestamp
from ._history import log
from ._links import Link, insert_link, live_link
from ._reflist import split_text
from ._requests import (
    ReaderReference,
    Request,
    add_reference,
    add_request,
    get_reference,
    get_request,
    update_reference,
)


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

    The comment is split (``split_text``): its prose becomes the request's text
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
    timestamp(received_at)
    art = get_article(store, article)
    c = get_claim(store, claim) if claim is not None else None
    if c is not None and c.article_id != art.id:
        raise UsageError(f"claim {c.id} belongs to article {c.article_id}, not {art.id}")
    if stance is not None:
        check_stance(stance)
        if c is None:
            raise UsageError("a stance for the reader's references needs the claim they are about (--claim)")
    resolutions = _resolve([ch.text for ch in chunks if ch.is_reference], resolver)
    with store.write():
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
        check_stance(stance)
        if req.claim_id is None:
            raise UsageError(f"request {req.id} is about no claim, so its references cannot be linked")
    chunks = split_text(pasted or "")
    refs = [ch.text for ch in chunks if ch.is_reference]
    if not refs:
        raise InputError("no references found in the pasted text")
    resolutions = _resolve(refs, resolver)
    with store.write():
        out = _store_references(store, req, resolutions, stance, actor)
    out.prose = "\n\n".join(c.text for c in chunks if not c.is_reference)
    return out


def _resolve(texts: list[str], resolver) -> list[Resolution]:
    # In order, through the resolver's cache (and its concurrency when online).
    return list(resolver.resolve_many(texts)) if texts else []


def _store_references(store: Store, req: Request, resolutions: list[Resolution], stance: str | None,
                      actor: str) -> Pasted:
    stamp = now()
    refs, made, skipped = [], [], []
    claim = get_claim(store, req.claim_id) if req.claim_id is not None else None
    for res in resolutions:
        # A DOI only for a match: never a candidate's, never a guess. The matched work is
        # stored (links and answers point at it); a resolver without a store did not.
        doi = normalize_doi(res.doi) if res.status == MATCHED and res.doi else None
        if doi and store.get_work(doi) is None:
            if res.best is None or res.best.work is None:
                raise InputError(f"matched {doi}, but its record is missing: `refkeeper add {doi}`")
            store.add_records([res.best.work.record], "crossref")
        cands = [c.doi for c in res.candidates] if res.status != MATCHED else []
        refs.append(add_reference(store, req, res.input, res.status, doi, res.score, cands, res.error,
                                  stamp))
        if stance and claim is not None and doi:
            existing = live_link(store, claim.id, doi)
            if existing is not None:
                skipped.append(f"{doi}: claim {claim.id} already has it as '{existing.stance}'"
                               f" (link {existing.id})")
                continue
            made.append(insert_link(store, claim, doi, stance, None, "reader", req.reader, False,
                                    req.id, actor))
    log(store, actor, "request.references", article_id=req.article_id, claim_id=req.claim_id,
        request_id=req.id,
        details={"references": [{"position": r.position, "status": r.status, "doi": r.doi,
                                 "text": r.text} for r in refs],
                 "stance": stance})
    return Pasted(req, refs, made, skipped=skipped)


# -- the desk: a request recorded at once, its references resolved in the background, and
# an editor's decisions on each reference ---------------------------------------------------


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
        stance = check_stance(stance)
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
        # One short transaction per reference: the desk's other editors are not kept
        # waiting for the whole list, and what is resolved is kept if the server stops.
        with store.write():
            one = _store_references(store, pending.request, [res], pending.stance, actor)
        out.references += one.references
        out.links += one.links
        out.skipped += one.skipped
        if progress is not None:
            progress(one.references[0])
    return out


def _work_for(store: Store, resolver, doi: str) -> Work:
    """The stored work for ``doi``, fetched through the resolver's candidate source (and
    stored) if it is not stored yet; ``NotFoundError`` if the source does not know it."""
    work = store.get_work(doi)
    if work is not None:
        return work
    work = resolver.source.work(doi)
    if work is None:
        raise NotFoundError(f"no work with DOI {doi} (looked up: {resolver.source.name})")
    store.add_records([work.record], "crossref")
    return store.require_work(doi)


def accept_candidate(store: Store, request: int | str | Request, reference: int | str, doi: str,
                     resolver, actor: str = DEFAULT_ACTOR) -> ReaderReference:
    """An editor chooses one of an ambiguous reference's candidates: it becomes matched
    with that DOI (the work is fetched and stored if need be). Only a listed candidate."""
    ref = get_reference(store, request, reference)
    d = parse_doi(doi)
    if d not in [normalize_doi(c) for c in ref.candidates]:
        raise UsageError(f"{d} is not a candidate for reference {ref.position}")
    _work_for(store, resolver, d)
    return update_reference(store, ref, actor, "request.reference.accept", status=MATCHED, doi=d,
                            candidates=[], error=None)


def reject_candidates(store: Store, request: int | str | Request, reference: int | str,
                      actor: str = DEFAULT_ACTOR) -> ReaderReference:
    """An editor rejects every candidate (or the match) of a reference: it stays without a DOI."""
    ref = get_reference(store, request, reference)
    return update_reference(store, ref, actor, "request.reference.reject", status="unmatched",
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
    ref = get_reference(store, request, reference)
    d = parse_doi(doi)
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
    with store.write():
        if doi and store.get_work(doi) is None:
            if res.best is None or res.best.work is None:
                raise InputError(f"matched {doi}, but its record is missing: `refkeeper add {doi}`")
            store.add_records([res.best.work.record], "crossref")
        cands = [c.doi for c in res.candidates] if res.status != MATCHED else []
        return update_reference(store, ref, actor, action, status=res.status, doi=doi, score=res.score,
                                candidates=cands, error=res.error, searched_as=searched)
