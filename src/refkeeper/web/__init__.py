"""The editor's desk in a browser: ``refkeeper serve`` (issue 10).

A Starlette application over the same ``refs.db`` as the CLI. Like ``cli/``, the web layer
only parses a request, calls ONE library function and renders a Jinja2 template; there is
no SQL here. Build it with explicit arguments (only ``serve`` and the CLI read the
environment)::

    from refkeeper.web import create_app
    app = create_app(db_path="refs.db", crossref_url=..., mailto=..., secret=...)

Modules:

* ``_app``: the app factory, the shared ``Desk`` (db path, the ONE ``CrossrefClient`` and
  its limiter, the job runner, templates), error pages, static files;
* ``_security``: sessions, CSRF, security headers, the request-body limit, the secret key;
* ``_pages``: what every page module uses: ``render``, ``store``, ``actor``, ``form``,
  ``redirect``, ``desk``;
* ``_jobs``: background jobs with progress (one runner, bounded workers);
* ``_session``: sign-in and sign-out;
* ``_queue``: the request queue (home page); ``_requests``: a request, new request;
* ``_articles``, ``_works``, ``_duplicates`` (works stored twice), ``_verify``,
  ``_exports``, ``_imports`` (a bibliography file imported as a background job).

Adding pages (how part 2's ``_articles``, ``_works``, ``_verify``, ``_exports`` plug in):
each page module exposes ``routes: list[starlette.routing.Route]`` and is named in
``_app.PAGE_MODULES``; ``create_app`` collects them in that order. Templates go in
``templates/`` and extend ``base.html`` (``{% block title %}``, ``{% block content %}``);
nav links are in ``base.html``. Handlers are ``async def page(request)``; do the work with
``await run(request, fn, ...)`` (a thread, so the event loop keeps serving) where ``fn``
opens ``store(request)``. Every state-changing route is ``methods=["POST"]``: the CSRF
check is done by middleware before the handler runs (forms carry ``{{ csrf_field() }}``,
htmx sends the ``X-CSRF-Token`` header from the page's meta tag); finish a POST with
``redirect(...)`` (303) so that plain forms work without JavaScript. Raise
``RefkeeperError`` subclasses for user errors: they become short 400/404 pages. Never
``|safe`` untrusted text; Crossref titles go through the ``title`` filter (markup -> runs).
"""

from ._app import create_app, serve

__all__ = ["create_app", "serve"]
