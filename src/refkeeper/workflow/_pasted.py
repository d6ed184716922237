"""The references a reader pastes with a request (see ``workflow``); the rows are kept by
``_requests`` (``request_references``) and ``_links``.

A reader's comment or reference list is split (``split_text``), each reference resolved
(``Resolver``) and kept with the request as written. Only a *matched* reference ever gets
a DOI; ambiguous ones keep their candidates, unmatched ones stay visible without one.
With a stance, matched references become links to the request's claim, asserted by the
reader and unconfirmed until an editor confirms them.

The request keeps the comment as pasted, each reference the lines it came from and the
chunks taken for prose (``request_prose``), so an editor can correct the split: merge a
reference with the next, split one at a line or before words, mark one as prose, bring a
prose chunk back (``request_chunks`` shows the list as it stands). Each correction is one
history entry and resolves what changed through the resolver passed in. References the
desk records for its background job are rows at once, pending (``resolved_at`` NULL), so
``resolve_remaining`` finishes them if the server stopped first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._errors import InputError, NotFoundError, UsageError
from .._identifiers import kept_doi
from .._match import CitationFeatures, decide, rank
from .._models import AMBIGUOUS, MATCHED, Resolution, Work, normalize_doi
from .._store import Store, now
from ._claims import Article, Claim, get_article, get_claim
from ._common import DEFAULT_ACTOR, check_stance, parse_doi, timestamp
from ._history import log
from ._links import Link, insert_link, live_link
from ._reflist import Chunk, input_lines, join_lines, split_text
from ._requests import (
    ProseChunk,
    ReaderReference,
    Request,
    add_prose,
    add_reference,
    add_request,
    append_comment,
    delete_prose,
    delete_reference,
    get_prose,
    get_reference,
    get_request,
    pending_references,
    prose_chunks,
    reader_references,
    reference_at,
    set_reference,
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
    chunks: list[Chunk] = field(default_factory=list)  # how the pasted text was split


def _lines_of(chunks: list[Chunk], offset: int = 0) -> list[tuple[int, int]]:
    return [(c.line + offset, (c.end_line or c.line) + offset) for c in chunks if c.is_reference]


def _keep_prose(store: Store, req: Request, chunks: list[Chunk], offset: int = 0) -> None:
    # The chunks taken for prose, kept with their lines: an editor may bring one back.
    for c in chunks:
        if not c.is_reference:
            add_prose(store, req, c.text, c.line + offset, (c.end_line or c.line) + offset)


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
                          claim=c, contact=contact, received_at=received_at, actor=actor, comment=comment,
                          stance=stance)
        _keep_prose(store, req, chunks)
        pasted = _store_references(store, req, resolutions, stance, actor, lines=_lines_of(chunks))
    pasted.prose = prose
    pasted.chunks = chunks
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
        offset = append_comment(store, req, pasted)
        _keep_prose(store, req, chunks, offset)
        out = _store_references(store, req, resolutions, stance, actor, lines=_lines_of(chunks, offset))
    out.prose = "\n\n".join(c.text for c in chunks if not c.is_reference)
    out.chunks = [Chunk(c.text, c.kind, c.line + offset, c.marker, (c.end_line or c.line) + offset)
                  for c in chunks]
    return out


def _resolve(texts: list[str], resolver) -> list[Resolution]:
    # In order, through the resolver's cache (and its concurrency when online).
    return list(resolver.resolve_many(texts)) if texts else []


def _store_references(store: Store, req: Request, resolutions: list[Resolution], stance: str | None,
                      actor: str, lines: list[tuple[int, int]] | None = None,
                      rows: list[ReaderReference] | None = None) -> Pasted:
    """Keep resolved references: new rows (with their ``lines``), or the pending ``rows``
    they were recorded as."""
    stamp = now()
    refs, made, skipped = [], [], []
    claim = get_claim(store, req.claim_id) if req.claim_id is not None else None
    for i, res in enumerate(resolutions):
        # A DOI only for a match: never a candidate's, never a guess. The matched work is
        # stored (links and answers point at it); a resolver without a store did not.
        doi = normalize_doi(res.key) if res.status == MATCHED and res.key else None
        if doi and store.get_work(doi) is None:
            if res.best is None or res.best.work is None:
                raise InputError(f"matched {doi}, but its record is missing: `refkeeper add {doi}`")
            store.add_records([res.best.work.record], "crossref")
        cands = [c.doi for c in res.candidates] if res.status != MATCHED else []
        if rows:
            refs.append(set_reference(store, rows[i], status=res.status, doi=doi, score=res.score,
                                      candidates=cands, error=res.error, resolved_at=stamp))
        else:
            line, end = lines[i] if lines else (None, None)
            refs.append(add_reference(store, req, res.input, res.status, doi, res.score, cands,
                                      res.error, stamp, line=line, end_line=end))
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
    references: list[ReaderReference] = field(default_factory=list)  # the rows, pending


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
    refs = [ch for ch in chunks if ch.is_reference]
    # The references are recorded at once, pending (``resolved_at`` NULL): if the server
    # stops before resolving them they are still there, to be resolved (``resolve_remaining``).
    with store.write():
        req = add_request(store, art, reader, prose or None, claim=c, contact=contact,
                          received_at=received_at, actor=actor, comment=comment, stance=stance)
        _keep_prose(store, req, chunks)
        rows = [add_reference(store, req, ch.text, "unmatched", None, None, [], None, None,
                              line=line, end_line=end)
                for ch, (line, end) in zip(refs, _lines_of(chunks), strict=True)]
    return PendingRequest(req, [ch.text for ch in refs], stance, prose, rows)


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
    rows = pending.references
    for i, res in enumerate(resolver.resolve_many(pending.texts)):
        # One short transaction per reference: the desk's other editors are not kept
        # waiting for the whole list, and what is resolved is kept if the server stops.
        with store.write():
            one = _store_references(store, pending.request, [res], pending.stance, actor,
                                    rows=[rows[i]] if i < len(rows) else None)
        out.references += one.references
        out.links += one.links
        out.skipped += one.skipped
        if progress is not None:
            progress(one.references[0])
    return out


def _work_for(store: Store, resolver, doi: str) -> Work:
    """The stored work for ``doi``, fetched through the resolver's candidate source (and
    stored) if it is not stored yet; ``NotFoundError`` if the source does not know it. An
    alias DOI (merged away, or recorded for a stored work) gives the work it names."""
    doi = kept_doi(store, doi)
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
    d = _work_for(store, resolver, d).doi
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
    work = _work_for(store, resolver, parse_doi(doi))
    d = work.key  # a work without a DOI, named by its key, is matched under it
    cands = rank([work], CitationFeatures.parse(ref.text))
    status, best = decide(cands)
    searched = f"{ref.text} [DOI entered: {d}]"
    if status == MATCHED and best is not None:
        res = Resolution(searched, MATCHED, work.doi, best.score, cands, method="doi",
                         work_key=None if work.doi else d)
    else:
        res = Resolution(searched, AMBIGUOUS, None, cands[0].score if cands else None, cands, method="doi")
    store.save_resolution(res, source="offline" if getattr(resolver, "offline", False) else "crossref")
    return _keep_resolution(store, ref, res, searched, actor, "request.reference.doi")


def _keep_resolution(store: Store, ref: ReaderReference, res: Resolution, searched: str, actor: str,
                     action: str) -> ReaderReference:
    doi = normalize_doi(res.key) if res.status == MATCHED and res.key else None
    with store.write():
        if doi and store.get_work(doi) is None:
            if res.best is None or res.best.work is None:
                raise InputError(f"matched {doi}, but its record is missing: `refkeeper add {doi}`")
            store.add_records([res.best.work.record], "crossref")
        cands = [c.doi for c in res.candidates] if res.status != MATCHED else []
        return update_reference(store, ref, actor, action, status=res.status, doi=doi, score=res.score,
                                candidates=cands, error=res.error, searched_as=searched)


def resolve_remaining(store: Store, request: int | str | Request, resolver, progress=None,
                      actor: str = DEFAULT_ACTOR) -> Pasted:
    """Resolve the references of a request still pending (the job resolving them never ran
    or stopped: the server restarted), each kept as soon as it is answered, and linked to
    the request's claim with the stance the reader gave, as the first job would have."""
    req = get_request(store, request)
    rows = pending_references(store, req)
    return resolve_pending(store, PendingRequest(req, [r.text for r in rows], req.stance, "", rows), resolver,
                           progress=progress, actor=actor)


