"""`refkeeper verify`: re-check stored works, or a BibTeX file, against Crossref."""

from __future__ import annotations

import json
import sys

import click

import refkeeper

from .._errors import UsageError
from .._models import Work, parse_work_key
from ._common import Context, Group, ProgressLine, clip, describe, pass_ctx


@click.group(cls=Group, invoke_without_command=True)
@click.option("--since", type=click.FloatRange(min=0), metavar="DAYS",
              help="Check works not checked in the last DAYS days [default: 30].")
@click.option("--all", "check_all", is_flag=True, help="Check every stored work.")
@click.option("--bib", type=click.Path(exists=True, dir_okay=False), metavar="FILE.bib",
              help="Check the DOIs of a BibTeX file instead (entries without one by their PMID, "
                   "PMCID or arXiv ID); nothing is stored.")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object (for cron/CI).")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=100, show_default=True,
              metavar="N", help="DOIs per Crossref request (always kept under its URL limit).")
@click.option("--restart", is_flag=True, help="Abandon an unfinished run instead of continuing it.")
@click.pass_context
def verify(cctx: click.Context, since, check_all, bib, as_json, batch_size, restart) -> None:
    """Re-check stored works against Crossref; report what needs an editor.

    \b
    Finds, for each work:
      retraction, withdrawal, partial-retraction, expression-of-concern,
      correction (errata, corrigenda)  from the notices Crossref records,
                  Retraction Watch's included; each kind is its own
      not-found   Crossref no longer knows the DOI (404)
      alias       Crossref answers the DOI with another one
      published-version  a preprint's version of record exists (Crossref's
                  is-preprint-of, a work whose has-preprint names it,
                  arXiv's DOI or journal reference)
    Works with a PMID are also checked against PubMed's retraction marks.
      changed     title, authors, year, journal, volume, issue, pages or
                  type changed upstream: the stored record is updated and
                  the old version kept (see `refkeeper verify history DOI`)
    The report names the claims and open reader requests that rely on a
    work with problems; a claim supported by a retracted paper comes first.

    \b
    Without --all, only works not checked in the last 30 days (or --since
    DAYS) are checked. A run that was killed or cut short is continued
    where it stopped by the next `refkeeper verify`. Progress (count,
    rate, ETA) is shown on a terminal.

    \b
    Exit code: 0 nothing needs attention, 1 findings, 2 usage error or
    Crossref unreachable (what was checked until then is kept).

    \b
    Examples:
      refkeeper verify                  # works due, progress on a terminal
      refkeeper verify --all --json     # every work, quiet, for cron/CI
      refkeeper verify --bib refs.bib   # an existing bibliography
      refkeeper verify history 10.1371/journal.pone.0031093
    """
    if cctx.invoked_subcommand is not None:
        if since is not None or check_all or bib or as_json or restart:
            raise UsageError(f"options of `refkeeper verify` do not apply to `{cctx.invoked_subcommand}`;"
                             " give them after it")
        return
    if bib:
        if since is not None or check_all or restart:
            raise UsageError("--bib checks a file: --since, --all and --restart do not apply")
        _verify_bib_command(cctx.find_object(Context), bib, as_json, batch_size)
        return
    ctx = cctx.find_object(Context)
    line = ProgressLine(enabled=not as_json and sys.stderr.isatty())
    try:
        others = ctx.settings.registries(ctx.client)
        report = refkeeper.verify.verify(ctx.store, ctx.client, since=since, all=check_all,
                            batch_size=batch_size, progress=line, resume=not restart,
                            handles=others.doi, ncbi=others.ncbi, arxiv=others.arxiv)
    finally:
        line.close()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        _print_verify_report(report)
    if report.status != "finished":
        click.echo(f"Error: {report.error}\n{report.counts['checked']:,} works checked in run "
                   f"{report.run_id} are kept; run `refkeeper verify` again to continue.", err=True)
    if report.exit_code:
        sys.exit(report.exit_code)


