"""Candidate search over Crossref records with SQLite: FTS5 and blocking keys.

Two ways in. ``search`` ranks with bm25 over title, authors, container and numbers:
the Crossref stand-in uses it, and so did offline resolution; its cost grows with the
index, because bm25 scores every document that shares any word with the citation.
``candidates`` is what offline resolution uses now: every look-up it makes reads at most
``PROBE_CAP + 1`` rows, whatever the size of the index (issue 14):

* blocking keys in a B-tree (``KEYS_TABLE``): first author's surname + year, volume +
  first page, each title word, and DOI-like tokens (the DOI's suffix, a PII, an article
  number: looked up as prefixes, so a DOI cut short still finds its work); a citation
  probes the keys its words and numbers could form, each read to at most
  ``PROBE_CAP + 1`` rows: a key found in more works than that is too common to be
  evidence and is skipped;
* only when that finds too little, the few longest common words together (FTS5, AND).

Hits are weighted by rarity (log of works per hit) and summed; the best few go to field
validation (``_match``), which decides exactly as before. A source only finds candidates.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterable

from ._models import record_year
from ._text import STOPWORDS, content_words, dehyphenate, fold, strip_markup, words

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


def create_compact(conn: sqlite3.Connection, table: str) -> None:
    """The FTS5 table of a store: contentless (the works table has the text) and without
    positions (``detail=column``: no phrase queries, which nothing here asks), a fraction
    of the size of ``create``'s. Rows are replaced with ``add_compact``."""
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS [{table}] USING fts5("
        + ", ".join(COLUMNS)
        + ", content='', detail=column, tokenize='unicode61 remove_diacritics 2')"
    )


def add_compact(conn: sqlite3.Connection, table: str, rows: Iterable[tuple[int, dict]],
                old: dict[int, dict] | None = None) -> None:
    """Index (rowid, record) pairs in a ``create_compact`` table; ``old`` holds the
    previous record of rowids being replaced (a contentless table forgets a row only when
    told what it held)."""
    add_documents(conn, table, [(rowid, document(rec)) for rowid, rec in rows], old)


def add_documents(conn: sqlite3.Connection, table: str, docs: Iterable[tuple[int, tuple]],
                  old: dict[int, dict] | None = None) -> None:
    """``add_compact`` for documents already made with ``document``."""
    cols = ", ".join(COLUMNS)
    if old:
        conn.executemany(
            f"INSERT INTO [{table}] ([{table}], rowid, {cols}) VALUES ('delete', ?, ?, ?, ?, ?)",
            ((rowid, *document(rec)) for rowid, rec in old.items()),
        )
    conn.executemany(f"INSERT INTO [{table}] (rowid, {cols}) VALUES (?, ?, ?, ?, ?)",
                     ((rowid, *doc) for rowid, doc in docs))


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


# -- bounded-cost candidates (issue 14) ----------------------------------------------

KEYS_TABLE = "work_keys"
# A look-up that finds more works than this says too little to be worth reading further:
# every probe reads at most PROBE_CAP + 1 rows, so a citation's cost does not grow with
# the index.
PROBE_CAP = 100
# Keys combine two fields, so a hit says more than one rare word.
KEY_WEIGHT = 2.0
_YEAR = re.compile(r"^(1[6-9]\d\d|20\d\d)$")
_DIGITS = re.compile(r"\d+")
_LOCATOR = re.compile(r"^[a-z]?(\d{1,7})$")


