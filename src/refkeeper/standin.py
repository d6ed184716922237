"""A local stand-in for the Crossref REST API, for tests and benchmarks.

What it is: a small HTTP server on 127.0.0.1 that answers the part of the Crossref REST
API refkeeper uses, from real Crossref records (by default the dev index in
``../shared/data``), with Crossref's URL forms, JSON envelopes, error bodies and
rate-limit headers. Tests talk real HTTP to it (habanero, requests, connection pools,
keep-alive), so the client code under test is the code that talks to Crossref.

    with StandIn(rate_limit=50) as s:
        requests.get(s.url + "/works", params={"query.bibliographic": "..."})

It can also misbehave on purpose: enforce a rate limit and a concurrency limit (429),
add latency, and answer the next requests with scripted faults (a status such as 500
or 429 with Retry-After, a malformed JSON body, a hang, a dropped connection) or with
random 5xx at a seeded rate, counting all of it in ``stats``. With ``max_request_line``
it refuses over-long URLs with 414, as Crossref's front end does.

Records change upstream after refkeeper stored them, and re-verification must notice.
``revise(doi, record)`` serves a later version of a record (``with_update`` adds a
retraction, correction, expression of concern... notice the way Crossref records one,
``with_changes`` corrects metadata the way a publisher's redeposit does);
``revise(doi, None)`` makes a DOI unknown (404); ``alias(old, new)`` makes a DOI an alias,
answered on ``/works/{old}`` with the record of ``new`` and absent from DOI filters;
``unlist(doi)`` keeps a record out of ``/works`` lists (a lagging search index) while
``/works/{doi}`` still finds it. All of it is undone by ``reset()``.

What it is not: Crossref. Relevance is refkeeper's own FTS5 ranking (``index.search``,
bm25 over title, authors, container and numbers), not Crossref's Elasticsearch scores,
so a test may rely on *which* record ranks first for a good citation but never on score
values. Only these routes and parameters exist: ``GET /works`` with ``query``,
``query.bibliographic``, ``query.author`` (and ``query.editor``/``query.contributor``/
``query.container-title``), ``filter`` (``doi``, ``from-pub-date``, ``until-pub-date``,
``type``), ``rows``, ``offset``, ``select``, ``mailto``; and ``GET /works/{doi}``.
Anything else is refused loudly (400 or 404) rather than answered approximately, so a
client that starts depending on more of the API finds out here, not in production.

Run it by hand (benchmarks, manual checks)::

    python -m refkeeper.standin --port 8080 --rate-limit 50 --concurrency 3 --latency 0.05
"""

from __future__ import annotations

import argparse
import atexit
import collections
import copy
import datetime
import gzip
import json
import os
import random
import re
import shutil
import socket
import socketserver
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote

from . import index
from .models import normalize_doi, record_year

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
# The dev index: the records the stand-in serves unless told otherwise.
DEFAULT_SOURCES = (
    SHARED_DATA / "crossref-works.jsonl.gz",
    SHARED_DATA / "pmc-records.dev.jsonl.gz",
)

FTS_TABLE = "works_fts"
DEFAULT_ROWS = 20
MAX_ROWS = 1000  # Crossref's cap on rows
MAX_OFFSET = 10000  # Crossref's cap on offset; beyond it Crossref wants a cursor
# Header values when a limit is not enforced: large, so a client that paces itself by
# the headers (as Crossref asks) does not slow the test suite down.
UNLIMITED_RATE = 10000
UNLIMITED_CONCURRENCY = 1000
RANDOM_FAULT_STATUSES = (500, 502, 503, 504)
NOT_FOUND = "Resource not found."
# Crossref's front end allows 4096 bytes for the request line ("GET /works?... HTTP/1.1")
# and answers 414 beyond (CrossRef/rest-api-doc#251). Off unless asked for: the resolver
# sends citations of up to 10,000 characters as queries.
CROSSREF_REQUEST_LINE = 4096

FILTERS = ("doi", "from-pub-date", "until-pub-date", "type")
# Field queries and the index column each one is restricted to.
FIELD_QUERIES = {
    "query.author": "authors",
    "query.editor": "authors",
    "query.contributor": "authors",
    "query.container-title": "container",
}
RANK_QUERIES = ("query", "query.bibliographic")
# Real Crossref parameters the stand-in does not implement: refused with a message that
# says so, instead of being silently ignored.
UNIMPLEMENTED_PARAMS = ("facet", "cursor", "sample")
# Crossref's work types (its /types route); a type filter outside them is a 400 there too.
CROSSREF_TYPES = frozenset(
    """book-section monograph report-component report peer-review book-track
    journal-article book-part other book journal-volume book-set reference-entry
    proceedings-article journal component book-chapter proceedings-series report-series
    proceedings database standard reference-book posted-content journal-issue
    dissertation grant dataset book-series edited-book""".split()
)
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DOI = re.compile(r"^10\.\d{4,}(?:\.\d+)*/\S")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", re.IGNORECASE)


# --- records and the SQLite database ------------------------------------------------


def _iter_source(source: object) -> Iterator[tuple[dict, str | None]]:
    """(record, its JSON text if already at hand) for a dict or a .jsonl[.gz] path."""
    if isinstance(source, dict):
        yield source, None
        return
    path = Path(source)  # type: ignore[arg-type]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            if rec.get("message-type") == "work" and isinstance(rec.get("message"), dict):
                # A whole recorded response rather than its message: unwrap it.
                yield rec["message"], None
            else:
                # Keep the original text: re-serialising 29k records costs a second.
                yield rec, line


