"""The desk's protections: the body limit, CSRF, security headers, the secret key.

Middleware order (outermost first, see ``_app.create_app``): headers on every answer,
then the body limit (413 before anything reads a byte past it), then the signed session
cookie (Starlette's ``SessionMiddleware``: itsdangerous-signed, HttpOnly, SameSite=Lax),
then CSRF, which refuses any state-changing request without the session's token (403,
nothing changed) before the route runs.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024 * 1024  # a pasted comment is a few kB; 1 MB is generous and bounded
# An uploaded library: a Zotero export of ~10,000 works is ~10 MB of BibTeX; bounded still,
# because the CSRF check holds the body in memory.
MAX_IMPORT_BODY = 32 * 1024 * 1024
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the CSP and friends to every response, error pages and static files included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in names
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PayloadTooLarge(Exception):
    pass


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413: by Content-Length before
    reading, and by counting for chunked bodies that did not announce their length.
    ``paths`` gives a few exact paths their own limit and 413 page (an uploaded library
    file is megabytes; a form elsewhere never is)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY, too_large: ASGIApp | None = None,
                 paths: dict[str, tuple[int, ASGIApp | None]] | None = None) -> None:
        self.app, self.limit, self.too_large = app, limit, too_large
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, too_large = self.paths.get(scope["path"], (self.limit, self.too_large))
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._refuse(scope, receive, send, too_large)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge()
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except PayloadTooLarge:
            if not started:
                await self._refuse(scope, receive, send, too_large)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, too_large: ASGIApp | None) -> None:
        if too_large is not None:
            await too_large(scope, receive, send)
        else:
            await Response("Request too large", status_code=413)(scope, receive, send)


def csrf_token(session: dict) -> str:
    """The session's CSRF token, made on first use (one per session)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


class CSRFProtect:
    """Every request that is not GET/HEAD/OPTIONS must carry the session's token, in the
    ``X-CSRF-Token`` header (htmx) or the ``csrf_token`` form field; else 403 before the
    route runs. Runs inside ``SessionMiddleware``. The body (bounded by ``BodyLimit``) is
    read once here and handed on unchanged."""

    def __init__(self, app: ASGIApp, forbidden: ASGIApp) -> None:
        self.app, self.forbidden = app, forbidden

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        expected = scope.get("session", {}).get("csrf")
        headers = Headers(scope=scope)
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        given = headers.get(CSRF_HEADER) or await _form_token(scope, headers, body)
        if not expected or not given or not hmac.compare_digest(str(given), str(expected)):
            await self.forbidden(scope, _replay(b""), send)
            return
        await self.app(scope, _replay(body), send)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _form_token(scope: Scope, headers: Headers, body: bytes) -> str | None:
    ctype = headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(CSRF_FIELD)
        return values[0] if values else None
    if ctype.startswith("multipart/form-data"):
        from starlette.requests import Request

        try:
            form = await Request(scope, _replay(body)).form()
        except Exception:  # a malformed body: no token
            return None
        value = form.get(CSRF_FIELD)
        await form.close()
        return value if isinstance(value, str) else None
    return None


def load_secret(db_path: str) -> str:
    """The key that signs session cookies, kept beside the database (``refs.db.secret``,
    mode 0600) so sessions survive a restart; made on first use."""
    path = Path(f"{db_path}.secret")
    try:
        text = path.read_text().strip()
        if len(text) >= 32:
            return text
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key
