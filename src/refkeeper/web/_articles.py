"""Articles and their claims: the list of articles, an article's claims at a glance (counts
of supporting / contesting works, problem flags), a claim with its works by stance (who
asserted and who confirmed each link, notes) and its history; adding and editing articles
and claims; claims proposed from the article's text, pasted, and kept by the editor.

Every action is a plain form POST answered with a redirect (303) and a one-line message.
A user error in a form an editor typed into (an article, a claim, a link: an empty title, a
slug in use, a DOI Crossref does not know) re-renders that page with status 400, the form
open, what was typed kept and the message next to the field it is about; nothing changed.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.routing import Route

from .. import workflow
from .._errors import NotFoundError, RefkeeperError
from ._pages import actor, call, desk, flash, form, form_lists, redirect, render, user_message


async def _act(request: Request, fn, *args, back: str, done, **kwargs):
    """Run one library action as the signed-in editor; flash what happened (``done``: a
    format string or a function of the result, ``out``), or the user error (nothing
    changed), and go back to ``back`` (formatted with the page's path parameters)."""
    url = back.format(**{k: quote(str(v), safe="") for k, v in request.path_params.items()})
    try:
        out = await call(request, fn, *args, actor=actor(request), **kwargs)
    except RefkeeperError as exc:
        flash(request, str(exc), "error")
        return redirect(url)
    flash(request, done(out) if callable(done) else done.format(out=out))
    return redirect(url)


def failed_form(form_id: str, exc: Exception, values: dict[str, str], fields: dict[str, str],
                field: str | None = None) -> dict:
    """What a page needs to show a form again after a user error: which form, the field the
    message is about (``field``, else the first of ``fields`` — field name: a word the
    library's message uses for it — that the message names; None: the form as a whole),
    the message as the desk words it, and the values as typed."""
    message = user_message(exc)
    lowered = message.lower()
    if field is None:
        field = next((name for name, word in fields.items() if word in lowered), None)
    return {"form": form_id, "field": field, "message": message, "v": values}


ARTICLE_FIELDS = {"slug": "slug", "title": "title", "url": "url"}
CLAIM_FIELDS = {"text": "text", "location": "location", "quote": "quote"}
LINK_FIELDS = {"stance": "stance", "note": "note", "doi": "doi"}


# -- articles ------------------------------------------------------------------------------


async def articles_page(request: Request, failed: dict | None = None):
    arts = await call(request, workflow.articles)
    return render(request, "articles.html", {"articles": arts, "failed": failed},
                  status=400 if failed else 200)


async def add_article(request: Request):
    data = await form(request)
    try:
        art = await call(request, workflow.add_article, data.get("title", ""), url=data.get("url") or None,
                         slug=data.get("slug") or None, text=data.get("text") or None,
                         actor=actor(request))
    except NotFoundError:
        raise
    except RefkeeperError as exc:
        return await articles_page(request, failed_form("add-article", exc, data, ARTICLE_FIELDS))
    flash(request, f"Article {art.id} added.")
    return redirect(f"/articles/{art.id}")


async def article_page(request: Request, failed: dict | None = None):
    details = await call(request, workflow.article_details, request.path_params["article"])
    return render(request, "article.html", {"d": details, "stances": workflow.STANCES,
                                            "formats": _formats(), "failed": failed},
                  status=400 if failed else 200)


async def edit_article(request: Request):
    data = await form(request)
    try:
        art = await call(request, workflow.edit_article, request.path_params["article"],
                         title=data.get("title"), url=data.get("url", ""), slug=data.get("slug") or None,
                         actor=actor(request))
    except NotFoundError:
        raise
    except RefkeeperError as exc:
        return await article_page(request, failed_form("edit-article", exc, data, ARTICLE_FIELDS))
    flash(request, "Article saved.")
    return redirect(f"/articles/{art.id}")  # by number: the slug it was reached by may have changed


async def add_claim(request: Request):
    data = await form(request)
    try:
        out = await call(request, workflow.add_claim, request.path_params["article"], data.get("text", ""),
                         location=data.get("location") or None, quote=data.get("quote") or None,
                         actor=actor(request))
    except NotFoundError:
        raise
    except RefkeeperError as exc:
        return await article_page(request, failed_form("add-claim", exc, data, CLAIM_FIELDS))
    flash(request, f"Claim {out.id} added.")
    return redirect(f"/articles/{out.article_id}")


async def save_text(request: Request):
    """The article's text, pasted: kept with the article, then its proposals are shown."""
    data = await form(request)
    return await _act(request, workflow.edit_article, request.path_params["article"],
                      text=data.get("text", ""), back="/articles/{article}/proposals",
                      done="The article's text is saved; these sentences carry a finding.")


async def proposals_page(request: Request):
    aid = request.path_params["article"]
    try:
        proposals = await call(request, workflow.propose, aid)
        error = None
    except NotFoundError:
        raise
    except RefkeeperError as exc:  # no text yet: the page asks for it
        proposals, error = [], user_message(exc)
    art = await call(request, workflow.get_article, aid)
    return render(request, "proposals.html", {"article": art, "proposals": proposals, "error": error})


async def keep_proposals(request: Request):
    data = await form_lists(request)
    numbers = data.get("number", [])
    if not numbers:
        flash(request, "Tick the proposals to keep as claims.", "error")
        return redirect(f"/articles/{request.path_params['article']}/proposals")
    return await _act(request, workflow.keep_proposed, request.path_params["article"], numbers,
                      back="/articles/{article}",
                      done=lambda kept: _kept_message(len(kept), len(set(numbers))))


def _kept_message(kept: int, ticked: int) -> str:
    # Say that some were not added only when some were not: they were claims already.
    said = f"{kept} proposal{'s' * (kept != 1)} kept as claim{'s' * (kept != 1)}."
    if kept < ticked:
        before = ticked - kept
        was, be = ("was", "is") if before == 1 else ("were", "are")
        said += f" {before} {was} kept before and {be} not added twice."
    return said


# -- claims --------------------------------------------------------------------------------


async def claim_page(request: Request, failed: dict | None = None):
    details = await call(request, workflow.claim_details, request.path_params["claim"])
    return render(request, "claim.html", {"d": details, "stances": workflow.STANCES,
                                          "formats": _formats(), "failed": failed},
                  status=400 if failed else 200)


async def edit_claim(request: Request):
    data = await form(request)
    try:
        await call(request, workflow.edit_claim, request.path_params["claim"], text=data.get("text"),
                   location=data.get("location", ""), quote=data.get("quote", ""), actor=actor(request))
    except NotFoundError:
        raise
    except RefkeeperError as exc:
        return await claim_page(request, failed_form("edit-claim", exc, data, CLAIM_FIELDS))
    flash(request, "Claim saved.")
    return redirect(f"/claims/{request.path_params['claim']}")


def _link_by_doi(store, claim, doi, stance, note, client, actor):
    # A work not stored yet is fetched through the desk's one client first, so an editor
    # can link any DOI from the claim page; then the link, as `refkeeper link` makes it.
    work = workflow.fetch_work(store, doi, client)
    return workflow.link(store, claim, work.key, stance, note=note, actor=actor)


async def add_link(request: Request):
    data = await form(request)
    try:
        out = await call(request, _link_by_doi, request.path_params["claim"], data.get("doi", ""),
                         data.get("stance", ""), data.get("note") or None, desk(request).client,
                         actor=actor(request))
    except NotFoundError as exc:
        if not await call(request, _claim_exists, request.path_params["claim"]):
            raise
        # A DOI no registry knows is the editor's typing, not a missing page.
        return await claim_page(request, failed_form("link", exc, data, LINK_FIELDS, field="doi"))
    except RefkeeperError as exc:
        return await claim_page(request, failed_form("link", exc, data, LINK_FIELDS))
    flash(request, f"Linked {out.doi} as '{out.stance}'.")
    return redirect(f"/claims/{request.path_params['claim']}")


def _claim_exists(store, claim) -> bool:
    try:
        workflow.get_claim(store, claim)
    except NotFoundError:
        return False
    return True


async def confirm_link(request: Request):
    return await _act(request, workflow.confirm_link, request.path_params["link"],
                      back="/claims/{claim}", done="Link {out.id} confirmed: {out.doi} {out.stance} it.")


async def unlink(request: Request):
    data = await form(request)
    return await _act(request, workflow.unlink, request.path_params["claim"], data.get("doi", ""),
                      reason=data.get("reason") or None, back="/claims/{claim}",
                      done="Link to {out.doi} removed (kept in history).")


def _formats() -> tuple:
    from ._exports import FORMAT_LABELS

    return tuple(FORMAT_LABELS.items())


routes = [
    Route("/articles", articles_page, methods=["GET"]),
    Route("/articles", add_article, methods=["POST"]),
    Route("/articles/{article:article}", article_page, methods=["GET"]),
    Route("/articles/{article:article}/edit", edit_article, methods=["POST"]),
    Route("/articles/{article:article}/claims", add_claim, methods=["POST"]),
    Route("/articles/{article:article}/text", save_text, methods=["POST"]),
    Route("/articles/{article:article}/proposals", proposals_page, methods=["GET"]),
    Route("/articles/{article:article}/proposals", keep_proposals, methods=["POST"]),
    Route("/claims/{claim:id}", claim_page, methods=["GET"]),
    Route("/claims/{claim:id}/edit", edit_claim, methods=["POST"]),
    Route("/claims/{claim:id}/links", add_link, methods=["POST"]),
    Route("/claims/{claim:id}/links/{link:id}/confirm", confirm_link, methods=["POST"]),
    Route("/claims/{claim:id}/unlink", unlink, methods=["POST"]),
]
