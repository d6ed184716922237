"""Stored works: a work's page (its metadata and DOI link, where it is used, its
verification history and current problems, APA and Vancouver text to copy, downloads in
BibTeX, CSL-JSON and RIS), finding stored works by title, adding a work by DOI —
fetched through the desk's one shared Crossref client, so every editor stays within the
same limits — and merging a duplicate stored under another DOI into a work."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.routing import Route

from .. import workflow
from .._errors import RefkeeperError
from ._pages import actor, call, desk, flash, form, redirect, render

SEARCH_LIMIT = 25


def work_url(doi: str) -> str:
    # DOIs may hold '?', '#', '<', quotes...: all but '/' percent-encoded, so the path is the DOI.
    return "/works/" + quote(doi, safe="/")


def _search(store, q: str):
    return store.search(q, limit=SEARCH_LIMIT) if q else []


async def works_page(request: Request):
    q = " ".join(request.query_params.get("q", "").split())[:500]
    found = await call(request, _search, q)
    return render(request, "works.html", {"q": q, "found": found, "offline": desk(request).client is None})


async def add_work(request: Request):
    data = await form(request)
    try:
        work = await call(request, workflow.fetch_work, data.get("doi", ""), desk(request).client)
    except RefkeeperError as exc:
        flash(request, str(exc), "error")
        return redirect("/works")
    flash(request, f"{work.key} is stored.")
    return redirect(work_url(work.key))


async def merge_work(request: Request):
    data = await form(request)
    keep = data.get("keep", "")
    try:
        r = await call(request, workflow.merge_works, keep=keep, drop=data.get("drop", ""),
                       actor=actor(request), reason=(data.get("reason") or "").strip() or None)
    except RefkeeperError as exc:
        flash(request, str(exc), "error")
        return redirect(work_url(keep.strip()) if keep.strip() else "/works")
    flash(request, f"{r.drop} is merged into {r.keep}: {len(r.links_moved)} link(s) and "
                   f"{len(r.request_works) + len(r.request_references)} request item(s) moved.")
    for s in r.stances_dropped:
        where = f"claim {s['claim']}" if "claim" in s else f"request {s['request']}"
        flash(request, f"{where} had {r.drop} as '{s['dropped']}' and keeps {r.keep} as '{s['kept']}'.",
              "error")
    return redirect(work_url(r.keep))


async def work_page(request: Request):
    details = await call(request, workflow.work_details, request.path_params["doi"])
    return render(request, "work.html", {"d": details})


routes = [
    Route("/works", works_page, methods=["GET"]),
    Route("/works", add_work, methods=["POST"]),
    Route("/works/merge", merge_work, methods=["POST"]),
    Route("/works/{doi:path}", work_page, methods=["GET"]),
]
