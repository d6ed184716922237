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
from .export import FORMATS as EXPORT_FORMATS
from .export import check_key, export_works, store_notes
from .models import ERROR, MATCHED, Resolution, Work, normalize_doi
from .resolve import Resolver, Undecodable
from .store import Store
from .styles import STYLES

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
    for note in res.notes:
        click.echo(f"  note: {note}")
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
    "--format", "fmt", type=click.Choice(list(EXPORT_FORMATS)), default="bibtex", show_default=True,
    help="bibtex, csl-json (Zotero, Pandoc), ris (EndNote, Mendeley), or a reference list "
         "to paste: text, markdown, html.",
)
@click.option("--style", type=click.Choice(list(STYLES)), default="vancouver", show_default=True,
              help="Citation style of text, markdown and html reference lists.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to FILE instead of stdout.")
@click.option("--ascii", "ascii_only", is_flag=True,
              help="ASCII only: LaTeX escapes in BibTeX (classic bibtex), \\u escapes in CSL-JSON.")
@click.option("--article", help="Only the works linked to this article's claims or given in its answers.")
@click.option("--claim", help="Only the works linked to this claim.")
@click.option("--request", "request_id", help="Only the works given in answer to this reader request.")
@click.option("--stance", type=click.Choice(["supports", "contests", "mentions"]),
              help="Only works linked with this stance (alone: across all claims).")
