"""The records the stand-in serves, in SQLite.

Records come from JSONL(.gz) files or dicts, always passed in by the caller (``dev_index``
names the files of the dev index in a data directory the caller gives); ``build_db``
writes them, deduplicated by DOI, into a SQLite file with the stand-in's own full-text
index (``search``) over them. Databases built from files are cached per process,
and request threads read them through ``_ReadPool``.
"""

from __future__ import annotations

import atexit
import gzip
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from . import search as index
from .search import normalize_doi, record_year

# The dev index: the files, in a data directory, of the records a Crossref stand-in
# should serve (see the data directory's README).
DEV_INDEX_FILES = ("crossref-works.jsonl.gz", "pmc-records.dev.jsonl.gz")

FTS_TABLE = "works_fts"


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


def dev_index(data: str | os.PathLike) -> list[Path]:
    """The dev index files in the data directory ``data``; FileNotFoundError naming the
    missing path if the directory or a file is not there."""
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(
            f"data directory not found: {data} (it should hold {', '.join(DEV_INDEX_FILES)})"
        )
    paths = [data / name for name in DEV_INDEX_FILES]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"dev index file not found: {p}")
    return paths


def _normalize_sources(records: object) -> list:
    if records is None:
        # No default: the stand-in does not know where any checkout keeps its data.
        raise TypeError("StandIn needs records: a path, a record dict, or a list of them "
                        "(dev_index(data_dir) for the dev index)")
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
        # Each record's ``relation`` entries, for the relation.* filters (Crossref's dot
        # filters: one relation must match every relation.* filter given).
        conn.execute("CREATE TABLE relations (doi_lower TEXT NOT NULL, type TEXT NOT NULL,"
                     " object_lower TEXT NOT NULL, object_type TEXT)")
        conn.executemany(
            "INSERT INTO relations VALUES (?, ?, ?, ?)",
            ((doi, *rel) for doi, (rec, _) in by_doi.items() for rel in record_relations(rec)),
        )
        conn.execute("CREATE INDEX relations_object ON relations (object_lower)")
        conn.execute("CREATE INDEX records_year ON records (year)")
        conn.commit()
    finally:
        conn.close()
    return {
        "records": len(by_doi),
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 3),
    }


def record_relations(rec: dict) -> list[tuple[str, str, str | None]]:
    """(type, lower-cased object id, id type) of each of a record's ``relation`` entries."""
    out = []
    rels = rec.get("relation") if isinstance(rec.get("relation"), dict) else {}
    for name, entries in rels.items():
        for e in entries if isinstance(entries, list) else []:
            if isinstance(e, dict) and isinstance(e.get("id"), str) and e["id"].strip():
                out.append((name, e["id"].strip().lower(), e.get("id-type")))
    return out


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
            raise FileNotFoundError(f"stand-in records not found: {source}")
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
