"""The request queue, the desk's home page: open requests first, oldest first, with the
counts of the reader's references that are matched / ambiguous / unmatched; filters by
status and article; pagination."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .. import workflow
from .._errors import UsageError
from ._pages import call, render

PER_PAGE = 25


def _queue(store, status, article, page):
    # One library call for the queue; the article list for the filter is part of the page.
    return workflow.request_queue(store, status=status, article=article, page=page,
                                  per_page=PER_PAGE), workflow.articles(store)


async def queue_page(request: Request):
    q = request.query_params
    status = q.get("status") or None
    if status not in (None, *workflow.STATUSES):
        raise UsageError(f"status must be one of {', '.join(workflow.STATUSES)}")
    article = q.get("article") or None
    page_text = q.get("page", "1")
    if not page_text.isdigit() or int(page_text) < 1:
        raise UsageError("page must be a positive number")
    page, articles = await call(request, _queue, status, article, int(page_text))
    return render(request, "queue.html", {
        "page": page, "articles": articles, "status": status or "", "article": article or "",
        "statuses": workflow.STATUSES,
    })


routes = [Route("/", queue_page, methods=["GET"])]
