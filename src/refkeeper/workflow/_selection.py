"""Which works to export for an article, a claim, a request or a stance (see ``workflow``).

``works_for`` picks the DOIs (from live links and the works given in answer to requests),
``bibtex_for`` writes their BibTeX with a note on works that have a problem recorded.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from .._errors import UsageError
from .._store import Store
from ..export import export_store
from ._claims import Article, Claim, claim_ids, get_article, get_claim
from ._common import check_stance, parse_doi, unique
from ._links import live_links
from ._requests import Request, answer_dois, get_request, matched_reference_dois


def works_for(
    store: Store,
    article: int | str | Article | None = None,
    claim: int | str | Claim | None = None,
    request: int | str | Request | None = None,
    stance: str | None = None,
) -> list[str]:
    """DOIs (lower-cased, each once, in the order they were linked or given) for export.

    * ``claim``: the works of the claim's live links;
    * ``article``: the works of its claims' live links, then the works given in answer to
      its requests;
    * ``request``: the works given in answer, then the reader's references that matched;
    * ``stance``: only links (and answer works) with that stance; alone, every live link
      with that stance.

    Filters combine (all must hold). Unknown IDs raise ``NotFoundError``, an invalid
    stance ``UsageError``; no filter at all is a ``UsageError``.
    """
    if article is None and claim is None and request is None and stance is None:
        raise UsageError("say which works: an article, a claim, a request or a stance")
    if stance is not None:
        stance = check_stance(stance)
    art = get_article(store, article) if article is not None else None
    c = get_claim(store, claim) if claim is not None else None
    req = get_request(store, request) if request is not None else None

    def link_dois() -> list[str]:
        if c is not None:
            ids = [c.id] if art is None or c.article_id == art.id else []
        elif art is not None:
            ids = claim_ids(store, art)
        else:
            ids = None  # every claim
        return [lk.doi for lk in live_links(store, ids, stance=stance)]

    if req is not None:
        # Works of a request, narrowed by the other filters.
        dois = answer_dois(store, request=req, stance=stance)
        if stance is None:
            dois += matched_reference_dois(store, req)
        if c is not None or art is not None:
            allowed = set(link_dois())
            if art is not None and c is None:
                allowed |= set(answer_dois(store, article=art, stance=stance))
            dois = [d for d in dois if d in allowed]
        return unique(dois)
    dois = link_dois()
    if art is not None and c is None:
        dois += answer_dois(store, article=art, stance=stance)
    return unique(dois)


def bibtex_for(store: Store, dois: Iterable[str], ascii: bool = False) -> str:
    """BibTeX for stored works, keeping each work's stored key (new keys are stored);
    works with a problem recorded carry a note ("Retracted")."""
    buf = io.StringIO()
    export_store(store, buf, "bibtex", [parse_doi(d) for d in dois], ascii=ascii)
    return buf.getvalue()


def export_selection(
    store: Store,
    fp,
    fmt: str = "bibtex",
    *,
    article: int | str | Article | None = None,
    claim: int | str | Claim | None = None,
    request: int | str | Request | None = None,
    stance: str | None = None,
    style: str = "vancouver",
    ascii: bool = False,
    prefer_published: bool = False,
    registries=None,
) -> int:
    """Write the works ``works_for`` picks (an article, claim, request and/or stance) to
    ``fp`` in ``fmt`` (``export.FORMATS``), as ``refkeeper export --claim ...`` does;
    return the number of entries written. Keys are kept and new ones stored.
    ``prefer_published`` and ``registries``: as ``export_store``'s."""
    dois = works_for(store, article=article, claim=claim, request=request, stance=stance)
    return export_store(store, fp, fmt, dois, style=style, ascii=ascii, prefer_published=prefer_published,
                        registries=registries)