def create_keys(conn: sqlite3.Connection, table: str = KEYS_TABLE) -> None:
    """The blocking-key table: (key, work rowid), clustered on the key (WITHOUT ROWID)."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS [{table}] (key TEXT NOT NULL, work INTEGER NOT NULL, "
        "PRIMARY KEY (key, work)) WITHOUT ROWID"
    )


def _first_number(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    m = _DIGITS.search(str(value)) if value is not None else None
    return (m.group(0).lstrip("0") or "0") if m else None


def surname_words(family: str) -> list[str]:
    """The words of a surname a citation would show: 'García-Márquez' -> garcia, marquez."""
    return [w for w in words(family) if len(w) > 1 and not w.isdigit() and w not in STOPWORDS][:3]


def blocking_keys(record: dict) -> set[str]:
    """The blocking keys of one record: 'a<surname word>|<year>' for its first author
    (as listed, and as marked 'first' when that differs), 'p<volume>|<first page>'."""
    out: set[str] = set()
    year = record_year(record)
    people = record.get("author") or record.get("editor") or []
    if people:
        firsts = [people[0]] + [p for p in people if p.get("sequence") == "first"][:1]
        for p in firsts:
            for w in surname_words(p.get("family") or p.get("name") or ""):
                # A record without a year (PMC-derived stubs) is found by its author alone.
                out.add(f"a{w}|{year or ''}")
    vol = _first_number(record.get("volume"))
    page = _first_number(str(record.get("page") or "").split("-")[0] or None)
    if vol and page:
        out.add(f"p{vol}|{page}")
    for w in title_words(record):
        out.add(f"t{w}")
    out.update(f"d{t}" for t in doi_like_keys(record))
    return out


_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_DOI_PREFIX = re.compile(r"^10\.\d{4,9}/", re.IGNORECASE)
_DOI_PREFIX_IN = re.compile(r"10\.\d{4,9}/")
# A citation's runs of letters, digits and the punctuation DOIs, PIIs and article numbers
# are written with; anything else (spaces, commas, semicolons, colons) ends one.
_DOI_LIKE = re.compile(r"[0-9A-Za-z][0-9A-Za-z().\-_/]*")
DOI_KEY_LENGTH = 40


def doi_like(token: str) -> str | None:
    """The form a DOI-like token is keyed and looked up by: lower-case letters and digits
    only ('S0140-6736(05)67402-8' -> 's0140673605674028'), at most ``DOI_KEY_LENGTH``;
    None unless it has 6 characters, 3 of them digits (no word, year or page is one)."""
    norm = _NOT_ALNUM.sub("", token.lower())[:DOI_KEY_LENGTH]
    if len(norm) < 6 or sum(c.isdigit() for c in norm) < 3:
        return None
    return norm


def doi_like_keys(record: dict) -> set[str]:
    """What a citation might carry instead of the whole DOI, each keyed by ``doi_like``:
    the DOI's suffix (a DOI broken or cut short), the publisher's other ids (an Elsevier
    PII) and the article number ('e12059')."""
    out = set()
    doi = str(record.get("DOI") or "")
    for value, digits in [(doi.split("/", 1)[-1], 3), (record.get("article-number"), 3),
                          *((v, 8) for v in record.get("alternative-id") or [])]:
        # Other ids must look like a PII (15 digits or so): Springer's random ones
        # ('K92BQTT9HJJ0V7GA') are cited by nobody.
        key = doi_like(_DOI_PREFIX.sub("", value.strip())) if isinstance(value, str) else None
        if key and sum(c.isdigit() for c in key) >= digits:
            out.add(key)
    return out


def doi_like_tokens(text: str) -> list[str]:
    """The DOI-like tokens of a citation, as ``doi_like`` keys them: runs holding a letter
    and digits ('S0140-6736(05)67402-8', 'e12059', 'journal.pone.012'), or what follows
    a DOI prefix ('10.1016/ S0140...' split by a space, '10.2307/2345678')."""
    out: dict[str, None] = {}
    for m in _DOI_LIKE.finditer(text):
        token = m.group(0)
        prefix = _DOI_PREFIX_IN.search(token)  # 'doi.org/10.1007/s00776-...'
        bare = token[prefix.end():] if prefix else token
        if not prefix and not any(c.isalpha() for c in token):
            continue  # numbers alone are volumes, pages and years
        key = doi_like(bare)
        if key:
            out.setdefault(key, None)
    # '10.1016/ S0140-...': the suffix is the token after a bare prefix.
    for m in re.finditer(r"10\.\d{4,9}/\s+([0-9A-Za-z][0-9A-Za-z().\-_/]*)", text):
        key = doi_like(m.group(1))
        if key:
            out.setdefault(key, None)
    return list(out)


def title_words(record: dict) -> set[str]:
    """The title's words a look-up may use: content words of 3 to 40 letters."""
    text = " ".join((record.get("title") or []) + (record.get("subtitle") or []))
    return {w for w in content_words(text) if 3 <= len(w) <= 40 and not w.isdigit()}


