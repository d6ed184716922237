"""Bibliographies out and in: `refkeeper export`, `import`, and `key` for the citation keys
both of them keep.
"""

from __future__ import annotations

import json
import sys

import click

import refkeeper

from .._errors import UsageError
from .._models import parse_work_key
from .._output import open_output, output_exists
from ._common import CLAIM_ID, EXIT_FINDINGS, REQUEST_ID, Context, LazyChoice, clip, pass_ctx


@click.command()
@click.argument("dois", nargs=-1)
@click.option(
    "--format", "fmt", type=LazyChoice(lambda: refkeeper.export.FORMATS), default="bibtex", show_default=True,
    help="bibtex, csl-json (Zotero, Pandoc), ris (EndNote, Mendeley), or a reference list "
         "to paste: text, markdown, html.",
)
@click.option("--style", type=LazyChoice(lambda: refkeeper.export.STYLES), default="vancouver",
              show_default=True, help="Citation style of text, markdown and html reference lists.")
@click.option("-o", "--output", metavar="FILE",
              help="Write to FILE instead of stdout (through a symlink to its target; a device such "
                   "as /dev/null is written into, not replaced).")
@click.option("-f", "--force", is_flag=True,
              help="Overwrite FILE if it exists (on a terminal you are asked instead).")
@click.option("--ascii", "ascii_only", is_flag=True,
              help="ASCII only: LaTeX escapes in BibTeX (classic bibtex), \\u escapes in CSL-JSON.")
@click.option("--article", help="Only the works linked to this article's claims or given in its answers.")
@click.option("--claim", type=CLAIM_ID, help="Only the works linked to this claim.")
@click.option("--request", "request_id", type=REQUEST_ID,
              help="Only the works given in answer to this reader request.")
@click.option("--stance", type=click.Choice(["supports", "contests", "mentions"]),
              help="Only works linked with this stance (alone: across all claims).")
@click.option("--prefer-published", is_flag=True,
              help="Write a preprint whose version of record is known (its record, or a verify "
                   "finding) as that version, fetched and stored if need be; noted in the entry.")
@click.option("--offline", is_flag=True,
              help="With --prefer-published: fetch nothing; versions of record not stored are noted.")
@pass_ctx
def export(ctx: Context, dois, fmt, style, output, force, ascii_only, article, claim, request_id,
           stance, prefer_published, offline) -> None:
    """Export stored works (all, or the given DOIs) as BibTeX, CSL-JSON, RIS or a reference list.

    Citation keys are chosen once and stored, so a work keeps its key across exports
    and formats (BibTeX key = CSL-JSON id = RIS ID); pin your own with `refkeeper key`.
    Works that re-verification found retracted or corrected carry a note saying so.

    \b
    Examples:
      refkeeper export -o refs.bib
      refkeeper export --format csl-json -o refs.json
      refkeeper export --format markdown --style apa 10.1007/s00776-007-1126-1
      refkeeper export --claim 2 --stance contests -o contested.bib
      refkeeper export --prefer-published -o refs.bib   # versions of record over preprints
    """
    store = ctx.store
    chosen = [parse_work_key(d) for d in dois] or None
    if any(x is not None for x in (article, claim, request_id, stance)):
        if chosen:
            raise UsageError("give DOIs or --article/--claim/--request/--stance, not both")
        chosen = refkeeper.workflow.works_for(store, article=article, claim=claim, request=request_id,
                                              stance=stance)
    if offline and not prefer_published:
        raise UsageError("--offline applies to --prefer-published only")
    options = {"style": style, "ascii": ascii_only, "prefer_published": prefer_published,
               "registries": ctx.settings.registries(ctx.client)
               if prefer_published and not offline else None}
    if output:
        replacing = output_exists(output)
        if replacing and not force and sys.stdin.isatty() and sys.stderr.isatty():
            force = click.confirm(f"{output} exists. Overwrite it?", default=False, err=True)
            if not force:
                raise UsageError(f"{output} left as it was")
        with open_output(output, overwrite=force) as fh:
            n = refkeeper.export.export_store(store, fh, fmt, chosen, **options)
        replaced = " (the file that was there is replaced)" if replacing else ""
        click.echo(f"wrote {n} entries to {output}{replaced}", err=True)
    else:
        refkeeper.export.export_store(store, sys.stdout, fmt, chosen, **options)


# -- import ---------------------------------------------------------------------------


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--from", "--format", "fmt", type=click.Choice(["bibtex", "ris", "csl-json", "wos", "scopus"]),
              help="Format of FILE (wos: a Web of Science tagged export; scopus: a Scopus "
                   "CSV export) [default: from its name (.bib .ris .json) or content].")
