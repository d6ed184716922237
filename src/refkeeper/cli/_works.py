"""Stored works: `refkeeper add` fetches them by DOI, `show` prints one, `snapshot import`
loads Crossref records in bulk.
"""

from __future__ import annotations

import json
import sys

import click

import refkeeper

from .._errors import StoreError, UsageError
from .._identifiers import identifiers_of
from .._models import parse_work_key
from .._registries import add_work
from ._common import (
    EXIT_FINDINGS,
    Context,
    Group,
    by_option,
    clip,
    echo_json,
    json_option,
    pass_ctx,
    read_lines,
)


@click.command()
@click.argument("dois", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per DOI.")
@pass_ctx
def add(ctx: Context, dois, as_json) -> None:
    """Fetch works by DOI and store them (- reads DOIs from stdin).

    DOIs of any registration agency (Crossref, DataCite, mEDRA...) are found; so are
    works named by PMID, PMCID or arXiv ID ("PMID:17530380", "PMC1234567",
    "arXiv:2101.00001"). Exit code 1 if any was not found.
    """
    if not dois:
        raise UsageError("give one or more DOIs, or - to read them from stdin")
    if dois == ("-",):
        dois = tuple(d.strip() for d in read_lines(sys.stdin.buffer) if d.strip())
    if not ctx.store.writable:  # say so before asking Crossref for works that could not be kept
        raise StoreError(ctx.store.readonly_reason)
    registries = ctx.settings.registries(ctx.client)
    missing = 0
    for doi in dois:
        w = add_work(ctx.store, registries, doi)
        if w is None:
            missing += 1
            if as_json:
                click.echo(json.dumps({"doi": doi, "status": "not-found"}))
            else:
                click.echo(f"NOT FOUND  {doi}", err=True)
            continue
        if as_json:
            click.echo(json.dumps({"doi": w.doi, "work": w.key, "status": "added", "title": w.title}))
        else:
            click.echo(f"added  {w.key}  {clip(w.title or '', 80)}")
    if missing:
        sys.exit(EXIT_FINDINGS)


@click.command()
@click.argument("doi")
@click.option("--json", "as_json", is_flag=True, help="The stored Crossref record as JSON.")
@pass_ctx
def show(ctx: Context, doi, as_json) -> None:
    """Show a stored work: by DOI, or by the key of a work without one (rk:..., pmid:N)."""
    w = ctx.store.require_work(parse_work_key(doi))
    if as_json:
        click.echo(json.dumps(w.record, ensure_ascii=False, indent=2))
        return
    click.echo(w.title or "(no title)")
    for label, value in (
        ("DOI", f"{w.doi}  https://doi.org/{w.doi}" if w.doi else f"no DOI (stored as {w.key})"),
        ("authors", "; ".join(w.authors) or None),
        ("in", w.container),
        ("year", w.year),
        ("volume", w.volume),
        ("issue", w.issue),
        ("pages", w.pages),
        ("type", w.type),
        ("publisher", w.publisher),
        ("ISBN", "; ".join(map(str, w.record.get("ISBN") or [])) or None),
        ("link", None if w.doi else w.record.get("URL")),
        *_identifier_lines(ctx, w.key),
    ):
        if value:
            click.echo(f"  {label:<9} {value}")


def _identifier_lines(ctx: Context, doi: str) -> list[tuple[str, str]]:
    """The work's other identifiers, as links where they have one."""
    known = identifiers_of(ctx.store, doi)
    links = {"pmid": ("PMID", "https://pubmed.ncbi.nlm.nih.gov/{}/"),
             "pmcid": ("PMCID", "https://pmc.ncbi.nlm.nih.gov/articles/PMC{}/"),
             "arxiv": ("arXiv", "https://arxiv.org/abs/{}"), "doi": ("also DOI", "https://doi.org/{}"),
             "agency": ("agency", None)}
    out = []
    for scheme, (label, url) in links.items():
        for value in known.get(scheme, []):
            shown = f"PMC{value}" if scheme == "pmcid" else value
            out.append((label, f"{shown}  {url.format(value)}" if url else shown))
    return out


# -- one work, several identifiers -------------------------------------------------


@click.group(cls=Group)
def works() -> None:
    """Stored works: find duplicates and merge them; resolve a work without a DOI."""


@works.command("duplicates")
@json_option
@pass_ctx
def works_duplicates(ctx: Context, as_json) -> None:
    """List pairs of stored works that are probably one work (same PMID, PMCID or arXiv ID,
    or same title, year and first author), with the evidence. Exit code 1 if any."""
    found = refkeeper.workflow.duplicate_works(ctx.store)
    if as_json:
        echo_json([d.to_json() for d in found])
    else:
        for d in found:
            click.echo(f"{d.keys[0]}  {d.keys[1]}  ({'; '.join(d.evidence)})")
            for key, title in zip(d.keys, d.titles, strict=True):
                click.echo(f"    {key}: {clip(title or '(no title)', 80)}")
        if not found:
            click.echo("no duplicates found")
    if found:
        sys.exit(EXIT_FINDINGS)


@works.command("merge")
@click.argument("keep")
@click.argument("drop")
@click.option("--reason", help="Why, for the history.")
@by_option
@json_option
@pass_ctx
def works_merge(ctx: Context, keep, drop, reason, actor, as_json) -> None:
    """Merge the work DROP into KEEP: links, requests, references, cached answers,
    identifiers and the citation key follow; DROP becomes an alias DOI of KEEP."""
    r = refkeeper.workflow.merge_works(ctx.store, keep=keep, drop=drop, actor=actor, reason=reason)
    if as_json:
        echo_json(r.to_json())
        return
    click.echo(f"merged {r.drop} into {r.keep}")
    for label, value in (
        ("links moved", ", ".join(map(str, r.links_moved))),
        ("links removed", ", ".join(map(str, r.links_removed))),
        ("answers to requests", ", ".join(map(str, r.request_works))),
        ("readers' references", ", ".join(map(str, r.request_references))),
        ("cached answers", r.answers or ""),
        ("identifiers", "; ".join(f"{k} {', '.join(v)}" for k, v in r.identifiers.items())),
        ("alias DOI", r.drop if r.alias else ""),
        ("citation key", (r.bibtex_key or "") + (" (moved)" if r.key_moved else "")),
    ):
        if value:
            click.echo(f"  {label:<20} {value}")
    for s in r.stances_dropped:
        where = f"claim {s['claim']}" if "claim" in s else f"request {s['request']}"
        click.echo(f"  stance dropped       {where}: {s['dropped']} (kept {s['kept']})")


# -- snapshot ---------------------------------------------------------------------


@click.group(cls=Group)
def snapshot() -> None:
    """Bulk Crossref records for offline resolution."""


@snapshot.command("import")
@click.argument("path", type=click.Path(exists=True))
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@pass_ctx
def snapshot_import(ctx: Context, path, quiet) -> None:
    """Import Crossref records: Crossref's public data file as published (a directory or
    tarball of .json.gz files, each {"items": [...]}), or one .jsonl[.gz] file.

    Progress goes to stderr. Killed half-way, the same command resumes after the files
    it finished; a newer snapshot updates the stored works in place.
    """
    interactive = sys.stderr.isatty()

    def show(p) -> None:
        files = f"file {p.files_done}/{p.files}" if p.files > 1 else "file 1/1"
        skipped = f" ({p.files_skipped} done before)" if p.files_skipped else ""
        line = f"{files}{skipped}: {p.works:,} works read, {p.rate:,.0f} works/s  {clip(p.current, 50)}"
        click.echo(("\r" + line) if interactive else line, err=True, nl=not interactive)

    n = ctx.store.import_snapshot(path, progress=None if quiet else show)
    if interactive and not quiet:
        click.echo(err=True)
    click.echo(f"imported {n} works into {ctx.store.path}")


@works.command("resolve")
@click.argument("key")
@click.option("--offline", is_flag=True, help="Resolve against the stored works only.")
@by_option
@json_option
@pass_ctx
def works_resolve(ctx: Context, key, offline, actor, as_json) -> None:
    """Look for a DOI for the work without one KEY (rk:..., pmid:N); when the resolver
    matches one, KEY is merged into that DOI's work (links, requests, identifiers, key and
    history follow). Exit code 1 when no DOI was matched (candidates are listed)."""
    # Asked on purpose: looked up again, never answered from an earlier cached answer.
    resolver = ctx.resolver(offline=offline, refresh=True)
    r = refkeeper.workflow.resolve_work(ctx.store, key, resolver, actor=actor)
    if as_json:
        echo_json(r.to_json())
    elif r.merged_into:
        click.echo(f"{r.key}: resolved to {r.merged_into}; merged into it")
    else:
        res = r.resolution
        click.echo(f"{r.key}: {res.status}, no DOI matched" + (f" ({res.error})" if res.error else ""))
        for i, c in enumerate(res.candidates[:5], 1):
            click.echo(f"    {i}. {c.doi}  score {c.score:.2f}  {clip(c.title or '', 80)}")
    if not r.merged_into:
        sys.exit(EXIT_FINDINGS)