@pass_ctx
def export(ctx: Context, dois, fmt, style, output, ascii_only, article, claim, request_id, stance) -> None:
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
    """
    store = ctx.store
    chosen = [normalize_doi(_bare_doi(d)) for d in dois] or None
    if any(x is not None for x in (article, claim, request_id, stance)):
        if chosen:
            raise UsageError("give DOIs or --article/--claim/--request/--stance, not both")
        chosen = _workflow().works_for(store, article=article, claim=claim, request=request_id,
                                       stance=stance)
    works = store.works(chosen) if chosen is not None else store.works()
    keys = store.bibtex_keys()
    notes = store_notes(store, chosen)
    if output:
        tmp = output + ".part"
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                n, used = export_works(works, fh, fmt, keys=keys, notes=notes, style=style,
                                       ascii=ascii_only)
            os.replace(tmp, output)  # never leave a half-written file behind
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        click.echo(f"wrote {n} entries to {output}", err=True)
    else:
        n, used = export_works(works, sys.stdout, fmt, keys=keys, notes=notes, style=style,
                               ascii=ascii_only)
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
# Thin commands over refkeeper.workflow: parse, call one function, print.


def _workflow():
    from . import workflow  # imported when used: `refkeeper resolve` need not load it

    return workflow


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
    from .errors import InputError

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
    click.echo(_workflow().bibtex_for(store, dois), nl=False)


def _link_line(lw) -> list[str]:
    lk, w = lw.link, lw.work
    state = "confirmed" if lk.confirmed else "unconfirmed"
    who = lk.asserted_by + (f" {lk.asserted_by_name}" if lk.asserted_by_name else "")
    if lk.request_id:
        who += f" (request {lk.request_id})"
    lines = [f"    [link {lk.id}] {lk.doi}  {_describe(w)}",
             f"        {_clip(w.title or '(no title)', 90)}",
             f"        asserted by {who}, {state}" + (f" by {lk.confirmed_by}" if lk.confirmed_by else "")]
    if lk.note:
        lines.append(f"        note: {lk.note}")
    if lw.problems:
        lines.append(f"        PROBLEM recorded: {', '.join(lw.problems)}")
    if not lk.live:
        lines.append(f"        removed {lk.removed_at} by {lk.removed_by}"
                     + (f": {lk.removed_reason}" if lk.removed_reason else ""))
    return lines


@cli.group(cls=_Group)
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
@_by_option
@_json_option
@pass_ctx
def article_add(ctx: Context, title, url, slug, text_file, actor, as_json) -> None:
    """Add an article."""
    text = _read_text_arg(text_file) if text_file else None
    art = _workflow().add_article(ctx.store, title, url=url, slug=slug, text=text, actor=actor)
    if as_json:
        _echo_json(art.to_json())
    else:
        click.echo(f"article {art.id} added  ({art.slug})  {art.title}")


@article.command("list")
@_json_option
@pass_ctx
def article_list(ctx: Context, as_json) -> None:
    """List the articles."""
    wf = _workflow()
    arts = wf.articles(ctx.store)
    if as_json:
        _echo_json([a.to_json() for a in arts])
        return
    for a in arts:
        n = len(wf.claims(ctx.store, a.id))
        click.echo(f"{a.id:>4}  {a.slug or '':<30}  {_clip(a.title, 60)}  ({n} claims)")


@article.command("show")
@click.argument("article_ref", metavar="ARTICLE")
@_json_option
@click.option("--bibtex", is_flag=True, help="Print BibTeX for the article's works instead.")
@click.option("--stance", help="With --bibtex: only works with this stance (supports, contests, mentions).")
@pass_ctx
def article_show(ctx: Context, article_ref, as_json, bibtex, stance) -> None:
    """Show an article (ID or slug): its claims with their linked works, and its requests."""
    wf = _workflow()
    store = ctx.store
    art = wf.get_article(store, article_ref)
    if bibtex or stance:
        if not bibtex:
            raise UsageError("--stance goes with --bibtex here")
        _print_bibtex(store, wf.works_for(store, article=art.id, stance=stance))
        return
    reports = [wf.claim_report(store, c) for c in wf.claims(store, art.id)]
    reqs = wf.requests(store, article=art.id)
    if as_json:
        _echo_json({"article": art.to_json(), "claims": [r.to_json() for r in reports],
                    "requests": [r.to_json() for r in reqs]})
        return
    click.echo(f"article {art.id}  ({art.slug})  {art.title}")
    if art.url:
        click.echo(f"  {art.url}")
    for r in reports:
        counts = ", ".join(f"{len(r.by_stance(s))} {s}" for s in wf.STANCES)
        click.echo(f"  claim {r.claim.id}: {_clip(r.claim.text, 90)}  [{counts}]")
        for flag in r.flags:
            click.echo(f"    ! {flag}")
    for q in reqs:
        click.echo(f"  request {q.id} ({q.status}) from {q.reader}"
                   + (f" on claim {q.claim_id}" if q.claim_id else ""))


@cli.group(cls=_Group)
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
@_by_option
@_json_option
@pass_ctx
def claim_add(ctx: Context, article_ref, text, location, quote, actor, as_json) -> None:
    """Add a claim (TEXT, in your words) to ARTICLE (ID or slug)."""
    c = _workflow().add_claim(ctx.store, article_ref, text, location=location, quote=quote, actor=actor)
    if as_json:
        _echo_json(c.to_json())
    else:
        click.echo(f"claim {c.id} added to article {c.article_id}: {_clip(c.text, 90)}")


@claim.command("list")
@click.option("--article", "article_ref", metavar="ARTICLE", help="Only this article's claims.")
@_json_option
@pass_ctx
def claim_list(ctx: Context, article_ref, as_json) -> None:
    """List claims with how many works support, contest or mention each."""
    wf = _workflow()
    reports = [wf.claim_report(ctx.store, c) for c in wf.claims(ctx.store, article_ref)]
    if as_json:
        _echo_json([r.to_json() for r in reports])
        return
    for r in reports:
        counts = " ".join(f"{s[0]}{len(r.by_stance(s))}" for s in wf.STANCES)
        flag = "  !" if r.flags else ""
        click.echo(f"{r.claim.id:>4}  article {r.claim.article_id:<3} [{counts}]{flag}  "
                   f"{_clip(r.claim.text, 80)}")


@claim.command("show")
@click.argument("claim_id", metavar="CLAIM")
@click.option("--removed", is_flag=True, help="Also list removed links.")
@_json_option
@click.option("--bibtex", is_flag=True, help="Print BibTeX for the claim's works instead.")
@click.option("--stance", help="With --bibtex: only works with this stance (supports, contests, mentions).")
@pass_ctx
def claim_show(ctx: Context, claim_id, removed, as_json, bibtex, stance) -> None:
    """Show a claim: supporting, contesting and mentioning works, and any flag.

    A claim whose only support is a work with a problem recorded (retraction,
    correction, a dead DOI) is flagged with '!'.
    """
    wf = _workflow()
    store = ctx.store
    if bibtex or stance:
        if not bibtex:
            raise UsageError("--stance goes with --bibtex here")
        _print_bibtex(store, wf.works_for(store, claim=claim_id, stance=stance))
        return
    rep = wf.claim_report(store, claim_id, include_removed=removed)
    if as_json:
        _echo_json(rep.to_json())
        return
    c = rep.claim
    click.echo(f"claim {c.id} · article {rep.article.id} “{_clip(rep.article.title, 70)}”"
               + (f" · {c.location}" if c.location else ""))
    click.echo(f"  {c.text}")
    if c.quote and c.quote != c.text:
        click.echo(f"  quote: “{c.quote}”")
    for flag in rep.flags:
        click.echo(click.style(f"  ! {flag}", fg="red", bold=True))
    for stance_name in wf.STANCES:
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
@_by_option
@_json_option
@pass_ctx
def claim_propose(ctx: Context, article_ref, keep, keep_all, actor, as_json) -> None:
    """Propose claims from the article's text: sentences with figures, p-values,
    comparisons or positions ("gold standard"). Keep some with --keep N; the rest
    are dropped (nothing is stored until kept)."""
    wf = _workflow()
    if keep or keep_all:
        kept = wf.keep_proposed(ctx.store, article_ref, "all" if keep_all else keep, actor=actor)
        if as_json:
            _echo_json([c.to_json() for c in kept])
        else:
            for c in kept:
                click.echo(f"claim {c.id} kept ({c.location}): {_clip(c.text, 90)}")
            if not kept:
                click.echo("nothing new to keep (already kept)", err=True)
        return
    proposals = wf.propose(ctx.store, article_ref)
    if as_json:
        _echo_json([p.to_json() for p in proposals])
        return
    for p in proposals:
        click.echo(f"{p.number:>3}. [{', '.join(p.reasons)}; {p.location}]")
        click.echo(f"     {p.text}")
    if proposals:
        click.echo("keep some with: refkeeper claim propose ARTICLE --keep N [--keep N ...]", err=True)


@cli.command("link")
@click.argument("claim_id", metavar="CLAIM")
@click.argument("doi")
@click.option("--stance", required=True, help="supports, contests or mentions.")
@click.option("--note", help="A note or quote: why the work bears on the claim.")
@click.option("--asserted-by", default="editor", show_default=True,
              help="Who asserts the link: editor, reader or imported.")
@click.option("--name", "asserted_by_name", help="The reader's name (or the import's source).")
@click.option("--unconfirmed", is_flag=True, help="Record an editor's link as not yet confirmed.")
@_by_option
@_json_option
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
    lk = _workflow().link(ctx.store, claim_id, doi, stance, note=note, asserted_by=asserted_by,
                          asserted_by_name=asserted_by_name, confirmed=confirmed, actor=actor)
    if as_json:
        _echo_json(lk.to_json())
    else:
        state = "confirmed" if lk.confirmed else "unconfirmed"
        click.echo(f"link {lk.id}: claim {lk.claim_id} {lk.stance} ← {lk.doi}  ({lk.asserted_by}, {state})")


@cli.command("unlink")
@click.argument("claim_id", metavar="CLAIM")
@click.argument("doi")
@click.option("--reason", help="Why the link is removed (kept in the history).")
@_by_option
@_json_option
@pass_ctx
def unlink_cmd(ctx: Context, claim_id, doi, reason, actor, as_json) -> None:
    """Remove the link between CLAIM and DOI (it stays visible in the history)."""
    lk = _workflow().unlink(ctx.store, claim_id, doi, reason=reason, actor=actor)
    if as_json:
        _echo_json(lk.to_json())
    else:
        click.echo(f"link {lk.id} removed: claim {lk.claim_id} no longer {lk.stance} ← {lk.doi}")


@cli.group(cls=_Group)
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
            click.echo(f"  {r.position}. {head:<9} {r.doi}  {_clip(r.text, 80)}")
        elif r.status == "ambiguous":
            click.echo(f"  {r.position}. {head:<9} candidates {', '.join(r.candidates[:3])}: an editor "
                       f"should choose  {_clip(r.text, 60)}")
        else:
            why = r.error or "no DOI found; kept as written"
            click.echo(f"  {r.position}. {head:<9} ({why})  {_clip(r.text, 80)}")
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
@click.option("--claim", "claim_id", metavar="CLAIM", help="The claim the request is about, if one.")
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
@_by_option
@_json_option
@pass_ctx
def request_add(ctx: Context, article_ref, claim_id, reader, contact, text, from_file, stance, received,
                offline, actor, as_json) -> None:
    """Record a reader's request for references (and the references the reader gave).

    Exit code 1 if resolving a reference ended in error (it is kept, without a DOI).
    """
    wf = _workflow()
    store = ctx.store
    if from_file is None:
        if stance:
            raise UsageError("--stance applies to the references in --from-file")
        req = wf.add_request(store, article_ref, reader, text=text, claim=claim_id, contact=contact,
                             received_at=received, actor=actor)
        if as_json:
            _echo_json(wf.request_report(store, req.id).to_json())
        else:
            click.echo(f"request {req.id} added (open) from {req.reader}")
        return
    comment = _read_text_arg(from_file)
    pasted = wf.add_request_from_comment(
        store, article_ref, reader, comment, Resolver(store=store, offline=offline), claim=claim_id,
        stance=stance, contact=contact, text=text, received_at=received, actor=actor,
    )
    _finish_pasted(store, pasted, as_json, f"request {pasted.request.id} added (open) from {reader}")


def _finish_pasted(store, pasted, as_json, headline) -> None:
    if as_json:
        out = _workflow().request_report(store, pasted.request.id).to_json()
        out["linked"] = [lk.to_json() for lk in pasted.links]
        out["not_linked"] = pasted.skipped
        _echo_json(out)
    else:
        n = len(pasted.references)
        unresolved = sum(1 for r in pasted.references if not r.doi)
        click.echo(f"{headline}: {n} reference{'s' * (n != 1)}, {n - unresolved} matched, "
                   f"{unresolved} without a DOI")
        _print_pasted(pasted, pasted.request.claim_id)
    if any(r.status == ERROR for r in pasted.references):
        sys.exit(EXIT_FINDINGS)


@request.command("refs")
@click.argument("request_id", metavar="REQUEST")
@click.argument("file")
@click.option("--stance", help="Link the matched references to the request's claim with this stance.")
@click.option("--offline", is_flag=True, help="Resolve from the database only.")
@_by_option
@_json_option
@pass_ctx
def request_refs(ctx: Context, request_id, file, stance, offline, actor, as_json) -> None:
    """Add the references a reader pasted later (FILE, - for stdin) to REQUEST."""
    store = ctx.store
    pasted = _workflow().add_reader_references(
        store, request_id, _read_text_arg(file), Resolver(store=store, offline=offline), stance=stance,
        actor=actor,
    )
    _finish_pasted(store, pasted, as_json, f"request {pasted.request.id}")


@request.command("list")
@click.option("--open", "only_open", is_flag=True,
              help="The queue: open requests, oldest first, with what is known for each claim.")
@click.option("--status", help="Only requests with this status (open, answered, declined).")
@click.option("--article", "article_ref", metavar="ARTICLE", help="Only this article's requests.")
@_json_option
@pass_ctx
def request_list(ctx: Context, only_open, status, article_ref, as_json) -> None:
    """List requests, oldest first. With --open: the queue, showing for each request the
    confirmed links and earlier answers for its claim, so it can be answered in one step."""
    wf = _workflow()
    store = ctx.store
    if only_open and status and status != "open":
        raise UsageError("--open and --status disagree")
    reqs = wf.requests(store, status="open" if only_open else status, article=article_ref)
    reports = [wf.request_report(store, r) for r in reqs]
    if as_json:
        _echo_json([r.to_json() for r in reports])
        return
    for rep in reports:
        q = rep.request
        where = f"article {rep.article.id} “{_clip(rep.article.title, 40)}”"
        if rep.claim:
            where += f" · claim {rep.claim.id} “{_clip(rep.claim.text, 50)}”"
        click.echo(f"#{q.id}  {q.status:<8} {(q.received_at or '')[:10]}  {q.reader}  · {where}")
        if q.text:
            click.echo(f"    “{_clip(q.text, 100)}”")
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
                    click.echo(f"    known: {lw.link.stance} {lw.link.doi}  {_describe(lw.work)}"
                               + (f"  PROBLEM: {', '.join(lw.problems)}" if lw.problems else ""))
                for rid, doi, s in rep.known.earlier:
                    click.echo(f"    given before (request {rid}): {s or 'reference'} {doi}")
                click.echo(f"    answer in one step: refkeeper request answer {q.id} --reuse")
            else:
                click.echo("    nothing known yet for this claim")


@request.command("show")
@click.argument("request_id", metavar="REQUEST")
@_json_option
@click.option("--bibtex", is_flag=True, help="Print BibTeX for the request's works instead.")
@click.option("--stance", help="With --bibtex: only answer works with this stance.")
@pass_ctx
def request_show(ctx: Context, request_id, as_json, bibtex, stance) -> None:
    """Show a request: the reader's words and references, the answer, what is known."""
    wf = _workflow()
    store = ctx.store
    if bibtex or stance:
        if not bibtex:
            raise UsageError("--stance goes with --bibtex here")
        _print_bibtex(store, wf.works_for(store, request=request_id, stance=stance))
        return
    rep = wf.request_report(store, request_id)
    if as_json:
        _echo_json(rep.to_json())
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
            click.echo(f"    {s or 'reference':<9} {w.doi}  {_describe(w)}")
    if q.note:
        click.echo(f"  note: {q.note}")
    if q.reason:
        click.echo(f"  declined: {q.reason}")


