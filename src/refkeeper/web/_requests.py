"""A reader's request and everything an editor does with it; recording a new request.

The request page shows the reader's words and each pasted reference with its status; for
ambiguous and unmatched ones the ranked candidates with their evidence, and the actions
(accept, reject all, search again, enter a DOI); linking works to the claim; the answer
and the reply to copy; declining. A new request is recorded at once and its references
are resolved by a background job; the page polls a small fragment until it is done.
Every action is a plain form POST answered with a redirect; htmx, where present, swaps
only the part of the page that changed (``hx-select``), so nothing needs JavaScript.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import workflow
from .._errors import NotFoundError, RefkeeperError, UsageError
from .._resolve import Resolver
from .._sources import CrossrefSource, IndexSource
from ._jobs import Job, JobView
from ._pages import Desk, actor, call, desk, flash, form, form_lists, redirect, render, user_message


def _key(request_id: int) -> str:
    return f"request:{request_id}"


def _resolver(d: Desk, store) -> Resolver:
    # The desk's one client (one limiter) for every editor and job; offline: no client.
    source = IndexSource(store) if d.client is None else CrossrefSource(d.client)
    return Resolver(source=source, store=store, registries=d.registries)


def _job(request: Request, request_id: str) -> JobView | None:
    """The resolving job's state, taken BEFORE the page reads the database: whatever the
    job stored by then is read back; what it had not answered yet is listed as pending."""
    rid = str(request_id).strip()
    job = desk(request).jobs.get(_key(int(rid))) if rid.isdigit() else None
    return job.snapshot() if job is not None else None


def _details(store, request_id: str):
    # The page's details and the chunks of the comment taken for prose (which an editor
    # may bring back as references).
    details = workflow.request_details(store, request_id)
    return details, workflow.prose_chunks(store, details.report.request.id)


def _page_data(store, request_id: str):
    # The works an editor may give or link, with what re-verification found wrong with them
    # (a retracted trial must not go to a reader unremarked), and the prose chunks.
    details, prose = _details(store, request_id)
    return details, prose, store.work_problems([w.key for w in details.works])


async def request_page(request: Request):
    rid = request.path_params["request_id"]
    job = _job(request, rid)
    details, prose, problems = await call(request, _page_data, rid)
    return render(request, "request.html", {"d": details, "prose": prose, "job": job,
                                            "stances": workflow.STANCES, "problems": problems,
                                            "ref_error": request.session.pop("reference_error", None)})


async def references_fragment(request: Request):
    """The reader's references alone: what the page polls while they are being resolved."""
    rid = request.path_params["request_id"]
    job = _job(request, rid)
    details, prose = await call(request, _details, rid)
    if request.headers.get("hx-request") == "true" and (job is None or not job.running):
        # Resolving is over: reload the whole page once (its link and answer forms list the
        # works just matched); the reloaded page does not poll.
        return render(request, "_references.html", {"d": details, "prose": prose, "job": None,
                                                     "stances": workflow.STANCES, "ref_error": None},
                      headers={"HX-Refresh": "true"})
    return render(request, "_references.html", {"d": details, "prose": prose, "job": job,
                                                 "stances": workflow.STANCES, "ref_error": None})


# -- actions on one reference ---------------------------------------------------------------


async def _reference_action(request: Request, fn, *args, done, kept: dict | None = None):
    """One action on one reference, then back to THAT reference (``#ref-N``), not the top of
    a long page. A user error (a malformed DOI, one Crossref does not know) is shown inside
    the reference, its form open again with what the editor typed (``kept``), so nothing
    typed is lost; ``done(ref)`` says what happened."""
    rid, ref = request.path_params["request_id"], request.path_params["ref_id"]
    d = desk(request)
    who = actor(request)

    def work(store):
        return fn(store, rid, ref, *args, _resolver(d, store), actor=who)

    try:
        out = await call(request, work)
        flash(request, done(out))
    except RefkeeperError as exc:
        message = user_message(exc)
        if (kept or {}).get("action") == "doi":  # say what to do about it
            message += (" Check the DOI for typos." if isinstance(exc, NotFoundError) else
                        " A DOI starts with 10. and has a slash, like 10.1007/s00776-007-1126-1.")
        request.session["reference_error"] = {"ref": int(ref), "message": message, **(kept or {})}
    return redirect(f"/requests/{rid}#ref-{ref}")


async def accept(request: Request):
    data = await form(request)
    return await _reference_action(request, _accept, data.get("doi", ""),
                                   done=lambda ref: f"Reference {ref.position} matched to {ref.doi}.")


def _accept(store, rid, ref, doi, resolver, actor):
    return workflow.accept_candidate(store, rid, ref, doi, resolver, actor=actor)


def _reject(store, rid, ref, resolver, actor):
    return workflow.reject_candidates(store, rid, ref, actor=actor)


async def reject(request: Request):
    return await _reference_action(request, _reject, done=lambda ref: f"Reference {ref.position}: candidates "
                                                                      "rejected; it stays without a DOI.")


