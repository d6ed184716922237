"""The ``refkeeper`` command: parses arguments, calls the library, prints.

Exit codes: 0 success; 1 finished, with findings that need a person (a citation
that ended in error, a DOI not found); 2 usage or input error, or Crossref/the
database failing for good. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator

import click

from . import __version__
from .crossref import CrossrefClient
from .errors import RefkeeperError, UsageError
from .export import write_bibtex
from .models import ERROR, MATCHED, Resolution, Work, normalize_doi
from .resolve import Resolver, Undecodable
from .store import Store

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class Context:
    def __init__(self, db: str | None) -> None:
        self.db_path = db
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_path)
        return self._store


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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    envvar="REFKEEPER_DB",
    help="SQLite database to use [env REFKEEPER_DB; default ./refs.db].",
)
@click.version_option(__version__, prog_name="refkeeper")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """refkeeper: find, check and keep the references behind what you publish.

    \b
    Resolve citations to DOIs through Crossref, store them in SQLite
    (browse with `datasette refs.db`), and export BibTeX.

    \b
    Examples:
      refkeeper resolve "Murakami E et al. Effect of periarticular and
        intraarticular lidocaine injections. J Orthop Sci. 2007;12:274-80"
      refkeeper resolve --json - < citations.txt > answers.jsonl
      refkeeper add 10.1007/s00776-007-1126-1
      refkeeper export --format bibtex -o refs.bib

    Crossref is reached at $REFKEEPER_CROSSREF_URL (default the real API);
    set $REFKEEPER_MAILTO to your address to use Crossref's polite pool.
    """
    ctx.obj = Context(db)


def main() -> None:
    """Console entry point."""
    cli(prog_name="refkeeper")


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


# -- resolve ----------------------------------------------------------------------


@cli.command()
@click.argument("citations", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per citation (for scripts).")
@click.option("--context", help="The sentence around a short mention like 'Murakami 2007'.")
@click.option("--offline", is_flag=True, help="Use only works already in the database.")
@click.option("--refresh", is_flag=True, help="Ask again even if this citation was resolved before.")
@click.option("--workers", type=click.IntRange(1, 32), help="Concurrent Crossref requests.")
@pass_ctx
def resolve(ctx: Context, citations, as_json, context, offline, refresh, workers) -> None:
    """Find the DOI of each CITATION (use - to read one per line from stdin).

    \b
    Each answer is one of:
      matched    one work fits, field by field, and no other comes close
      ambiguous  several works could be meant: candidates are listed, best first
      unmatched  nothing fits well enough; no DOI is guessed
      error      the line could not be resolved (empty, too long, not UTF-8,
                 Crossref failing after retries)
    Answers are stored; the same citation is not sent to Crossref again
    unless --refresh. Exit code 1 if any line ended in error.

    \b
    Examples:
      refkeeper resolve "Berthelot JM et al. Joint Bone Spine. 2006;73(1):17-23."
      refkeeper resolve --context "injections near the joint did better" "Murakami 2007"
      refkeeper resolve --json - < refs.txt
    """
    if not citations:
        raise UsageError("give a citation, or - to read citations from stdin (see --help)")
    if citations == ("-",):
        texts: Iterator[str] = _read_lines(sys.stdin.buffer)
    elif "-" in citations:
        raise UsageError("'-' (stdin) cannot be combined with citations on the command line")
    else:
        texts = iter(citations)
    resolver = Resolver(store=ctx.store, offline=offline, refresh=refresh)
    any_error = False
    progress = _Progress("resolved") if citations == ("-",) and as_json else None
    for res in resolver.resolve_many(texts, context=context, workers=workers):
        any_error |= res.status == ERROR
        if as_json:
            click.echo(json.dumps(res.to_json(), ensure_ascii=False))
        else:
            _print_resolution(res)
        if progress:
            progress.step(res.status)
    if progress:
        progress.done()
    if any_error:
        sys.exit(EXIT_FINDINGS)


class _Progress:
    """A one-line counter on stderr for long batches, only when stderr is a terminal."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.on = sys.stderr.isatty()
        self.n = 0
        self.counts: dict[str, int] = {}
        self.start = self.last = time.monotonic()

    def step(self, status: str) -> None:
        self.n += 1
        self.counts[status] = self.counts.get(status, 0) + 1
        now = time.monotonic()
        if self.on and now - self.last >= 0.5:
            self.last = now
            rate = self.n / max(now - self.start, 1e-9)
            parts = ", ".join(f"{v} {k}" for k, v in sorted(self.counts.items()))
            click.echo(f"\r{self.n} {self.verb} ({parts}) · {rate:.1f}/s ", nl=False, err=True)

    def done(self) -> None:
        if self.on and self.n:
            click.echo("\r" + " " * 79 + "\r", nl=False, err=True)


