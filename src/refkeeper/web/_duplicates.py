"""Works stored twice: the pairs ``workflow.duplicate_works`` finds (the same PMID, PMCID
or arXiv ID, or the same title, year and first author), each with what says so and the
forms that merge one into the other through the works pages' ``POST /works/merge``.

Routed before ``_works``, whose ``/works/{doi:path}`` would take ``/works/duplicates``
for a DOI."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .. import workflow
from ._pages import call, render


async def duplicates_page(request: Request):
    pairs = await call(request, workflow.duplicate_works)
    return render(request, "duplicates.html", {"pairs": pairs})


routes = [
    Route("/works/duplicates", duplicates_page, methods=["GET"]),
]
