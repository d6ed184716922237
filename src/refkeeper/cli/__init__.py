"""The ``refkeeper`` command: parses arguments, calls the library, prints.

Exit codes: 0 success; 1 finished, with findings that need a person (a citation
that ended in error, a DOI not found); 2 usage or input error, or Crossref/the
database failing for good. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import dataclasses
import os

import click

from .._settings import Settings
from .._version import __version__
from . import _articles, _export, _requests, _resolve, _serve, _verify, _works
from ._common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, Context, Group, ProgressLine, pass_ctx

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "Context", "ProgressLine", "cli", "main", "pass_ctx"]


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    help="SQLite database to use [env REFKEEPER_DB; default ./refs.db].",
)
@click.version_option(__version__, prog_name="refkeeper")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """refkeeper: find, check and keep the references behind what you publish.

    \b
    Resolve citations to DOIs through Crossref, store them in SQLite
    (browse with `datasette refs.db`), link them to the claims they
    support or contest, answer readers' requests, export BibTeX and
    other formats, and re-verify for retractions and corrections.

    \b
    Examples:
      refkeeper resolve "Murakami E et al. Effect of periarticular and
        intraarticular lidocaine injections. J Orthop Sci. 2007;12:274-80"
      refkeeper resolve --json - < citations.txt > answers.jsonl
      refkeeper add 10.1007/s00776-007-1126-1
      refkeeper link 3 10.1007/s00776-007-1126-1 --stance contests
      refkeeper request list --open
      refkeeper export --format bibtex -o refs.bib
      refkeeper verify

    \b
    Exit codes: 0 success; 1 finished with findings (a line that ended
    in error, a DOI not found, a retraction); 2 usage or input error, or
    Crossref unreachable.

    Crossref is reached at $REFKEEPER_CROSSREF_URL (default the real API);
    set $REFKEEPER_MAILTO to your address to use Crossref's polite pool.
    """
    # The one place settings are read from the environment; --db overrides REFKEEPER_DB.
    settings = Settings.from_environ(os.environ)
    if db:
        settings = dataclasses.replace(settings, db=db)
    ctx.obj = Context(settings)


def main() -> None:
    """Console entry point."""
    cli(prog_name="refkeeper")


# The commands live in the modules named for what they do; they are attached here so that
# those modules need nothing from this one (no circular import).
cli.add_command(_resolve.resolve)
cli.add_command(_works.add)
cli.add_command(_works.show)
cli.add_command(_works.snapshot)
cli.add_command(_works.works)
cli.add_command(_export.export)
cli.add_command(_export.import_)
cli.add_command(_export.key_cmd)
cli.add_command(_articles.article)
cli.add_command(_articles.claim)
cli.add_command(_articles.link_cmd)
cli.add_command(_articles.unlink_cmd)
cli.add_command(_articles.history_cmd)
cli.add_command(_requests.request)
cli.add_command(_requests.refs)
cli.add_command(_verify.verify)
cli.add_command(_serve.serve)
cli.add_command(_serve.editor)
