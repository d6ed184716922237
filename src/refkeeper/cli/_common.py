"""What the command modules share: the context object, exit codes, error handling for every
group, reading input, a progress line, and printing works; and the options and helpers of the
workflow commands (articles, claims, links, reader requests).
"""

from __future__ import annotations

import getpass
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator

import click

# workflow, verify and export load on first use (refkeeper's PEP 562 __getattr__): reached
# as refkeeper.workflow..., they are not imported for `refkeeper --help` or a resolve.
import refkeeper

from .._crossref import CrossrefClient
from .._errors import InputError, RefkeeperError
from .._models import Work
from .._resolve import Resolver, Undecodable
from .._settings import Settings
from .._store import Store

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class Context:
    """What every command gets: the settings, and the store and client made from them
    when first needed (so `--help` and usage errors open nothing)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None
        self._client: CrossrefClient | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = self.settings.store()
        return self._store

    @property
    def client(self) -> CrossrefClient:
        if self._client is None:
            self._client = self.settings.client()
        return self._client

    def resolver(self, offline: bool = False, refresh: bool = False) -> Resolver:
        """A resolver over this database: Crossref, or only the stored works when ``offline``."""
        return self.settings.resolver(self.store, offline=offline, refresh=refresh)


pass_ctx = click.make_pass_decorator(Context)


class Group(click.Group):
    """Turns refkeeper's own errors into one line and their exit code, in every command."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RefkeeperError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            ctx.exit(EXIT_OK)


def read_lines(stream) -> Iterator[str]:
    """Lines of a binary stream as text; an undecodable line comes as ``Undecodable``.

    One output per input line: a bad line is reported in place, never dropped.
    """
    for raw in stream:
        line = raw.rstrip(b"\n").rstrip(b"\r")
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            yield Undecodable(line.decode("utf-8", errors="replace"))


def describe(w: Work) -> str:
    """'Murakami et al. · J Orthop Sci · 2007 · 12(3):274-280': a work in one short line."""
    first = w.authors[0].split(",")[0] if w.authors else "(no author)"
    more = " et al." if len(w.authors) > 1 else ""
    loc = w.volume or ""
    if w.issue:
        loc += f"({w.issue})"
    if w.pages:
        loc += f":{w.pages}"
    parts = [f"{first}{more}", w.container, str(w.year) if w.year else None, loc or None,
             None if w.doi else "no DOI"]
    return " · ".join(p for p in parts if p)


def clip(s: str, n: int) -> str:
    """``s`` on one line, cut to ``n`` characters with an ellipsis."""
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


class LazyChoice(click.Choice):
    """A ``click.Choice`` whose choices are read on first use, from the library that knows
    them: defining the option then imports nothing heavy (exporters pull in pybtex)."""

    def __init__(self, load: Callable[[], Iterable[str]]) -> None:
        self._load = load
        self._choices: tuple[str, ...] | None = None
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        if self._choices is None:
            self._choices = tuple(self._load())
        return self._choices


class RowId(click.ParamType):
    """A claim's or request's ID: a whole number SQLite can hold (IDs are 64-bit rows).

    A bad ID is an ``InputError`` (one line, exit 2) rather than click's usage block, and a
    huge one never reaches SQLite (whose integers stop at 2**63 - 1).
    """

    name = "id"
    MAX = 2**63 - 1

    def __init__(self, what: str) -> None:
        self.what = what

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if not text.isascii() or not text.isdigit() or int(text) > self.MAX:
            raise InputError(f"{self.what} ID must be a whole number from 0 to {self.MAX}, not {value!r}")
        return int(text)


CLAIM_ID, REQUEST_ID = RowId("claim"), RowId("request")


class ProgressLine:
    """A status line on stderr, redrawn in place at most twice a second; silent unless
    ``enabled`` (the commands enable it when stderr is a terminal and not writing JSON).

    ``refkeeper verify`` passes it as its progress callback; ``resolve`` counts answers.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.text = ""
        self.drawn = ""
        self.last = float("-inf")
        self.start = time.monotonic()
        self.counts: dict[str, int] = {}

    def show(self, text: str) -> None:
        self.text = text
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.5:
            self.last = now
            self._draw()

    def _draw(self) -> None:
        click.echo(f"\r{self.text}    ", err=True, nl=False)
        self.drawn = self.text

    def __call__(self, p) -> None:
        """verify's progress (a ``refkeeper.verify.Progress``): count, rate and ETA."""
        eta = "—" if p.eta is None else duration(p.eta)
        self.show(f"verified {p.done:,}/{p.total:,} · {p.rate:,.1f}/s · ETA {eta}")

    def count(self, status: str) -> None:
        """One more resolved citation, with its status."""
        self.counts[status] = self.counts.get(status, 0) + 1
        n = sum(self.counts.values())
        rate = n / max(time.monotonic() - self.start, 1e-9)
        parts = ", ".join(f"{v} {k}" for k, v in sorted(self.counts.items()))
        self.show(f"{n} resolved ({parts}) · {rate:.1f}/s")

    def close(self) -> None:
        """Leave the last state on the screen, and the cursor on a new line."""
        if self.enabled and self.text:
            if self.drawn != self.text:
                self._draw()
            click.echo(err=True)


def duration(seconds: float) -> str:
    """'3m13s', '2h05m'."""
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


# -- options and helpers of the workflow commands (articles.py, requests.py) ------------


def _default_actor() -> str:
    try:
        return getpass.getuser() or "editor"
    except Exception:  # no user name in the environment (containers)
        return "editor"


by_option = click.option(
    "--by", "actor", envvar="REFKEEPER_EDITOR", default=_default_actor, show_default="your user name",
    help="Who is making the change, for the history [env REFKEEPER_EDITOR].",
)
json_option = click.option("--json", "as_json", is_flag=True, help="JSON output (for scripts).")


def echo_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def read_text_arg(path: str) -> str:
    """The text of FILE, or of stdin for '-'; a missing or undecodable file is an InputError."""
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None


def print_bibtex(store: Store, dois: list[str]) -> None:
    if not dois:
        click.echo("no works to export", err=True)
        return
    click.echo(refkeeper.workflow.bibtex_for(store, dois), nl=False)