def _normalize_sources(records: object) -> list:
    if records is None:
        return list(DEFAULT_SOURCES)
    if isinstance(records, (str, os.PathLike, dict)):
        return [records]
    return list(records)  # type: ignore[call-overload]


def build_db(sources: Iterable, path: str | os.PathLike) -> dict:
    """Write the records of ``sources`` into a new SQLite file at ``path``.

    Records are deduplicated by lower-cased DOI, a later source replacing an earlier
    one; records without a DOI cannot be served and are skipped. Returns counts and
    the build time.
    """
    started = time.perf_counter()
    by_doi: dict[str, tuple[dict, str | None]] = {}
    skipped = 0
    for source in sources:
        for rec, text in _iter_source(source):
            doi = rec.get("DOI")
            if not isinstance(doi, str) or not doi.strip():
                skipped += 1
                continue
            by_doi[normalize_doi(doi)] = (rec, text)
    conn = sqlite3.connect(path)
    try:
        # Built once and then only read: durability is irrelevant, speed is not.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute(
            "CREATE TABLE records (rowid INTEGER PRIMARY KEY, doi_lower TEXT UNIQUE NOT NULL,"
            " year INTEGER, type TEXT, json TEXT NOT NULL)"
        )
        index.create(conn, FTS_TABLE)
        numbered = list(enumerate(by_doi.items(), start=1))
        conn.executemany(
            "INSERT INTO records (rowid, doi_lower, year, type, json) VALUES (?, ?, ?, ?, ?)",
            (
                (rowid, doi, record_year(rec), rec.get("type"),
                 text if text is not None else json.dumps(rec, ensure_ascii=False))
                for rowid, (doi, (rec, text)) in numbered
            ),
        )
        index.add(conn, FTS_TABLE, ((rowid, rec) for rowid, (_, (rec, _)) in numbered))
        conn.execute("CREATE INDEX records_year ON records (year)")
        conn.commit()
    finally:
        conn.close()
    return {
        "records": len(by_doi),
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 3),
    }


# Databases built from files are cached per process: tests start several servers over
# the same 29k records, and rebuilding the index for each would dominate the suite.
_CACHE: dict[tuple, tuple[str, dict]] = {}
_CACHE_LOCK = threading.Lock()
_TMPDIR: str | None = None


def _tmpdir() -> str:
    global _TMPDIR
    if _TMPDIR is None:
        _TMPDIR = tempfile.mkdtemp(prefix="refkeeper-standin-")
        atexit.register(shutil.rmtree, _TMPDIR, True)
    return _TMPDIR


def _new_db_path() -> str:
    fd, path = tempfile.mkstemp(suffix=".sqlite", dir=_tmpdir())
    os.close(fd)
    os.unlink(path)  # sqlite3 creates it; an empty file would be read as a database
    return path


def _file_key(sources: list) -> tuple | None:
    """A cache key if every source is a file (by path, size and mtime), else None."""
    key = []
    for source in sources:
        if isinstance(source, dict):
            return None
        p = Path(source).resolve()
        st = p.stat()
        key.append((str(p), st.st_size, st.st_mtime_ns))
    return tuple(key)


def _obtain_db(sources: list) -> tuple[str, dict, bool]:
    """(db path, build info, owned): owned databases belong to one server and are
    deleted when it stops; cached ones live until the process exits."""
    for source in sources:
        if not isinstance(source, dict) and not Path(source).exists():
            raise FileNotFoundError(
                f"stand-in records not found: {source} (the shared data is expected at "
                f"{SHARED_DATA}; pass records=... to serve others)"
            )
    key = _file_key(sources)
    if key is None:
        path = _new_db_path()
        return path, build_db(sources, path), True
    with _CACHE_LOCK:
        if key not in _CACHE:
            path = _new_db_path()
            _CACHE[key] = (path, build_db(sources, path))
        path, info = _CACHE[key]
        return path, {**info, "cached": True}, False


class _ReadPool:
    """Read-only SQLite connections handed to request threads, one at a time each.

    A connection is not shared between threads at once; idle ones are reused, so a
    keep-alive client does not pay for a new connection per request.
    """

    def __init__(self, path: str) -> None:
        # immutable=1: the file never changes after the build, so skip locking.
        self._uri = Path(path).as_uri() + "?mode=ro&immutable=1"
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
        try:
            yield conn
        finally:
            with self._lock:
                if self._closed:
                    conn.close()
                else:
                    self._idle.append(conn)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


# --- the API ------------------------------------------------------------------------


class _BadRequest(Exception):
    """A Crossref-style validation failure: one or more (type, value, message)."""

    def __init__(self, *failures: tuple[str, str, str]) -> None:
        super().__init__(failures)
        self.failures = failures

    def body(self) -> dict:
        return {
            "status": "failed",
            "message-type": "validation-failure",
            "message": [{"type": t, "value": v, "message": m} for t, v, m in self.failures],
        }


def _envelope(message_type: str, message: dict) -> dict:
    return {
        "status": "ok",
        "message-type": message_type,
        "message-version": "1.0.0",
        "message": message,
    }


def _integer(params: dict, name: str, default: int, maximum: int, hint: str = "") -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > maximum:
        raise _BadRequest((
            "integer-not-valid",
            raw,
            f"Integer specified as {raw} but must be a positive integer less than or "
            f"equal to {maximum}.{hint}",
        ))
    return int(raw)