# -- an editor corrects how the reader's comment was split ---------------------------------


@dataclass
class SplitChunk:
    """One chunk of a request's comment as it now stands: a reference (``number`` is its
    position in the reader's list) or prose (``number`` is the chunk's ID for
    ``mark_reference``), with the comment's lines it came from, if known."""

    kind: str  # "reference" | "prose"
    number: int
    text: str
    line: int | None = None
    end_line: int | None = None
    reference: ReaderReference | None = None

    def to_json(self) -> dict:
        out = {"kind": self.kind, "number": self.number, "text": self.text, "line": self.line,
               "end_line": self.end_line}
        if self.reference is not None:
            out |= {"status": self.reference.status, "doi": self.reference.doi,
                    "pending": self.reference.pending}
        return out


def request_chunks(store: Store, request: int | str | Request) -> list[SplitChunk]:
    """A request's references and prose chunks in the comment's order: references in the
    reader's order, each prose chunk before the first reference that comes after its line."""
    req = get_request(store, request)
    prose = [SplitChunk("prose", p.id, p.text, p.line, p.end_line) for p in prose_chunks(store, req)]
    out: list[SplitChunk] = []
    for r in reader_references(store, req):
        while prose and prose[0].line is not None and r.line is not None and prose[0].line < r.line:
            out.append(prose.pop(0))
        out.append(SplitChunk("reference", r.position, r.text, r.line, r.end_line, r))
    return out + prose


