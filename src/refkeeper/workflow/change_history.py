"""The workflow's history, read back (see ``workflow``).

Every change to articles, claims, links and requests is appended to ``history`` (who,
what, when, the values before and after) by ``_common._log``, in the same
transaction as the change; the database refuses to update or delete history rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .._store import Store
from ._common import _doi
from .article_claims import Article, Claim, get_article, get_claim
from .reader_requests import Request, get_request


@dataclass
class HistoryEntry:
    """One appended change: who did what, when, to which rows; ``details`` before/after."""

    id: int
    at: str
    actor: str
    action: str
    article_id: int | None = None
    claim_id: int | None = None
    link_id: int | None = None
    request_id: int | None = None
    doi: str | None = None
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def history(
    store: Store,
    article: int | str | Article | None = None,
    claim: int | str | Claim | None = None,
    request: int | str | Request | None = None,
    doi: str | None = None,
) -> list[HistoryEntry]:
    """The recorded changes, oldest first, optionally for one article, claim, request or work."""
    where, params = [], []
    if article is not None:
        where.append("article_id = ?")
        params.append(get_article(store, article).id)
    if claim is not None:
        where.append("claim_id = ?")
        params.append(get_claim(store, claim).id)
    if request is not None:
        where.append("request_id = ?")
        params.append(get_request(store, request).id)
    if doi is not None:
        where.append("doi = ?")
        params.append(_doi(doi))
    sql = "SELECT * FROM history" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    out = []
    for r in store.db.query(sql, params):
        r["details"] = json.loads(r["details"]) if r["details"] else {}
        out.append(HistoryEntry(**r))
    return out