def _parse_filters(raw: str, known_types: frozenset) -> tuple[str, list]:
    """SQL condition over ``records`` and its parameters for a Crossref filter string.

    Repeated filters of one name are alternatives (several DOIs: any of them), different
    names must all hold, as in Crossref.
    """
    by_name: dict[str, list[str]] = collections.defaultdict(list)
    failures = []
    for part in raw.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition(":")
        name, value = name.strip(), value.strip()
        if not sep:
            failures.append((
                "pair-list-form-invalid",
                raw,
                f"Pair list form specified as '{raw}' but should be of the form: "
                "key:val,...,keyN:valN",
            ))
        elif name not in FILTERS:
            failures.append((
                "filter-not-available",
                name,
                f"Filter {name} specified but there is no such filter for this route. "
                f"Valid filters for this route (in the refkeeper stand-in) are: "
                + ", ".join(FILTERS),
            ))
        else:
            by_name[name].append(value)
    conditions: list[str] = []
    params: list = []
    for name, values in by_name.items():
        if name == "doi":
            dois = [normalize_doi(_DOI_PREFIX.sub("", v)) for v in values]
            for v, d in zip(values, dois, strict=True):
                if not _DOI.match(d):
                    failures.append((
                        "doi-not-valid",
                        v,
                        f"DOI specified as {v} but must be of the form: 10.prefix/suffix "
                        "where prefix is 4 or more digits and suffix is a string",
                    ))
            conditions.append(f"doi_lower IN ({', '.join('?' * len(dois))})")
            params.extend(dois)
        elif name == "type":
            for v in values:
                if v not in known_types:
                    failures.append((
                        "type-not-valid",
                        v,
                        f"Type specified as {v} but must be one of: "
                        + ", ".join(sorted(known_types)),
                    ))
            conditions.append(f"type IN ({', '.join('?' * len(values))})")
            params.extend(values)
        else:  # from-pub-date / until-pub-date
            for v in values:
                year = _date_year(v, failures)
                # Records carry a year at best reliably (and PMC-derived ones none), so
                # the stand-in compares years: from-pub-date:2010-06 admits all of 2010.
                conditions.append("year >= ?" if name == "from-pub-date" else "year <= ?")
                params.append(year)
    if failures:
        raise _BadRequest(*failures)
    return " AND ".join(conditions), params


def _date_year(value: str, failures: list) -> int:
    m = _DATE.match(value)
    if not m:
        failures.append((
            "date-not-valid",
            value,
            f"Date specified as {value} but must be of the form: yyyy or yyyy-MM or yyyy-MM-dd",
        ))
        return 0
    y, mo, d = (int(g) if g else 1 for g in m.groups())
    try:
        datetime.date(y, mo, d)
    except ValueError:
        failures.append((
            "date-not-legitimate",
            value,
            f"Date {value} specified in the correct format but represents an illegitimate date.",
        ))
    return y


def _single(qs: dict[str, list[str]]) -> dict[str, str]:
    """One value per parameter (the last, as most servers do); filters are joined."""
    params = {k: v[-1] for k, v in qs.items()}
    if "filter" in qs:
        params["filter"] = ",".join(qs["filter"])
    return params


def works_query(
    conn: sqlite3.Connection,
    qs: dict[str, list[str]],
    known_types: frozenset,
    overlay: _Overlay | None = None,
) -> dict:
    """The ``message`` of ``GET /works`` for parsed query-string ``qs``; raises _BadRequest.

    With an ``overlay``, revised records replace the stored ones, hidden DOIs are left
    out, and revised records of DOIs the database lacks are found by a ``doi`` filter
    (searches still rank the stored text: the index is built once).
    """
    params = _single(qs)
    failures = []
    for name in params:
        if name in RANK_QUERIES or name in FIELD_QUERIES:
            continue
        if name.startswith("query."):
            failures.append((
                "field-query-not-available",
                name,
                f"Field query {name} specified but there is no such field query for this "
                "route. Valid field queries for this route (in the refkeeper stand-in) are: "
                + ", ".join(["query.bibliographic", *FIELD_QUERIES]),
            ))
        elif name in UNIMPLEMENTED_PARAMS:
            failures.append((
                "parameter-not-implemented",
                name,
                f"The refkeeper stand-in does not implement {name} (Crossref does).",
            ))
        elif name == "sort" and params[name] not in ("score", "relevance"):
            failures.append((
                "parameter-not-implemented",
                name,
                "The refkeeper stand-in only sorts by score (relevance).",
            ))
        elif name == "order" and params[name] != "desc":
            failures.append((
                "parameter-not-implemented",
                name,
                "The refkeeper stand-in only sorts in descending order.",
            ))
        elif name not in ("filter", "rows", "offset", "select", "mailto", "sort", "order"):
            failures.append(
                ("parameter-not-allowed", name, f"This route does not support {name}")
            )
    if failures:
        raise _BadRequest(*failures)
    rows = _integer(params, "rows", DEFAULT_ROWS, MAX_ROWS)
    offset = _integer(
        params, "offset", 0, MAX_OFFSET,
        " Use the cursor parameter to page further into result sets.",
    )
    select = [s.strip() for s in params.get("select", "").split(",") if s.strip()]
    where, where_params = _parse_filters(params.get("filter", ""), known_types)
    if overlay and overlay.hidden:
        hidden = sorted(overlay.hidden)
        where = " AND ".join(
            c for c in (where, f"doi_lower NOT IN ({', '.join('?' * len(hidden))})") if c
        )
        where_params = [*where_params, *hidden]

    rank_text = " ".join(params[q] for q in RANK_QUERIES if params.get(q, "").strip())
    fields = [(col, params[q]) for q, col in FIELD_QUERIES.items() if params.get(q, "").strip()]
    if rank_text or fields:
        # Full-text search. The bibliographic text ranks; each field query must also
        # match in its own column (AND). With field queries only, the first one ranks.
        rank_column = None
        if not rank_text:
            rank_column, rank_text = fields.pop(0)
        extra, extra_params = "", []
        for col, text in fields:
            expr = index.match_expression(text, col)
            if expr is None:  # nothing searchable in it: nothing can match it
                return _work_list([], 0, rows, offset, params)
            extra += f" AND rowid IN (SELECT rowid FROM [{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH ?)"
            extra_params.append(expr)
        if where:
            extra += f" AND rowid IN (SELECT rowid FROM records WHERE {where})"
            extra_params.extend(where_params)
        expr = index.match_expression(rank_text, rank_column)
        if expr is None:
            return _work_list([], 0, rows, offset, params)
        total = conn.execute(
            f"SELECT count(*) FROM [{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH ? {extra}",
            (expr, *extra_params),
        ).fetchone()[0]
        hits = index.search(
            conn, FTS_TABLE, rank_text, limit=offset + rows, column=rank_column,
            extra_where=extra, params=tuple(extra_params),
        )[offset:]
    else:
        # Filters only (or nothing): every matching record, in load order, score 1.0.
        cond = f"WHERE {where}" if where else ""
        total = conn.execute(f"SELECT count(*) FROM records {cond}", where_params).fetchone()[0]
        hits = [
            (r[0], 1.0)
            for r in conn.execute(
                f"SELECT rowid FROM records {cond} ORDER BY rowid LIMIT ? OFFSET ?",
                (*where_params, rows, offset),
            )
        ]
    found = []
    if hits:
        ids = [h[0] for h in hits]
        texts = dict(conn.execute(
            f"SELECT rowid, json FROM records WHERE rowid IN ({', '.join('?' * len(ids))})", ids
        ))
        for rowid, score in hits:
            item = json.loads(texts[rowid])
            revised = overlay.records.get(normalize_doi(item["DOI"])) if overlay else None
            if revised is not None:
                item = copy.deepcopy(revised)
            found.append((item, float(score)))
    if overlay and not (rank_text or fields) and offset == 0:
        # Revised records the database never held: a doi filter finds them, at the end.
        added = _new_revisions(conn, overlay, params.get("filter", ""), found)
        total += len(added)
        found.extend((rec, 1.0) for rec in added[: max(0, rows - len(found))])
    items = []
    for item, score in found:
        item["score"] = score
        if select:
            # Like Crossref: only the selected fields, score included only if asked.
            item = {k: item[k] for k in select if k in item}
        items.append(item)
    return _work_list(items, total, rows, offset, params)