def add_keys(conn: sqlite3.Connection, rows: Iterable[tuple[int, dict]],
             old: dict[int, dict] | None = None, table: str = KEYS_TABLE) -> None:
    """Index the blocking keys of (rowid, record) pairs; ``old`` holds the previous record
    of rowids being updated, whose keys are removed first."""
    add_key_sets(conn, [(rowid, blocking_keys(rec)) for rowid, rec in rows], old, table)


def add_key_sets(conn: sqlite3.Connection, rows: Iterable[tuple[int, Iterable[str]]],
                 old: dict[int, dict] | None = None, table: str = KEYS_TABLE) -> None:
    """``add_keys`` for keys already made with ``blocking_keys``."""
    if old:
        conn.executemany(
            f"DELETE FROM [{table}] WHERE key = ? AND work = ?",
            [(k, rowid) for rowid, rec in old.items() for k in blocking_keys(rec)],
        )
    # In key order: consecutive rows land on the same B-tree pages, which a batch of
    # works in file order would touch all over the table (a third less time).
    pairs = [(k, rowid) for rowid, keys in rows for k in keys]
    pairs.sort()
    conn.executemany(f"INSERT OR IGNORE INTO [{table}] (key, work) VALUES (?, ?)", pairs)


def _probe_key(conn: sqlite3.Connection, table: str, key: str, cap: int) -> list[int]:
    return [r[0] for r in conn.execute(
        f"SELECT work FROM [{table}] WHERE key = ? LIMIT ?", (key, cap + 1))]


def _probe_fts(conn: sqlite3.Connection, table: str, expr: str, cap: int) -> list[int]:
    # No ORDER BY: FTS5 returns rowids in order and stops at the limit.
    return [r[0] for r in conn.execute(
        f"SELECT rowid FROM [{table}] WHERE [{table}] MATCH ? LIMIT ?", (expr, cap + 1))]


def _probe_many(conn: sqlite3.Connection, table: str, probes: list[str], cap: int,
                fts: bool) -> list[list[int] | None]:
    """The rowids each probe finds, or None for a probe finding more than ``cap`` (too
    common to tell). Two statements, each a UNION ALL of limited sub-selects, so SQLite,
    not Python, loops over the probes: the first counts each probe's rows (to ``cap + 1``),
    the second reads the rowids of the probes that are not too common. Common words and
    keys are most of the rows, and counting them in C costs a fraction of reading them."""
    out: list[list[int] | None] = [[] for _ in probes]
    where = f"[{table}] MATCH ?" if fts else "key = ?"
    col = "rowid" if fts else "work"
    for start in range(0, len(probes), 200):  # SQLite allows 500 terms in a compound select
        chunk = probes[start:start + 200]
        sql = " UNION ALL ".join(
            f"SELECT {i}, count(*) FROM (SELECT 1 FROM [{table}] WHERE {where} LIMIT {cap + 1})"
            for i in range(len(chunk)))
        wanted = []
        for p, n in conn.execute(sql, chunk):
            if n > cap:
                out[start + p] = None
            elif n:
                wanted.append(p)
        if not wanted:
            continue
        # Numbered 0.. (not by probe) so the statement's text, and SQLite's compiled
        # statement in the connection's cache, depend only on how many there are.
        sql = " UNION ALL ".join(
            f"SELECT * FROM (SELECT {j} AS p, {col} FROM [{table}] WHERE {where} LIMIT {cap + 1})"
            for j in range(len(wanted)))
        for j, rowid in conn.execute(sql, [chunk[p] for p in wanted]):
            out[start + wanted[j]].append(rowid)
    return out


def _probe_prefixes(conn: sqlite3.Connection, table: str, prefixes: list[str], cap: int) -> list[list[int]]:
    """The rowids of the keys beginning with each prefix (at most ``cap + 1`` each). Keys
    made by ``doi_like`` hold only letters and digits, all below '~'."""
    out: list[list[int]] = [[] for _ in prefixes]
    if not prefixes:
        return out
    sql = " UNION ALL ".join(
        f"SELECT * FROM (SELECT {i} AS p, work FROM [{table}] WHERE key >= ? AND key < ? LIMIT {cap + 1})"
        for i in range(len(prefixes[:200])))
    for p, rowid in conn.execute(sql, [x for prefix in prefixes[:200] for x in (prefix, prefix + "~")]):
        out[p].append(rowid)
    return out