@request.command("answer")
@click.argument("request_id", metavar="REQUEST")
@click.option("--doi", "dois", multiple=True, help="A stored work given in answer (repeatable).")
@click.option("--reuse", is_flag=True,
              help="Also give everything known for the claim (see `request list --open`).")
@click.option("--stance", help="The stance of the given works (default: from their links to the claim).")
@click.option("--note", help="Your words to post with the references.")
@_by_option
@_json_option
@pass_ctx
def request_answer(ctx: Context, request_id, dois, reuse, stance, note, actor, as_json) -> None:
    """Answer REQUEST with stored works; it becomes answered. Print the reply with `request reply`."""
    rep = _workflow().answer_request(ctx.store, request_id, dois=dois, stance=stance, note=note, reuse=reuse,
                                     actor=actor)
    if as_json:
        _echo_json(rep.to_json())
        return
    n = len(rep.answer)
    click.echo(f"request {rep.request.id} answered with {n} work{'s' * (n != 1)}:")
    for w, s in rep.answer:
        click.echo(f"  {s or 'reference':<9} {w.doi}  {_describe(w)}")


@request.command("reply")
@click.argument("request_id", metavar="REQUEST")
@click.option("--style", default="vancouver", show_default=True, help="vancouver or apa.")
@click.option("--markdown", is_flag=True, help="Markdown (links, bold headings) instead of plain text.")
@click.option("--no-unresolved", is_flag=True, help="Leave out the reader's references that matched no DOI.")
@pass_ctx
def request_reply(ctx: Context, request_id, style, markdown, no_unresolved) -> None:
    """Print the answer to post: the references given, with DOI links, grouped by stance."""
    click.echo(_workflow().reply(ctx.store, request_id, style=style, fmt="markdown" if markdown else "text",
                                 include_unresolved=not no_unresolved), nl=False)