def _new_revisions(conn: sqlite3.Connection, overlay: _Overlay, raw_filter: str,
                   found: list) -> list[dict]:
    """Overlay records asked for by a doi-only filter that the database does not hold."""
    names = {p.partition(":")[0].strip() for p in raw_filter.split(",") if p.strip()}
    if names != {"doi"}:
        return []
    wanted = [normalize_doi(_DOI_PREFIX.sub("", p.partition(":")[2].strip()))
              for p in raw_filter.split(",") if p.strip()]
    have = {normalize_doi(item["DOI"]) for item, _ in found}
    out = []
    for doi in dict.fromkeys(wanted):
        rec = overlay.records.get(doi)
        if rec is None or doi in have or doi in overlay.hidden:
            continue
        if conn.execute("SELECT 1 FROM records WHERE doi_lower = ?", (doi,)).fetchone():
            continue  # in the database: the SQL above already decided about it
        out.append(copy.deepcopy(rec))
    return out


def _work_list(items: list, total: int, rows: int, offset: int, params: dict) -> dict:
    terms = next((params[q] for q in RANK_QUERIES if params.get(q, "").strip()), None)
    return {
        "facets": {},
        "total-results": total,
        "items": items,
        "items-per-page": rows,
        "query": {"start-index": offset, "search-terms": terms},
    }


