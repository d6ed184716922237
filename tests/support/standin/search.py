"""The stand-in's own full-text search: SQLite FTS5, bm25 over title, authors, container
and numbers.

This began as a copy of refkeeper's offline index and is kept apart on purpose. The
stand-in plays Crossref, an engine refkeeper does not control: if it ranked with
refkeeper's own index, a change to offline search would silently change the "Crossref"
every online test and benchmark runs against, and online and offline figures would
measure one engine twice. It also keeps the stand-in free of refkeeper's private
modules. Change it only to make it more like Crossref, never to follow refkeeper.
"""

from __future__ import annotations

import html
import re
import sqlite3
import unicodedata
from collections.abc import Iterable

COLUMNS = ("title", "authors", "container", "numbers")
# bm25 weights per column: a shared title word says more than a shared number.
WEIGHTS = (4.0, 3.0, 1.0, 1.0)
MAX_QUERY_TERMS = 48

_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words too common in references to help find the work meant.
STOPWORDS = frozenset(
    """a an and are as at be by for from in into is it of on or the to with without via
    et al eds ed vol pp no doi org http https www dx
    der die das und von zu den des le la les et du de en y el los las""".split()
)


def normalize_doi(doi: str) -> str:
    """DOIs are case-insensitive: the stand-in keys and compares them lower-cased."""
    return doi.strip().lower()


def record_year(record: dict) -> int | None:
    """Publication year of a Crossref record, trying the date fields in Crossref's order."""
    for key in ("issued", "published", "published-print", "published-online", "created"):
        parts = (record.get(key) or {}).get("date-parts") or []
        if parts and parts[0] and parts[0][0]:
            try:
                return int(parts[0][0])
            except (TypeError, ValueError):
                continue
    return None


def strip_markup(s: str) -> str:
    """Drop JATS/HTML tags and decode entities (Crossref titles carry <i>, <sub>, &amp;)."""
    return html.unescape(_TAG.sub("", s))


def content_words(s: str) -> list[str]:
    """Folded word tokens without stop words and single letters (initials)."""
    if "<" in s or "&" in s:
        s = strip_markup(s)
    if s.isascii():
        s = s.lower()
    else:
        s = unicodedata.normalize("NFKD", s)
        s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold().replace("ß", "ss")
    return [w for w in _WORD.findall(s) if len(w) > 1 and w not in STOPWORDS]


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
    year = record_year(record)
    page = str(record.get("page") or "").split("-")[0]
    numbers = " ".join(str(x) for x in (year, record.get("volume"), record.get("issue"), page) if x)
    return title, authors, " ".join(containers), numbers


def add(conn: sqlite3.Connection, table: str, rows: Iterable[tuple[int, dict]]) -> None:
    """Index (rowid, record) pairs; an existing rowid is replaced."""
    conn.executemany(
        f"INSERT OR REPLACE INTO [{table}] (rowid, {', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
        ((rowid, *document(rec)) for rowid, rec in rows),
    )


def match_expression(text: str, column: str | None = None) -> str | None:
    """An FTS5 MATCH expression: any of the text's distinctive words (OR), quoted.

    Free-text citations have no reliable structure, so every content word may be
    evidence; bm25 rewards records that share many and rare ones.
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
