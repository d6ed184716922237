"""`refkeeper resolve`: the DOI of each citation, or why there is none."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import click

from .._errors import CrossrefUnavailableError, UsageError
from .._models import ERROR, MATCHED, Resolution
from ._common import EXIT_FINDINGS, EXIT_USAGE, Context, ProgressLine, clip, describe, pass_ctx, read_lines


@click.command()
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
    unless --refresh. Exit code 1 if any line ended in error; 2 if Crossref
    could not be reached (every line is still answered, as an error).

    \b
    Examples:
      refkeeper resolve "Berthelot JM et al. Joint Bone Spine. 2006;73(1):17-23."
      refkeeper resolve --context "injections near the joint did better" "Murakami 2007"
      refkeeper resolve --json - < refs.txt
    """
    if not citations:
        raise UsageError("give a citation, or - to read citations from stdin (see --help)")
    if citations == ("-",):
        texts: Iterator[str] = read_lines(sys.stdin.buffer)
    elif "-" in citations:
        raise UsageError("'-' (stdin) cannot be combined with citations on the command line")
    else:
        texts = iter(citations)
    resolver = ctx.resolver(offline=offline, refresh=refresh)
    any_error = False
    unreachable: CrossrefUnavailableError | None = None
    # A batch read from stdin into JSON lines is a long, quiet job: show how far it is.
    progress = ProgressLine(enabled=citations == ("-",) and as_json and sys.stderr.isatty())
    try:
        for res in resolver.resolve_many(texts, context=context, workers=workers):
            any_error |= res.status == ERROR
            if isinstance(res.failure, CrossrefUnavailableError):
                unreachable = res.failure
            if as_json:
                click.echo(json.dumps(res.to_json(), ensure_ascii=False))
            else:
                _print_resolution(res)
            progress.count(res.status)
    finally:
        progress.close()
    if unreachable is not None:
        click.echo(f"Error: {unreachable}", err=True)
        sys.exit(EXIT_USAGE)
    if any_error:
        sys.exit(EXIT_FINDINGS)


def _print_resolution(res: Resolution) -> None:
    head = {"matched": "green", "ambiguous": "yellow", "unmatched": "red", "error": "red"}
    click.echo(click.style(res.status.upper(), fg=head[res.status], bold=True), nl=False)
    if res.status == MATCHED:
        which = res.doi or f"no DOI: stored as {res.key}"  # a PubMed-only work
        click.echo(f"  {which}  score {res.score:.2f}" + ("  (cached)" if res.cached else ""))
    elif res.status == ERROR:
        click.echo(f"  {res.error}")
    elif res.status == "unmatched":
        click.echo("  no work fits well enough; no DOI is guessed")
    else:
        click.echo(f"  {len(res.candidates)} candidates, none clearly the one: an editor should choose")
    click.echo(f"  input: {clip(res.input, 160)}")
    for note in res.notes:
        click.echo(f"  note: {note}")
    for i, c in enumerate(res.candidates[: 1 if res.status == MATCHED else 5], 1):
        prefix = "  " if res.status == MATCHED else f"  {i}. {c.doi}  score {c.score:.2f}\n     "
        click.echo(f"{prefix}{clip(c.title or '(no title)', 100)}")
        if c.work is not None:
            click.echo(f"     {describe(c.work)}")
        ev = c.evidence
        agree = ", ".join(ev.agree) or "—"
        disagree = ", ".join(ev.disagree) or "—"
        click.echo(f"     agree: {agree}   disagree: {disagree}")
    click.echo()
