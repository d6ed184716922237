"""The app factory: routes from the page modules, middleware, error pages, static files,
templates; and ``serve``, which runs it under uvicorn after checking where it listens."""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import logging
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

import anyio.to_thread
import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from .. import __version__
from .._crossref import DEFAULT_URL, CrossrefClient
from .._editors import count_editors
from .._errors import NotFoundError, RefkeeperError, StoreError, UsageError
from .._settings import Settings
from .._store import Store
from ._jobs import JobRunner
from ._pages import Desk, os_user, render_title, user_message
from ._security import MAX_BODY, MAX_IMPORT_BODY, BodyLimit, CSRFProtect, SecurityHeaders, load_secret

log = logging.getLogger("refkeeper.web")
HERE = Path(__file__).parent

# The page modules, in routing order; each exposes ``routes: list[Route]`` (see __init__).
PAGE_MODULES = ["_session", "_queue", "_requests", "_articles", "_duplicates", "_works", "_verify",
                "_exports", "_imports"]

SESSION_COOKIE = "refkeeper_session"
SESSION_DAYS = 14
REQUEST_THREADS = 8  # pages served at once; the rest wait their turn (see lifespan)
LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, editors: int) -> None:
    """The desk listens beyond this machine only once editor accounts exist."""
    if not is_loopback(host) and editors == 0:
        raise UsageError(f"refusing to listen on {host}: no editor accounts yet; "
                         f"add one with `refkeeper editor add NAME`, or serve on 127.0.0.1")


def template_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["title"] = render_title
    env.filters["age"] = age
    env.filters["day"] = day
    env.globals["version"] = __version__
    return env


def _when(stamp: str | None) -> datetime | None:
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
    except ValueError:
        return None
    if then is not None and then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    return then