@request.command("decline")
@click.argument("request_id", metavar="REQUEST")
@click.option("--reason", required=True, help="Why (kept with the request).")
@_by_option
@pass_ctx
def request_decline(ctx: Context, request_id, reason, actor) -> None:
    """Decline an open request, with a reason."""
    q = _workflow().decline_request(ctx.store, request_id, reason, actor=actor)
    click.echo(f"request {q.id} declined: {q.reason}")


@cli.group(cls=_Group)
def refs() -> None:
    """Reference lists as readers paste them."""


@refs.command("split")
@click.argument("file")
@click.option("--resolve", "do_resolve", is_flag=True, help="Also resolve each reference.")
@click.option("--offline", is_flag=True, help="With --resolve: from the database only.")
@_json_option
@pass_ctx
def refs_split(ctx: Context, file, do_resolve, offline, as_json) -> None:
    """Split a pasted comment or reference list (FILE, - for stdin) into single references.

    Numbered, bulleted, blank-line separated, one per line or run together; lines
    wrapped by a mail client are joined back. Prose around the list is left out.
    """
    from .reflist import split_text

    chunks = [c for c in split_text(_read_text_arg(file)) if c.is_reference]
    answers = None
    if do_resolve:
        answers = list(Resolver(store=ctx.store, offline=offline).resolve_many([c.text for c in chunks]))
    if as_json:
        out = []
        for i, c in enumerate(chunks):
            item = {"position": i + 1, "line": c.line, "text": c.text}
            if answers is not None:
                item["resolution"] = answers[i].to_json()
            out.append(item)
        _echo_json(out)
    else:
        for i, c in enumerate(chunks):
            if answers is None:
                click.echo(f"{i + 1}. {c.text}")
            else:
                a = answers[i]
                click.echo(f"{i + 1}. {a.status.upper():<9} {a.doi or ''}  {c.text}")
    if answers is not None and any(a.status == ERROR for a in answers):
        sys.exit(EXIT_FINDINGS)