@click.option("--offline", is_flag=True, help="Resolve entries without a DOI from refs.db only.")
@click.option("--update", is_flag=True,
              help="Where a stored work differs from FILE, take FILE's fields and key.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
@pass_ctx
def import_(ctx: Context, path, fmt, offline, update, as_json) -> None:
    """Import a bibliography FILE (.bib, .ris, CSL-JSON .json, Web of Science .txt,
    Scopus .csv).

    \b
    FILE's encoding: a byte-order mark, else what FILE declares (% Encoding:
    windows-1252), else UTF-8, else detected; the summary says which.
    An entry that cannot be read is listed with its line and key; the rest
    are read. A file with no entry at all is an error naming its format.
    Keys in FILE are kept: later exports write the same keys; an entry
    without a key, or with another work's key, gets one (and a note).
    An entry with a DOI is stored as written, if that DOI is not stored yet.
    An entry without a DOI but with a PMID, PMCID or arXiv ID gets the DOI
    NCBI or arXiv names for it (online only).
    An entry without a DOI is resolved (online, or --offline); only a clear
    match gives it a DOI. Otherwise it is stored as a work without a DOI
    (ADDED-WITHOUT-DOI), under an internal key (pmid:N, or rk:...): linkable,
    exportable, resolvable later. Ambiguous entries are stored so too and
    listed with their candidates for you to choose.
    A stored work that differs from FILE is shown as a diff and left alone
    unless --update.
    Exit code 1 when any entry needs a look (differs, ambiguous, unmatched,
    duplicate, not read, a key made or changed) or was not stored.

    \b
    Examples:
      refkeeper import library.bib
      refkeeper import --offline --json export.ris > report.jsonl
      refkeeper import --update zotero.json
    """
    from ..bibimport import open_bibliography  # here: `refkeeper --help` stays light

    bib = open_bibliography(path, fmt)
    resolver = ctx.resolver(offline=offline)
    counts: dict[str, int] = {}
    not_stored: list[str] = []
    shown = 0  # problems already printed: they are printed as the entries are read
    findings = False
    for result in refkeeper.import_entries(ctx.store, bib, resolver, update=update):
        for problem in bib.problems[shown:]:
            click.echo(f"warning: {path}: {problem}", err=True)
        shown = len(bib.problems)
        if result.work is None or result.status in ("duplicate", "error"):
            not_stored.append(result.entry.label)
        counts[result.status] = counts.get(result.status, 0) + 1
        findings |= result.finding
        if as_json:
            click.echo(json.dumps(result.to_json(), ensure_ascii=False))
            continue
        label = result.key or result.entry.label
        colour = "red" if result.status in ("ambiguous", "unmatched", "error", "differs") else None
        click.echo(click.style(f"{result.status.upper():<10}", fg=colour, bold=bool(colour))
                   + f" {label}  {result.work or ''}".rstrip())
        for name, stored, incoming in result.diff:
            click.echo(f"    - {name}: {clip(stored, 150) or '(empty)'}")
            click.echo(f"    + {name}: {clip(incoming, 150) or '(empty)'}")
        for i, c in enumerate(result.candidates[:5], 1):
            click.echo(f"    {i}. {c.doi}  score {c.score:.2f}  {clip(c.title or '', 80)}")
        for note in result.notes:
            click.echo(f"    note: {note}")
    for problem in bib.problems[shown:]:
        click.echo(f"warning: {path}: {problem}", err=True)
    unread = sum(1 for p in bib.problems if " not read: " in p)
    findings |= bool(bib.problems)
    if unread:
        counts["not read"] = unread
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    click.echo(f"{bib.count + unread} entries from {path} ({bib.format}, {bib.encoding}): {summary}"
               + ("" if update or not counts.get("differs") else " (use --update to apply diffs)"),
               err=True)
    if not_stored or unread:
        # Each entry not stored, by key and line (not read, a duplicate, an error), so
        # none may go unnoticed.
        listed = ", ".join(not_stored[:50]) + (" ..." if len(not_stored) > 50 else "")
        click.echo(f"{len(not_stored) + unread} entries not stored"
                   + (" (not read: see the warnings above)" if unread else "")
                   + (f": {listed}" if not_stored else ""), err=True)
    if findings or not_stored:
        sys.exit(EXIT_FINDINGS)


@click.command("key")
@click.argument("doi")
@click.argument("key", required=False)
@pass_ctx
def key_cmd(ctx: Context, doi, key) -> None:
    """Show a stored work's citation key, or pin KEY as its key.

    A pinned key is used by every later export (BibTeX, CSL-JSON id, RIS ID). Keys are
    ASCII letters and digits, then also _ : . + / - ; a key another work has is refused.

    \b
    Examples:
      refkeeper key 10.1007/s00776-007-1126-1
      refkeeper key 10.1007/s00776-007-1126-1 Murakami2007
    """
    store = ctx.store
    bare = parse_work_key(doi)
    store.require_work(bare)
    if key is None:
        click.echo(store.get_key(bare) or "(no key yet: the next export chooses one)")
        return
    key = refkeeper.export.check_key(key)
    old = store.pin_key(bare, key)
    click.echo(f"{bare}  {old or '(none)'} -> {key}")
