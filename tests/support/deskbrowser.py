"""The desk in a real browser, for tests and scripts: Debian's Chromium driven by
Playwright for Python (never a browser download), the desk's app under uvicorn in a
thread on 127.0.0.1, and a watcher for what must never happen on a page.

Test modules use it as::

    from deskbrowser import DeskServer, browser_fixture, skip_without_browser, watch

    pytestmark = skip_without_browser()
    browser = browser_fixture()

Where no Chromium is found (``/usr/bin/chromium`` or ``$REFKEEPER_CHROMIUM``) or
Playwright is not installed the tests are skipped, unless ``REFKEEPER_REQUIRE_BROWSER=1``
(CI), where that is a failure at import.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

CHROMIUM = os.environ.get("REFKEEPER_CHROMIUM") or "/usr/bin/chromium"
REQUIRED = os.environ.get("REFKEEPER_REQUIRE_BROWSER") == "1"
# What a headless Chromium on a shared machine with no network needs: no sandbox (containers),
# no GPU, and none of the background traffic that would try to leave the machine.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]

__all__ = ["CHROMIUM", "LAUNCH_ARGS", "DeskServer", "browser_fixture", "browser_missing", "free_port",
           "launch", "skip_without_browser", "watch"]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (set REFKEEPER_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def skip_without_browser():
    """A module's ``pytestmark``: skip without a browser, or fail at import where one is required."""
    import pytest

    missing = browser_missing()
    if missing and REQUIRED:
        raise RuntimeError(f"browser tests are required here (REFKEEPER_REQUIRE_BROWSER=1): {missing}")
    return pytest.mark.skipif(missing is not None, reason=f"browser tests skipped: {missing}")


def launch(playwright, executable: str = CHROMIUM):
    """Debian's Chromium, headless, with the launch settings every test and script uses."""
    return playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)


def browser_fixture(scope: str = "module"):
    """A pytest fixture yielding one launched browser per ``scope``."""
    import pytest

    @pytest.fixture(scope=scope)
    def browser():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            b = launch(p)
            yield b
            b.close()

    return browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DeskServer:
    """``refkeeper serve``'s app under uvicorn in a thread, on 127.0.0.1 (a free port unless
    ``port`` is given: a restart on the same port keeps the browser's cookies valid).
    Keyword arguments go to ``create_app``; by default the editor is "os-user"."""

    def __init__(self, db: str, crossref_url: str | None = None, *, port: int | None = None,
                 **app_options) -> None:
        import uvicorn

        from refkeeper.web import create_app

        self.port = port or free_port()
        app_options.setdefault("default_editor", "os-user")
        if crossref_url is not None:
            app_options["crossref_url"] = crossref_url
        app = create_app(db_path=db, **app_options)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> DeskServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the desk did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def watch(page) -> list[str]:
    """Collect what must never happen on ``page``: script errors, console errors (a CSP
    violation is one), dialogs (dismissed)."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text} at {msg.location['url']}")
            if msg.type == "error" else None)
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    return problems