@cli.command("history")
@click.option("--article", "article_ref", metavar="ARTICLE", help="Only changes to this article.")
@click.option("--claim", "claim_id", metavar="CLAIM", help="Only changes to this claim.")
@click.option("--request", "request_id", metavar="REQUEST", help="Only changes to this request.")
@click.option("--doi", help="Only changes involving this work.")
@_json_option
@pass_ctx
def history_cmd(ctx: Context, article_ref, claim_id, request_id, doi, as_json) -> None:
    """The append-only record of changes to articles, claims, links and requests."""
    entries = _workflow().history(ctx.store, article=article_ref, claim=claim_id, request=request_id, doi=doi)
    if as_json:
        _echo_json([e.to_json() for e in entries])
        return
    for e in entries:
        refs_ = " ".join(f"{k} {v}" for k, v in (("article", e.article_id), ("claim", e.claim_id),
                                                  ("link", e.link_id), ("request", e.request_id),
                                                  ("doi", e.doi)) if v is not None)
        click.echo(f"{e.at}  {e.actor:<12} {e.action:<18} {refs_}")
        d = e.details
        if e.action == "link.remove":
            click.echo(f"    removed: {d['link']['stance']} {d['link']['doi']}"
                       + (f" — {d['reason']}" if d.get("reason") else ""))
        elif "before" in d or "after" in d:
            click.echo(f"    before: {d.get('before')!r}  after: {d.get('after')!r}")
        elif e.action == "request.decline":
            click.echo(f"    reason: {d.get('reason')}")


