"""Articles, their claims, links from claims to works, and the history of changes.

Thin commands over refkeeper.workflow: parse, call one function, print.
"""

from __future__ import annotations

import click

import refkeeper

from .._errors import UsageError
from ._common import (
    CLAIM_ID,
    REQUEST_ID,
    Context,
    Group,
    by_option,
    clip,
    describe,
    echo_json,
    json_option,
    pass_ctx,
    print_bibtex,
    read_text_arg,
)


def _link_line(lw) -> list[str]:
    lk, w = lw.link, lw.work
    state = "confirmed" if lk.confirmed else "unconfirmed"
    who = lk.asserted_by + (f" {lk.asserted_by_name}" if lk.asserted_by_name else "")
    if lk.request_id:
        who += f" (request {lk.request_id})"
    lines = [f"    [link {lk.id}] {lk.doi}  {describe(w)}",
             f"        {clip(w.title or '(no title)', 90)}",
             f"        asserted by {who}, {state}" + (f" by {lk.confirmed_by}" if lk.confirmed_by else "")]
    if lk.note:
        lines.append(f"        note: {lk.note}")
    if lw.problems:
        lines.append(f"        PROBLEM recorded: {', '.join(lw.problems)}")
    if not lk.live:
        lines.append(f"        removed {lk.removed_at} by {lk.removed_by}"
                     + (f": {lk.removed_reason}" if lk.removed_reason else ""))
    return lines


@click.group(cls=Group)
def article() -> None:
    """Articles whose claims and references the desk keeps.

    \b
    Examples:
      refkeeper article add "Treatment of the sacroiliac joint in patients with leg pain" \\
        --url https://example.org/sij --text-file article.txt
      refkeeper article list
      refkeeper article show 1 --bibtex
    """


@article.command("add")
@click.argument("title")
@click.option("--url", help="Where the article is published.")
@click.option("--slug", help="A short name to use instead of its ID (default: made from the title).")
@click.option("--text-file", help="The article's text (- for stdin), to propose claims from.")
@by_option
@json_option
@pass_ctx
def article_add(ctx: Context, title, url, slug, text_file, actor, as_json) -> None:
    """Add an article."""
    text = read_text_arg(text_file) if text_file else None
    art = refkeeper.workflow.add_article(ctx.store, title, url=url, slug=slug, text=text, actor=actor)
    if as_json:
        echo_json(art.to_json())
    else:
        click.echo(f"article {art.id} added  ({art.slug})  {art.title}")


@article.command("list")
@json_option
@pass_ctx
def article_list(ctx: Context, as_json) -> None:
    """List the articles."""
    arts = refkeeper.workflow.articles(ctx.store)
    if as_json:
        echo_json([a.to_json() for a in arts])
        return
    for a in arts:
        n = len(refkeeper.workflow.claims(ctx.store, a.id))
        click.echo(f"{a.id:>4}  {a.slug or '':<30}  {clip(a.title, 60)}  ({n} claims)")


@article.command("show")
@click.argument("article_ref", metavar="ARTICLE")
@json_option
@click.option("--bibtex", is_flag=True, help="Print BibTeX for the article's works instead.")
@click.option("--stance", help="With --bibtex: only works with this stance (supports, contests, mentions).")
@pass_ctx
def article_show(ctx: Context, article_ref, as_json, bibtex, stance) -> None:
    """Show an article (ID or slug): its claims with their linked works, and its requests."""
    store = ctx.store
    art = refkeeper.workflow.get_article(store, article_ref)
    if bibtex or stance:
        if not bibtex:
            raise UsageError("--stance goes with --bibtex here")
        print_bibtex(store, refkeeper.workflow.works_for(store, article=art.id, stance=stance))
        return
    reports = [refkeeper.workflow.claim_report(store, c) for c in refkeeper.workflow.claims(store, art.id)]
    reqs = refkeeper.workflow.requests(store, article=art.id)
    if as_json:
        echo_json({"article": art.to_json(), "claims": [r.to_json() for r in reports],
                    "requests": [r.to_json() for r in reqs]})
        return
    click.echo(f"article {art.id}  ({art.slug})  {art.title}")
    if art.url:
        click.echo(f"  {art.url}")
    for r in reports:
        counts = ", ".join(f"{len(r.by_stance(s))} {s}" for s in refkeeper.workflow.STANCES)
        click.echo(f"  claim {r.claim.id}: {clip(r.claim.text, 90)}  [{counts}]")
        for flag in r.flags:
            click.echo(f"    ! {flag}")
    for q in reqs:
        click.echo(f"  request {q.id} ({q.status}) from {q.reader}"
                   + (f" on claim {q.claim_id}" if q.claim_id else ""))


