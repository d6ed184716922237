"""What every page module uses: the desk, a store per call, the editor, forms, rendering.

Handlers are ``async``; library calls run in a worker thread through ``call`` so the
event loop keeps serving other editors while one waits on SQLite or Crossref.
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from .._crossref import CrossrefClient
from .._registries import Registries
from .._store import Store
from ..export import title_runs
from ._jobs import JobRunner
from ._security import CSRF_FIELD, csrf_token

T = TypeVar("T")


class RecordId(Convertor):
    """A record's number in a path (``/requests/{request_id:id}``): digits that fit SQLite's
    integers. Anything else (``/requests/abc``, twenty digits) matches no route: the short
    404 page, never a 500 from a number the database cannot hold."""

    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: Any) -> str:
        return str(value)


class ArticleKey(RecordId):
    """An article's number (as ``RecordId``) or its slug (anything that is not all digits)."""

    regex = "[0-9]{1,18}|[^/]*[^0-9/][^/]*"


register_url_convertor("id", RecordId())
register_url_convertor("article", ArticleKey())

__all__ = ["Desk", "actor", "call", "csrf_field", "desk", "flash", "form", "os_user", "redirect",
           "render", "render_title", "user_message"]


@dataclass
class Desk:
    """What one server process shares: the database path, the ONE Crossref client (so one
    limiter for every editor and job), the job runner and the templates."""

    db_path: str
    client: CrossrefClient | None   # None: offline, resolve from the database only
    registries: Registries | None   # the other registries (DOI system, NCBI, arXiv); None offline
    jobs: JobRunner
    templates: Any                  # jinja2.Environment
    default_editor: str
    shared: Store | None = None     # the process's one Store (create_app opens it)

    def store(self) -> Store:
        """The process's one ``Store``. It gives each thread its own connection, opened on the
        thread's first use and kept: the server's worker threads and the job threads are
        reused, so a click no longer pays for opening, configuring and checking a
        connection (which was most of a page's time under twenty editors). Closed when the
        server stops (``close``)."""
        if self.shared is None:
            self.shared = Store(self.db_path)
        return self.shared

    def close(self) -> None:
        if self.shared is not None:
            self.shared.close()


def desk(request: Request) -> Desk:
    return request.app.state.desk


async def call(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(store, *args, **kwargs)`` in a worker thread (on that thread's connection)."""
    d = desk(request)

    def work() -> T:
        return fn(d.store(), *args, **kwargs)

    return await run_in_threadpool(work)


def os_user() -> str:
    try:
        return getpass.getuser() or "editor"
    except Exception:  # no user name in the environment (containers)
        return "editor"


def actor(request: Request) -> str:
    """Who is acting, for history: the signed-in editor, else (127.0.0.1 with no accounts)
    the name this editor gave, else the desk's default (the OS user)."""
    return request.session.get("editor") or desk(request).default_editor


async def form(request: Request) -> dict[str, str]:
    """The submitted form as text fields (the CSRF token was checked by middleware)."""
    data = await request.form()
    out = {k: v for k, v in data.multi_items() if isinstance(v, str) and k != CSRF_FIELD}
    await data.close()
    return out


async def form_lists(request: Request) -> dict[str, list[str]]:
    """The submitted form with every value of repeated fields (checkboxes)."""
    data = await request.form()
    out: dict[str, list[str]] = {}
    for k, v in data.multi_items():
        if isinstance(v, str) and k != CSRF_FIELD:
            out.setdefault(k, []).append(v)
    await data.close()
    return out


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A one-line message shown on the next page (after a POST's redirect)."""
    request.session.setdefault("flash", []).append([kind, user_message(message)])


# The library's messages are written for the command line; some end by pointing at a
# command ("(see `refkeeper claim list`)") or an option ("(add it with --text-file)"), which
# mean nothing to an editor in a browser.
_CLI_HINT = re.compile(r"\s*\((?:see `refkeeper [^`]*`|[^()]*\s--[a-z][\w-]*[^()]*)\)")


def user_message(error: Exception | str) -> str:
    """A library message as the desk shows it: without pointers to terminal commands."""
    return _CLI_HINT.sub("", str(error))


def redirect(url: str, **query: Any) -> RedirectResponse:
    """303 See Other: the answer to every successful POST (plain forms, no JavaScript)."""
    q = {k: v for k, v in query.items() if v not in (None, "")}
    return RedirectResponse(url + ("?" + urlencode(q) if q else ""), status_code=303)


def csrf_field(request: Request) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD,
                                                                       csrf_token(request.session))


def render(request: Request, template: str, context: dict | None = None, status: int = 200,
           headers: dict | None = None) -> HTMLResponse:
    env = desk(request).templates
    ctx = {
        "request": request,
        "editor": actor(request),
        "signed_in": bool(request.session.get("editor")),
        "csrf_token": csrf_token(request.session),
        "csrf_field": lambda: csrf_field(request),
        "flashes": request.session.pop("flash", []),
        "htmx": request.headers.get("hx-request") == "true",
    }
    ctx.update(context or {})
    return HTMLResponse(env.get_template(template).render(ctx), status_code=status, headers=headers)


_RUN_TAGS = {"it": "i", "sub": "sub", "sup": "sup", "sc": "span class=\"sc\"", "tt": "code"}


def render_title(title: str | None) -> Markup:
    """A Crossref title as safe HTML: the library parses its markup into styled runs and
    every piece of text is escaped; only our own tags are written. Never ``|safe``."""

    def runs_html(runs: list) -> str:
        out = []
        for run in runs:
            if isinstance(run, str):
                out.append(str(escape(run)))
            else:
                style, inner = run
                tag = _RUN_TAGS.get(style)
                if tag is None:
                    out.append(runs_html(inner))
                else:
                    out.append(f"<{tag}>{runs_html(inner)}</{tag.split()[0]}>")
        return "".join(out)

    return Markup(runs_html(title_runs(title or "")))