def _outcome(ref, how: str) -> str:
    # What the editor needs to know next, in words: matched, or what to look at.
    if ref.status == "matched":
        return f"Reference {ref.position} {how}: matched to {ref.doi}."
    if ref.status == "ambiguous":
        n = len(ref.candidates)
        return (f"Reference {ref.position} {how}: not a sure match; {n} candidate{'s' * (n != 1)} "
                "to look at below.")
    return f"Reference {ref.position} {how}: still no match."


async def search_again(request: Request):
    data = await form(request)
    text = data.get("text", "")
    return await _reference_action(request, workflow.search_reference_again, text,
                                   done=lambda ref: _outcome(ref, "searched again"),
                                   kept={"action": "search", "value": text})


def _entered(ref) -> str:
    if ref.status == "matched":
        return f"Reference {ref.position}: the DOI fits; matched to {ref.doi}."
    return (f"Reference {ref.position}: that DOI's record does not fit the reference well (see what "
            "agrees and what does not below); accept it only if you are sure it is the one.")


async def enter_doi(request: Request):
    data = await form(request)
    doi = data.get("doi", "")
    return await _reference_action(request, workflow.enter_reference_doi, doi, done=_entered,
                                   kept={"action": "doi", "value": doi})


# -- correcting how the reader's comment was split ---------------------------------------------
# The library numbers references by their place in the list; the page's forms name a
# reference by its ID (stable while other editors correct the same list), read back here.


def _position(store, rid, ref) -> int:
    return workflow.get_reference(store, rid, ref).position


def _merge(store, rid, ref, resolver, actor):
    return workflow.merge_references(store, rid, _position(store, rid, ref), resolver, actor=actor)


async def merge(request: Request):
    return await _reference_action(request, _merge, kept={"action": "merge"},
                                   done=lambda ref: _outcome(ref, "merged with the next one"))


def _split(store, rid, ref, at, resolver, actor):
    return workflow.split_reference(store, rid, _position(store, rid, ref), at, resolver, actor=actor)


def _split_done(refs) -> str:
    a, b = refs
    return (f"Reference {a.position} split in two: {a.position} is {a.status},"
            f" {b.position} is {b.status}.")


async def split(request: Request):
    at = (await form(request)).get("at", "")
    return await _reference_action(request, _split, at, done=_split_done,
                                   kept={"action": "split", "value": at})


def _not_ref(store, rid, ref, resolver, actor):
    return workflow.mark_not_reference(store, rid, _position(store, rid, ref), actor=actor)


async def not_reference(request: Request):
    return await _reference_action(request, _not_ref, kept={"action": "not-ref"},
                                   done=lambda chunk: "Taken out of the references: kept with the reader's"
                                                      " words below, where it can be brought back.")


async def is_reference(request: Request):
    """A chunk taken for the reader's prose is a reference: resolve it, put it in the list."""
    rid, chunk = request.path_params["request_id"], request.path_params["chunk_id"]
    d = desk(request)
    who = actor(request)

    def work(store):
        return workflow.mark_reference(store, rid, chunk, _resolver(d, store), actor=who)

    try:
        ref = await call(request, work)
    except RefkeeperError as exc:
        flash(request, user_message(exc), "error")
        return redirect(f"/requests/{rid}#prose")
    flash(request, _outcome(ref, "added to the references"))
    return redirect(f"/requests/{rid}#ref-{ref.id}")


def _resume_job(job: Job, d: Desk, rid: int, who: str):
    store = d.store()
    return workflow.resolve_remaining(store, rid, _resolver(d, store), progress=job.step, actor=who)


async def resolve_remaining(request: Request):
    """Resolve the references still pending: their job stopped or never ran (the server
    restarted while they were being resolved)."""
    rid = request.path_params["request_id"]
    d = desk(request)
    who = actor(request)
    if d.jobs.running(_key(int(rid))):
        flash(request, "The references are being resolved already.")
        return redirect(f"/requests/{rid}")
    pending = await call(request, workflow.pending_references, rid)
    if not pending:
        flash(request, "No reference is waiting to be resolved.")
        return redirect(f"/requests/{rid}")
    d.jobs.submit(_key(int(rid)), _resume_job, d, int(rid), who, expected=[r.text for r in pending])
    n = len(pending)
    flash(request, f"Resolving the remaining {n} reference{'s' * (n != 1)}…")
    return redirect(f"/requests/{rid}")


# -- actions on the request -------------------------------------------------------------------


async def _request_action(request: Request, fn, done: str):
    rid = request.path_params["request_id"]
    try:
        out = await call(request, fn, rid)
        flash(request, done.format(out=out))
    except RefkeeperError as exc:
        flash(request, str(exc), "error")
    return redirect(f"/requests/{rid}")