@click.group(cls=Group)
def claim() -> None:
    """Claims: statements in an article, with the works that support or contest them.

    \b
    Examples:
      refkeeper claim add 1 "Manual therapy helped 72% of patients, physiotherapy 20%" --where "para 2"
      refkeeper claim propose 1              # sentences with findings, numbered
      refkeeper claim propose 1 --keep 2 --keep 3
      refkeeper claim show 3
      refkeeper claim show 3 --bibtex --stance contests
    """


@claim.command("add")
@click.argument("article_ref", metavar="ARTICLE")
@click.argument("text")
@click.option("--where", "location", help="Where it sits: a paragraph number, an anchor.")
@click.option("--quote", help="The article's own words, when TEXT paraphrases them.")
@by_option
@json_option
@pass_ctx
def claim_add(ctx: Context, article_ref, text, location, quote, actor, as_json) -> None:
    """Add a claim (TEXT, in your words) to ARTICLE (ID or slug)."""
    c = refkeeper.workflow.add_claim(ctx.store, article_ref, text, location=location, quote=quote,
                                     actor=actor)
    if as_json:
        echo_json(c.to_json())
    else:
        click.echo(f"claim {c.id} added to article {c.article_id}: {clip(c.text, 90)}")


@claim.command("list")
@click.option("--article", "article_ref", metavar="ARTICLE", help="Only this article's claims.")
@json_option
@pass_ctx
def claim_list(ctx: Context, article_ref, as_json) -> None:
    """List claims with how many works support, contest or mention each."""
    claims = refkeeper.workflow.claims(ctx.store, article_ref)
    reports = [refkeeper.workflow.claim_report(ctx.store, c) for c in claims]
    if as_json:
        echo_json([r.to_json() for r in reports])
        return
    for r in reports:
        counts = " ".join(f"{s[0]}{len(r.by_stance(s))}" for s in refkeeper.workflow.STANCES)
        flag = "  !" if r.flags else ""
        click.echo(f"{r.claim.id:>4}  article {r.claim.article_id:<3} [{counts}]{flag}  "
                   f"{clip(r.claim.text, 80)}")


@claim.command("show")
@click.argument("claim_id", metavar="CLAIM", type=CLAIM_ID)
@click.option("--removed", is_flag=True, help="Also list removed links.")
@json_option
@click.option("--bibtex", is_flag=True, help="Print BibTeX for the claim's works instead.")
@click.option("--stance", help="With --bibtex: only works with this stance (supports, contests, mentions).")
@pass_ctx
def claim_show(ctx: Context, claim_id, removed, as_json, bibtex, stance) -> None:
    """Show a claim: supporting, contesting and mentioning works, and any flag.

    A claim whose only support is a work with a problem recorded (retraction,
    correction, a dead DOI) is flagged with '!'.
    """
    store = ctx.store
    if bibtex or stance:
        if not bibtex:
            raise UsageError("--stance goes with --bibtex here")
        print_bibtex(store, refkeeper.workflow.works_for(store, claim=claim_id, stance=stance))
        return
    rep = refkeeper.workflow.claim_report(store, claim_id, include_removed=removed)
    if as_json:
        echo_json(rep.to_json())
        return
    c = rep.claim
    click.echo(f"claim {c.id} · article {rep.article.id} “{clip(rep.article.title, 70)}”"
               + (f" · {c.location}" if c.location else ""))
    click.echo(f"  {c.text}")
    if c.quote and c.quote != c.text:
        click.echo(f"  quote: “{c.quote}”")
    for flag in rep.flags:
        click.echo(click.style(f"  ! {flag}", fg="red", bold=True))
    for stance_name in refkeeper.workflow.STANCES:
        group = [lw for lw in rep.links if lw.link.stance == stance_name]
        live = sum(1 for lw in group if lw.link.live)
        gone = len(group) - live
        click.echo(f"  {stance_name}: {live or 'none'}" + (f" (+{gone} removed)" if gone else ""))
        for lw in group:
            for line in _link_line(lw):
                click.echo(line)


@claim.command("propose")
@click.argument("article_ref", metavar="ARTICLE")
@click.option("--keep", "keep", multiple=True, metavar="N", help="Keep proposal N as a claim (repeatable).")
@click.option("--keep-all", is_flag=True, help="Keep every proposal.")
@by_option
@json_option
@pass_ctx
def claim_propose(ctx: Context, article_ref, keep, keep_all, actor, as_json) -> None:
    """Propose claims from the article's text: sentences with figures, p-values,
    comparisons or positions ("gold standard"). Keep some with --keep N; the rest
    are dropped (nothing is stored until kept)."""
    if keep or keep_all:
        kept = refkeeper.workflow.keep_proposed(ctx.store, article_ref, "all" if keep_all else keep,
                                                actor=actor)
        if as_json:
            echo_json([c.to_json() for c in kept])
        else:
            for c in kept:
                click.echo(f"claim {c.id} kept ({c.location}): {clip(c.text, 90)}")
            if not kept:
                click.echo("nothing new to keep (already kept)", err=True)
        return
    proposals = refkeeper.workflow.propose(ctx.store, article_ref)
    if as_json:
        echo_json([p.to_json() for p in proposals])
        return
    for p in proposals:
        click.echo(f"{p.number:>3}. [{', '.join(p.reasons)}; {p.location}]")
        click.echo(f"     {p.text}")
    if proposals:
        click.echo("keep some with: refkeeper claim propose ARTICLE --keep N [--keep N ...]", err=True)


