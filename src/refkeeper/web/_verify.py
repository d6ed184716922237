"""Re-verification: the latest run's findings, most serious first, with the claims and open
requests they affect; starting a run from the page. A run goes in the background through
the desk's job runner and its one Crossref client (one run at a time: the page will not
start a second, and the library's lock keeps a CLI run and a desk run apart); the page
polls a small fragment for progress and reloads once the run is over."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .. import verify
from .._errors import NotFoundError
from ._jobs import Job
from ._pages import Desk, call, desk, flash, form, redirect, render

JOB_KEY = "verify"


def _latest(store):
    try:
        return verify.run_report(store)
    except NotFoundError:  # no run yet: the page says so
        return None


def _context(request: Request, report) -> dict:
    d = desk(request)
    return {"report": report, "job": d.jobs.get(JOB_KEY), "offline": d.client is None}


async def verify_page(request: Request):
    report = await call(request, _latest)
    return render(request, "verify.html", _context(request, report))


async def progress_fragment(request: Request):
    job = desk(request).jobs.get(JOB_KEY)
    headers = None
    if request.headers.get("hx-request") == "true" and (job is None or not job.running):
        headers = {"HX-Refresh": "true"}  # the run is over: reload the page with its findings
    return render(request, "_verify_progress.html", {"job": job}, headers=headers)


def _run(job: Job, d: Desk, scope: str) -> int:
    def progress(p: verify.Progress) -> None:
        job.total, job.done = p.total, p.done

    reg = d.registries
    report = verify.verify(d.store(), d.client, all=scope == "all", progress=progress,
                           handles=reg.doi if reg else None, ncbi=reg.ncbi if reg else None,
                           arxiv=reg.arxiv if reg else None)
    job.total = job.done = report.total
    return report.run_id


async def start(request: Request):
    data = await form(request)
    d = desk(request)
    scope = data.get("scope", "due")
    if d.client is None:
        flash(request, "The desk is offline: re-verification needs Crossref.", "error")
    elif scope not in ("due", "all"):
        flash(request, "Choose which works to check: those due, or all.", "error")
    elif d.jobs.running(JOB_KEY):
        flash(request, "A verification run is already going; its progress is below.", "error")
    else:
        d.jobs.submit(JOB_KEY, _run, d, scope)
        flash(request, "Verification started: works are checked in batches, progress below.")
    return redirect("/verify")


routes = [
    Route("/verify", verify_page, methods=["GET"]),
    Route("/verify", start, methods=["POST"]),
    Route("/verify/progress", progress_fragment, methods=["GET"]),
]
