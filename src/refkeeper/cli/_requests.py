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

    \b
    Correcting how a pasted comment was split:
      refkeeper request chunks 1                 # references and prose, with their lines
      refkeeper request merge 1 2                # references 2 and 3 were one
      refkeeper request split 1 2 --at 7         # reference 2 was two: the second starts on line 7
      refkeeper request split 1 2 --at "Killeen, P. R."   # ... or at these words
      refkeeper request not-ref 1 4              # reference 4 is the reader's prose
      refkeeper request is-ref 1 12              # prose chunk 12 is a reference
    """


def _lines(line, end_line) -> str:
    if line is None:
        return "lines ?"
    return f"line {line}" if end_line in (None, line) else f"lines {line}-{end_line}"


def _print_chunks(chunks, request_id=None) -> None:
    """How a comment was split: each chunk with its input lines, reference or prose."""
    for c in chunks:
        if c.kind == "reference":
            head = f"ref {c.number}"
            status = c.reference.status if c.reference is not None else ""
            if c.reference is not None and c.reference.pending:
                status = "pending"
        else:
            head, status = f"prose #{c.number}" if request_id else "prose", ""
        click.echo(f"  {head:<10} {_lines(c.line, c.end_line):<12} {status:<9} {clip(c.text, 70)}")
    if request_id is not None:
        click.echo(f"  wrong? refkeeper request merge|split|not-ref|is-ref {request_id} ..."
                   " (see `refkeeper request merge --help`)")


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
        out["split"] = [c.to_json() for c in refkeeper.workflow.request_chunks(store, pasted.request.id)]
        echo_json(out)
    else:
        n = len(pasted.references)
        unresolved = sum(1 for r in pasted.references if not r.doi)
        click.echo(f"{headline}: {n} reference{'s' * (n != 1)}, {n - unresolved} matched, "
                   f"{unresolved} without a DOI")
        _print_pasted(pasted, pasted.request.claim_id)
        click.echo("how the comment was split:")
        _print_chunks(refkeeper.workflow.request_chunks(store, pasted.request.id), pasted.request.id)
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
            click.echo(f"    {s or 'reference':<9} {w.key}  {describe(w)}")
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
        click.echo(f"  {s or 'reference':<9} {w.key}  {describe(w)}")


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
    wrapped by a mail client are joined back. Every chunk is printed with the input lines
    it came from, numbered if it is a reference, marked "prose" if it is taken for the
    reader's words (with --json: "kind", "line", "end_line", and "position" for references).
    """
    # Imported here, not at the top, so that `refkeeper --help` does not load the workflow.
    from ..workflow import split_text

    everything = split_text(read_text_arg(file))
    chunks = [c for c in everything if c.is_reference]
    answers = None
    if do_resolve:
        answers = list(ctx.resolver(offline=offline).resolve_many([c.text for c in chunks]))
    answer_of = dict(zip(map(id, chunks), answers, strict=True)) if answers is not None else {}
    if as_json:
        out, n = [], 0
        for c in everything:
            item = {"kind": c.kind, "line": c.line, "end_line": c.end_line or c.line, "marker": c.marker,
                    "text": c.text}
            if c.is_reference:
                n += 1
                item["position"] = n
                if answers is not None:
                    item["resolution"] = answer_of[id(c)].to_json()
            out.append(item)
        echo_json(out)
    else:
        n = 0
        for c in everything:
            where = _lines(c.line, c.end_line)
            if not c.is_reference:
                click.echo(f"   prose  {where:<12} {clip(c.text, 70)}")
                continue
            n += 1
            if answers is None:
                click.echo(f"{n:>2}. ref    {where:<12} {c.text}")
            else:
                a = answer_of[id(c)]
                click.echo(f"{n:>2}. ref    {where:<12} {a.status.upper():<9} {a.doi or ''}  {c.text}")
    if answers is not None and any(a.status == ERROR for a in answers):
        sys.exit(EXIT_FINDINGS)


# -- correcting how a reader's comment was split ------------------------------------------------


def _print_ref(ref) -> None:
    tail = ref.doi or (f"candidates {', '.join(ref.candidates[:3])}" if ref.candidates else "no DOI")
    click.echo(f"  ref {ref.position:<5} {_lines(ref.line, ref.end_line):<12} {ref.status.upper():<9} {tail}"
               f"  {clip(ref.text, 60)}")


@request.command("chunks")
@click.argument("request_id", metavar="REQUEST", type=REQUEST_ID)
@json_option
@pass_ctx
def request_chunks(ctx: Context, request_id, as_json) -> None:
    """How REQUEST's comment is split now: its references (numbered as the corrections
    take them) and the chunks taken for prose (#ID, for `request is-ref`), in the comment's
    order, each with the lines of the comment it came from."""
    chunks = refkeeper.workflow.request_chunks(ctx.store, request_id)
    if as_json:
        echo_json([c.to_json() for c in chunks])
        return
    if not chunks:
        click.echo(f"request {request_id} has no pasted comment or references")
        return
    _print_chunks(chunks, request_id)