def _print_resolution(res: Resolution) -> None:
    head = {"matched": "green", "ambiguous": "yellow", "unmatched": "red", "error": "red"}
    click.echo(click.style(res.status.upper(), fg=head[res.status], bold=True), nl=False)
    if res.status == MATCHED:
        click.echo(f"  {res.doi}  score {res.score:.2f}" + ("  (cached)" if res.cached else ""))
    elif res.status == ERROR:
        click.echo(f"  {res.error}")
    elif res.status == "unmatched":
        click.echo("  no work fits well enough; no DOI is guessed")
    else:
        click.echo(f"  {len(res.candidates)} candidates, none clearly the one: an editor should choose")
    click.echo(f"  input: {_clip(res.input, 160)}")
    for i, c in enumerate(res.candidates[: 1 if res.status == MATCHED else 5], 1):
        prefix = "  " if res.status == MATCHED else f"  {i}. {c.doi}  score {c.score:.2f}\n     "
        click.echo(f"{prefix}{_clip(c.title or '(no title)', 100)}")
        if c.work is not None:
            click.echo(f"     {_describe(c.work)}")
        ev = c.evidence
        agree = ", ".join(ev.agree) or "—"
        disagree = ", ".join(ev.disagree) or "—"
        click.echo(f"     agree: {agree}   disagree: {disagree}")
    click.echo()


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


# -- works ------------------------------------------------------------------------


@cli.command()
@click.argument("dois", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per DOI.")
@pass_ctx
def add(ctx: Context, dois, as_json) -> None:
    """Fetch works by DOI from Crossref and store them (- reads DOIs from stdin).

    Exit code 1 if any DOI was not found.
    """
    if not dois:
        raise UsageError("give one or more DOIs, or - to read them from stdin")
    if dois == ("-",):
        dois = tuple(d.strip() for d in _read_lines(sys.stdin.buffer) if d.strip())
    client = CrossrefClient()
    missing = 0
    for doi in dois:
        rec = client.work(_bare_doi(doi))
        if rec is None:
            missing += 1
            if as_json:
                click.echo(json.dumps({"doi": doi, "status": "not-found"}))
            else:
                click.echo(f"NOT FOUND  {doi}", err=True)
            continue
        w = ctx.store.add_work(rec, "crossref")
        if as_json:
            click.echo(json.dumps({"doi": w.doi, "status": "added", "title": w.title}))
        else:
            click.echo(f"added  {w.doi}  {_clip(w.title or '', 80)}")
    if missing:
        sys.exit(EXIT_FINDINGS)


def _bare_doi(text: str) -> str:
    from .match import extract_dois

    found = extract_dois(text)
    if not found:
        raise UsageError(f"not a DOI: {text!r}")
    return found[0]


@cli.command()
@click.argument("doi")
@click.option("--json", "as_json", is_flag=True, help="The stored Crossref record as JSON.")
@pass_ctx
def show(ctx: Context, doi, as_json) -> None:
    """Show a stored work."""
    w = ctx.store.require_work(_bare_doi(doi))
    if as_json:
        click.echo(json.dumps(w.record, ensure_ascii=False, indent=2))
        return
    click.echo(w.title or "(no title)")
    for label, value in (
        ("DOI", f"{w.doi}  https://doi.org/{w.doi}"),
        ("authors", "; ".join(w.authors) or None),
        ("in", w.container),
        ("year", w.year),
        ("volume", w.volume),
        ("issue", w.issue),
        ("pages", w.pages),
        ("type", w.type),
        ("publisher", w.publisher),
    ):
        if value:
            click.echo(f"  {label:<9} {value}")


@cli.command()
@click.argument("dois", nargs=-1)
@click.option(
    "--format", "fmt", type=click.Choice(["bibtex"]), default="bibtex", show_default=True,
    help="Output format.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to FILE instead of stdout.")
@click.option("--ascii", "ascii_only", is_flag=True, help="LaTeX escapes instead of UTF-8.")
@pass_ctx
def export(ctx: Context, dois, fmt, output, ascii_only) -> None:
    """Export stored works (all, or the given DOIs) as BibTeX.

    Citation keys are chosen once and stored, so a work keeps its key across exports.
    """
    store = ctx.store
    chosen = [_bare_doi(d) for d in dois] or None
    works = store.works(normalize_doi(d) for d in chosen) if chosen else store.works()
    keys = store.bibtex_keys()
    if output:
        tmp = output + ".part"
        with open(tmp, "w", encoding="utf-8") as fh:
            used = write_bibtex(works, fh, keys=keys, ascii=ascii_only)
        os.replace(tmp, output)  # never leave a half-written .bib behind
        click.echo(f"wrote {len(used)} entries to {output}", err=True)
    else:
        used = write_bibtex(works, sys.stdout, keys=keys, ascii=ascii_only)
    store.set_bibtex_keys(used)


# -- snapshot ---------------------------------------------------------------------


@cli.group(cls=_Group)
def snapshot() -> None:
    """Bulk Crossref records for offline resolution."""


@snapshot.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@pass_ctx
def snapshot_import(ctx: Context, path) -> None:
    """Import FILE.jsonl[.gz]: one Crossref work per line (Crossref's public data file form)."""
    n = ctx.store.import_snapshot(path)
    click.echo(f"imported {n} works into {ctx.store.path}")


# -- articles, claims, links, reference requests (issue 3) ---------------------------


# -- verify (issue 4) ---------------------------------------------------------------


# -- import and other formats (issue 5) ---------------------------------------------


if __name__ == "__main__":
    main()