@click.command("link")
@click.argument("claim_id", metavar="CLAIM", type=CLAIM_ID)
@click.argument("doi")
@click.option("--stance", required=True, help="supports, contests or mentions.")
@click.option("--note", help="A note or quote: why the work bears on the claim.")
@click.option("--asserted-by", default="editor", show_default=True,
              help="Who asserts the link: editor, reader or imported.")
@click.option("--name", "asserted_by_name", help="The reader's name (or the import's source).")
@click.option("--unconfirmed", is_flag=True, help="Record an editor's link as not yet confirmed.")
@by_option
@json_option
@pass_ctx
def link_cmd(ctx: Context, claim_id, doi, stance, note, asserted_by, asserted_by_name, unconfirmed,
             actor, as_json) -> None:
    """Link the stored work DOI to CLAIM with a stance.

    Linking a work a reader already linked, with the same stance, confirms it.
    The work must be stored first (`refkeeper add DOI`, or resolved).

    \b
    Example:
      refkeeper link 3 10.1007/s00776-007-1126-1 --stance contests \\
        --note "periarticular injections did better than intra-articular"
    """
    confirmed = False if unconfirmed else None
    lk = refkeeper.workflow.link(ctx.store, claim_id, doi, stance, note=note, asserted_by=asserted_by,
                                 asserted_by_name=asserted_by_name, confirmed=confirmed, actor=actor)
    if as_json:
        echo_json(lk.to_json())
    else:
        state = "confirmed" if lk.confirmed else "unconfirmed"
        click.echo(f"link {lk.id}: claim {lk.claim_id} {lk.stance} ← {lk.doi}  ({lk.asserted_by}, {state})")


@click.command("unlink")
@click.argument("claim_id", metavar="CLAIM", type=CLAIM_ID)
@click.argument("doi")
@click.option("--reason", help="Why the link is removed (kept in the history).")
@by_option
@json_option
@pass_ctx
def unlink_cmd(ctx: Context, claim_id, doi, reason, actor, as_json) -> None:
    """Remove the link between CLAIM and DOI (it stays visible in the history)."""
    lk = refkeeper.workflow.unlink(ctx.store, claim_id, doi, reason=reason, actor=actor)
    if as_json:
        echo_json(lk.to_json())
    else:
        click.echo(f"link {lk.id} removed: claim {lk.claim_id} no longer {lk.stance} ← {lk.doi}")


@click.command("history")
@click.option("--article", "article_ref", metavar="ARTICLE", help="Only changes to this article.")
@click.option("--claim", "claim_id", metavar="CLAIM", type=CLAIM_ID, help="Only changes to this claim.")
@click.option("--request", "request_id", metavar="REQUEST", type=REQUEST_ID,
              help="Only changes to this request.")
@click.option("--doi", help="Only changes involving this work.")
@json_option
@pass_ctx
def history_cmd(ctx: Context, article_ref, claim_id, request_id, doi, as_json) -> None:
    """The append-only record of changes to articles, claims, links and requests."""
    entries = refkeeper.workflow.history(ctx.store, article=article_ref, claim=claim_id, request=request_id,
                                         doi=doi)
    if as_json:
        echo_json([e.to_json() for e in entries])
        return
    for e in entries:
        refs_ = " ".join(f"{k} {v}" for k, v in (("article", e.article_id), ("claim", e.claim_id),
                                                  ("link", e.link_id), ("request", e.request_id),
                                                  ("doi", e.doi)) if v is not None)
        # Stored to the microsecond (one clock for ordering); people read it to the second.
        when = e.at[:19].replace("T", " ") + (" UTC" if e.at.endswith("+00:00") else "")
        click.echo(f"{when}  {e.actor:<12} {e.action:<18} {refs_}")
        d = e.details
        if e.action == "merge":
            click.echo(f"    merged {d['before']['drop']['key']} into {d['before']['keep']['key']}"
                       + (f" — {d['reason']}" if d.get("reason") else ""))
        elif e.action == "link.remove":
            click.echo(f"    removed: {d['link']['stance']} {d['link']['doi']}"
                       + (f" — {d['reason']}" if d.get("reason") else ""))
        elif "before" in d or "after" in d:
            click.echo(f"    before: {d.get('before')!r}  after: {d.get('after')!r}")
        elif e.action == "request.decline":
            click.echo(f"    reason: {d.get('reason')}")
