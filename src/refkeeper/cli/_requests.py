"""Readers' reference requests and the reference lists they paste.

Thin commands over refkeeper.workflow: parse, call one function, print.
"""

from __future__ import annotations

import sys

import click

import refkeeper

from .._errors import UsageError
from .._models import ERROR
from ._common import (
    CLAIM_ID,
    EXIT_FINDINGS,
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


@click.group(cls=Group)
def request() -> None:
    """Readers' reference requests: the queue, answers and replies to post.

    \b
    Examples:
      refkeeper request add --article 1 --claim 3 --reader "Jerry Hesch" \\
        --from-file comment.txt --stance contests --offline
      refkeeper request list --open              # the queue, oldest first
      refkeeper request answer 1 --reuse         # with what is known for the claim
      refkeeper request answer 1 --doi 10.1007/s00586-013-2833-2
      refkeeper request reply 1 --markdown
      refkeeper request decline 2 --reason "asks for medical advice"
    """


def _print_pasted(pasted, claim_id) -> None:
    for r in pasted.references:
        head = r.status.upper()
        if r.doi:
            click.echo(f"  {r.position}. {head:<9} {r.doi}  {clip(r.text, 80)}")
        elif r.status == "ambiguous":
            click.echo(f"  {r.position}. {head:<9} candidates {', '.join(r.candidates[:3])}: an editor "
                       f"should choose  {clip(r.text, 60)}")
        else:
            why = r.error or "no DOI found; kept as written"
            click.echo(f"  {r.position}. {head:<9} ({why})  {clip(r.text, 80)}")
    for lk in pasted.links:
        click.echo(f"  linked {lk.doi} to claim {lk.claim_id} as '{lk.stance}' (asserted by "
                   f"{lk.asserted_by_name}, unconfirmed): confirm with "
                   f"`refkeeper link {lk.claim_id} {lk.doi} --stance {lk.stance}`")
    for why in pasted.skipped:
        click.echo(f"  not linked: {why}")
    matched = [r for r in pasted.references if r.doi]
    if matched and not pasted.links and not pasted.skipped:
        target = claim_id if claim_id else "CLAIM"
        for r in matched:
            click.echo(f"  to link: refkeeper link {target} {r.doi} --stance supports|contests|mentions")


@request.command("add")
@click.option("--article", "article_ref", required=True, metavar="ARTICLE", help="Article ID or slug.")
@click.option("--claim", "claim_id", metavar="CLAIM", type=CLAIM_ID,
              help="The claim the request is about, if one.")
@click.option("--reader", required=True, help="The reader's name or handle.")
@click.option("--contact", help="How to reach the reader.")
@click.option("--text", help="The reader's own words.")
@click.option("--from-file", "from_file", metavar="FILE",
              help="The reader's comment or reference list pasted whole (- for stdin): "
                   "references are split out and resolved, the rest is the reader's words.")
@click.option("--stance", help="What the reader says the references do to the claim: link them "
                               "(as the reader's, unconfirmed) as supports, contests or mentions.")
@click.option("--received", help="When the reader asked (ISO date; default now).")
@click.option("--offline", is_flag=True, help="Resolve the references from the database only.")
@by_option
@json_option
@pass_ctx
def request_add(ctx: Context, article_ref, claim_id, reader, contact, text, from_file, stance, received,
                offline, actor, as_json) -> None:
    """Record a reader's request for references (and the references the reader gave).

    Exit code 1 if resolving a reference ended in error (it is kept, without a DOI).
    """
    store = ctx.store
    if from_file is None:
        if stance:
            raise UsageError("--stance applies to the references in --from-file")
        req = refkeeper.workflow.add_request(store, article_ref, reader, text=text, claim=claim_id,
                                             contact=contact, received_at=received, actor=actor)
        if as_json:
            echo_json(refkeeper.workflow.request_report(store, req.id).to_json())
        else:
            click.echo(f"request {req.id} added (open) from {req.reader}")
        return
    comment = read_text_arg(from_file)
    pasted = refkeeper.workflow.add_request_from_comment(
        store, article_ref, reader, comment, ctx.resolver(offline=offline), claim=claim_id,
        stance=stance, contact=contact, text=text, received_at=received, actor=actor,
    )
    _finish_pasted(store, pasted, as_json, f"request {pasted.request.id} added (open) from {reader}")


def _finish_pasted(store, pasted, as_json, headline) -> None:
    if as_json:
        out = refkeeper.workflow.request_report(store, pasted.request.id).to_json()
        out["linked"] = [lk.to_json() for lk in pasted.links]
        out["not_linked"] = pasted.skipped
        echo_json(out)
    else:
        n = len(pasted.references)
        unresolved = sum(1 for r in pasted.references if not r.doi)
        click.echo(f"{headline}: {n} reference{'s' * (n != 1)}, {n - unresolved} matched, "
                   f"{unresolved} without a DOI")
        _print_pasted(pasted, pasted.request.claim_id)
    if any(r.status == ERROR for r in pasted.references):
        sys.exit(EXIT_FINDINGS)


@request.command("refs")
@click.argument("request_id", metavar="REQUEST", type=REQUEST_ID)
@click.argument("file")
@click.option("--stance", help="Link the matched references to the request's claim with this stance.")
@click.option("--offline", is_flag=True, help="Resolve from the database only.")
@by_option
@json_option
@pass_ctx
def request_refs(ctx: Context, request_id, file, stance, offline, actor, as_json) -> None:
    """Add the references a reader pasted later (FILE, - for stdin) to REQUEST."""
    store = ctx.store
    pasted = refkeeper.workflow.add_reader_references(
        store, request_id, read_text_arg(file), ctx.resolver(offline=offline), stance=stance,
        actor=actor,
    )
    _finish_pasted(store, pasted, as_json, f"request {pasted.request.id}")


@request.command("list")
@click.option("--open", "only_open", is_flag=True,
              help="The queue: open requests, oldest first, with what is known for each claim.")
@click.option("--status", help="Only requests with this status (open, answered, declined).")
@click.option("--article", "article_ref", metavar="ARTICLE", help="Only this article's requests.")
@json_option
@pass_ctx
def request_list(ctx: Context, only_open, status, article_ref, as_json) -> None:
    """List requests, oldest first. With --open: the queue, showing for each request the
    confirmed links and earlier answers for its claim, so it can be answered in one step."""
    store = ctx.store
    if only_open and status and status != "open":
        raise UsageError("--open and --status disagree")
    reqs = refkeeper.workflow.requests(store, status="open" if only_open else status, article=article_ref)
    reports = [refkeeper.workflow.request_report(store, r) for r in reqs]
    if as_json:
        echo_json([r.to_json() for r in reports])
        return
    for rep in reports:
        q = rep.request
        where = f"article {rep.article.id} “{clip(rep.article.title, 40)}”"
        if rep.claim:
            where += f" · claim {rep.claim.id} “{clip(rep.claim.text, 50)}”"
        click.echo(f"#{q.id}  {q.status:<8} {(q.received_at or '')[:10]}  {q.reader}  · {where}")
        if q.text:
            click.echo(f"    “{clip(q.text, 100)}”")
        if rep.references:
            matched = sum(1 for r in rep.references if r.doi)
            click.echo(f"    reader's references: {len(rep.references)} ({matched} matched, "
                       f"{len(rep.references) - matched} without a DOI)")
        if q.status == "declined":
            click.echo(f"    declined: {q.reason}")
        if q.status == "answered":
            click.echo(f"    answered with {len(rep.answer)} work{'s' * (len(rep.answer) != 1)}")
        if q.status == "open" and only_open:
            if rep.known:
                for lw in rep.known.links:
                    click.echo(f"    known: {lw.link.stance} {lw.link.doi}  {describe(lw.work)}"
                               + (f"  PROBLEM: {', '.join(lw.problems)}" if lw.problems else ""))
                for rid, doi, s in rep.known.earlier:
                    click.echo(f"    given before (request {rid}): {s or 'reference'} {doi}")
                click.echo(f"    answer in one step: refkeeper request answer {q.id} --reuse")
            else:
                click.echo("    nothing known yet for this claim")


@request.command("show")
@click.argument("request_id", metavar="REQUEST", type=REQUEST_ID)
@json_option
@click.option("--bibtex", is_flag=True, help="Print BibTeX for the request's works instead.")
@click.option("--stance", help="With --bibtex: only answer works with this stance.")
@pass_ctx
def request_show(ctx: Context, request_id, as_json, bibtex, stance) -> None:
    """Show a request: the reader's words and references, the answer, what is known."""
    store = ctx.store
    if bibtex or stance:
        if not bibtex:
            raise UsageError("--stance goes with --bibtex here")
        print_bibtex(store, refkeeper.workflow.works_for(store, request=request_id, stance=stance))
        return
    rep = refkeeper.workflow.request_report(store, request_id)
    if as_json:
        echo_json(rep.to_json())
        return
    q = rep.request
    click.echo(f"request {q.id} ({q.status}) from {q.reader}" + (f" <{q.contact}>" if q.contact else "")
               + f", received {q.received_at}")
    click.echo(f"  article {rep.article.id}: {rep.article.title}")
    if rep.claim:
        click.echo(f"  claim {rep.claim.id}: {rep.claim.text}")
    if q.text:
        click.echo("  reader's words:")
        for para in q.text.split("\n\n"):
            click.echo(f"    {para}")
    if rep.references:
        click.echo("  reader's references:")
        for r in rep.references:
            tail = r.doi or (f"candidates: {', '.join(r.candidates[:3])}" if r.candidates else "no DOI")
            click.echo(f"    {r.position}. {r.status.upper():<9} {tail}")
            click.echo(f"       {r.text}")
    if rep.answer:
        click.echo("  answer:")
        for w, s in rep.answer:
            click.echo(f"    {s or 'reference':<9} {w.doi}  {describe(w)}")
    if q.note:
        click.echo(f"  note: {q.note}")
    if q.reason:
        click.echo(f"  declined: {q.reason}")


@request.command("answer")
@click.argument("request_id", metavar="REQUEST", type=REQUEST_ID)
@click.option("--doi", "dois", multiple=True, help="A stored work given in answer (repeatable).")
@click.option("--reuse", is_flag=True,
              help="Also give everything known for the claim (see `request list --open`).")
@click.option("--stance", help="The stance of the given works (default: from their links to the claim).")
@click.option("--note", help="Your words to post with the references.")
@by_option
@json_option
@pass_ctx
def request_answer(ctx: Context, request_id, dois, reuse, stance, note, actor, as_json) -> None:
    """Answer REQUEST with stored works; it becomes answered. Print the reply with `request reply`."""
    rep = refkeeper.workflow.answer_request(ctx.store, request_id, dois=dois, stance=stance, note=note,
                                            reuse=reuse, actor=actor)
    if as_json:
        echo_json(rep.to_json())
        return
    n = len(rep.answer)
    click.echo(f"request {rep.request.id} answered with {n} work{'s' * (n != 1)}:")
    for w, s in rep.answer:
        click.echo(f"  {s or 'reference':<9} {w.doi}  {describe(w)}")


@request.command("reply")
@click.argument("request_id", metavar="REQUEST", type=REQUEST_ID)
@click.option("--style", default="vancouver", show_default=True, help="vancouver or apa.")
@click.option("--markdown", is_flag=True, help="Markdown (links, bold headings) instead of plain text.")
@click.option("--no-unresolved", is_flag=True, help="Leave out the reader's references that matched no DOI.")
@pass_ctx
def request_reply(ctx: Context, request_id, style, markdown, no_unresolved) -> None:
    """Print the answer to post: the references given, with DOI links, grouped by stance."""
    fmt = "markdown" if markdown else "text"
    text = refkeeper.workflow.reply(ctx.store, request_id, style=style, fmt=fmt,
                                    include_unresolved=not no_unresolved)
    click.echo(text, nl=False)


@request.command("decline")
@click.argument("request_id", metavar="REQUEST", type=REQUEST_ID)
@click.option("--reason", required=True, help="Why (kept with the request).")
@by_option
@pass_ctx
def request_decline(ctx: Context, request_id, reason, actor) -> None:
    """Decline an open request, with a reason."""
    q = refkeeper.workflow.decline_request(ctx.store, request_id, reason, actor=actor)
    click.echo(f"request {q.id} declined: {q.reason}")


@click.group(cls=Group)
def refs() -> None:
    """Reference lists as readers paste them."""


@refs.command("split")
@click.argument("file")
@click.option("--resolve", "do_resolve", is_flag=True, help="Also resolve each reference.")
@click.option("--offline", is_flag=True, help="With --resolve: from the database only.")
@json_option
@pass_ctx
def refs_split(ctx: Context, file, do_resolve, offline, as_json) -> None:
    """Split a pasted comment or reference list (FILE, - for stdin) into single references.

    Numbered, bulleted, blank-line separated, one per line or run together; lines
    wrapped by a mail client are joined back. Prose around the list is left out.
    """
    # Imported here, not at the top, so that `refkeeper --help` does not load the workflow.
    from ..workflow import split_text

    chunks = [c for c in split_text(read_text_arg(file)) if c.is_reference]
    answers = None
    if do_resolve:
        answers = list(ctx.resolver(offline=offline).resolve_many([c.text for c in chunks]))
    if as_json:
        out = []
        for i, c in enumerate(chunks):
            item = {"position": i + 1, "line": c.line, "text": c.text}
            if answers is not None:
                item["resolution"] = answers[i].to_json()
            out.append(item)
        echo_json(out)
    else:
        for i, c in enumerate(chunks):
            if answers is None:
                click.echo(f"{i + 1}. {c.text}")
            else:
                a = answers[i]
                click.echo(f"{i + 1}. {a.status.upper():<9} {a.doi or ''}  {c.text}")
    if answers is not None and any(a.status == ERROR for a in answers):
        sys.exit(EXIT_FINDINGS)
