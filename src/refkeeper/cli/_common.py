"""What the command modules share: the context object, exit codes, error handling for every
group, reading input, and printing works; and the options and helpers of the workflow commands
(articles, claims, links, reader requests).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import click

from .. import workflow
from .._crossref import CrossrefClient
from .._errors import RefkeeperError, UsageError
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


class _Group(click.Group):
    """Turns refkeeper's own errors into one line and their exit code, in every command."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RefkeeperError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            ctx.exit(EXIT_OK)


def _read_lines(stream) -> Iterator[str]:
    """Lines of a binary stream as text; an undecodable line comes as ``Undecodable``.

    One output per input line: a bad line is reported in place, never dropped.
    """
    for raw in stream:
        line = raw.rstrip(b"\n").rstrip(b"\r")
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            yield Undecodable(line.decode("utf-8", errors="replace"))


def _describe(w: Work) -> str:
    first = w.authors[0].split(",")[0] if w.authors else "(no author)"
    more = " et al." if len(w.authors) > 1 else ""
    loc = w.volume or ""
    if w.issue:
        loc += f"({w.issue})"
    if w.pages:
        loc += f":{w.pages}"
    parts = [f"{first}{more}", w.container, str(w.year) if w.year else None, loc or None]
    return " · ".join(p for p in parts if p)


def _clip(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _bare_doi(text: str) -> str:
    from .._match import extract_dois

    found = extract_dois(text)
    if not found:
        raise UsageError(f"not a DOI: {text!r}")
    return found[0]


# -- options and helpers of the workflow commands (articles.py, requests.py) ------------


def _default_actor() -> str:
    import getpass

    try:
        return getpass.getuser() or "editor"
    except Exception:  # no user name in the environment (containers)
        return "editor"


_by_option = click.option(
    "--by", "actor", envvar="REFKEEPER_EDITOR", default=_default_actor, show_default="your user name",
    help="Who is making the change, for the history [env REFKEEPER_EDITOR].",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="JSON output (for scripts).")


def _echo_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _read_text_arg(path: str) -> str:
    """The text of FILE, or of stdin for '-'; a missing or undecodable file is an InputError."""
    from .._errors import InputError

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


def _print_bibtex(store: Store, dois: list[str]) -> None:
    if not dois:
        click.echo("no works to export", err=True)
        return
    click.echo(workflow.bibtex_for(store, dois), nl=False)
