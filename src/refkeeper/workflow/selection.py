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
from ._common import _doi, _stance, _unique
from .article_claims import Article, Claim, get_article, get_claim
from .reader_requests import Request, get_request


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
        stance = _stance(stance)
    art = get_article(store, article) if article is not None else None
    c = get_claim(store, claim) if claim is not None else None
    req = get_request(store, request) if request is not None else None

    link_where, link_params = ["l.removed_at IS NULL"], []
    if c is not None:
        link_where.append("l.claim_id = ?")
        link_params.append(c.id)
    if art is not None:
        link_where.append("cl.article_id = ?")
        link_params.append(art.id)
    if stance is not None:
        link_where.append("l.stance = ?")
        link_params.append(stance)
    if req is not None:
        # Works of a request, narrowed by the other filters.
        answer_where, answer_params = ["w.request_id = ?"], [req.id]
        if stance is not None:
            answer_where.append("w.stance = ?")
            answer_params.append(stance)
        dois = [r[0] for r in store.db.execute(
            "SELECT w.doi FROM request_works w WHERE " + " AND ".join(answer_where) + " ORDER BY w.rowid",
            answer_params)]
        if stance is None:
            dois += [r[0] for r in store.db.execute(
                "SELECT doi FROM request_references WHERE request_id = ? AND doi IS NOT NULL"
                " ORDER BY position", [req.id])]
        if c is not None or art is not None:
            allowed = set(_link_dois(store, link_where, link_params))
            if art is not None and c is None:
                allowed |= set(_answer_dois(store, art.id, stance))
            dois = [d for d in dois if d in allowed]
        return _unique(dois)
    dois = _link_dois(store, link_where, link_params)
    if art is not None and c is None:
        dois += _answer_dois(store, art.id, stance)
    return _unique(dois)


def bibtex_for(store: Store, dois: Iterable[str], ascii: bool = False) -> str:
    """BibTeX for stored works, keeping each work's stored key (new keys are stored);
    works with a problem recorded carry a note ("Retracted")."""
    buf = io.StringIO()
    export_store(store, buf, "bibtex", [_doi(d) for d in dois], ascii=ascii)
    return buf.getvalue()


def _link_dois(store: Store, where: list[str], params: list) -> list[str]:
    return [r[0] for r in store.db.execute(
        "SELECT l.doi FROM links l JOIN claims cl ON cl.id = l.claim_id WHERE "
        + " AND ".join(where) + " ORDER BY l.id", params)]


def _answer_dois(store: Store, article_id: int, stance: str | None) -> list[str]:
    sql = ("SELECT w.doi FROM request_works w JOIN requests r ON r.id = w.request_id"
           " WHERE r.article_id = ?")
    params: list = [article_id]
    if stance is not None:
        sql += " AND w.stance = ?"
        params.append(stance)
    return [r[0] for r in store.db.execute(sql + " ORDER BY r.id, w.rowid", params)]


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
) -> int:
    """Write the works ``works_for`` picks (an article, claim, request and/or stance) to
    ``fp`` in ``fmt`` (``export.FORMATS``), as ``refkeeper export --claim ...`` does;
    return the number of entries written. Keys are kept and new ones stored."""
    dois = works_for(store, article=article, claim=claim, request=request, stance=stance)
    return export_store(store, fp, fmt, dois, style=style, ascii=ascii)
