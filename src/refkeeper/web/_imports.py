"""Importing a bibliography file (BibTeX, RIS, CSL-JSON, Web of Science, Scopus CSV) from
the desk, as ``refkeeper import`` does: an upload form, then the import as a background job
(the desk's job runner, as re-verification) whose page shows how far it got and, once it is
over, the outcome per entry: counts by status and every entry an editor must look at.

The upload is kept in a private temporary directory under its own file name (the name's
suffix helps tell the format) only while the job runs. The file is opened (format and
encoding told) before the job starts, so a file in no readable format is answered at once
with a 400 page. A job that stops part-way (bytes that cannot be decoded) shows what it
imported before it stopped beside why: nothing half-imported is hidden. Outcomes live in
the server's memory, as other jobs' do: a restart forgets them (the works stay stored).
"""

from __future__ import annotations

import itertools
import re
import shutil
import tempfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from .._errors import NotFoundError, RefkeeperError, UsageError
from .._resolve import Resolver
from .._sources import CrossrefSource, IndexSource
from ..bibimport import FORMAT_NAMES, READERS, Bibliography, ImportReport, import_file, open_bibliography
from ._jobs import Job
from ._pages import Desk, desk, redirect, render, user_message

FORMATS = [(key, FORMAT_NAMES[key]) for key in READERS]
_numbers = itertools.count(1)
# number -> the file's name as uploaded, for the list of this server's imports (a desk
# lists only the numbers its own job runner knows)
_names: dict[int, str] = {}


def _key(number: int | str) -> str:
    return f"import:{number}"


def _resolver(d: Desk, store) -> Resolver:
    # Entries without a DOI are resolved through the desk's one client (one limiter for
    # every editor and job); offline, from the stored works only.
    source = IndexSource(store) if d.client is None else CrossrefSource(d.client)
    return Resolver(source=source, store=store, registries=d.registries)


def _run(job: Job, d: Desk, bib: Bibliography, update: bool) -> ImportReport:
    def opened(report: ImportReport) -> None:
        job.result = report  # kept even if the job stops part-way: what it imported shows

    store = d.store()
    try:
        return import_file(store, bib, resolver=_resolver(d, store), update=update, on_result=job.step,
                           on_open=opened)
    except RefkeeperError as exc:  # the file named as the editor knows it, not where it was kept
        raise type(exc)(_unplaced(user_message(exc), bib.path.parent)) from None
    finally:
        shutil.rmtree(bib.path.parent, ignore_errors=True)


def _unplaced(message: str, folder: Path | None) -> str:
    return message.replace(f"{folder}/", "") if folder is not None else message


def _upload_name(filename: str | None) -> str:
    # Only the name's last part, in plain characters: its suffix (.bib, .ris) says the format.
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(filename or "").name).strip(".-")
    return name[-100:] or "upload"


def _earlier(d: Desk) -> list[tuple[int, str, Job]]:
    """This server's imports, newest first: (number, file name, job)."""
    found = [(n, name, d.jobs.get(_key(n))) for n, name in list(_names.items())]
    return [(n, name, job) for n, name, job in reversed(found) if job is not None]


def _form_page(request: Request, error: str | None = None, values: dict | None = None, status: int = 200):
    d = desk(request)
    return render(request, "imports.html", {"formats": FORMATS, "error": error, "v": values or {},
                                            "offline": d.client is None, "earlier": _earlier(d)},
                  status=status)


async def imports_page(request: Request):
    return _form_page(request)


async def start(request: Request):
    d = desk(request)
    data = await request.form()
    folder: Path | None = None
    values: dict = {}
    try:
        fmt = str(data.get("format") or "")
        values = {"format": fmt, "update": data.get("update") == "yes"}
        upload = data.get("file")
        if fmt and fmt not in READERS:
            raise UsageError("Choose a format from the list, or let the desk tell it from the file.")
        if upload is None or isinstance(upload, str) or not upload.filename:
            raise UsageError("Choose a bibliography file to import.")
        folder = Path(tempfile.mkdtemp(prefix="refkeeper-import-"))
        path = folder / _upload_name(upload.filename)
        try:
            with path.open("wb") as out:
                await run_in_threadpool(shutil.copyfileobj, upload.file, out, 1024 * 1024)
            if path.stat().st_size == 0:
                raise UsageError(f"{upload.filename} is empty: there is nothing to import.")
            # The format and encoding are told now, so a file in no readable format is
            # answered here, not by a job that fails later.
            bib = await run_in_threadpool(open_bibliography, path, fmt or None)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    except RefkeeperError as exc:
        return _form_page(request, _unplaced(user_message(exc), folder), values, status=400)
    finally:
        await data.close()
    number = next(_numbers)
    _names[number] = Path(upload.filename).name
    d.jobs.submit(_key(number), _run, d, bib, values["update"])
    return redirect(f"/imports/{number}")


def _job(request: Request) -> Job:
    job = desk(request).jobs.get(_key(request.path_params["number"]))
    if job is None:
        raise NotFoundError("There is no such import: the desk keeps the outcome of an import only "
                            "until it restarts (the works imported stay stored).")
    return job


def _view(request: Request) -> dict:
    job = _job(request)
    # Read once: the job may finish while the page renders, and a page that says "so far"
    # must keep polling, or it would never reload with the outcome.
    running = job.running
    return {"job": job, "running": running, "number": request.path_params["number"], "report": job.result}


async def import_page(request: Request):
    return render(request, "import.html", _view(request))


async def progress_fragment(request: Request):
    view = _view(request)
    headers = None
    if request.headers.get("hx-request") == "true" and not view["running"]:
        headers = {"HX-Refresh": "true"}  # over: reload the page with the outcome
    return render(request, "_import_progress.html", view, headers=headers)


routes = [
    Route("/imports", imports_page, methods=["GET"]),
    Route("/imports", start, methods=["POST"]),
    Route("/imports/{number:id}", import_page, methods=["GET"]),
    Route("/imports/{number:id}/progress", progress_fragment, methods=["GET"]),
]