def age(stamp: str | None) -> str:
    """'3 days ago', '5 hours ago', 'just now': how long ago an ISO time was."""
    then = _when(stamp)
    if then is None:
        return stamp or ""
    secs = (datetime.now(timezone.utc) - then).total_seconds()
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600),
                       ("minute", 60)):
        if secs >= size:
            n = int(secs // size)
            return f"{n} {unit}{'s' * (n != 1)} ago"
    return "just now"


def day(stamp: str | None) -> str:
    """'1 Dec 2026': an ISO time as editors read a date (the full time is in a title)."""
    then = _when(stamp)
    if then is None:
        return stamp or ""
    return f"{then.day} {then:%b %Y}"


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n // 1024} kB"


# -- error pages ---------------------------------------------------------------------------

_TITLES = {400: "That did not work", 403: "Not allowed", 404: "Not found", 405: "Not allowed",
           413: "Too large", 500: "Something went wrong", 503: "The database is not available"}


def error_page(env: jinja2.Environment, status: int, message: str) -> HTMLResponse:
    """A short page in the site's layout; never a traceback."""
    html = env.get_template("error.html").render(
        status=status, heading=_TITLES.get(status, "Error"), message=message, editor=None,
        signed_in=False, csrf_token="", flashes=[], htmx=False, csrf_field=lambda: "",
    )
    return HTMLResponse(html, status_code=status)


def _error_handlers(env: jinja2.Environment) -> dict:
    async def refkeeper_error(request: Request, exc: Exception) -> Response:
        status = 404 if isinstance(exc, NotFoundError) else 503 if isinstance(exc, StoreError) else 400
        return error_page(env, status, user_message(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        default = {404: "There is no such page.", 405: "That address does not take this kind of request."}
        message = exc.detail if exc.detail and exc.detail not in ("Not Found", "Method Not Allowed") else ""
        return error_page(env, exc.status_code, message or default.get(exc.status_code, ""))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("error serving %s %s", request.method, request.url.path, exc_info=exc)
        return error_page(env, 500, "The desk hit an internal error; nothing was shown of it here. "
                                    "The server's log has the details.")

    return {RefkeeperError: refkeeper_error, HTTPException: http_error, Exception: server_error}


class _Fixed:
    """An ASGI app answering every request with one error page (used by middleware)."""

    def __init__(self, env: jinja2.Environment, status: int, message: str) -> None:
        self.env, self.status, self.message = env, status, message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error_page(self.env, self.status, self.message)(scope, receive, send)


class SignInRequired:
    """Once editor accounts exist, every page but sign-in and static files needs a signed-in
    editor: GET goes to the sign-in page, anything else gets 403."""

    OPEN_PATHS = ("/signin", "/static/")

    def __init__(self, app, desk: Desk, forbidden) -> None:
        self.app, self.desk, self.forbidden = app, desk, forbidden
        self._accounts = False  # accounts are never removed: once seen, always required

    def accounts(self) -> bool:
        if not self._accounts:
            self._accounts = count_editors(self.desk.store()) > 0
        return self._accounts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        if scope.get("session", {}).get("signed_in") or not self.accounts():
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD"):
            # Back to the very page after signing in, its filters (query string) included.
            query = scope.get("query_string", b"").decode("latin-1")
            back = scope["path"] + ("?" + query if query else "")
            response = RedirectResponse("/signin?" + urlencode({"next": back}), status_code=303)
            await response(scope, receive, send)
        else:
            await self.forbidden(scope, receive, send)


class DeskApp(Starlette):
    """Starlette with the security headers outermost, so that even the 500 page that
    Starlette's error middleware writes carries them."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._outer = SecurityHeaders(self._inner)

    async def _inner(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._outer(scope, receive, send)


def create_app(
    *,
    db_path: str,
    crossref_url: str | None = None,
    mailto: str | None = None,
    secret: str | None = None,
    client: CrossrefClient | None = None,
    offline: bool = False,
    default_editor: str | None = None,
    max_body: int = MAX_BODY,
    max_import: int = MAX_IMPORT_BODY,
    workers: int = 2,
    https_only: bool = False,
    settings: Settings | None = None,
) -> Starlette:
    """The desk as an ASGI app over ``db_path``.

    One ``CrossrefClient`` (``client``, or one made from ``crossref_url``/``mailto``) serves
    every request and background job; ``offline=True`` resolves from the database only.
    ``secret`` signs session cookies (default: kept in ``<db>.secret``, made once).
    ``default_editor`` is the name history records when no one signed in (default: the OS
    user); ``https_only`` marks the session cookie Secure (behind a TLS proxy). ``max_body`` bounds
    every request body but the import page's upload, which ``max_import`` bounds. ``settings``
    (built at the edge) names every registry; without it, Crossref's URL and ``mailto`` are
    taken from the arguments and the other registries keep their public defaults.
    """
    if settings is None:
        settings = Settings(db=str(db_path), crossref_url=crossref_url or DEFAULT_URL, mailto=mailto)
    env = template_env()
    shared = Store(db_path)  # create or upgrade the database now, not on the first click
    client = None if offline else (client or settings.client())
    desk = Desk(
        db_path=str(db_path),
        client=client,
        registries=None if client is None else settings.registries(client),
        jobs=JobRunner(workers=workers),
        templates=env,
        default_editor=default_editor or os_user(),
        shared=shared,
    )
    routes = []
    for name in PAGE_MODULES:
        routes += importlib.import_module(f"{__package__}.{name}").routes
    routes.append(Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"))
    # Browsers ask for /favicon.ico on pages without our layout (fragments, downloads).
    routes.append(Route("/favicon.ico", lambda request: Response(status_code=204), methods=["GET"]))
    forbidden = _Fixed(env, 403, "The form was stale or not from this desk (missing or wrong security "
                                 "token). Reload the page and try again.")
    middleware = [
        Middleware(BodyLimit, limit=max_body, too_large=_Fixed(env, 413, "That request is too large "
                                                                        f"(limit {max_body // 1024} kB)."),
                   paths={"/imports": (max_import, _Fixed(env, 413, "That file is too large to import "
                                                                    f"here (limit {_size(max_import)}); "
                                                                    "split it into smaller files."))}),
        Middleware(SessionMiddleware, secret_key=secret or load_secret(str(db_path)),
                   session_cookie=SESSION_COOKIE, max_age=SESSION_DAYS * 86400, same_site="lax",
                   https_only=https_only),
        Middleware(CSRFProtect, forbidden=forbidden),
        Middleware(SignInRequired, desk=desk, forbidden=_Fixed(env, 403, "Sign in first.")),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        # Pages run in worker threads (SQLite and templates are blocking). anyio's default
        # of 40 lets twenty editors' clicks all run at once on two cores, each slowed by
        # the others (the GIL): a few threads serve the same clicks in turn, with a
        # shorter tail.
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        yield
        desk.jobs.shutdown(wait=False)
        desk.close()

    app = DeskApp(routes=routes, middleware=middleware, exception_handlers=_error_handlers(env),
                  lifespan=lifespan)
    app.state.desk = desk
    return app


def serve(
    *,
    db_path: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    crossref_url: str | None = None,
    mailto: str | None = None,
    default_editor: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Run the desk under uvicorn until interrupted (refuses a non-loopback address while
    there are no editor accounts: ``UsageError``)."""
    import uvicorn

    store = Store(db_path)
    try:
        check_binding(host, count_editors(store))
    finally:
        store.close()
    app = create_app(db_path=db_path, crossref_url=crossref_url, mailto=mailto, default_editor=default_editor,
                     settings=settings)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False)