async def link(request: Request):
    data = await form(request)
    who = actor(request)

    def work(store, rid):
        req = workflow.get_request(store, rid)
        if req.claim_id is None:
            raise UsageError(f"request {req.id} is about no claim: there is nothing to link to")
        return workflow.link(store, req.claim_id, data.get("doi", ""), data.get("stance", ""),
                             note=data.get("note") or None, request=req.id, actor=who)

    return await _request_action(request, work, "Linked {out.doi} to claim {out.claim_id} as "
                                                "'{out.stance}'.")


async def answer(request: Request):
    data = await form_lists(request)
    who = actor(request)
    dois = data.get("doi", [])
    note = (data.get("note") or [""])[0].strip() or None

    def work(store, rid):
        rep = workflow.answer_request(store, rid, dois=dois, note=note, actor=who)
        return f"{len(rep.answer)} work{'s' * (len(rep.answer) != 1)}"

    return await _request_action(request, work, "Request answered with {out}: the reply to post is below.")


async def decline(request: Request):
    data = await form(request)
    who = actor(request)

    def work(store, rid):
        return workflow.decline_request(store, rid, data.get("reason", ""), actor=who)

    return await _request_action(request, work, "Request declined.")


async def claim_bibtex(request: Request):
    """BibTeX for the works linked to the request's claim (optionally one stance), as a file.

    A POST with the CSRF token, as every download is: exporting chooses citation keys for
    works that have none and stores them (so the next export keeps them), and a GET must
    never change anything."""
    rid = request.path_params["request_id"]
    stance = (await form(request)).get("stance") or None

    def work(store):
        req = workflow.get_request(store, rid)
        if req.claim_id is None:
            raise UsageError(f"request {req.id} is about no claim")
        return req.claim_id, workflow.bibtex_for(store, workflow.works_for(store, claim=req.claim_id,
                                                                          stance=stance))

    claim_id, text = await call(request, work)
    name = f"claim-{claim_id}" + (f"-{stance}" if stance else "") + ".bib"
    return Response(text, media_type="application/x-bibtex; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# -- a new request ------------------------------------------------------------------------------


def _new_form_data(store):
    return workflow.articles(store), workflow.claims(store)


async def new_page(request: Request, error: str | None = None, values: dict | None = None,
                   status: int = 200):
    arts, claims = await call(request, _new_form_data)
    return render(request, "new_request.html", {"articles": arts, "claims": claims, "error": error,
                                                "v": values or {}, "stances": workflow.STANCES},
                  status=status)


def _resolve_job(job: Job, d: Desk, pending, who: str):
    store = d.store()
    return workflow.resolve_pending(store, pending, _resolver(d, store), progress=job.step, actor=who)


async def create(request: Request):
    data = await form(request)
    who = actor(request)
    claim = data.get("claim") or None
    try:
        pending = await call(request, workflow.open_request_from_comment, data.get("article", ""),
                             data.get("reader", ""), data.get("comment", ""), claim=claim,
                             stance=data.get("stance") or None, contact=data.get("contact") or None,
                             actor=who)
    except RefkeeperError as exc:
        return await new_page(request, error=str(exc), values=data, status=400)
    d = desk(request)
    rid = pending.request.id
    d.jobs.submit(_key(rid), _resolve_job, d, pending, who, expected=pending.texts)
    n = len(pending.texts)
    flash(request, f"Request {rid} recorded; resolving {n} reference{'s' * (n != 1)}…")
    return redirect(f"/requests/{rid}")


routes = [
    Route("/requests/new", new_page, methods=["GET"]),
    Route("/requests/new", create, methods=["POST"]),
    Route("/requests/{request_id:id}", request_page, methods=["GET"]),
    Route("/requests/{request_id:id}/references", references_fragment, methods=["GET"]),
    Route("/requests/{request_id:id}/references/{ref_id:id}/accept", accept, methods=["POST"]),
    Route("/requests/{request_id:id}/references/{ref_id:id}/reject", reject, methods=["POST"]),
    Route("/requests/{request_id:id}/references/{ref_id:id}/search", search_again, methods=["POST"]),
    Route("/requests/{request_id:id}/references/{ref_id:id}/doi", enter_doi, methods=["POST"]),
    Route("/requests/{request_id:id}/references/{ref_id:id}/merge", merge, methods=["POST"]),
    Route("/requests/{request_id:id}/references/{ref_id:id}/split", split, methods=["POST"]),
    Route("/requests/{request_id:id}/references/{ref_id:id}/not-ref", not_reference, methods=["POST"]),
    Route("/requests/{request_id:id}/prose/{chunk_id:id}/is-ref", is_reference, methods=["POST"]),
    Route("/requests/{request_id:id}/resolve", resolve_remaining, methods=["POST"]),
    Route("/requests/{request_id:id}/claim.bib", claim_bibtex, methods=["POST"]),
    Route("/requests/{request_id:id}/link", link, methods=["POST"]),
    Route("/requests/{request_id:id}/answer", answer, methods=["POST"]),
    Route("/requests/{request_id:id}/decline", decline, methods=["POST"]),
]
