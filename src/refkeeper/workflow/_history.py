"""The workflow's history: every change, appended, and read back (see ``workflow``).

Owns the ``history`` table. Every change to articles, claims, links and requests is
appended by ``log``, in the same transaction as the change, by the module that made it;
the database refuses to update or delete history rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from .._store import Store, now
from ._common import DEFAULT_ACTOR, from_row, parse_doi

if TYPE_CHECKING:
    from ._claims import Article, Claim
    from ._requests import Request


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


def log(store: Store, actor: str, action: str, *, article_id=None, claim_id=None, link_id=None,
        request_id=None, doi=None, details: dict | None = None) -> None:
    """Append one change (call it inside the transaction that makes the change)."""
    with store.write() as db:
        db.execute(
            "INSERT INTO history (at, actor, action, article_id, claim_id, link_id, request_id, doi,"
            " details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [now(), actor or DEFAULT_ACTOR, action, article_id, claim_id, link_id, request_id, doi,
             json.dumps(details or {}, ensure_ascii=False)],
        )


def history(
    store: Store,
    article: int | str | Article | None = None,
    claim: int | str | Claim | None = None,
    request: int | str | Request | None = None,
    doi: str | None = None,
) -> list[HistoryEntry]:
    """The recorded changes, oldest first, optionally for one article (ID, slug or
    ``Article``), claim, request or work (with what was recorded under the keys merged
    into it); an unknown one raises ``NotFoundError``."""
    # Imported here: the modules owning articles, claims and requests log through this
    # one, so it cannot import them while they load.
    from ._claims import get_article, get_claim
    from ._requests import get_request

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
        # A work's history includes the rows written under the keys merged into it.
        d = parse_doi(doi)
        d = store.merged_into(d) or d
        keys = [d, *store.merged_keys(d)]
        where.append(f"doi IN ({','.join('?' * len(keys))})")
        params += keys
    sql = "SELECT * FROM history" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    out = []
    for r in store.db.query(sql, params):
        r["details"] = json.loads(r["details"]) if r["details"] else {}
        out.append(from_row(HistoryEntry, r))
    return out
