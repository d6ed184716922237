"""What the modules of the editor's workflow share (see ``workflow``).

The stances and the default actor; the small checks every action makes on what it is
given (an ID, a DOI, a stance, a time); ``_log``, which appends one row to ``history``
(the database refuses to update or delete history rows); and the problem kinds that
re-verification recorded for works, which links, replies and BibTeX show.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone

from .._errors import InputError, UsageError
from .._match import extract_dois
from .._models import Work, normalize_doi
from .._store import Store, now

STANCES = ("supports", "contests", "mentions")
DEFAULT_ACTOR = "editor"


# -- checking what an action is given -----------------------------------------------------


def _one(store: Store, sql: str, params: list) -> dict | None:
    return next(iter(store.db.query(sql, params)), None)


def _id(value, what: str) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise UsageError(f"{what} id must be a number, not {value!r}")
    return int(text)


def _timestamp(text: str | None) -> str:
    """An ISO date or time as refkeeper stores times (UTC, seconds), so the queue sorts."""
    if not text:
        return now()
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"not an ISO date or time: {text!r} (e.g. 2024-05-31 or 2024-05-31T14:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def _stance(stance: str) -> str:
    s = (stance or "").strip().lower()
    if s not in STANCES:
        raise UsageError(f"stance must be one of {', '.join(STANCES)}, not {stance!r}")
    return s


def _doi(text: str) -> str:
    found = extract_dois(text or "")
    if not found:
        raise InputError(f"not a DOI: {text!r}")
    return normalize_doi(found[0])


def _stored_work(store: Store, doi: str) -> Work:
    return store.require_work(_doi(doi))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# -- history ------------------------------------------------------------------------------


def _log(store: Store, actor: str, action: str, *, article_id=None, claim_id=None, link_id=None,
         request_id=None, doi=None, details: dict | None = None) -> None:
    store.db.execute(
        "INSERT INTO history (at, actor, action, article_id, claim_id, link_id, request_id, doi, details)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [now(), actor or DEFAULT_ACTOR, action, article_id, claim_id, link_id, request_id, doi,
         json.dumps(details or {}, ensure_ascii=False)],
    )


# -- problems recorded by re-verification -------------------------------------------------