def work_by_doi(conn: sqlite3.Connection, doi: str, overlay: _Overlay | None = None) -> dict | None:
    """The stored record for ``doi`` (any case, optionally doi.org/doi: prefixed).

    With an ``overlay``: its revision of the record, None for a DOI it made unknown, and
    for an alias the record of the DOI it points to (whose ``DOI`` is that one).
    """
    key = normalize_doi(_DOI_PREFIX.sub("", doi))
    if overlay:
        for _ in range(8):  # an alias of an alias resolves too; a cycle does not loop
            if key in overlay.records:
                rec = overlay.records[key]
                return copy.deepcopy(rec) if rec is not None else None
            if key not in overlay.aliases:
                break
            key = overlay.aliases[key]
    row = conn.execute("SELECT json FROM records WHERE doi_lower = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None


# --- later versions of records -------------------------------------------------------
#
# What Crossref serves for a work changes after refkeeper stored it. These helpers take a
# real record and return a copy changed the way Crossref changes one, for ``revise``.

# Crossref's labels for its update types (Crossmark) and Retraction Watch's natures.
UPDATE_LABELS = {
    "retraction": "Retraction",
    "partial_retraction": "Partial retraction",
    "withdrawal": "Withdrawal",
    "removal": "Removal",
    "expression_of_concern": "Expression of concern",
    "correction": "Correction",
    "erratum": "Erratum",
    "corrigendum": "Corrigendum",
    "addendum": "Addendum",
    "clarification": "Clarification",
    "new_version": "New version",
    "reinstatement": "Reinstatement",
}


def crossref_date(year: int, month: int = 1, day: int = 1) -> dict:
    """A date as Crossref writes it in ``updated``, ``indexed``, ``deposited``."""
    dt = datetime.datetime(year, month, day, tzinfo=datetime.timezone.utc)
    return {
        "date-parts": [[year, month, day]],
        "date-time": dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timestamp": int(dt.timestamp() * 1000),
    }


def with_update(
    record: dict,
    update_type: str,
    notice_doi: str | None = None,
    *,
    source: str = "publisher",
    date: tuple[int, int, int] = (2024, 5, 1),
    label: str | None = None,
    record_id: str | None = None,
) -> dict:
    """``record`` as Crossref serves it once an update notice points at it.

    Crossref records the notice in the updated work's ``updated-by`` (``type`` as in
    Crossmark: ``retraction``, ``correction``, ``erratum``, ``expression_of_concern``,
    ``withdrawal``...; ``source`` ``publisher`` or ``retraction-watch``, the latter with a
    Retraction Watch ``record-id``) and re-indexes the work. ``notice_doi`` defaults to the
    work's own DOI: an update made in place, as with Elsevier's withdrawals.
    """
    rec = copy.deepcopy(record)
    entry = {
        "updated": crossref_date(*date),
        "DOI": notice_doi or record["DOI"],
        "type": update_type,
        "source": source,
        "label": label or UPDATE_LABELS.get(update_type, update_type.replace("_", " ").capitalize()),
    }
    if source == "retraction-watch":
        entry["record-id"] = record_id or str(zlib.crc32(f"{record['DOI']} {update_type}".encode()) % 100000)
    rec["updated-by"] = [*rec.get("updated-by", []), entry]
    rec["indexed"] = {**crossref_date(*date), "version": "3.40.0"}
    return rec


def with_relation(record: dict, relation: str, target_doi: str, asserted_by: str = "object") -> dict:
    """``record`` with one more ``relation`` entry (e.g. ``"is-retracted-by"``)."""
    rec = copy.deepcopy(record)
    relations = dict(rec.get("relation") or {})
    relations[relation] = [
        *relations.get(relation, []),
        {"id-type": "doi", "id": target_doi, "asserted-by": asserted_by},
    ]
    rec["relation"] = relations
    return rec


def with_changes(record: dict, *, date: tuple[int, int, int] = (2024, 5, 1), **fields) -> dict:
    """``record`` after the publisher redeposited corrected metadata.

    Fields use Crossref's keys with ``_`` for ``-`` (``title=["..."]``, ``page="12-19"``,
    ``container_title=[...]``, ``author=[...]``); a value of None removes the field.
    ``deposited`` and ``indexed`` move to ``date``, as they do on a redeposit.
    """
    rec = copy.deepcopy(record)
    for name, value in fields.items():
        key = name.replace("_", "-")
        if value is None:
            rec.pop(key, None)
        else:
            rec[key] = value
    rec["deposited"] = crossref_date(*date)
    rec["indexed"] = {**crossref_date(*date), "version": "3.40.0"}
    return rec


def earlier_version(record: dict) -> dict:
    """What a record looked like before its update notices: without ``updated-by`` and
    without the relations Crossref derives from them. Real records that already carry a
    notice serve as the later version of this one."""
    rec = copy.deepcopy(record)
    rec.pop("updated-by", None)
    notice_relations = {
        name for name in (rec.get("relation") or {})
        if name.replace("_", "-").removeprefix("is-").removeprefix("has-").split("-")[0]
        in {"retraction", "retracted", "correction", "corrected", "erratum", "corrigendum",
            "expression", "withdrawal", "withdrawn", "partial", "new"}
    }
    if notice_relations:
        rec["relation"] = {k: v for k, v in rec["relation"].items() if k not in notice_relations}
    return rec


class _Overlay:
    """Later versions served over the immutable database. Replaced whole on each change,
    so request threads read one consistent version without a lock."""

    __slots__ = ("records", "aliases", "unlisted", "hidden")

    def __init__(self, records: Mapping[str, dict | None] | None = None,
                 aliases: Mapping[str, str] | None = None,
                 unlisted: Iterable[str] = ()) -> None:
        self.records = {normalize_doi(k): v for k, v in (records or {}).items()}
        self.aliases = {normalize_doi(k): normalize_doi(v) for k, v in (aliases or {}).items()}
        self.unlisted = frozenset(normalize_doi(d) for d in unlisted)
        # Kept out of /works lists: unknown DOIs, aliases (Crossref lists the primary DOI
        # only) and unlisted ones.
        self.hidden = frozenset(
            {d for d, r in self.records.items() if r is None} | set(self.aliases) | self.unlisted
        )

    def __bool__(self) -> bool:
        return bool(self.records or self.aliases or self.unlisted)

    def changed(self, *, records=None, aliases=None, unlisted=None) -> _Overlay:
        return _Overlay(
            {**self.records, **(records or {})},
            {**self.aliases, **(aliases or {})},
            self.unlisted | set(unlisted or ()),
        )


# --- the server ---------------------------------------------------------------------


class _Fault:
    __slots__ = ("kind", "status", "seconds", "retry_after")

    def __init__(self, kind, status=None, seconds=None, retry_after=None) -> None:
        self.kind, self.status, self.seconds, self.retry_after = kind, status, seconds, retry_after


class _Response:
    __slots__ = ("status", "body", "content_type", "headers", "close")

    def __init__(self, status=200, body=b"", content_type="application/json", headers=None,
                 close=False) -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}
        self.close = close  # drop the connection without answering


def _json(status: int, payload: dict) -> _Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return _Response(status, body, "application/json;charset=utf-8")