def _resolved(store: Store, resolver, text: str) -> dict:
    """The columns a reference gets from resolving ``text`` (the matched work stored),
    resolved before the write transaction: a search must not hold the write lock."""
    res = resolver.resolve(text)
    doi = normalize_doi(res.key) if res.status == MATCHED and res.key else None
    if doi and store.get_work(doi) is None:
        if res.best is None or res.best.work is None:
            raise InputError(f"matched {doi}, but its record is missing: `refkeeper add {doi}`")
        store.add_records([res.best.work.record], "crossref")
    return {"status": res.status, "doi": doi, "score": res.score,
            "candidates": [c.doi for c in res.candidates] if res.status != MATCHED else [],
            "error": res.error, "resolved_at": now(), "searched_as": None}


def _brief(ref: ReaderReference) -> dict:
    return {"position": ref.position, "text": ref.text, "status": ref.status, "doi": ref.doi,
            "line": ref.line, "end_line": ref.end_line}


def _unchanged(store: Store, req: Request, *refs: ReaderReference) -> None:
    """Inside the write: the references are still where the editor saw them (another
    editor may have corrected the same list while this one was being resolved)."""
    for ref in refs:
        now_ = get_reference(store, req, ref.id)
        if (now_.position, now_.text) != (ref.position, ref.text):
            raise UsageError(f"request {req.id}'s references changed meanwhile: look at them again")


def _log(store: Store, req: Request, actor: str, action: str, doi: str | None, details: dict) -> None:
    log(store, actor, action, article_id=req.article_id, claim_id=req.claim_id, request_id=req.id,
        doi=doi, details=details)


def merge_references(store: Store, request: int | str | Request, number: int | str, resolver,
                     actor: str = DEFAULT_ACTOR) -> ReaderReference:
    """Reference ``number`` and the next one were one reference: join them (the later ones
    move up) and resolve the whole again."""
    req = get_request(store, request)
    first = reference_at(store, req, number)
    try:
        second = reference_at(store, req, first.position + 1)
    except UsageError:
        raise UsageError(f"reference {first.position} is the last of request {req.id}:"
                         " there is no next one to merge it with") from None
    text = join_lines([first.text, second.text])
    values = _resolved(store, resolver, text)
    lines = [x for x in (first.line, first.end_line, second.line, second.end_line) if x is not None]
    with store.write():
        _unchanged(store, req, first, second)
        delete_reference(store, second)
        after = set_reference(store, first, text=text, line=min(lines) if lines else None,
                              end_line=max(lines) if lines else None, **values)
        _log(store, req, actor, "request.reference.merge", after.doi,
             {"before": [_brief(first), _brief(second)], "after": _brief(after)})
    return after


