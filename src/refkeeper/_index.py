"""Full-text candidate search over Crossref records with SQLite FTS5.

Used by the local store (offline resolution) and by the Crossref stand-in, so both
rank candidates the same way: bm25 over title, authors, container and numbers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ._models import record_year
from ._text import content_words, fold, strip_markup

COLUMNS = ("title", "authors", "container", "numbers")
# bm25 weights per column: a shared title word says more than a shared number.
WEIGHTS = (4.0, 3.0, 1.0, 1.0)
MAX_QUERY_TERMS = 48


def create(conn: sqlite3.Connection, table: str) -> None:
    """Create the FTS5 table ``table`` (rowid is the caller's key) if missing."""
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS [{table}] USING fts5("
        + ", ".join(COLUMNS)
        + ", tokenize='unicode61 remove_diacritics 2')"
    )


def document(record: dict) -> tuple[str, str, str, str]:
    """The indexed text of one Crossref record, in COLUMNS order."""
    title = " ".join(strip_markup(t) for t in (record.get("title") or []) + (record.get("subtitle") or []))
    people = record.get("author") or record.get("editor") or []
    authors = " ".join(p.get("family") or p.get("name") or "" for p in people)
    containers = (record.get("container-title") or []) + (record.get("short-container-title") or [])
    container = " ".join(containers)
    year = record_year(record)
    page = str(record.get("page") or "").split("-")[0]
    numbers = " ".join(
        str(x) for x in (year, record.get("volume"), record.get("issue"), page) if x
    )
    return title, authors, container, numbers


def add(conn: sqlite3.Connection, table: str, rows: Iterable[tuple[int, dict]]) -> None:
    """Index (rowid, record) pairs; an existing rowid is replaced."""
    conn.executemany(
        f"INSERT OR REPLACE INTO [{table}] (rowid, {', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
        ((rowid, *document(rec)) for rowid, rec in rows),
    )


def match_expression(text: str, column: str | None = None) -> str | None:
    """An FTS5 MATCH expression: any of the text's distinctive words (OR), quoted.

    Free-text citations have no reliable structure, so every content word may be
    evidence; bm25 rewards candidates that share many and rare ones.
    """
    seen: dict[str, None] = {}
    for w in content_words(text):
        # Two-letter tokens are mostly initials: a long author list would otherwise
        # use up the terms before the title starts.
        if len(w) > 40 or len(w) < 3:
            continue
        seen.setdefault(w, None)
        if len(seen) >= MAX_QUERY_TERMS:
            break
    if not seen:
        return None
    terms = " OR ".join(f'"{w}"' for w in seen)
    return f"{column} : ({terms})" if column else terms


def search(
    conn: sqlite3.Connection,
    table: str,
    text: str,
    limit: int = 10,
    column: str | None = None,
    extra_where: str = "",
    params: tuple = (),
) -> list[tuple[int, float]]:
    """(rowid, relevance) best first; relevance is -bm25, higher is better, no fixed scale."""
    expr = match_expression(text, column)
    if expr is None:
        return []
    weights = ", ".join(str(w) for w in WEIGHTS)
    sql = (
        f"SELECT rowid, -bm25([{table}], {weights}) AS rel FROM [{table}] "
        f"WHERE [{table}] MATCH ? {extra_where} ORDER BY rel DESC LIMIT ?"
    )
    return [(r[0], r[1]) for r in conn.execute(sql, (expr, *params, limit))]


__all__ = ["create", "add", "search", "match_expression", "document", "fold"]