@verify.command("history")
@click.argument("doi")
@click.option("--json", "as_json", is_flag=True, help="Every check and stored version, as JSON.")
@pass_ctx
def verify_history(ctx: Context, doi, as_json) -> None:
    """Show every check of DOI and every version of its record that was kept."""
    h = refkeeper.verify.history(ctx.store, parse_work_key(doi))
    if as_json:
        click.echo(json.dumps(h.to_json(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{h.doi}  {clip(h.title or '(not stored)', 90)}")
    now = ("never checked" if h.problems is None
           else ", ".join(h.problems) if h.problems else "fine")
    if h.checked_at:
        now += f" (checked {h.checked_at[:19].replace('T', ' ')})"
    click.echo(f"  now: {now}")
    if h.checks:
        click.echo("  checks:")
    for c in h.checks:
        what = ", ".join(c["kinds"]) or c["outcome"]
        new = "  NEW" if c["new_kinds"] else ""
        click.echo(f"    {c['checked_at'][:16].replace('T', ' ')}  run {c['run_id']:<4} {what}{new}")
        _print_details(c["notices"], c["diff"], c["alias_of"], c["error"], indent=6)
    if h.snapshots:
        click.echo(f"  versions kept: {len(h.snapshots)}")
    for s in h.snapshots:
        w = Work.from_crossref(s["record"])
        when = "stored before the first change" if s["run_id"] is None else f"run {s['run_id']}"
        click.echo(f"    #{s['id']}  {s['taken_at'][:16].replace('T', ' ')}  {when}")
        click.echo(f"        {clip(w.title or '(no title)', 70)}  ·  {describe(w)}")


def _short(value) -> str:
    if isinstance(value, list):
        value = "; ".join(map(str, value[:3])) + (f" (+{len(value) - 3})" if len(value) > 3 else "")
    return "—" if value in (None, "") else clip(str(value), 60)


def _print_details(notices, diff, alias_of, error, indent: int) -> None:
    pad = " " * indent
    for n in notices:
        when = f", {n['date']}" if n.get("date") else ""
        if n["kind"] == "not-found" and n.get("label"):  # a PMID, PMCID or arXiv ID
            click.echo(f"{pad}{n['label']}")
            continue
        if n["kind"] == "published-version":
            what = " ".join(x for x in (n.get("doi"), f"({n['label']})" if n.get("label") else None) if x)
            click.echo(f"{pad}published version: {what} ({', '.join(n['sources'])})")
            continue
        notice = f"PMID {n['pmid']}" if n.get("pmid") else n["doi"]  # PubMed names it by PMID
        click.echo(f"{pad}{n['kind']}: notice {notice} ({', '.join(n['sources'])}{when})")
    if alias_of:
        click.echo(f"{pad}Crossref now answers with {alias_of}")
    for name, (old, new) in (diff or {}).items():
        click.echo(f"{pad}{name}: {_short(old)} → {_short(new)}")
    if error:
        click.echo(f"{pad}{error}")


def _print_verify_report(r) -> None:
    c = r.counts
    state = {"finished": "finished", "interrupted": "INTERRUPTED"}.get(r.status, r.status)
    if r.total == 0:
        days = f"{r.since_days:g} days" if r.since_days is not None else "this run"
        click.echo(f"verify run {r.run_id}: no works due (all checked in the last {days};"
                   " --all checks every work)")
    else:
        click.echo(f"verify run {r.run_id} {state}{' (continued)' if r.resumed else ''}: "
                   f"{c['checked']:,} of {r.total:,} works checked, {r.requests:,} Crossref requests")
        click.echo(f"  {c['ok']:,} fine · {c['problems']:,} with problems · {c['changed']:,} changed"
                   f" upstream · {c['errors']:,} could not be checked")
        if r.without_doi:
            click.echo(f"  {r.without_doi:,} without a DOI: no DOI to check (those with a PMID"
                       " were asked of PubMed)")
    if r.affected_claims or r.open_requests:
        click.echo(click.style("\nAffected, most serious first:", bold=True))
    for a in r.affected_claims:
        kinds = ", ".join(a.kinds)
        how = {"supports": "supported by", "contests": "contested by"}.get(a.stance or "", "mentions")
        click.echo(click.style(f"  {kinds.upper()}", fg="red", bold=True)
                   + f"  claim {a.id} {how} {a.doi}" + (" (confirmed link)" if a.confirmed else ""))
        article = f"article {a.article_id}" + (f": {clip(a.article_title, 50)}" if a.article_title else "")
        click.echo(f"      \"{clip(a.text or '', 90)}\"  ({article})")
    for a in r.open_requests:
        click.echo(click.style(f"  {', '.join(a.kinds).upper()}", fg="red", bold=True)
                   + f"  open request {a.id} involves {a.doi}"
                   + (f" (article {a.article_id})" if a.article_id else ""))
    sections = (("problem", "Problems:"), ("changed", "Changed upstream (stored record updated):"),
                ("error", "Could not be checked:"))
    for outcome, title in sections:
        found = [f for f in r.findings if f.outcome == outcome]
        if found:
            click.echo(click.style(f"\n{title}", bold=True))
        for f in found:
            label = ", ".join(f.kinds).upper() if f.kinds else outcome.upper()
            new = click.style("  NEW", fg="yellow") if f.new_kinds else ""
            click.echo(f"  {label}  {f.doi}  {clip(f.title or '', 70)}{new}")
            _print_details(f.notices, f.diff, f.alias_of, f.error, indent=6)
    if r.known_problems:
        known = ", ".join(f"{n} {k}" for k, n in r.known_problems.items())
        click.echo(f"\nKnown from earlier runs (not checked now): {known}; `refkeeper verify --all`"
                   " lists them again.")
    if not r.findings and r.status == "finished":
        click.echo("Nothing new needs attention." if r.known_problems else "Nothing needs attention.")


def _verify_bib_command(ctx: Context, path: str, as_json: bool, batch_size: int) -> None:
    others = ctx.settings.registries(ctx.client)
    rep = refkeeper.verify_bib(path, ctx.client, batch_size=batch_size, handles=others.doi,
                               ncbi=others.ncbi, arxiv=others.arxiv)
    if as_json:
        click.echo(json.dumps(rep.to_json(), ensure_ascii=False))
    else:
        d = rep.to_json()
        others = f", {rep.registry_requests} PubMed/arXiv" if rep.registry_requests else ""
        click.echo(f"{path}: {d['entries']} entries, {d['checked']} checked "
                   f"({rep.requests} Crossref requests{others})")
        if d["without_doi"]:
            click.echo(f"  without a DOI, PMID or arXiv ID (not checked): {', '.join(d['without_doi'][:20])}"
                       + (" …" if len(d["without_doi"]) > 20 else ""))
        for e in rep.findings:
            label = ", ".join(e.kinds).upper() if e.kinds else {"changed": "DIFFERS"}.get(
                e.outcome, e.outcome.upper())
            via = ", ".join(f"{'arXiv' if k == 'arxiv' else k.upper()} {v}"
                            for k, v in e.identifiers.items() if v)
            click.echo(f"  {label}  {e.key}  {e.doi or ''}" + (f"  ({via})" if via else ""))
            _print_details(e.notices, e.diff, e.alias_of, e.error, indent=6)
        if not rep.findings:
            click.echo("Nothing needs attention.")
    if rep.exit_code:
        sys.exit(rep.exit_code)
