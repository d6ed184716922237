"""Answering readers' requests (see ``workflow``); the rows are written by ``_requests``.

What the desk already knows for a request (``known_for``: confirmed links, earlier
answers), the request with everything needed to answer it (``request_report``), the
queue of open requests, answering (``answer_request``) or declining a request, and the
reply to post for an answered one (``reply``), formatted and grouped by stance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .. import _identifiers as identifiers
from .._errors import UsageError
from .._models import Work
from .._store import Store
from ..export import format_reference, problem_note
from ._claims import Article, Claim, get_article, get_claim
from ._common import DEFAULT_ACTOR, check_stance, stored_work, unique
from ._links import LinkedWork, article_links, claim_report, linked_work, live_link, live_links
from ._requests import (
    ReaderReference,
    Request,
    answer_stances,
    answer_works,
    earlier_answers,
    get_request,
    reader_references,
    record_answer,
    requests,
)

# Headings of the reply, in the order they are posted.
_STANCE_HEADINGS = {
    "supports": "Supporting",
    "contests": "Contesting",
    "mentions": "Also relevant",
    None: "References",
}


@dataclass
class Known:
    """What the desk already knows for a request's claim (or, without a claim, its article):
    the editor-confirmed live links, and the works given in answer to earlier requests."""

    links: list[LinkedWork] = field(default_factory=list)
    earlier: list[tuple[int, str, str | None]] = field(default_factory=list)  # (request, doi, stance)

    def dois(self) -> list[str]:
        return unique([lw.link.doi for lw in self.links] + [doi for _, doi, _ in self.earlier])

    def __bool__(self) -> bool:
        return bool(self.links or self.earlier)

    def to_json(self) -> dict:
        return {
            "links": [lw.to_json() for lw in self.links],
            "earlier_answers": [{"request_id": r, "doi": d, "stance": s} for r, d, s in self.earlier],
        }


@dataclass
class RequestReport:
    """A request with its article, claim, the reader's references, the answer and what is known."""

    request: Request
    article: Article
    claim: Claim | None
    references: list[ReaderReference]
    answer: list[tuple[Work, str | None]]  # (work, stance) given in answer, in order
    known: Known

    def to_json(self) -> dict:
        return {
            "request": self.request.to_json(),
            "article": {"id": self.article.id, "title": self.article.title, "url": self.article.url},
            "claim": self.claim.to_json() if self.claim else None,
            "references": [r.to_json() for r in self.references],
            "answer": [{"doi": w.doi, "work": w.key, "stance": s, "title": w.title} for w, s in self.answer],
            "known": self.known.to_json(),
        }


def known_for(store: Store, request: int | str | Request) -> Known:
    """What is already known for a request: the confirmed live links of its claim and the
    works given in answer to other requests on that claim (without a claim: the article's
    confirmed links and earlier answers on the same article)."""
    req = get_request(store, request)
    if req.claim_id is not None:
        found = live_links(store, [req.claim_id], confirmed=True)
    else:
        found = article_links(store, req.article_id, confirmed=True)
    return Known([linked_work(store, lk) for lk in found], earlier_answers(store, req))


def request_report(store: Store, request: int | str | Request) -> RequestReport:
    """A request with everything an editor needs to answer it."""
    req = get_request(store, request)
    art = get_article(store, req.article_id)
    c = get_claim(store, req.claim_id) if req.claim_id is not None else None
    answer = [(store.require_work(doi), stance) for doi, stance in answer_works(store, req)]
    return RequestReport(req, art, c, reader_references(store, req), answer, known_for(store, req))


def queue(store: Store) -> list[RequestReport]:
    """The open requests, oldest first, each with what is already known for its claim."""
    return [request_report(store, r) for r in requests(store, status="open")]


def answer_request(
    store: Store,
    request: int | str | Request,
    dois: Iterable[str] = (),
    stance: str | None = None,
    note: str | None = None,
    reuse: bool = False,
    actor: str = DEFAULT_ACTOR,
) -> RequestReport:
    """Answer a request with stored works; it becomes ``answered``.

    ``reuse=True`` adds everything already known (``known_for``): the claim's confirmed
    links and earlier answers, so a repeated question is answered in one step. Each work's
    stance is ``stance`` if given, else its link to the request's claim (without a claim:
    its one stance across the article's links, or an earlier answer's). Answering again
    adds works; works already given are kept as they were. A declined request cannot be
    answered.
    """
    if stance is not None:
        stance = check_stance(stance)
    with store.write():
        req = get_request(store, request)
        if req.status == "declined":
            raise UsageError(f"request {req.id} was declined ({req.reason}); it cannot be answered")
        wanted = [stored_work(store, d).key for d in dois]
        if reuse:
            wanted += known_for(store, req).dois()
        wanted = unique(wanted)
        if not wanted:
            raise UsageError(
                f"nothing to answer request {req.id} with: give --doi"
                + ("" if reuse else ", or --reuse what is known for its claim")
            )
        given = {doi for doi, _ in answer_works(store, req)}
        added = [(d, stance or _stance_for(store, req, d)) for d in wanted if d not in given]
        record_answer(store, req, added, note, actor)
    return request_report(store, req.id)