@request.command("merge")
@click.argument("request_id", metavar="REQUEST", type=REQUEST_ID)
@click.argument("number", metavar="N", type=int)
@click.option("--offline", is_flag=True, help="Resolve from the database only.")
@by_option
@json_option
@pass_ctx
def request_merge(ctx: Context, request_id, number, offline, actor, as_json) -> None:
    """Reference N of REQUEST and the next one are one reference: join them and resolve it.

    The later references move up one. Numbers as in `refkeeper request chunks REQUEST`.
    """
    ref = refkeeper.workflow.merge_references(ctx.store, request_id, number, ctx.resolver(offline=offline),
                                              actor=actor)
    if as_json:
        echo_json(ref.to_json())
        return
    click.echo(f"request {request_id}: references {number} and {number + 1} merged")
    _print_ref(ref)


@request.command("split")
@click.argument("request_id", metavar="REQUEST", type=REQUEST_ID)
@click.argument("number", metavar="N", type=int)
@click.option("--at", "at", required=True, metavar="LINE|TEXT",
              help="Where the second reference begins: a line of the comment (see `request chunks`) "
                   "or the words it begins with, as written in reference N.")
@click.option("--offline", is_flag=True, help="Resolve from the database only.")
@by_option
@json_option
@pass_ctx
def request_split(ctx: Context, request_id, number, at, offline, actor, as_json) -> None:
    """Reference N of REQUEST is two references: cut it --at a line or words; both are resolved.

    \b
    Examples:
      refkeeper request split 3 2 --at 7
      refkeeper request split 3 2 --at "Kroschwald S"
    """
    refs = refkeeper.workflow.split_reference(ctx.store, request_id, number, at,
                                              ctx.resolver(offline=offline), actor=actor)
    if as_json:
        echo_json([r.to_json() for r in refs])
        return
    click.echo(f"request {request_id}: reference {number} split in two")
    for r in refs:
        _print_ref(r)


@request.command("not-ref")
@click.argument("request_id", metavar="REQUEST", type=REQUEST_ID)
@click.argument("number", metavar="N", type=int)
@by_option
@json_option
@pass_ctx
def request_not_ref(ctx: Context, request_id, number, actor, as_json) -> None:
    """Reference N of REQUEST is the reader's prose, not a reference: take it out of the list.

    It is kept with the request as a prose chunk (`request is-ref` brings it back); the later
    references move up one. A link already made from it is not removed (`refkeeper unlink`).
    """
    chunk = refkeeper.workflow.mark_not_reference(ctx.store, request_id, number, actor=actor)
    if as_json:
        echo_json(chunk.to_json())
        return
    click.echo(f"request {request_id}: reference {number} is now prose #{chunk.id}"
               f" ({_lines(chunk.line, chunk.end_line)}): {clip(chunk.text, 60)}")


@request.command("is-ref")
@click.argument("request_id", metavar="REQUEST", type=REQUEST_ID)
@click.argument("chunk", metavar="CHUNK", type=int)
@click.option("--offline", is_flag=True, help="Resolve from the database only.")
@by_option
@json_option
@pass_ctx
def request_is_ref(ctx: Context, request_id, chunk, offline, actor, as_json) -> None:
    """Prose chunk CHUNK of REQUEST (#ID in `request chunks`) is a reference: resolve it and
    put it in the reader's list where it was in the comment."""
    ref = refkeeper.workflow.mark_reference(ctx.store, request_id, chunk, ctx.resolver(offline=offline),
                                            actor=actor)
    if as_json:
        echo_json(ref.to_json())
        return
    click.echo(f"request {request_id}: prose #{chunk} is now reference {ref.position}")
    _print_ref(ref)


@request.command("resolve")
@click.argument("request_id", metavar="REQUEST", type=REQUEST_ID)
@click.option("--offline", is_flag=True, help="Resolve from the database only.")
@by_option
@json_option
@pass_ctx
def request_resolve(ctx: Context, request_id, offline, actor, as_json) -> None:
    """Resolve REQUEST's references still pending (the desk stopped before resolving them)."""
    pasted = refkeeper.workflow.resolve_remaining(ctx.store, request_id, ctx.resolver(offline=offline),
                                                  actor=actor)
    if as_json:
        echo_json([r.to_json() for r in pasted.references])
        return
    click.echo(f"request {request_id}: {len(pasted.references)} pending reference"
               f"{'s' * (len(pasted.references) != 1)} resolved")
    for r in pasted.references:
        _print_ref(r)