def author_year(conn: sqlite3.Connection, family: str, year: int, limit: int,
                table: str = KEYS_TABLE) -> list[int]:
    """Rowids of works whose first author's surname is ``family`` and year ``year``
    (at most ``limit``; an index look-up, whatever the size of the index)."""
    out: dict[int, None] = {}
    for w in surname_words(family):
        for rowid in _probe_key(conn, table, f"a{w}|{year}", limit - 1):
            out.setdefault(rowid, None)
    return list(out)[:limit]


def candidates(
    conn: sqlite3.Connection,
    text: str,
    limit: int,
    total: int,
    fts_table: str,
    keys_table: str = KEYS_TABLE,
    cap: int = PROBE_CAP,
) -> list[tuple[int, float]]:
    """(rowid, relevance) of the works most like citation ``text``, best first.

    ``total`` is the number of indexed works (the rarity scale). Every look-up reads at
    most ``cap + 1`` rows: the cost depends on the citation, not on the index size.
    """
    total = max(total, 1)
    scores: dict[int, float] = {}

    def hit(rowids: list[int] | None, weight: float = 1.0, base: float = 0.0) -> bool:
        if not rowids or len(rowids) > cap:
            return False
        w = base + weight * math.log(1.0 + total / len(rowids))
        for r in rowids:
            scores[r] = scores.get(r, 0.0) + w
        return True

    # Words broken across lines by PDF extraction ('macu- lopathy') joined, as validation does.
    text = dehyphenate(text)
    tokens = words(text)
    years = {t for t in tokens if _YEAR.match(t)}
    names = [t for t in dict.fromkeys(tokens)
             if len(t) > 1 and not t.isdigit() and t not in STOPWORDS and len(t) <= 40]
    # Numbers, with the letter of 'R41' or 'S20' pages dropped as the records' keys drop it.
    numbers = [m.group(1).lstrip("0") or "0" for m in map(_LOCATOR.match, tokens) if m]
    numbers = [n for n in numbers if n not in years]
    keys = [f"a{w}|{y}" for y in [*sorted(years), ""] for w in names]
    keys += sorted({f"p{a}|{b}" for i, a in enumerate(numbers) for b in numbers[i + 1:i + 4] if a != b})
    for found in _probe_many(conn, keys_table, keys, cap, fts=False):
        hit(found, KEY_WEIGHT)
    # A DOI-like token finds the works whose DOI suffix, PII or article number begins
    # with it (a DOI cut short too): a range of the same B-tree, read to cap + 1 rows.
    for found in _probe_prefixes(conn, keys_table, [f"d{t}" for t in doi_like_tokens(text)], cap):
        hit(found, KEY_WEIGHT)

    # Each word as a title word: a B-tree look-up read to at most cap + 1 rows, so a
    # word in more titles than that is skipped as too common to tell.
    terms = [w for w in dict.fromkeys(content_words(text))
             if 3 <= len(w) <= 40 and not w.isdigit()][:MAX_QUERY_TERMS]
    common: list[str] = []
    for w, found in zip(terms, _probe_many(conn, keys_table, [f"t{w}" for w in terms], cap, fts=False),
                        strict=True):
        if found is None:  # in more titles than cap: too common to tell alone
            common.append(w)
        else:
            hit(found)
    strong = sum(1 for s in scores.values() if s >= 2 * math.log(1.0 + total / cap))
    if strong < limit and len(common) >= 2:
        # Every word too common to tell alone: the longest few together.
        # A work with all of them shares each of those words: it earns at least what
        # each is worth alone (a word in more than cap titles), on top of their rarity together.
        longest = sorted(common, key=len, reverse=True)[:3]
        hit(_probe_fts(conn, fts_table, " AND ".join(f'"{w}"' for w in longest), cap),
            base=len(longest) * math.log(1.0 + total / (cap + 1)))
    best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return best[:limit]


__all__ = ["create", "add", "create_compact", "add_compact", "add_documents", "add_key_sets",
           "search", "match_expression", "document", "fold", "KEYS_TABLE",
           "PROBE_CAP", "create_keys", "blocking_keys", "add_keys", "author_year", "candidates",
           "surname_words", "doi_like", "doi_like_keys", "doi_like_tokens"]
