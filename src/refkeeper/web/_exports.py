"""Exports, as ``refkeeper export`` makes them: for an article, a claim, a request or a
stance (or one work), in every format the CLI has, downloaded as a file.

A download is a POST (with the CSRF token like every other form): exporting stores the
citation keys it chooses, so that a work keeps its key in every later export, and GET
never changes anything.
"""

from __future__ import annotations

import io
import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import workflow
from .._errors import NotFoundError, RefkeeperError, UsageError
from ..export import FORMATS, STYLES, export_store
from ._pages import call, desk, form, render, user_message

# Labels for the format menus, and what a downloaded file is called and served as.
FORMAT_LABELS = {
    "bibtex": "BibTeX (.bib)",
    "csl-json": "CSL-JSON (Zotero, Pandoc)",
    "ris": "RIS (EndNote, Mendeley)",
    "text": "Reference list, plain text",
    "markdown": "Reference list, Markdown",
    "html": "Reference list, HTML",
}
FILES = {
    "bibtex": ("bib", "application/x-bibtex"),
    "csl-json": ("json", "application/vnd.citationstyles.csl+json"),
    "ris": ("ris", "application/x-research-info-systems"),
    "text": ("txt", "text/plain"),
    "markdown": ("md", "text/markdown"),
    "html": ("html", "text/html"),
}
assert set(FILES) == set(FORMATS) == set(FORMAT_LABELS), "a format the CLI has is missing here"


async def exports_page(request: Request, error: str | None = None, values: dict | None = None,
                       status: int = 200):
    arts = await call(request, workflow.articles)
    if values is None:  # a link may preselect the choice: /exports?claim=3&stance=contests
        values = {k: v for k, v in request.query_params.items()
                  if k in ("article", "claim", "request", "stance", "format", "style", "published")}
    return render(request, "exports.html", {
        "articles": arts, "formats": FORMAT_LABELS.items(), "styles": STYLES,
        "stances": workflow.STANCES, "v": values, "error": error,
        "offline": desk(request).client is None,
    }, status=status)


def _export(store, what: dict, fmt: str, style: str, options: dict) -> tuple[int, str]:
    buf = io.StringIO()
    if what.get("doi"):
        n = export_store(store, buf, fmt, [workflow.fetch_work(store, what["doi"], None).key], style=style,
                         **options)
    else:
        n = workflow.export_selection(store, buf, fmt, article=what.get("article"), claim=what.get("claim"),
                                      request=what.get("request"), stance=what.get("stance"), style=style,
                                      **options)
    return n, buf.getvalue()


def _filename(what: dict, fmt: str) -> str:
    parts = ["refkeeper"] + [f"{k}-{what[k]}" for k in ("article", "claim", "request", "doi", "stance")
                             if what.get(k)]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts)).strip("-")[:120]
    return f"{name}.{FILES[fmt][0]}"


async def download(request: Request):
    data = await form(request)
    fmt = data.get("format") or "bibtex"
    style = data.get("style") or "vancouver"
    what = {k: data.get(k, "").strip() or None for k in ("article", "claim", "request", "stance", "doi")}
    try:
        if fmt not in FORMATS:
            raise UsageError(f"format must be one of {', '.join(FORMATS)}")
        if style not in STYLES:
            raise UsageError(f"style must be one of {', '.join(STYLES)}")
        # A preprint's version of record not stored yet is fetched through the desk's
        # registries (its one client); offline only stored versions can be used.
        published = data.get("published") == "yes"
        options = {"prefer_published": published,
                   "registries": desk(request).registries if published else None}
        n, text = await call(request, _export, what, fmt, style, options)
        if n == 0:
            raise UsageError("No works to export for that choice: nothing is linked or given in answer yet.")
    except RefkeeperError as exc:  # an unknown claim, no works: the form again, with why
        return await exports_page(request, error=user_message(exc), values=data,
                                  status=404 if isinstance(exc, NotFoundError) else 400)
    ext, media = FILES[fmt]
    return Response(text.encode("utf-8"), media_type=f"{media}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{_filename(what, fmt)}"',
        "Cache-Control": "no-store",
    })


routes = [
    Route("/exports", exports_page, methods=["GET"]),
    Route("/exports", download, methods=["POST"]),
]