def split_reference(store: Store, request: int | str | Request, number: int | str, at: int | str,
                    resolver, actor: str = DEFAULT_ACTOR) -> list[ReaderReference]:
    """Reference ``number`` was two: cut it at a line of the comment (``at`` a number: the
    line the second begins on) or before a text (``at`` words the second begins with, as
    they appear in the reference); both parts are resolved, the later references move down."""
    req = get_request(store, request)
    ref = reference_at(store, req, number)
    spot = " ".join(str(at).split())
    lines = input_lines(req.comment) if req.comment else []
    if spot.isdigit():
        cut = int(spot)
        if ref.line is None or not lines:
            raise UsageError(f"reference {ref.position} has no line record (it was recorded before lines"
                             " were kept): split it --at TEXT, the words the second part begins with")
        if ref.end_line == ref.line:
            raise UsageError(f"reference {ref.position} is on one line ({ref.line}): split it --at TEXT,"
                             " the words the second part begins with")
        if not ref.line < cut <= ref.end_line:
            raise UsageError(f"reference {ref.position} is on lines {ref.line}-{ref.end_line}: split it at"
                             f" a line from {ref.line + 1} to {ref.end_line} (the second part's first)")
        if join_lines(lines[ref.line - 1:ref.end_line]) != ref.text:
            raise UsageError(f"reference {ref.position} is not its lines {ref.line}-{ref.end_line} whole"
                             " (it was cut out of them or corrected): split it --at TEXT")
        a, b = join_lines(lines[ref.line - 1:cut - 1]), join_lines(lines[cut - 1:ref.end_line])
        ranges = [(ref.line, cut - 1), (cut, ref.end_line)]
    else:
        i = ref.text.find(spot) if spot else -1
        if i <= 0:
            raise UsageError(f"{spot!r} is not in reference {ref.position} after its start: give the words"
                             " the second part begins with, as they are written in it" if spot else
                             "say where to split: a line number or the words the second part begins with")
        a, b = ref.text[:i].strip(), ref.text[i:].strip()
        ranges = [(ref.line, ref.end_line), (ref.line, ref.end_line)]
        # Cut where a line begins: each part keeps its own lines.
        for cut in range(ref.line + 1 if ref.line else 0, (ref.end_line or -1) + 1):
            if lines and join_lines(lines[cut - 1:ref.end_line]) == b:
                ranges = [(ref.line, cut - 1), (cut, ref.end_line)]
                break
    if not a or not b:
        raise UsageError(f"splitting reference {ref.position} there leaves an empty part")
    va, vb = _resolved(store, resolver, a), _resolved(store, resolver, b)
    with store.write():
        _unchanged(store, req, ref)
        first = set_reference(store, ref, text=a, line=ranges[0][0], end_line=ranges[0][1], **va)
        second = add_reference(store, req, b, vb["status"], vb["doi"], vb["score"], vb["candidates"],
                               vb["error"], vb["resolved_at"], line=ranges[1][0], end_line=ranges[1][1],
                               position=ref.position + 1)
        _log(store, req, actor, "request.reference.split", first.doi or second.doi,
             {"before": _brief(ref), "at": spot, "after": [_brief(first), _brief(second)]})
    return [first, second]


def mark_not_reference(store: Store, request: int | str | Request, number: int | str,
                       actor: str = DEFAULT_ACTOR) -> ProseChunk:
    """Reference ``number`` is the reader's prose, not a reference: it leaves the list (the
    later ones move up) and is kept among the request's prose chunks, with its lines, so
    ``mark_reference`` can bring it back. Links already made from it are left to the editor."""
    req = get_request(store, request)
    ref = reference_at(store, req, number)
    with store.write():
        _unchanged(store, req, ref)
        delete_reference(store, ref)
        chunk = add_prose(store, req, ref.text, ref.line, ref.end_line)
        _log(store, req, actor, "request.reference.not_reference", ref.doi,
             {"before": _brief(ref), "prose": chunk.id})
    return chunk


def mark_reference(store: Store, request: int | str | Request, chunk: int | str, resolver,
                   actor: str = DEFAULT_ACTOR) -> ReaderReference:
    """A chunk taken for prose is a reference: it joins the reader's list where its lines
    put it (at the end if its lines are not known) and is resolved."""
    req = get_request(store, request)
    prose = get_prose(store, req, chunk)
    values = _resolved(store, resolver, prose.text)
    with store.write():
        get_prose(store, req, prose.id)  # not brought back by another editor meanwhile
        refs = reader_references(store, req)
        position = len(refs) + 1
        if prose.line is not None:
            position = 1 + sum(1 for r in refs if r.line is not None and r.line <= prose.line)
        delete_prose(store, prose)
        ref = add_reference(store, req, prose.text, values["status"], values["doi"], values["score"],
                            values["candidates"], values["error"], values["resolved_at"],
                            line=prose.line, end_line=prose.end_line, position=position)
        _log(store, req, actor, "request.reference.is_reference", ref.doi,
             {"prose": prose.id, "after": _brief(ref)})
    return ref