def reply(
    store: Store,
    request: int | str | Request,
    style: str = "vancouver",
    fmt: str = "text",
    include_unresolved: bool = True,
) -> str:
    """The answer to post for an answered request: the works given, formatted in ``style``
    (vancouver, apa) as ``fmt`` (text, markdown) with DOI links, grouped by stance; works
    with a problem recorded say so ("Retracted"), and works with a known PMID (PMCID) get
    their PubMed (PubMed Central) link under them: readers of health writing look there.
    With ``include_unresolved``, the reader's own references that matched no DOI are
    listed as they wrote them, marked as such.
    """
    if fmt not in ("text", "markdown"):
        raise UsageError(f"reply format must be text or markdown, not {fmt!r}")
    rep = request_report(store, request)
    req = rep.request
    if req.status != "answered":
        raise UsageError(f"request {req.id} is {req.status}; answer it first (`refkeeper request answer`)")
    md = fmt == "markdown"
    # Everything a person typed is text, not Markdown: a reader named "<script>..." or
    # "[me](javascript:...)" must reach the page as those characters.
    esc = md_escape if md else str
    head = f"{esc(req.reader)}: the references for “{esc(rep.article.title)}”"
    if rep.claim is not None:
        head += f", on “{esc(rep.claim.text)}”"
    lines = [head + ":"]
    if req.note:
        lines += ["", esc(req.note)]
    problems = store.work_problems(w.key for w, _ in rep.answer)
    known_ids = identifiers.identifiers_by_doi(store, [w.key for w, _ in rep.answer])
    n = 0
    for stance, heading in _STANCE_HEADINGS.items():
        group = [w for w, s in rep.answer if s == stance]
        if not group:
            continue
        lines += ["", f"**{heading}**" if md else f"{heading}:"]
        for w in group:
            n += 1
            note = problem_note(problems.get(w.key))
            ids = known_ids.get(w.key) or {}
            lines.append(f"{n}. {format_reference(w, style, fmt, note=note, ids=ids)}")
            lines += _pubmed_links(ids, md)
    unresolved = [r for r in rep.references if r.doi is None]
    if include_unresolved and unresolved:
        lines += ["", "**Not yet matched to a DOI**" if md else "Not yet matched to a DOI:"]
        for r in unresolved:
            lines.append(f"- {esc(r.text)}")
    return "\n".join(lines) + "\n"


def _pubmed_links(ids: dict[str, str], md: bool) -> list[str]:
    """The PubMed and PubMed Central links of a work in the reply, indented under it (in
    Markdown, inside its list item)."""
    links = []
    if ids.get(identifiers.PMID):
        links.append(("PubMed", identifiers.pubmed_url(ids[identifiers.PMID])))
    if ids.get(identifiers.PMCID):
        links.append(("PubMed Central", identifiers.pmc_url(ids[identifiers.PMCID])))
    if not links:
        return []
    if md:
        return ["   " + " · ".join(f"[{name}](<{url}>)" for name, url in links)]
    return ["   " + " · ".join(f"{name}: {url}" for name, url in links)]


def _stance_for(store: Store, req: Request, doi: str) -> str | None:
    """The stance a work has in answer to a request, from what the desk recorded."""
    if req.claim_id is not None:
        lk = live_link(store, req.claim_id, doi)
        if lk is not None:
            return lk.stance
        stances = answer_stances(store, req.claim_id, doi)
    else:
        stances = list(dict.fromkeys(lk.stance for lk in article_links(store, req.article_id, dois=[doi])))
    return stances[0] if len(stances) == 1 else None


def md_escape(text: str) -> str:
    """``text`` as Markdown that renders as exactly that text: every ASCII punctuation
    character is backslash-escaped (CommonMark allows it for all of them), so no HTML tag,
    link, autolink, emphasis, heading or list can start inside it."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", text)


@dataclass
class RequestDetails:
    """A request as the desk's request page shows it: the report, the candidates (with
    their field-by-field evidence) of every reference that is not matched, keyed by the
    reference's ID, the works the editor can give or link (matched references first, then
    what is known), the claim's live links by DOI, and the reply once answered."""

    report: RequestReport
    candidates: dict[int, list]  # reference id -> [Candidate], best first
    works: list[Work]
    links: dict[str, LinkedWork]
    reply: str | None


def request_details(store: Store, request: int | str | Request,
                    style: str = "vancouver") -> RequestDetails:
    """Everything the request page needs, read in one call."""
    rep = request_report(store, request)
    cands: dict[int, list] = {}
    for r in rep.references:
        if r.status in ("ambiguous", "unmatched"):
            cached = store.cached_resolution(r.searched_as or r.text, even_if_stale=True)
            cands[r.id] = cached.candidates if cached is not None else []
    dois = unique([r.doi for r in rep.references if r.doi] + rep.known.dois()
                  + [w.key for w, _ in rep.answer])
    works = [store.require_work(d) for d in dois]
    links: dict[str, LinkedWork] = {}
    if rep.claim is not None:
        links = {lw.link.doi: lw for lw in claim_report(store, rep.claim.id).links if lw.link.live}
    text = reply(store, rep.request.id, style=style) if rep.request.status == "answered" else None
    return RequestDetails(rep, cands, works, links, text)