def _text(status: int, text: str, headers: dict | None = None) -> _Response:
    return _Response(status, text.encode("utf-8"), "text/plain;charset=utf-8", headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients use connection pools
    server_version = "refkeeper-standin"
    # Headers and body go out in two writes; without TCP_NODELAY Nagle's algorithm and
    # the client's delayed ACK add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    # An idle keep-alive connection gives its thread back eventually.
    timeout = 120

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format, *args) -> None:
        pass  # one line per request would drown test and benchmark output

    def setup(self) -> None:
        super().setup()
        self.server.standin._connections_add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.standin._connections_discard(self.connection)

    def do_GET(self) -> None:
        self.server.standin._handle(self)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connections under benchmark load

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can
        # take seconds on a machine without network; 127.0.0.1 needs no name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = host, port

    def handle_error(self, request, client_address) -> None:
        # A client that timed out and hung up is expected (hang faults); not worth a trace.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class StandIn:
    """The Crossref stand-in server. Use as a context manager or start()/stop().

    records: None for the dev index in ../shared/data; else a path, a record dict, or a
        list mixing both (a later record with the same DOI, any case, replaces earlier).
    rate_limit: admitted requests per ``interval`` seconds (sliding window); past it 429.
        An int is one window for all requests; a dict such as
        ``{"works_doi": 10, "works_query": 3}`` gives each route its own window, as
        Crossref limits single-work lookups and list queries separately (a route not
        in the dict is unlimited). The headers of each response carry its route's limit.
    concurrency: requests allowed in flight at once; past it 429.
    retry_after: seconds to send in Retry-After on limit refusals (default: no header,
        as Crossref often omits it).
    latency: seconds added to every response (settable at runtime).
    fault_rate, seed: probability of a random 5xx on an admitted request, seeded.
    max_request_line: refuse longer request lines ("GET /works?... HTTP/1.1" and its CRLF)
        with 414, as Crossref's front end does past ``CROSSREF_REQUEST_LINE`` (settable).
    revisions, aliases, unlisted: later versions to serve from the start, as ``revise``,
        ``alias`` and ``unlist`` would set them (``reset()`` returns to these).
    """

    def __init__(
        self,
        records: object = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int | dict[str, int] | None = None,
        interval: float = 1.0,
        concurrency: int | None = None,
        retry_after: float | None = None,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        seed: int = 0,
        max_request_line: int | None = None,
        revisions: Mapping[str, dict | None] | None = None,
        aliases: Mapping[str, str] | None = None,
        unlisted: Iterable[str] = (),
    ) -> None:
        self._sources = _normalize_sources(records)
        self.host, self.port = host, port
        self.rate_limit = rate_limit
        self.interval = interval
        self.concurrency = concurrency
        self.retry_after = retry_after
        self.latency = latency
        self.fault_rate = fault_rate
        self._random = random.Random(seed)
        self.max_request_line = max_request_line
        self._overlay = self._initial_overlay = _Overlay(revisions, aliases, unlisted)
        self._initial = (latency, fault_rate, max_request_line)  # what reset() returns to
        self._lock = threading.Lock()
        self._faults: collections.deque[_Fault] = collections.deque()
        # Admission times per rate window ("all" or a route kind).
        self._windows: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._in_flight = 0
        self._stats = self._zero_stats()
        self._history: collections.deque[tuple[str, int]] = collections.deque(maxlen=10000)
        self._connections: set[socket.socket] = set()
        # Sleeping requests (hang faults, latency) wait on this; reset() and stop() set it
        # to wake them, and reset() puts a fresh one in its place.
        self._wake = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._pool: _ReadPool | None = None
        self._db_path: str | None = None
        self._owned_db = False
        self.build_info: dict = {}
        self.known_types = CROSSREF_TYPES
        self.last_error: str | None = None  # traceback of the last bug in the handler

    # lifecycle

    def start(self) -> StandIn:
        if self._httpd is not None:
            return self
        self._db_path, self.build_info, self._owned_db = _obtain_db(self._sources)
        self._pool = _ReadPool(self._db_path)
        with self._pool.connection() as conn:
            types = {r[0] for r in conn.execute("SELECT DISTINCT type FROM records") if r[0]}
        self.known_types = CROSSREF_TYPES | types
        self._wake = threading.Event()
        self._httpd = _Server((self.host, self.port), _Handler)
        self._httpd.standin = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name="refkeeper-standin", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._wake.set()  # wakes requests sleeping in a hang fault or latency
        self._httpd.shutdown()
        self._httpd.server_close()
        # Keep-alive connections would otherwise go on being served by their threads.
        with self._lock:
            conns = list(self._connections)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)
        if self._pool is not None:
            self._pool.close()
        if self._owned_db and self._db_path:
            try:
                os.unlink(self._db_path)  # open read-only handles keep working on POSIX
            except OSError:
                pass
        self._httpd = self._thread = self._pool = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321 (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("the stand-in is not running; call start() or use `with`")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # faults and counters

    def inject(self, kind: str, value: float | None = None, *, retry_after: float | None = None,
               times: int = 1) -> None:
        """Queue a fault for the next admitted request(s), one per request, in order.

        inject("status", 500)                  answer 500 (text body)
        inject("status", 429, retry_after=1)   answer 429 with Retry-After: 1
        inject("malformed")                    answer 200 with a truncated JSON body
        inject("hang", 5)                      wait 5 s (default 30), then answer normally
        inject("close")                        drop the connection without answering
        """
        if kind == "status":
            if value is None or not 100 <= int(value) <= 599:
                raise ValueError("inject('status', code) needs an HTTP status code")
            fault = _Fault(kind, status=int(value), retry_after=retry_after)
        elif kind == "hang":
            fault = _Fault(kind, seconds=30.0 if value is None else float(value))
        elif kind in ("malformed", "close"):
            fault = _Fault(kind)
        else:
            raise ValueError(f"unknown fault {kind!r}: status, malformed, hang or close")
        with self._lock:
            self._faults.extend([fault] * times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    @staticmethod
    def _zero_stats() -> dict:
        return {
            "requests": 0,  # every request received
            "works_query": 0,  # GET /works
            "works_doi": 0,  # GET /works/{doi}
            "other": 0,  # any other path (404)
            "refused_rate": 0,  # 429 for the rate limit
            "refused_concurrency": 0,  # 429 for the concurrency limit
            "faults_injected": 0,  # scripted or random faults served
            "too_long": 0,  # 414 for a request line past max_request_line
            "max_in_flight": 0,  # most admitted requests in progress at once
            "status": {},  # responses by status code
        }

    @property
    def stats(self) -> dict:
        """A consistent snapshot of the counters (see _zero_stats for the keys)."""
        with self._lock:
            snap = dict(self._stats)
            snap["status"] = dict(self._stats["status"])
            snap["in_flight"] = self._in_flight
            return snap

    @property
    def history(self) -> list[tuple[str, int]]:
        """(request target as sent, response status) of recent requests, oldest first;
        a dropped connection is recorded as status 0."""
        with self._lock:
            return list(self._history)

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = self._zero_stats()
            self._history.clear()
            self._windows.clear()

    def reset(self) -> None:
        """Back to how it was constructed: no queued faults, the constructor's latency,
        fault rate, request-line limit and later versions, zero counters.

        Requests still sleeping in a hang or latency are woken and given a moment to
        finish first, so they do not turn up in the counters of whatever comes next.
        """
        self.clear_faults()
        self.latency, self.fault_rate, self.max_request_line = self._initial
        self._overlay = self._initial_overlay
        wake, self._wake = self._wake, threading.Event()
        wake.set()
        deadline = time.monotonic() + 2.0
        while self.stats["in_flight"] and time.monotonic() < deadline:
            time.sleep(0.005)
        self.reset_stats()

    # later versions of records

    def revise(self, doi: str, record: dict | None) -> None:
        """Serve ``record`` for ``doi`` from now on (by ``/works/{doi}`` and DOI filters),
        or answer 404 and leave it out of lists when ``record`` is None.

        Make later versions with ``with_update``, ``with_relation``, ``with_changes``;
        a record for a DOI the index lacks (a notice, say) is served as well.
        """
        if record is not None and normalize_doi(record.get("DOI", "")) != normalize_doi(doi):
            raise ValueError(f"the record's DOI {record.get('DOI')!r} is not {doi!r}; use alias()")
        self._overlay = self._overlay.changed(records={doi: record})

    def alias(self, doi: str, primary: str) -> None:
        """Make ``doi`` an alias of ``primary``: ``/works/{doi}`` answers with the record of
        ``primary`` (its own DOI in it) and DOI filters no longer list ``doi``."""
        self._overlay = self._overlay.changed(aliases={doi: primary})

    def unlist(self, doi: str) -> None:
        """Keep ``doi`` out of every ``/works`` list while ``/works/{doi}`` still finds it,
        as when Crossref's search index lags behind its registry."""
        self._overlay = self._overlay.changed(unlisted=[doi])

    # request handling (runs on the server's threads)

    def _connections_add(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _connections_discard(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    def _rate_limit_for(self, kind: str) -> tuple[int | None, str]:
        """(limit, window key) for a route kind; limit None means unlimited."""
        limit = self.rate_limit
        if isinstance(limit, dict):
            return limit.get(kind), kind
        return limit, "all"

    def _admit(self, kind: str) -> _Response | None:
        """Take an in-flight slot and a rate-window slot, or the 429 to answer instead."""
        with self._lock:
            if self.concurrency is not None and self._in_flight >= self.concurrency:
                self._stats["refused_concurrency"] += 1
                return self._refusal(
                    f"Too many concurrent requests: at most {self.concurrency} at a time."
                )
            limit, key = self._rate_limit_for(kind)
            if limit is not None:
                now = time.monotonic()
                window = self._windows[key]
                while window and window[0] <= now - self.interval:
                    window.popleft()
                # Only admitted requests fill the window, so the served rate never
                # exceeds the limit in any interval, however hard a client retries.
                if len(window) >= limit:
                    self._stats["refused_rate"] += 1
                    return self._refusal(
                        f"Rate limit exceeded: at most {limit} requests per {self.interval:g}s."
                    )
                window.append(now)
            self._in_flight += 1
            self._stats["max_in_flight"] = max(self._stats["max_in_flight"], self._in_flight)
            return None

    def _refusal(self, text: str) -> _Response:
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        return _text(429, text, headers)

    def _next_fault(self) -> _Fault | None:
        with self._lock:
            if self._faults:
                fault = self._faults.popleft()
            elif self.fault_rate and self._random.random() < self.fault_rate:
                fault = _Fault("status", status=self._random.choice(RANDOM_FAULT_STATUSES))
            else:
                return None
            self._stats["faults_injected"] += 1
            return fault

    def _handle(self, h: _Handler) -> None:
        pool = self._pool  # stop() clears the attribute; a late request keeps its pool
        target = h.path
        path, _, query = target.partition("?")
        if path.startswith("/v1/"):
            path = path[3:]  # Crossref serves the same routes under /v1
        kind = (
            "works_query" if path.rstrip("/") == "/works"
            else "works_doi" if path.startswith("/works/") and len(path) > len("/works/")
            else "other"
        )
        with self._lock:
            self._stats["requests"] += 1
            self._stats[kind] += 1
        limit = self.max_request_line
        if limit is not None and len(h.requestline) + 2 > limit:
            # Refused before anything else, like a front end that never passes it on.
            response = _text(414, "Request-URI Too Long")
            with self._lock:
                self._stats["too_long"] += 1
            self._record(target, response, release=False)
            self._write(h, kind, response)
            return
        refusal = self._admit(kind)
        if refusal is not None:
            self._sleep(self.latency)
            self._record(target, refusal, release=False)
            self._write(h, kind, refusal)
            return
        response = _text(500, "refkeeper stand-in: request not handled")
        try:
            fault = self._next_fault()
            if fault is not None and fault.kind == "hang":
                self._sleep(fault.seconds)
            response = self._fault_response(fault) or self._route(pool, kind, path, query)
            self._sleep(self.latency)
        except Exception:
            self.last_error = traceback.format_exc()
            response = _text(500, "refkeeper stand-in bug:\n" + self.last_error)
        finally:
            # Release before writing: the client cannot send its next request until it has
            # read this response, so releasing later could refuse a polite client.
            self._record(target, response, release=True)
        self._write(h, kind, response)

    def _sleep(self, seconds: float) -> None:
        if seconds and seconds > 0:
            self._wake.wait(seconds)

    def _fault_response(self, fault: _Fault | None) -> _Response | None:
        if fault is None or fault.kind == "hang":
            return None
        if fault.kind == "close":
            return _Response(close=True)
        if fault.kind == "malformed":
            return _Response(200, b'{"status":"ok","message-type":"work-list","message":{"ite')
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        return _text(fault.status, f"Injected fault: HTTP {fault.status}.", headers)

    def _route(self, pool: _ReadPool, kind: str, path: str, query: str) -> _Response:
        qs = parse_qs(query, keep_blank_values=True)
        overlay = self._overlay  # one version for the whole request
        if kind == "works_query":
            with pool.connection() as conn:
                try:
                    message = works_query(conn, qs, self.known_types, overlay)
                except _BadRequest as e:
                    return _json(400, e.body())
            return _json(200, _envelope("work-list", message))
        if kind == "works_doi":
            extra = [k for k in qs if k != "mailto"]
            if extra:
                return _json(400, _BadRequest(*(
                    ("parameter-not-allowed", k, f"This route does not support {k}")
                    for k in extra
                )).body())
            # habanero sends DOIs unquoted, others quote them: unquote either way.
            doi = unquote(path[len("/works/"):])
            with pool.connection() as conn:
                record = work_by_doi(conn, doi, overlay)
            if record is None:
                return _text(404, NOT_FOUND)
            return _json(200, _envelope("work", record))
        return _text(404, NOT_FOUND)

    def _record(self, target: str, r: _Response, release: bool) -> None:
        # One lock for counting and releasing: once in_flight is 0, every admitted
        # request is in the counters (reset() relies on it).
        with self._lock:
            status = 0 if r.close else r.status
            self._stats["status"][status] = self._stats["status"].get(status, 0) + 1
            self._history.append((target, status))
            if release:
                self._in_flight -= 1

    def _write(self, h: _Handler, kind: str, r: _Response) -> None:
        if r.close:
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            h.send_response(r.status)
            h.send_header("Content-Type", r.content_type)
            h.send_header("Content-Length", str(len(r.body)))
            limit = self._rate_limit_for(kind)[0]
            h.send_header("X-Rate-Limit-Limit", str(limit or UNLIMITED_RATE))
            h.send_header("X-Rate-Limit-Interval", f"{self.interval:g}s")
            h.send_header("X-Concurrency-Limit", str(self.concurrency or UNLIMITED_CONCURRENCY))
            h.send_header("Access-Control-Allow-Origin", "*")
            for name, value in r.headers.items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(r.body)
        except (ConnectionError, TimeoutError):
            h.close_connection = True  # the client gave up (e.g. timed out on a hang)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m refkeeper.standin",
        description="Serve a local stand-in for the Crossref REST API until Ctrl-C.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("--rate-limit", type=int, help="requests per second (default: no limit)")
    p.add_argument("--rate-limit-single", type=int, metavar="N",
                   help="own limit for /works/{doi} (with --rate-limit-list; overrides --rate-limit)")
    p.add_argument("--rate-limit-list", type=int, metavar="N",
                   help="own limit for /works queries")
    p.add_argument("--concurrency", type=int, help="requests in flight (default: no limit)")
    p.add_argument("--retry-after", type=float, help="send Retry-After with limit 429s")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added per response")
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of random 5xx")
    p.add_argument("--max-request-line", type=int, metavar="BYTES",
                   help=f"answer 414 past it (Crossref: {CROSSREF_REQUEST_LINE}; default: no limit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--records", action="append", metavar="PATH",
                   help="JSONL(.gz) of Crossref works; repeatable (default: the dev index)")
    args = p.parse_args(argv)
    rate_limit: int | dict[str, int] | None = args.rate_limit
    if args.rate_limit_single is not None or args.rate_limit_list is not None:
        rate_limit = {
            k: v for k, v in (("works_doi", args.rate_limit_single),
                              ("works_query", args.rate_limit_list)) if v is not None
        }
    server = StandIn(
        args.records, host=args.host, port=args.port, rate_limit=rate_limit,
        concurrency=args.concurrency, retry_after=args.retry_after, latency=args.latency,
        fault_rate=args.fault_rate, seed=args.seed, max_request_line=args.max_request_line,
    )
    with server:
        info = server.build_info
        print(
            f"{info['records']} records indexed in {info['seconds']} s", file=sys.stderr
        )
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