# -- verify (issue 4) ---------------------------------------------------------------


@cli.group(cls=_Group, invoke_without_command=True)
@click.option("--since", type=click.FloatRange(min=0), metavar="DAYS",
              help="Check works not checked in the last DAYS days [default: 30].")
@click.option("--all", "check_all", is_flag=True, help="Check every stored work.")
@click.option("--bib", type=click.Path(exists=True, dir_okay=False), metavar="FILE.bib",
              help="Check the DOIs of a BibTeX file instead; nothing is stored.")
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
        _verify_bib_command(bib, as_json, batch_size)
        return
    from .verify import verify as run_verify

    ctx = cctx.find_object(Context)
    line = _ProgressLine(enabled=not as_json and sys.stderr.isatty())
    try:
        report = run_verify(ctx.store, CrossrefClient(), since=since, all=check_all,
                            batch_size=batch_size, progress=line, resume=not restart)
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
    from .verify import history

    h = history(ctx.store, _bare_doi(doi))
    if as_json:
        click.echo(json.dumps(h.to_json(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{h.doi}  {_clip(h.title or '(not stored)', 90)}")
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
        click.echo(f"        {_clip(w.title or '(no title)', 70)}  ·  {_describe(w)}")


class _ProgressLine:
    """Count, rate and ETA redrawn on one stderr line; silent unless it is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.shown = False

    def __call__(self, p) -> None:
        if not self.enabled:
            return
        eta = "—" if p.eta is None else _duration(p.eta)
        click.echo(f"\rverified {p.done:,}/{p.total:,} · {p.rate:,.1f}/s · ETA {eta}    ",
                   err=True, nl=False)
        self.shown = True

    def close(self) -> None:
        if self.shown:
            click.echo(err=True)


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _short(value) -> str:
    if isinstance(value, list):
        value = "; ".join(map(str, value[:3])) + (f" (+{len(value) - 3})" if len(value) > 3 else "")
    return "—" if value in (None, "") else _clip(str(value), 60)


def _print_details(notices, diff, alias_of, error, indent: int) -> None:
    pad = " " * indent
    for n in notices:
        when = f", {n['date']}" if n.get("date") else ""
        click.echo(f"{pad}{n['kind']}: notice {n['doi']} ({', '.join(n['sources'])}{when})")
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
    if r.affected_claims or r.open_requests:
        click.echo(click.style("\nAffected, most serious first:", bold=True))
    for a in r.affected_claims:
        kinds = ", ".join(a.kinds)
        how = {"supports": "supported by", "contests": "contested by"}.get(a.stance or "", "mentions")
        click.echo(click.style(f"  {kinds.upper()}", fg="red", bold=True)
                   + f"  claim {a.id} {how} {a.doi}" + (" (confirmed link)" if a.confirmed else ""))
        article = f"article {a.article_id}" + (f": {_clip(a.article_title, 50)}" if a.article_title else "")
        click.echo(f"      \"{_clip(a.text or '', 90)}\"  ({article})")
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
            click.echo(f"  {label}  {f.doi}  {_clip(f.title or '', 70)}{new}")
            _print_details(f.notices, f.diff, f.alias_of, f.error, indent=6)
    if r.known_problems:
        known = ", ".join(f"{n} {k}" for k, n in r.known_problems.items())
        click.echo(f"\nKnown from earlier runs (not checked now): {known}; `refkeeper verify --all`"
                   " lists them again.")
    if not r.findings and r.status == "finished":
        click.echo("Nothing new needs attention." if r.known_problems else "Nothing needs attention.")


def _verify_bib_command(path: str, as_json: bool, batch_size: int) -> None:
    from .verify import verify_bib

    rep = verify_bib(path, CrossrefClient(), batch_size=batch_size)
    if as_json:
        click.echo(json.dumps(rep.to_json(), ensure_ascii=False))
    else:
        d = rep.to_json()
        click.echo(f"{path}: {d['entries']} entries, {d['checked']} with a DOI checked "
                   f"({rep.requests} Crossref requests)")
        if d["without_doi"]:
            click.echo(f"  without a DOI (not checked): {', '.join(d['without_doi'][:20])}"
                       + (" …" if len(d["without_doi"]) > 20 else ""))
        for e in rep.findings:
            label = ", ".join(e.kinds).upper() if e.kinds else {"changed": "DIFFERS"}.get(
                e.outcome, e.outcome.upper())
            click.echo(f"  {label}  {e.key}  {e.doi}")
            _print_details(e.notices, e.diff, e.alias_of, e.error, indent=6)
        if not rep.findings:
            click.echo("Nothing needs attention.")
    if rep.exit_code:
        sys.exit(rep.exit_code)


# -- import and other formats (issue 5) ---------------------------------------------


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--from", "fmt", type=click.Choice(["bibtex", "ris", "csl-json"]),
              help="Format of FILE [default: from its name (.bib .ris .json) or content].")
@click.option("--offline", is_flag=True, help="Resolve entries without a DOI from refs.db only.")
@click.option("--update", is_flag=True,
              help="Where a stored work differs from FILE, take FILE's fields and key.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
@pass_ctx
def import_(ctx: Context, path, fmt, offline, update, as_json) -> None:
    """Import a bibliography FILE (.bib, .ris or CSL-JSON .json) into the database.

    \b
    Keys in FILE are kept: later exports write the same keys.
    An entry with a DOI is stored as written, if that DOI is not stored yet.
    An entry without a DOI is resolved (online, or --offline); only a clear
    match gives it a DOI: ambiguous and unmatched entries are listed for you,
    and nothing is stored for them.
    A stored work that differs from FILE is shown as a diff and left alone
    unless --update.
    Exit code 1 when any entry needs a look (differs, ambiguous, unmatched,
    duplicate, a key that could not be kept).

    \b
    Examples:
      refkeeper import library.bib
      refkeeper import --offline --json export.ris > report.jsonl
      refkeeper import --update zotero.json
    """
    from .importer import import_entries, read_bibliography

    entries, problems = read_bibliography(path, fmt)
    for problem in problems:
        click.echo(f"warning: {path}: {problem}", err=True)
    resolver = Resolver(store=ctx.store, offline=offline)
    counts: dict[str, int] = {}
    findings = bool(problems)
    for result in import_entries(ctx.store, entries, resolver, update=update):
        counts[result.status] = counts.get(result.status, 0) + 1
        findings |= result.finding
        if as_json:
            click.echo(json.dumps(result.to_json(), ensure_ascii=False))
            continue
        label = result.key or result.entry.label
        colour = "red" if result.status in ("ambiguous", "unmatched", "error", "differs") else None
        click.echo(click.style(f"{result.status.upper():<10}", fg=colour, bold=bool(colour))
                   + f" {label}  {result.doi or ''}".rstrip())
        for name, stored, incoming in result.diff:
            click.echo(f"    - {name}: {_clip(stored, 150) or '(empty)'}")
            click.echo(f"    + {name}: {_clip(incoming, 150) or '(empty)'}")
        for i, c in enumerate(result.candidates[:5], 1):
            click.echo(f"    {i}. {c.doi}  score {c.score:.2f}  {_clip(c.title or '', 80)}")
        for note in result.notes:
            click.echo(f"    note: {note}")
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no entries"
    click.echo(f"{len(entries)} entries from {path}: {summary}"
               + ("" if update or not counts.get("differs") else " (use --update to apply diffs)"),
               err=True)
    if findings:
        sys.exit(EXIT_FINDINGS)


@cli.command("key")
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
    bare = normalize_doi(_bare_doi(doi))
    store.require_work(bare)
    if key is None:
        click.echo(store.get_key(bare) or "(no key yet: the next export chooses one)")
        return
    key = check_key(key)
    old = store.pin_key(bare, key)
    click.echo(f"{bare}  {old or '(none)'} -> {key}")


if __name__ == "__main__":
    main()
