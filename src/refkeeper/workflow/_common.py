"""What the modules of the editor's workflow share (see ``workflow``).

The stances and the default actor, and the small checks every action makes on what it
is given (an ID, a DOI, a stance, a time). No SQL here: each table has one module that
reads and writes it (the list is in DEVELOPERS.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TypeVar

from .._errors import UsageError
from .._identifiers import kept_doi
from .._models import Work, parse_work_key
from .._store import Store, now

STANCES = ("supports", "contests", "mentions")
DEFAULT_ACTOR = "editor"

T = TypeVar("T")


def parse_id(value, what: str) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise UsageError(f"{what} id must be a number, not {value!r}")
    return int(text)


def timestamp(text: str | None) -> str:
    """An ISO date or time given by a person, as UTC; now when none is given."""
    if not text:
        return now()
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"not an ISO date or time: {text!r} (e.g. 2024-05-31 or 2024-05-31T14:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    # Whole seconds, as people give them; they sort with now()'s microseconds as text.
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def check_stance(stance: str) -> str:
    s = (stance or "").strip().lower()
    if s not in STANCES:
        raise UsageError(f"stance must be one of {', '.join(STANCES)}, not {stance!r}")
    return s


def parse_doi(text: str) -> str:
    """The work key ``text`` names: a DOI, or the internal key of a work without one."""
    return parse_work_key(text)


def stored_work(store: Store, doi: str) -> Work:
    """The stored work ``doi`` names; an alias DOI names the work it is an alias of."""
    return store.require_work(kept_doi(store, parse_doi(doi)))


def unique(items: Iterable[T]) -> list[T]:
    """The items, each once, in their first order."""
    return list(dict.fromkeys(items))


def from_row(cls: type[T], row: dict) -> T:
    """A dataclass from a table row, ignoring columns it has no field for: a database a
    newer refkeeper added columns to is still read."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in row.items() if k in names})


def first_row(store: Store, sql: str, params: list) -> dict | None:
    return next(iter(store.db.query(sql, params)), None)
