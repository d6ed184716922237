"""The SQLite store: works, resolved citations and their full-text index.

The schema lives here and only here, as an ordered list of migrations
(``sqlite_utils.Migrations``) so an existing ``refs.db`` is upgraded in place,
never rebuilt. Tables are plain and named for people, so ``datasette refs.db``
is a usable browser.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import gzip
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import sqlite3
import stat
import tarfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import orjson
import sqlite_utils
from sqlite_utils import Migrations

from . import _index as index
from ._errors import InputError, NotFoundError, RefkeeperError, StoreError
from ._models import (
    KEY_FIELD,
    Candidate,
    Evidence,
    Resolution,
    Work,
    doi_of_key,
    is_internal_key,
    normalize_doi,
    problem_kinds,
    record_key,
)
from ._text import content_words, dehyphenate, words

DEFAULT_DB = "refs.db"
# Offline candidates: how many of the best by key evidence are re-ordered by title overlap
# before the resolver's few are kept, and what a title found whole is worth (about one
# rare key hit at a million works).
RERANK_POOL = 30
TITLE_OVERLAP_WEIGHT = 5.0
FTS_TABLE = "works_fts"

migrations = Migrations("refkeeper")


@migrations()
def m001_works_and_citations(db: sqlite_utils.Database) -> None:
    db["works"].create(
        {
            "doi": str,
            "title": str,
            "authors": str,  # JSON list of "Family, Given"
            "year": int,
            "container": str,
            "volume": str,
            "issue": str,
            "pages": str,
            "type": str,
            "publisher": str,
            "record": str,  # the Crossref message, JSON
            "source": str,  # crossref | snapshot | seed
            "bibtex_key": str,
            "added_at": str,
            "updated_at": str,
        },
        pk="doi",
    )
    db["works"].create_index(["bibtex_key"], unique=True)
    index.create(db.conn, FTS_TABLE)
    db["citations"].create(
        {
            "id": int,
            "key": str,  # hash of the normalised text and context: the cache key
            "text": str,
            "context": str,
            "status": str,
            "doi": str,
            "score": float,
            "method": str,
            "candidates": str,  # JSON list with evidence
            "error": str,
            "source": str,  # crossref | offline
            "resolved_at": str,
        },
        pk="id",
        foreign_keys=[("doi", "works", "doi")],
    )
    db["citations"].create_index(["key"], unique=True)


@migrations()
def m002_work_problems(db: sqlite_utils.Database) -> None:
    # Re-verification records what is wrong with a work; claims and exports read it.
    # problems: JSON list of kinds ("retraction", "correction", "expression-of-concern",
    # "withdrawal", "not-found", ...), NULL when never checked, "[]" when checked and fine.
    db["works"].add_column("problems", str)
    db["works"].add_column("checked_at", str)


@migrations()
def m003_claims_and_requests(db: sqlite_utils.Database) -> None:
    # The editor's workflow (refkeeper.workflow): articles and their claims, links from
    # claims to works with a stance and provenance, readers' reference requests, and an
    # append-only history. Plain SQL so the CHECKs, the partial index and the triggers
    # are visible in one place; every reference is a real foreign key for Datasette.
    stances = "'supports', 'contests', 'mentions'"
    # One statement at a time: executescript() would COMMIT the migration's transaction.
    for statement in [
        """
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            url TEXT,
            slug TEXT UNIQUE,
            text TEXT,                    -- the article's text, for proposing claims
            added_by TEXT,
            added_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE claims (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            text TEXT NOT NULL,           -- the statement, in the editor's words
            location TEXT,                -- where it sits: paragraph number, anchor
            quote TEXT,                   -- the article's own words, when different
            origin TEXT NOT NULL DEFAULT 'editor' CHECK (origin IN ('editor', 'proposed')),
            added_by TEXT,
            added_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX claims_article_id ON claims(article_id)",
        """
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            claim_id INTEGER REFERENCES claims(id),
            reader TEXT NOT NULL,         -- name or handle
            contact TEXT,
            text TEXT,                    -- the reader's own words
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'declined')),
            reason TEXT,                  -- why it was declined
            note TEXT,                    -- the editor's words posted with the answer
            received_at TEXT NOT NULL,
            added_by TEXT,
            closed_at TEXT,
            closed_by TEXT
        )
        """,
        "CREATE INDEX requests_status ON requests(status, received_at)",
        f"""
        CREATE TABLE links (
            id INTEGER PRIMARY KEY,
            claim_id INTEGER NOT NULL REFERENCES claims(id),
            doi TEXT NOT NULL REFERENCES works(doi),
            stance TEXT NOT NULL CHECK (stance IN ({stances})),
            asserted_by TEXT NOT NULL CHECK (asserted_by IN ('editor', 'reader', 'imported')),
            asserted_by_name TEXT,        -- the reader's name, the import's source ...
            request_id INTEGER REFERENCES requests(id),  -- the request it came with
            note TEXT,
            confirmed INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
            confirmed_by TEXT,
            confirmed_at TEXT,
            created_by TEXT,
            created_at TEXT NOT NULL,
            removed_at TEXT,              -- NULL while the link is live
            removed_by TEXT,
            removed_reason TEXT
        )
        """,
        "CREATE UNIQUE INDEX links_live_claim_doi ON links(claim_id, doi) WHERE removed_at IS NULL",
        "CREATE INDEX links_doi ON links(doi)",
        f"""
        CREATE TABLE request_works (
            request_id INTEGER NOT NULL REFERENCES requests(id),
            doi TEXT NOT NULL REFERENCES works(doi),
            stance TEXT CHECK (stance IS NULL OR stance IN ({stances})),
            added_by TEXT,
            added_at TEXT NOT NULL,
            PRIMARY KEY (request_id, doi)
        )
        """,
        """
        CREATE TABLE request_references (
            id INTEGER PRIMARY KEY,
            request_id INTEGER NOT NULL REFERENCES requests(id),
            position INTEGER NOT NULL,    -- order in the reader's list, from 1
            text TEXT NOT NULL,           -- the reference as the reader wrote it
            status TEXT NOT NULL CHECK (status IN ('matched', 'ambiguous', 'unmatched', 'error')),
            doi TEXT REFERENCES works(doi),  -- only when matched: never a guess
            score REAL,
            candidates TEXT,              -- JSON list of candidate DOIs when ambiguous
            error TEXT,
            resolved_at TEXT
        )
        """,
        "CREATE INDEX request_references_request_id ON request_references(request_id)",
        """
        CREATE TABLE history (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            article_id INTEGER REFERENCES articles(id),
            claim_id INTEGER REFERENCES claims(id),
            link_id INTEGER REFERENCES links(id),
            request_id INTEGER REFERENCES requests(id),
            doi TEXT REFERENCES works(doi),
            details TEXT                  -- JSON: what changed, before and after
        )
        """,
        "CREATE INDEX history_claim_id ON history(claim_id)",
        "CREATE INDEX history_request_id ON history(request_id)",
        """
        CREATE TRIGGER history_is_append_only_update BEFORE UPDATE ON history
            BEGIN SELECT RAISE(ABORT, 'history is append-only'); END
        """,
        """
        CREATE TRIGGER history_is_append_only_delete BEFORE DELETE ON history
            BEGIN SELECT RAISE(ABORT, 'history is append-only'); END
        """,
        """
        CREATE TRIGGER links_are_never_deleted BEFORE DELETE ON links
            BEGIN SELECT RAISE(ABORT, 'links are removed by setting removed_at, never deleted'); END
        """,
        """
        CREATE TRIGGER requests_are_never_deleted BEFORE DELETE ON requests
            BEGIN SELECT RAISE(ABORT, 'requests are declined, never deleted'); END
        """,
    ]:
        db.execute(statement)


@migrations()
def m004_verification(db: sqlite_utils.Database) -> None:
    # Re-verification (refkeeper.verify): one row per run with its counts, one row per
    # work checked in it (the primary key is what keeps a resumed run from checking a work
    # twice), and every version of a record seen upstream. works.problems/checked_at
    # (m002) keep the latest verdict; these tables keep the history behind it.
    for statement in [
        """
        CREATE TABLE verify_runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'interrupted', 'finished', 'abandoned')),
            scope TEXT NOT NULL CHECK (scope IN ('all', 'since')),
            since_days REAL,
            cutoff TEXT,                  -- works checked before it (or never) are due
            batch_size INTEGER,
            total INTEGER NOT NULL DEFAULT 0,     -- due when the run last (re)started
            checked INTEGER NOT NULL DEFAULT 0,   -- = ok + changed + problems + errors
            ok INTEGER NOT NULL DEFAULT 0,
            changed INTEGER NOT NULL DEFAULT 0,   -- metadata drift only
            problems INTEGER NOT NULL DEFAULT 0,  -- retraction, not-found, alias ...
            errors INTEGER NOT NULL DEFAULT 0,    -- could not be checked (bad DOI)
            requests INTEGER NOT NULL DEFAULT 0,  -- Crossref requests, retries not counted
            resumes INTEGER NOT NULL DEFAULT 0,
            error TEXT                    -- why it was interrupted
        )
        """,
        """
        CREATE TABLE work_snapshots (
            id INTEGER PRIMARY KEY,
            doi TEXT NOT NULL,
            taken_at TEXT NOT NULL,
            run_id INTEGER REFERENCES verify_runs(id),  -- NULL: the version stored before
            record TEXT NOT NULL          -- the Crossref message, JSON
        )
        """,
        "CREATE INDEX work_snapshots_doi ON work_snapshots(doi, id)",
        """
        CREATE TABLE verify_results (
            run_id INTEGER NOT NULL REFERENCES verify_runs(id),
            doi TEXT NOT NULL,            -- no foreign key: history outlives a deleted work
            checked_at TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'changed', 'problem', 'error')),
            kinds TEXT NOT NULL DEFAULT '[]',      -- JSON list of problem kinds
            new_kinds TEXT NOT NULL DEFAULT '[]',  -- those the work did not have before
            notices TEXT,                 -- JSON list: kind, type, doi, sources, date, label
            diff TEXT,                    -- JSON {field: [stored, upstream]}
            alias_of TEXT,                -- the DOI Crossref now answers with
            notice_for TEXT,              -- JSON: works this record is itself a notice about
            snapshot_id INTEGER REFERENCES work_snapshots(id),  -- the version stored now
            error TEXT,
            PRIMARY KEY (run_id, doi)
        )
        """,
        "CREATE INDEX verify_results_doi ON verify_results(doi)",
        """
        CREATE TRIGGER work_snapshots_are_kept_update BEFORE UPDATE ON work_snapshots
            BEGIN SELECT RAISE(ABORT, 'snapshots are never changed'); END
        """,
        """
        CREATE TRIGGER work_snapshots_are_kept_delete BEFORE DELETE ON work_snapshots
            BEGIN SELECT RAISE(ABORT, 'snapshots are never deleted'); END
        """,
    ]:
        db.execute(statement)


@migrations()
def m005_editors(db: sqlite_utils.Database) -> None:
    # Editor accounts for the web desk (`refkeeper editor add`, sign-in): the name goes into
    # history, the password only as an argon2 hash. Owned by refkeeper._editors.
    db.execute(
        """
        CREATE TABLE editors (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            added_at TEXT NOT NULL
        )
        """
    )


@migrations()
def m006_reference_searched_as(db: sqlite_utils.Database) -> None:
    # When an editor searches again with edited text (or a DOI typed by hand), the reader's
    # reference stays as the reader wrote it; the text actually searched is kept beside it.
    db.execute("ALTER TABLE request_references ADD COLUMN searched_as TEXT")


@migrations()
def m007_identifiers(db: sqlite_utils.Database) -> None:
    # Identifiers a work carries besides its DOI (PMID, PMCID, arXiv ID, alias DOIs) and
    # the agency that registered its DOI; owned by _identifiers.py. No foreign key to
    # works: a mapping learnt from a registry is true before (or without) the work stored.
    for statement in [
        """
        CREATE TABLE work_identifiers (
            doi TEXT NOT NULL,
            scheme TEXT NOT NULL CHECK (scheme IN ('pmid', 'pmcid', 'arxiv', 'doi', 'agency')),
            value TEXT NOT NULL,
            added_at TEXT NOT NULL,
            PRIMARY KEY (doi, scheme, value)
        )
        """,
        "CREATE INDEX work_identifiers_value ON work_identifiers (scheme, value)",
    ]:
        db.execute(statement)


@migrations()
def m008_request_chunks(db: sqlite_utils.Database) -> None:
    # Editors correct how a reader's comment was split (issue 12): the request keeps the
    # comment as pasted, each reference the input lines it came from (to split it again at
    # a line), and the chunks taken for prose, with theirs, so one can be brought back as a
    # reference. A reference whose resolved_at is NULL is still to be resolved.
    for statement in [
        "ALTER TABLE requests ADD COLUMN comment TEXT",
        "ALTER TABLE request_references ADD COLUMN line INTEGER",
        "ALTER TABLE request_references ADD COLUMN end_line INTEGER",
        """
        CREATE TABLE request_prose (
            id INTEGER PRIMARY KEY,
            request_id INTEGER NOT NULL REFERENCES requests(id),
            text TEXT NOT NULL,           -- the chunk as split, lines joined
            line INTEGER,                 -- 1-based lines of the request's comment, if known
            end_line INTEGER,
            added_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX request_prose_request_id ON request_prose(request_id)",
    ]:
        db.execute(statement)


@migrations()
def m009_index_keys_and_generation(db: sqlite_utils.Database) -> None:
    # Offline resolution at any size (issue 14): blocking keys (first author + year,
    # volume + first page) looked up in a B-tree instead of ranking every document that
    # shares a word; a generation counter the works bump on every change; and, on each
    # cached answer, the generation it was decided against, so an offline "unmatched" or
    # "ambiguous" is decided again once the index has changed.
    index.create_keys(db.conn, index.KEYS_TABLE)
    db.execute(
        "CREATE TABLE index_state (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "generation INTEGER NOT NULL, changed_at TEXT)"
    )
    db.execute("INSERT INTO index_state (id, generation, changed_at) VALUES (1, 0, NULL)")
    db["citations"].add_column("generation", int)
    rows = db.execute("SELECT rowid, record FROM works")
    while True:
        chunk = rows.fetchmany(5000)
        if not chunk:
            break
        index.add_keys(db.conn, [(rowid, unpack_record(rec)) for rowid, rec in chunk])


@migrations()
def m010_snapshot_files(db: sqlite_utils.Database) -> None:
    # The files of a snapshot (a directory or tarball of Crossref's public data file)
    # imported completely: a killed import resumes after them, and a newer snapshot's
    # changed files (other size or time) are imported again.
    db.execute(
        """
        CREATE TABLE snapshot_files (
            snapshot TEXT NOT NULL,       -- the directory or tarball, as an absolute path
            name TEXT NOT NULL,           -- the file inside it
            size INTEGER NOT NULL,
            mtime INTEGER NOT NULL,
            works INTEGER NOT NULL,       -- works written from it
            imported_at TEXT NOT NULL,
            PRIMARY KEY (snapshot, name)
        )
        """
    )


@migrations()
def m011_compact_works(db: sqlite_utils.Database) -> None:
    # Toward the whole of Crossref on one machine (issue 14): the full-text index becomes
    # contentless and position-free (the works table already holds the text; nothing asks
    # phrase queries), rebuilt here from the works. Records written from now on are stored
    # compressed (``pack_record``); older rows keep their JSON text and read the same.
    db.execute(f"DROP TABLE IF EXISTS [{FTS_TABLE}]")
    index.create_compact(db.conn, FTS_TABLE)
    rows = db.execute("SELECT rowid, record FROM works")
    while True:
        chunk = rows.fetchmany(5000)
        if not chunk:
            break
        index.add_compact(db.conn, FTS_TABLE, [(rowid, unpack_record(rec)) for rowid, rec in chunk])



@migrations()
def m012_request_stance(db: sqlite_utils.Database) -> None:
    # What the reader said their references do to the claim (supports / contests /
    # mentions), kept with the request: the desk resolves a pasted list in the background,
    # and references still pending after a restart are linked with it when resumed.
    db.execute("ALTER TABLE requests ADD COLUMN stance TEXT")


@migrations()
def m013_merged_works(db: sqlite_utils.Database) -> None:
    # One work, several identifiers (issue 13): a duplicate merged into another keeps its
    # row, marked with the key it now lives under, because history rows (append-only)
    # still name it; it leaves the index and every listing, and look-ups follow the mark.
    db.execute("ALTER TABLE works ADD COLUMN merged_into TEXT")
    db.execute("CREATE INDEX works_merged_into ON works(merged_into) WHERE merged_into IS NOT NULL")


@migrations()
def m014_doi_like_keys(db: sqlite_utils.Database) -> None:
    # DOI-like tokens among the blocking keys (issue 14): a citation whose DOI is broken
    # or cut short, or that gives a PII or an article number, finds the work by them.
    # Works stored before get theirs here (the records are read once).
    rows = db.execute("SELECT rowid, record FROM works")
    while True:
        chunk = rows.fetchmany(5000)
        if not chunk:
            break
        index.add_key_sets(db.conn, [(rowid, {f"d{k}" for k in index.doi_like_keys(unpack_record(rec))})
                                     for rowid, rec in chunk])


# Records are stored as zlib streams primed with this dictionary: the keys and the stock
# values of Crossref's work records, so that even a short record compresses well. Never
# change it: records written with it must stay readable. A new one gets a new format byte.
_RECORD_DICT_V1 = (
    '"subtitle":[],"relation":{},"content-domain":{"domain":[],"crossmark-restriction":false},'
    '"content-type":"unspecified","content-version":"vor","delay-in-days":0,'
    '"content-version":"tdm","content-version":"am","applies-to":"tdm","applies-to":"vor",'
    '"intended-application":"text-mining","intended-application":"similarity-checking",'
    '"content-type":"text/xml","content-type":"application/pdf","content-type":"text/plain",'
    '"URL":"http://creativecommons.org/licenses/by/4.0/","URL":"https://www.elsevier.com/tdm/userlicense/1.0/",'
    '"URL":"https://www.springer.com/tdm","URL":"http://onlinelibrary.wiley.com/termsAndConditions#vor",'
    '"URL":"http://doi.wiley.com/10.1002/tdm_license_1.1","URL":"https://academic.oup.com/journals/pages/'
    'open_access/funder_policies/chorus/standard_publication_model",'
    '"publisher":"Elsevier BV","publisher":"Springer Science and Business Media LLC","publisher":"Wiley",'
    '"publisher":"Oxford University Press (OUP)","publisher":"Ovid Technologies (Wolters Kluwer Health)",'
    '"publisher":"American Physical Society (APS)","publisher":"SAGE Publications",'
    '"publisher":"Informa UK Limited","publisher":"MDPI AG","publisher":"IOP Publishing",'
    '"publisher":"Public Library of Science (PLoS)","publisher":"American Chemical Society (ACS)",'
    '"type":"book-chapter","type":"proceedings-article","type":"posted-content","type":"book",'
    '"funder":[{"DOI":"10.13039/","name":"","doi-asserted-by":"publisher","award":[""]}],'
    '"doi-asserted-by":"crossref","ORCID":"http://orcid.org/","authenticated-orcid":false,'
    '"authenticated-orcid":true,"update-policy":"http://dx.doi.org/10.1016/elsevier_cm_policy",'
    '"assertion":[{"value":"","order":0,"name":"","label":"","group":{"name":"publication_history",'
    '"label":"Publication History"}}],"article-number":"","isbn-type":[{"value":"","type":"print"}],'
    '"ISBN":[""],"alternative-id":[""],"archive":["Portico"],"archive":["CLOCKSS"],'
    '"journal-issue":{"issue":"","published-print":{"date-parts":[[',
    '"subject":[""],"language":"en","reference-count":0,"is-referenced-by-count":0,'
    '"references-count":0,"source":"Crossref","member":"","score":1,"prefix":"10.",'
    '"resource":{"primary":{"URL":"https://"}},"link":[{"URL":"https://api.elsevier.com/content/'
    'article/PII:","content-type":"text/xml","content-version":"vor","intended-application":"text-mining"}],'
    '"license":[{"start":{"date-parts":[[],"date-time":"T00:00:00Z","timestamp":}],'
    '"issn-type":[{"type":"print","value":""},{"type":"electronic","value":""}],"ISSN":["",""],'
    '"container-title":[""],"short-container-title":[""],"original-title":[],"page":"","volume":"",'
    '"issue":"","published-online":{"date-parts":[[]]},"published-print":{"date-parts":[[]]},'
    '"published":{"date-parts":[[]]},"issued":{"date-parts":[[]]},'
    '"created":{"date-parts":[[]],"date-time":"","timestamp":},'
    '"deposited":{"date-parts":[[]],"date-time":"","timestamp":},'
    '"indexed":{"date-parts":[[]],"date-time":"","timestamp":},"title":[""],'
    '"author":[{"given":"","family":"","sequence":"first","affiliation":[]},'
    '{"given":"","family":"","sequence":"additional","affiliation":[]}],'
    '"URL":"http://dx.doi.org/10.","URL":"https://doi.org/10.","DOI":"10.","type":"journal-article",'
)
_RECORD_DICT_V1 = "".join(_RECORD_DICT_V1).encode("utf-8")
_PACKED_V1 = b"\x01"


def pack_record(record: dict) -> bytes:
    """A Crossref record as stored: its JSON, compressed (about a third of the text)."""
    z = zlib.compressobj(3, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, _RECORD_DICT_V1)
    return _PACKED_V1 + z.compress(dumps(record)) + z.flush()


def dumps(value: object) -> bytes:
    """Compact JSON as UTF-8 (orjson; the standard library for what orjson refuses, such
    as integers beyond 64 bits)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads(data: bytes | str) -> object:
    """JSON text parsed (orjson, about twice as fast as the standard library); what
    orjson refuses (NaN, a byte-order mark...) is given to the standard library, so what
    parses and the messages of what does not are the standard library's."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)


def unpack_record_text(stored: str | bytes) -> str:
    """The JSON text of a stored record, whichever way it was stored (older versions kept
    the text itself)."""
    if isinstance(stored, str):
        return stored
    if stored[:1] != _PACKED_V1:
        raise StoreError("a stored record is in a format this refkeeper does not know")
    z = zlib.decompressobj(-15, _RECORD_DICT_V1)
    return (z.decompress(stored[1:]) + z.flush()).decode("utf-8")


def unpack_record(stored: str | bytes) -> dict:
    return loads(unpack_record_text(stored))


BUSY_TIMEOUT = 30.0  # seconds a writer waits for another process's transaction to end


def now() -> str:
    """The one clock for every stored time: UTC, ISO 8601, to the microsecond.

    Microseconds because verification compares times: a run started in the same second
    another finished must still see the works that run checked as due. Rows written by
    older versions hold whole seconds; both forms parse with ``datetime.fromisoformat`` and
    sort correctly together as text ("12:00:00+00:00" < "12:00:00.000001+00:00").
    """
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def citation_key(text: str, context: str | None = None) -> str:
    norm = " ".join(text.split()) + "\x00" + " ".join((context or "").split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


# Database files this process found at the latest schema and writable, by a fingerprint:
# the desk opens a Store per request, and checking the migrations and every table's columns
# each time cost more than most pages' queries. The fingerprint is (device, inode, SQLite's
# schema_version, number of applied migrations): a file replaced at the same path has
# another inode, and a newer refkeeper adding a column or a migration changes the others,
# so such a file is checked again (and refused for writing) at its next opening.
_CHECKED: set[tuple[int, int, int, int, int]] = set()


def _fingerprint(store: Store) -> tuple[int, int, int, int, int] | None:
    if store.path == ":memory:" or store.path.startswith("file:"):
        return None
    try:
        st = os.stat(store.path)
        db = store.db
        version = db.execute("PRAGMA schema_version").fetchone()[0]
        applied = db.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0]
    except (OSError, sqlite3.DatabaseError):
        return None  # not a refkeeper database yet (or not readable): check it in full
    # The last part is what this code knows: a file checked against fewer migrations than
    # the code now has (a schema swapped at run time, as upgrade tests do) is checked again.
    return (st.st_dev, st.st_ino, version, applied, len(_known_schema()[0]))


def _checked_before(store: Store) -> bool:
    if store.readonly_reason is not None:
        return False
    key = _fingerprint(store)
    return key is not None and key in _CHECKED


def _remember_checked(store: Store) -> None:
    if store.readonly_reason is None:
        key = _fingerprint(store)
        if key is not None:
            _CHECKED.add(key)


class Store:
    """A refkeeper database: the file at ``path`` (``Store()``: ``./refs.db``). The library
    reads no environment; the CLI and the desk turn ``--db``/``$REFKEEPER_DB`` into ``path``.

    Several processes can share one file (two ``resolve`` batches, an ``import`` beside
    a ``snapshot import``, a web server beside the CLI): connections use WAL, so readers
    never wait for the writer; a writer waits up to ``timeout`` seconds for another to
    commit; and every write is one short transaction begun with ``BEGIN IMMEDIATE``
    (``write()``), which takes the write lock before reading, so it waits on the busy
    handler instead of failing with "database is locked" half-way.

    Threads: one Store may be shared by threads. Each thread gets its own connection
    (``db``), opened on its first use, so a threaded web server and its workers never
    share a connection. (``":memory:"`` is one database per connection, so an in-memory
    Store keeps a single connection and is for one thread at a time.)

    A database this process should not write to is still opened for reading:
    ``readonly_reason`` then says why (the file or its directory is read-only, or a newer
    refkeeper wrote it) and ``write()`` raises ``StoreError`` with that reason.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = BUSY_TIMEOUT) -> None:
        self.path = str(path or DEFAULT_DB)
        self.timeout = timeout
        self._local = threading.local()
        self._opened: list[sqlite_utils.Database] = []
        self._opened_lock = threading.Lock()
        self.readonly_reason: str | None = _unwritable(self.path)
        try:
            if not _checked_before(self):
                self._prepare()
                _remember_checked(self)
        except RefkeeperError:
            self.close()
            raise
        except Exception as exc:  # sqlite3.DatabaseError, OSError ...
            self.close()
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc

    # -- connections and transactions ------------------------------------------------

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection (opened on first use)."""
        db = getattr(self._local, "db", None)
        if db is None:
            with self._opened_lock:
                if self.path == ":memory:" and self._opened:
                    db = self._opened[0]
                else:
                    db = self._connect()
                    self._opened.append(db)
            self._local.db = db
        return db

    @property
    def writable(self) -> bool:
        return self.readonly_reason is None

    def _connect(self) -> sqlite_utils.Database:
        # isolation_level=None: no implicit BEGIN; transactions are write()'s explicit
        # BEGIN IMMEDIATE (and sqlite-utils' own atomic() nested in it as savepoints).
        # check_same_thread=False only so close() can close every thread's connection;
        # each connection is used by the thread that opened it.
        opts = {"timeout": self.timeout, "isolation_level": None, "check_same_thread": False}
        if self.path == ":memory:":
            conn = sqlite3.connect(":memory:", **opts)
        elif self.readonly_reason is not None:
            conn = sqlite3.connect(_readonly_uri(self.path), uri=True, **opts)
        else:
            conn = sqlite3.connect(self.path, **opts)
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:" and self.readonly_reason is None:
            # WAL lets readers (Datasette, another refkeeper) work while one writes; with
            # WAL, NORMAL sync never corrupts the file and only a power cut can lose the
            # last commits.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        return sqlite_utils.Database(conn)

    def _prepare(self) -> None:
        """Upgrade the schema in place, or find why this version must not write."""
        db = self.db
        known, columns = _known_schema()
        applied = [m.name for m in migrations.applied(db)]
        unknown = [name for name in applied if name not in known]
        if unknown:
            self._refuse_writes(f"schema {_short(unknown[-1])}")
            return
        if [name for name in known if name not in applied]:
            if self.readonly_reason is not None:
                raise StoreError(f"{self.path} needs upgrading to this refkeeper's schema "
                                 f"({_short(known[-1])}), but {self.readonly_reason}")
            with self.write():
                migrations.apply(db)  # re-reads what is pending, now under the write lock
        for table, cols in columns.items():
            extra = sorted(set(db[table].columns_dict) - cols)
            if extra:
                self._refuse_writes(f"column {table}.{extra[0]}")
                return

    def _refuse_writes(self, what: str) -> None:
        latest = _short(_known_schema()[0][-1])
        self.readonly_reason = (f"{self.path} was written by a newer refkeeper ({what}; "
                                f"this version knows up to {latest})")
        self.close()  # reopened read-only on next use: nothing here can write it by mistake

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on error).

        Every write goes through here. Nested, it is a savepoint of the outer one. Raises
        ``StoreError`` when the database must not be written (``readonly_reason``), or when
        another writer held it longer than ``timeout``.
        """
        if self.readonly_reason is not None:
            raise StoreError(self.readonly_reason)
        db = self.db
        if db.conn.in_transaction:
            with db.atomic():
                yield db
            return
        try:
            db.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._write_error(exc) from exc
        try:
            yield db
        except sqlite3.OperationalError as exc:
            db.rollback()
            if _is_store_failure(exc):
                raise self._write_error(exc) from exc
            raise
        except BaseException:
            db.rollback()
            raise
        try:
            db.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            db.rollback()
            raise self._write_error(exc) from exc

    def _write_error(self, exc: sqlite3.OperationalError) -> StoreError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StoreError(f"{self.path} is busy: another refkeeper kept it locked for over "
                              f"{self.timeout:g} s")
        if "readonly" in text or "read-only" in text:
            return StoreError(f"cannot write to {self.path}: it is read-only")
        return StoreError(f"cannot write to {self.path}: {text}")

    def close(self) -> None:
        """Close every thread's connection."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
            self._local = threading.local()
        for db in opened:
            db.close()

    # -- works --------------------------------------------------------------------

    def add_work(self, record: dict, source: str = "crossref") -> Work:
        """Insert or update one Crossref record; the full-text index follows."""
        self.add_records([record], source)
        return Work.from_crossref(record)

    def add_records(self, records: Iterable[dict], source: str, batch_size: int = 1000) -> int:
        """Bulk upsert Crossref records in transactions of ``batch_size``; returns the count."""
        return self._add_checked(map(_checked, records), source, batch_size)

    def _add_checked(self, records: Iterable[dict], source: str, batch_size: int = 1000) -> int:
        """``add_records`` for records already checked with ``record_problem``."""
        n = 0
        batch: list[dict] = []
        for rec in records:
            batch.append(rec)
            if len(batch) >= batch_size:
                n += self._write_batch(batch, source)
                batch = []
        if batch:
            n += self._write_batch(batch, source)
        return n

    def _write_batch(self, records: list[dict], source: str) -> int:
        return self._write_prepared(prepare_records(records), source)

    def _write_prepared(self, prepared: list[PreparedWork], source: str,
                        finished: tuple | None = None) -> int:
        """Write prepared works in one transaction; ``finished`` (snapshot, name, size,
        mtime, works) records a snapshot's file as imported in the same transaction."""
        stamp = now()
        with self.write():
            conn = self.db.conn
            known: dict[str, tuple[int, str | bytes]] = {}
            merged: set[str] = set()
            for chunk in _chunks([p.doi for p in prepared], 500):
                sql = (f"SELECT doi, rowid, record, merged_into FROM works"
                       f" WHERE doi IN ({','.join('?' * len(chunk))})")
                for doi, rowid, rec, into in conn.execute(sql, chunk):
                    if into is None:
                        known[doi] = (rowid, rec)
                    else:
                        merged.add(doi)
            if merged:
                # A record for a key merged into another work is not written back: the kept
                # work's record stands, and the merged row stays out of the index.
                prepared = [p for p in prepared if p.doi not in merged]
            # New works take the next rowids (this transaction holds the write lock), so
            # the index rows are written without reading the rowids back. Known ones are
            # updated in place: their citation key, problems and added_at stay.
            next_id = conn.execute("SELECT coalesce(max(rowid), 0) + 1 FROM works").fetchone()[0]
            ids, new, updated = [], [], []
            for p in prepared:
                if p.doi in known:
                    rowid = known[p.doi][0]
                    updated.append((*p.columns, p.packed, source, stamp, rowid))
                else:
                    rowid, next_id = next_id, next_id + 1
                    new.append((rowid, p.doi, *p.columns, p.packed, source, stamp, stamp))
                ids.append(rowid)
            conn.executemany(
                "INSERT INTO works (rowid, doi, title, authors, year, container, volume, issue, pages,"
                " type, publisher, record, source, updated_at, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", new)
            conn.executemany(
                "UPDATE works SET title = ?, authors = ?, year = ?, container = ?, volume = ?,"
                " issue = ?, pages = ?, type = ?, publisher = ?, record = ?, source = ?,"
                " updated_at = ? WHERE rowid = ?", updated)
            old = {rowid: unpack_record(rec) for rowid, rec in known.values()}
            pairs = list(zip(ids, prepared, strict=True))
            index.add_documents(conn, FTS_TABLE, [(i, p.document) for i, p in pairs], old)
            index.add_key_sets(conn, [(i, p.keys) for i, p in pairs], old)
            conn.execute("UPDATE index_state SET generation = generation + 1, changed_at = ?"
                         " WHERE id = 1", [stamp])
            if finished:
                self._record_file(finished)
        return len(prepared)

    def _record_file(self, finished: tuple) -> None:
        self.db.execute("INSERT OR REPLACE INTO snapshot_files"
                        " (snapshot, name, size, mtime, works, imported_at) VALUES (?, ?, ?, ?, ?, ?)",
                        [*finished, now()])

    def generation(self) -> int:
        """The works' generation: it grows with every change to the stored works, so an
        answer decided against an older one can tell."""
        row = self.db.execute("SELECT generation FROM index_state WHERE id = 1").fetchone()
        return row[0] if row else 0

    def get_work(self, doi: str) -> Work | None:
        """The stored work ``doi``; for a key merged into another work, the work it now
        lives under (whose ``doi`` differs from the one asked)."""
        row = self.db.execute(
            "SELECT record, merged_into FROM works WHERE doi = ?", [normalize_doi(doi)]
        ).fetchone()
        if row is not None and row[1] is not None:
            row = self.db.execute("SELECT record FROM works WHERE doi = ? AND merged_into IS NULL",
                                  [row[1]]).fetchone()
        return Work.from_crossref(unpack_record(row[0])) if row else None

    def merged_into(self, doi: str) -> str | None:
        """The key of the work ``doi`` was merged into, None when it was not merged (or is
        not stored). Chains are flattened by ``move_work``, so this is one look-up."""
        row = self.db.execute("SELECT merged_into FROM works WHERE doi = ?", [normalize_doi(doi)]).fetchone()
        return row[0] if row else None

    def merged_keys(self, doi: str) -> list[str]:
        """The keys merged into the work ``doi``, oldest merge first."""
        return [r[0] for r in self.db.execute(
            "SELECT doi FROM works WHERE merged_into = ? ORDER BY updated_at, rowid", [normalize_doi(doi)])]

    def has_works_without_doi(self) -> bool:
        """Whether any work without a DOI is stored (internal keys sort after every DOI,
        which starts "10.": one step into the primary key's index)."""
        return self.db.execute("SELECT 1 FROM works WHERE doi > '2' LIMIT 1").fetchone() is not None

    def is_stored(self, doi: str) -> bool:
        """Whether ``doi`` is the key of a stored work (not one merged away)."""
        return self.db.execute("SELECT 1 FROM works WHERE doi = ? AND merged_into IS NULL",
                               [normalize_doi(doi)]).fetchone() is not None

    def move_work(self, old: str, new: str) -> dict:
        """The store's part of merging the work ``old`` into ``new`` (``workflow.merge_works``
        does the whole, in its transaction): cached answers naming ``old`` name ``new``; the
        citation key moves to ``new`` when it has none (``old``'s is freed otherwise); ``old``
        leaves the full-text index and the blocking keys and is marked merged into ``new``
        (as is every key merged into ``old`` before). Returns what moved."""
        old, new = normalize_doi(old), normalize_doi(new)
        with self.write():
            conn = self.db.conn
            rows = {doi: (rowid, rec, key, into) for doi, rowid, rec, key, into in conn.execute(
                "SELECT doi, rowid, record, bibtex_key, merged_into FROM works WHERE doi IN (?, ?)",
                [old, new])}
            for doi in (old, new):
                if doi not in rows or rows[doi][3] is not None:
                    raise NotFoundError(f"{doi} is not a stored work in {self.path}")
            answers = conn.execute("UPDATE citations SET doi = ? WHERE doi = ?", [new, old]).rowcount
            # Candidate lists of ambiguous answers name works too: the old one becomes the
            # new one (once, where both were candidates).
            for cid, cands in conn.execute(
                    "SELECT id, candidates FROM citations WHERE instr(candidates, ?) > 0",
                    [json.dumps(old)]).fetchall():
                listed, seen = [], set()
                for c in json.loads(cands):
                    c["doi"] = new if c.get("doi") == old else c.get("doi")
                    if c["doi"] not in seen:
                        seen.add(c["doi"])
                        listed.append(c)
                conn.execute("UPDATE citations SET candidates = ? WHERE id = ?", [json.dumps(listed), cid])
            old_key, new_key = rows[old][2], rows[new][2]
            conn.execute("UPDATE works SET bibtex_key = NULL WHERE doi = ?", [old])
            if new_key is None and old_key is not None:
                conn.execute("UPDATE works SET bibtex_key = ? WHERE doi = ?", [old_key, new])
            rowid, rec = rows[old][0], unpack_record(rows[old][1])
            index.add_documents(conn, FTS_TABLE, [], {rowid: rec})
            index.add_key_sets(conn, [], {rowid: rec})
            stamp = now()
            conn.execute("UPDATE works SET merged_into = ?, updated_at = ? WHERE doi = ?", [new, stamp, old])
            earlier = conn.execute("UPDATE works SET merged_into = ? WHERE merged_into = ?",
                                   [new, old]).rowcount
            conn.execute("UPDATE index_state SET generation = generation + 1, changed_at = ?"
                         " WHERE id = 1", [stamp])
        return {"answers": answers, "key": new_key or old_key,
                "key_moved": new_key is None and old_key is not None, "earlier_merges": earlier}

    def title_groups(self) -> Iterator[list[tuple[str, str]]]:
        """Groups of two or more stored works with the same normalised title, year and
        first author's surname, as (key, title) pairs: probably one work stored twice."""
        groups: dict[tuple, list[tuple[str, str]]] = {}
        for doi, title, authors, year in self.db.execute(
                "SELECT doi, title, authors, year FROM works WHERE merged_into IS NULL"
                " AND title IS NOT NULL AND year IS NOT NULL"):
            first = (json.loads(authors) or [""])[0] if authors else ""
            surname = " ".join(words(first.split(",")[0])) if first else ""
            folded = " ".join(content_words(dehyphenate(title)))
            if folded and surname:
                groups.setdefault((folded, year, surname), []).append((doi, title))
        for group in groups.values():
            if len(group) > 1:
                yield group

    def require_work(self, doi: str) -> Work:
        w = self.get_work(doi)
        if w is None:
            raise NotFoundError(f"{doi} is not in {self.path}; add it with `refkeeper add {doi}`")
        return w

    def works(self, dois: Iterable[str] | None = None) -> Iterator[Work]:
        """Stored works (all, or the given DOIs in that order), streamed."""
        if dois is None:
            sql = "SELECT record FROM works WHERE merged_into IS NULL ORDER BY rowid"
            for (rec,) in self.db.execute(sql):
                yield Work.from_crossref(unpack_record(rec))
            return
        for d in dois:
            yield self.require_work(d)

    def count_works(self) -> int:
        return self.db.execute("SELECT count(*) FROM works WHERE merged_into IS NULL").fetchone()[0]

    def search(self, text: str, limit: int = 10, column: str | None = None) -> list[Work]:
        """Stored works most relevant to ``text``, best first: the bounded-cost
        ``candidates``; with ``column`` ("title", "authors", "container", "numbers"),
        bm25 over that column of the full-text index alone."""
        if column is None:
            return self.candidates(text, limit)
        return self._works_by_rowid(index.search(self.db.conn, FTS_TABLE, text, limit, column=column))

    def candidates(self, text: str, limit: int = 10) -> list[Work]:
        """Stored works most like the citation ``text``, best first, found at a cost that
        does not grow with the number of works (``_index.candidates``)."""
        total = self._count_for_rarity()
        hits = index.candidates(self.db.conn, text, max(limit, RERANK_POOL), total, FTS_TABLE)
        if len(hits) > limit:
            # In a large index many works are found by one key alone and tie: the share
            # of each one's title words the citation contains breaks the tie (a bounded
            # pool, one look-up by rowid).
            words = set(content_words(dehyphenate(text)))
            titles = dict(self.db.execute(
                f"SELECT rowid, title FROM works WHERE rowid IN ({','.join('?' * len(hits))})",
                [rowid for rowid, _ in hits]))

            def overlap(rowid: int) -> float:
                title = set(content_words(titles.get(rowid) or ""))
                return len(title & words) / len(title) if title else 0.0

            hits = sorted(hits, key=lambda h: -(h[1] + TITLE_OVERLAP_WEIGHT * overlap(h[0])))[:limit]
        return self._works_by_rowid(hits)

    def by_author_year(self, family: str, year: int, limit: int = 200) -> list[Work]:
        """Stored works whose first author's surname is ``family`` and year ``year``."""
        return self._works_by_rowid([(r, 0.0) for r in index.author_year(self.db.conn, family, year, limit)])

    def _count_for_rarity(self) -> int:
        # max(rowid) is one B-tree descent; count(*) reads the table. Rowids are never
        # reused for a different work (works are not deleted), so it is the size within
        # what a rarity weight needs.
        return self.db.execute("SELECT coalesce(max(rowid), 0) FROM works").fetchone()[0]

    def _works_by_rowid(self, hits: list[tuple[int, float]]) -> list[Work]:
        if not hits:
            return []
        records = dict(self.db.execute(
            f"SELECT rowid, record FROM works WHERE rowid IN ({','.join('?' * len(hits))})",
            [rowid for rowid, _ in hits]).fetchall())
        out = []
        for rowid, rel in hits:
            if rowid in records:
                rec = unpack_record(records[rowid])
                rec["score"] = rel
                out.append(Work.from_crossref(rec))
        return out

    def bibtex_keys(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT doi, bibtex_key FROM works WHERE bibtex_key IS NOT NULL"))

    def set_bibtex_keys(self, keys: dict[str, str]) -> None:
        """Keep the keys an export chose for works that had none. On a database this
        process must not write, they are not stored: the export still has them, computed
        the same way next time (keys are stable)."""
        if self.readonly_reason is not None:
            return
        with self.write():
            for doi, key in keys.items():
                self.db.execute(
                    "UPDATE works SET bibtex_key = ? WHERE doi = ? AND bibtex_key IS NULL",
                    [key, doi],
                )

    def import_snapshot(
        self,
        path: str | os.PathLike,
        source: str = "snapshot",
        progress: Callable[[ImportProgress], None] | None = None,
    ) -> int:
        """Import Crossref records in bulk; returns how many works were written.

        ``path`` is one file (JSONL, one work or one ``{"items": [...]}`` page per line,
        or a JSON file holding such a page; gzipped or not), or Crossref's public data
        file as published: a directory, or a tarball, of ``.json.gz`` files. Files of a
        directory or tarball that were imported completely before (same name, size and
        modification time) are skipped, so an import killed half-way resumes where it
        stopped; a newer snapshot's changed files are imported again, updating the works
        in place. ``progress`` is called after every batch and file.
        """
        p = Path(path)
        if not p.exists():
            raise InputError(f"no such file: {p}")
        state = ImportProgress(str(p))
        with self._bulk():
            return self._import_path(p, source, state, progress)

    @contextlib.contextmanager
    def _bulk(self) -> Iterator[None]:
        """This connection set for a bulk import, and restored after: a 64 MB page cache,
        so the indexes' pages are not read again for every batch, and a checkpoint every
        40 MB of WAL instead of every 4 MB (WAL with synchronous=NORMAL syncs only there:
        a kill or a power cut still leaves every committed batch). Measured no faster
        than that: synchronous=OFF, which a power cut could leave corrupt."""
        conn = self.db.conn
        cache = conn.execute("PRAGMA cache_size").fetchone()[0]
        pages = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        conn.execute("PRAGMA cache_size = -65536")
        conn.execute("PRAGMA wal_autocheckpoint = 10000")
        try:
            yield
        finally:
            conn.execute(f"PRAGMA cache_size = {int(cache)}")
            conn.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")

    def _import_path(self, p: Path, source: str, state: ImportProgress,
                     progress: Callable[[ImportProgress], None] | None) -> int:
        try:
            if p.is_dir():
                members = [(f.relative_to(p).as_posix(), f.stat().st_size, int(f.stat().st_mtime),
                            functools.partial(str, f))
                           for f in sorted(p.rglob("*")) if f.is_file() and _is_records_file(f.name)]
                return self._import_members(str(p.resolve()), iter(members), len(members), source,
                                            state, progress)
            if tarfile.is_tarfile(p):
                with tarfile.open(p, "r:*") as tar:
                    listed = [m for m in tar.getmembers() if m.isfile() and _is_records_file(m.name)]
                    members = ((m.name, m.size, int(m.mtime), functools.partial(_read_member, tar, m))
                               for m in listed)
                    return self._import_members(str(p.resolve()), members, len(listed), source,
                                                state, progress)
            state.files = 1
            with p.open("rb") as raw:
                n = self._add_checked(_read_records(str(p), raw, state, progress), source)
            state.files_done = 1
            if progress:
                progress(state)
            return n
        except (OSError, EOFError, UnicodeDecodeError, tarfile.TarError, zlib.error) as exc:
            raise InputError(f"cannot read {p}: {exc}") from exc

    def _import_members(self, snapshot: str, members: Iterator, count: int, source: str,
                        state: ImportProgress, progress: Callable[[ImportProgress], None] | None) -> int:
        """Import the files of a snapshot: worker processes (one a core) read, check and
        prepare the next files (one each ahead, so memory stays flat) while this one writes:
        preparing a work costs about three times what writing it does."""
        done = {(name, size, mtime) for name, size, mtime in self.db.execute(
            "SELECT name, size, mtime FROM snapshot_files WHERE snapshot = ?", [snapshot])}
        state.files = count

        def todo() -> Iterator[tuple]:
            for name, size, mtime, content in members:
                if (name, size, mtime) in done:
                    state.files_skipped += 1
                    state.files_done += 1
                    continue
                yield name, size, mtime, content

        n = 0
        files = todo()
        pending: collections.deque = collections.deque()
        workers = max(1, os.cpu_count() or 1)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                 initializer=exit_with_parent) as pool:

            def submit() -> None:
                for name, size, mtime, content in files:
                    pending.append(((name, size, mtime), pool.submit(prepare_file, name, content())))
                    return

            for _ in range(workers + 1):
                submit()
            while pending:
                (name, size, mtime), fut = pending.popleft()
                state.current = name
                works, batches = fut.result()
                submit()
                # The file is recorded in the transaction of its last batch: a kill before
                # that commit imports the file again (upserts: nothing is doubled).
                finished = (snapshot, name, size, mtime, sum(map(len, batches)))
                for i, batch in enumerate(batches):
                    n += self._write_prepared(batch, source, finished if i == len(batches) - 1 else None)
                    state.works += len(batch)
                    if progress and state.works % 10_000 < len(batch):
                        progress(state)
                if not batches:
                    with self.write():
                        self._record_file(finished)
                state.files_done += 1
                if progress:
                    progress(state)
        return n

    # -- resolved citations ---------------------------------------------------------

    def cached_resolution(
        self, text: str, context: str | None = None, *, even_if_stale: bool = False
    ) -> Resolution | None:
        """The stored answer for a citation, or None. An offline answer that found nothing
        or abstained counts only while the works it was decided against are unchanged,
        unless ``even_if_stale``: what was decided, with its candidates and evidence, is
        still what an editor reviewing that answer must see."""
        row = self.db.execute(
            "SELECT status, doi, score, candidates, error, method, source, generation"
            " FROM citations WHERE key = ?",
            [citation_key(text, context)],
        ).fetchone()
        if not row:
            return None
        status, doi, score, cands, error, method, source, generation = row
        if (not even_if_stale and source == "offline" and status in ("unmatched", "ambiguous")
                and generation != self.generation()):
            return None
        return Resolution(
            input=text,
            status=status,
            doi=doi_of_key(doi),
            work_key=doi if is_internal_key(doi) else None,
            score=score,
            candidates=[_candidate_from_json(c) for c in json.loads(cands or "[]")],
            error=error,
            method=method,
            cached=True,
        )

    def save_resolution(
        self, res: Resolution, context: str | None = None, source: str = "crossref"
    ) -> None:
        """Store a resolution and the matched work (errors are not cached)."""
        if res.status == "error":
            return
        with self.write():
            best = res.best
            if res.status == "matched" and best and best.work is not None:
                # Online answers refresh the stored record; offline ones already are it.
                if source == "crossref" or self.get_work(best.work.key) is None:
                    self.add_records([best.work.record], source)
            row = {
                "key": citation_key(res.input, context),
                "text": res.input,
                "context": context,
                "status": res.status,
                "doi": res.key,  # the work key: a DOI, or the key of a work without one
                "score": res.score,
                "method": res.method,
                "candidates": json.dumps([_candidate_to_json(c) for c in res.candidates]),
                "error": res.error,
                "source": source,
                "resolved_at": now(),
                "generation": self.generation(),
            }
            # Plain SQL, not sqlite-utils' upsert: that asks the schema (three PRAGMA look-ups)
            # on every call, a third of what caching an offline answer cost.
            cols = ", ".join(row)
            self.db.execute(
                f"INSERT INTO citations ({cols}) VALUES ({', '.join('?' * len(row))})"
                f" ON CONFLICT (key) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in row if c != "key"),
                list(row.values()))

    def citations(self) -> Iterator[dict]:
        yield from self.db["citations"].rows_where(order_by="id")

    # -- citation keys, and the problems exports note ------------------------------------

    def get_key(self, doi: str) -> str | None:
        """The citation key stored for a work (None when none was chosen yet); a key merged
        into another work gives that work's."""
        doi = normalize_doi(doi)
        row = self.db.execute(
            "SELECT bibtex_key FROM works WHERE doi = ?", [self.merged_into(doi) or doi]
        ).fetchone()
        return row[0] if row else None

    def key_owner(self, key: str) -> str | None:
        """The DOI whose citation key is ``key``, compared without case (BibTeX ignores it)."""
        row = self.db.execute(
            "SELECT doi FROM works WHERE lower(bibtex_key) = lower(?)", [key]
        ).fetchone()
        return row[0] if row else None

    def pin_key(self, doi: str, key: str) -> str | None:
        """Give a stored work the citation key ``key``, replacing one chosen before; returns
        the previous key. Raises ``NotFoundError`` when the work is not stored and
        ``InputError`` when another work has that key (compared without case). A key
        merged into another work names that work."""
        doi = normalize_doi(doi)
        with self.write():
            doi = self.merged_into(doi) or doi
            row = self.db.execute("SELECT bibtex_key FROM works WHERE doi = ?", [doi]).fetchone()
            if row is None:
                raise NotFoundError(f"{doi} is not in {self.path}")
            owner = self.key_owner(key)
            if owner is not None and owner != doi:
                raise InputError(f"citation key {key!r} is already used by {owner}")
            self.db.execute("UPDATE works SET bibtex_key = ? WHERE doi = ?", [key, doi])
        return row[0]

    def work_problems(self, dois: Iterable[str] | None = None) -> dict[str, list]:
        """DOI -> the problems re-verification recorded (``works.problems``), for works with
        at least one; works never checked (NULL) or checked and fine (``[]``) are left out."""
        sql = ("SELECT doi, problems FROM works WHERE problems IS NOT NULL AND problems != '[]'"
               " AND merged_into IS NULL")
        out: dict[str, list] = {}
        if dois is None:
            rows = self.db.execute(sql)
        else:
            # Look the given works up by key: a reply or a claim's export names a few works,
            # and scanning 20,000 stored records for them cost 65 ms a page on the desk.
            wanted = sorted({normalize_doi(d) for d in dois})
            rows = itertools.chain.from_iterable(
                self.db.execute(f"{sql} AND doi IN ({','.join('?' * len(chunk))})", chunk)
                for chunk in (wanted[i:i + 500] for i in range(0, len(wanted), 500)))
        for doi, problems in rows:
            kinds = problem_kinds(problems)
            if kinds:
                out[doi] = kinds
        return out

    def recorded_problems(self, doi: str) -> list[str] | None:
        """The problems re-verification recorded for a work: None when it was never
        checked (or is not stored), ``[]`` when it was and is fine."""
        row = self.db.execute("SELECT problems FROM works WHERE doi = ?", [normalize_doi(doi)]).fetchone()
        return problem_kinds(row[0]) if row else None

    # -- what re-verification reads and records (refkeeper.verify) ----------------------

    def dois_checked_before(self, cutoff: str | None, after: str = "", limit: int = 1000) -> list[str]:
        """Up to ``limit`` stored DOIs after ``after`` in DOI order (keyset paging, so a table
        of any size is never read whole) that were never checked or checked before ``cutoff``
        (every work when ``cutoff`` is None)."""
        sql = "SELECT doi FROM works WHERE doi > ? AND merged_into IS NULL"
        params: list = [after]
        if cutoff is not None:
            sql += " AND (checked_at IS NULL OR checked_at < ?)"
            params.append(cutoff)
        return [r[0] for r in self.db.execute(sql + " ORDER BY doi LIMIT ?", [*params, limit])]

    def records_to_check(self, dois: list[str]) -> list[tuple[str, dict, list]]:
        """(doi, record without its reference list, recorded problem kinds) of stored works,
        in the order given (records can carry thousands of references: re-verification
        needs none)."""
        if not dois:
            return []
        rows = {}
        for doi, record, problems in self.db.execute(
                f"SELECT doi, record, problems FROM works WHERE doi IN ({','.join('?' * len(dois))})", dois):
            rec = unpack_record(record)
            rec.pop("reference", None)
            rows[doi] = (rec, problems)
        return [(d, rows[d][0], json.loads(rows[d][1]) if rows[d][1] else [])
                for d in dois if d in rows]

    def stored_versions(self, dois: list[str]) -> dict[str, tuple[str, str | None]]:
        """DOI -> (the stored record as JSON text, when it was last written)."""
        if not dois:
            return {}
        return {d: (unpack_record_text(rec), ts) for d, rec, ts in self.db.execute(
            "SELECT doi, record, coalesce(updated_at, added_at) FROM works"
            f" WHERE doi IN ({','.join('?' * len(dois))})", dois)}

    def record_checks(self, verdicts: dict[str, list[str]], at: str) -> None:
        """Store re-verification's latest verdict per work: its problem kinds (``[]``: fine)
        and when it was checked."""
        with self.write():
            self.db.conn.executemany(
                "UPDATE works SET problems = ?, checked_at = ? WHERE doi = ?",
                [(json.dumps(kinds), at, doi) for doi, kinds in verdicts.items()])

    def check_state(self, doi: str) -> tuple[str | None, list[str] | None, str | None] | None:
        """(title, recorded problems, checked_at) of a stored work; None when not stored."""
        row = self.db.execute(
            "SELECT title, problems, checked_at FROM works WHERE doi = ?", [normalize_doi(doi)]
        ).fetchone()
        if row is None:
            return None
        return row[0], json.loads(row[1]) if row[1] else None, row[2]

    def titles(self, dois: Iterable[str]) -> dict[str, str | None]:
        """DOI -> title of the stored works among ``dois``."""
        out: dict[str, str | None] = {}
        dois = list(dict.fromkeys(dois))
        for i in range(0, len(dois), 500):
            chunk = dois[i:i + 500]
            out.update(self.db.execute(
                f"SELECT doi, title FROM works WHERE doi IN ({','.join('?' * len(chunk))})", chunk))
        return out


@dataclass
class ImportProgress:
    """Where a snapshot import is: shown by the CLI on stderr as it goes."""

    path: str
    files: int = 0
    files_done: int = 0
    files_skipped: int = 0  # imported completely by an earlier run
    works: int = 0
    current: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Works read per second since the import started."""
        return self.works / max(time.monotonic() - self.started, 1e-9)


_RECORD_SUFFIXES = (".json.gz", ".jsonl.gz", ".json", ".jsonl", ".ndjson", ".ndjson.gz")


def _is_records_file(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.endswith(_RECORD_SUFFIXES)


def _read_records(name: str, raw, state: ImportProgress,
                  progress: Callable[[ImportProgress], None] | None) -> Iterator[dict]:
    """The works of one file, streamed: JSON lines, each a work or a page ``{"items": [...]}``
    (the public data file's files are one page each, maybe spread over lines), gzipped or not."""
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    fh = gzip.open(raw, "rb") if head == b"\x1f\x8b" or (not head and name.endswith(".gz")) else raw
    state.current = name
    text = io.TextIOWrapper(fh, encoding="utf-8")
    first = text.readline()
    try:
        parsed = [(1, loads(first))] if first.strip() else []
        lines: Iterable[tuple[int, str]] = enumerate(text, 2)
    except json.JSONDecodeError:
        # Not one document per line: a pretty-printed page, one JSON document over many.
        parsed, lines = [], [(1, first + text.read())]
    for item in _works_in(name, itertools.chain(parsed, _parse_lines(name, lines))):
        state.works += 1
        yield item
        if progress and state.works % 10_000 == 0:
            progress(state)


def _works_in(name: str, documents: Iterable[tuple[int, object]]) -> Iterator[dict]:
    """The checked works of a file's (line number, JSON document) pairs."""
    for lineno, rec in documents:
        # Crossref's API wraps works in {"message": ...}; dumps don't.
        rec = rec.get("message", rec) if isinstance(rec, dict) else rec
        items = rec["items"] if isinstance(rec, dict) and "items" in rec else [rec]
        for item in items if isinstance(items, list) else [items]:
            problem = record_problem(item)
            if problem:
                raise InputError(f"{name}:{lineno}: {problem}")
            yield item


def _documents(name: str, data: bytes) -> Iterator[tuple[int, object]]:
    """The (line number, JSON document) pairs of a whole file: the file as one document
    (the public data file's page), else one document a line."""
    try:
        yield 1, loads(data)
        return
    except json.JSONDecodeError:
        pass
    lines = data.split(b"\n")
    if lines[0].strip():
        try:
            loads(lines[0])
        except json.JSONDecodeError:
            # Neither one document nor one a line: say what is wrong with the whole.
            yield from _parse_lines(name, [(1, data)])
            return
    yield from _parse_lines(name, enumerate(lines, 1))


class PreparedWork(NamedTuple):
    """One record made ready to write, outside the write transaction (and, in a snapshot
    import, in another process): its columns, compressed record, index text and keys.
    (A tuple: a snapshot's works cross from the worker processes pickled, and a tuple
    pickles at a fraction of a dataclass's cost.)"""

    doi: str
    columns: tuple  # title, authors (JSON), year, container, volume, issue, pages, type, publisher
    packed: bytes
    document: tuple
    keys: tuple


def prepare_records(records: Iterable[dict]) -> list[PreparedWork]:
    """Checked records made ready to write; a DOI given twice keeps its last record."""
    by_doi: dict[str, dict] = {}
    for rec in records:
        if "score" in rec:  # a search's relevance is not part of the work
            rec = {k: v for k, v in rec.items() if k != "score"}
        by_doi[record_key(rec)] = rec
    out = []
    for doi, rec in by_doi.items():
        w = Work.from_crossref(rec)
        out.append(PreparedWork(
            doi,
            (w.title, json.dumps(w.authors, ensure_ascii=False), w.year, w.container, w.volume,
             w.issue, w.pages, w.type, w.publisher),
            pack_record(rec), index.document(rec), tuple(index.blocking_keys(rec))))
    return out


def exit_with_parent() -> None:
    """Initializer of the snapshot import's worker processes: a worker whose parent is gone
    (the import was killed, even with SIGKILL) exits at once. Without it the workers wait on
    their task queue forever, since each holds both ends of its pipe and never sees EOF."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's end of the sentinel pipe closes
        os._exit(1)

    threading.Thread(target=watch, name="refkeeper-exit-with-parent", daemon=True).start()


# Works a snapshot import writes in one transaction: a file of the public data file
# (5,000 works) at once. Larger transactions write each touched page of the blocking-key
# and full-text indexes once for more works (a fifth less time than 1,000), and still
# hold the write lock for well under a second.
SNAPSHOT_BATCH = 5000


def prepare_file(name: str, source: str | bytes,
                 batch_size: int = SNAPSHOT_BATCH) -> tuple[int, list[list[PreparedWork]]]:
    """Read, check and prepare one file of a snapshot (a path, or the file's bytes): how
    many works it held, and its batches. Runs in a worker process during an import; a
    file of the public data file is a few tens of MB unpacked, read whole."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    # A parsed page is a few hundred thousand objects without cycles: the cyclic
    # collector would walk them again and again as they are made (a third of the time).
    enabled = gc.isenabled()
    gc.disable()
    try:
        works = list(_works_in(name, _documents(name, data)))
        del data
        batches = [prepare_records(works[i:i + batch_size]) for i in range(0, len(works), batch_size)]
    finally:
        if enabled:
            gc.enable()
    return len(works), batches


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    with tar.extractfile(member) as fh:
        return fh.read()


def _checked(rec: dict) -> dict:
    problem = record_problem(rec)
    if problem:
        raise InputError(problem)
    return rec


def _parse_lines(name: str, lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, object]]:
    for lineno, line in lines:
        if not line.strip():
            continue
        try:
            yield lineno, loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}:{lineno}: not JSON ({exc.msg})") from None


_LISTS_OF_TEXT = ("title", "subtitle", "container-title", "short-container-title")
_TEXTS = ("type", "publisher")
_NUMBERS = ("volume", "issue", "page")


def record_problem(rec: object) -> str | None:
    """What makes ``rec`` unusable as a Crossref work record (None when it is usable).

    Only the fields refkeeper reads are checked, with the types Crossref gives them, so a
    malformed snapshot line is one clear error instead of a failure deep in indexing.
    """
    if not isinstance(rec, dict):
        return f"a Crossref record must be a JSON object, not {_kind(rec)}"
    doi = rec.get("DOI")
    if not doi:
        # A work without a DOI is stored under its internal key (``work_key_for``).
        key = rec.get(KEY_FIELD)
        if not (isinstance(key, str) and is_internal_key(key.strip().lower())):
            return "a Crossref record needs a DOI"
        doi = key
    elif not isinstance(doi, str):
        return f"DOI must be text, not {_kind(doi)}"
    for name in _LISTS_OF_TEXT:
        value = rec.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return f"{doi}: {name!r} must be a list of strings, not {_kind(value)}"
    for name in ("author", "editor"):
        value = rec.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            return f"{doi}: {name!r} must be a list of objects, not {_kind(value)}"
    for name in _TEXTS:
        value = rec.get(name)
        if value is not None and not isinstance(value, str):
            return f"{doi}: {name!r} must be text, not {_kind(value)}"
    for name in _NUMBERS:
        value = rec.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int, list))):
            return f"{doi}: {name!r} must be text, not {_kind(value)}"
    for name in ("issued", "published", "published-print", "published-online", "created"):
        value = rec.get(name)
        parts = value.get("date-parts") if isinstance(value, dict) else None
        if value is not None and not (
            isinstance(value, dict)
            and (parts is None or (isinstance(parts, list) and all(isinstance(d, list) for d in parts)))
        ):
            return f"{doi}: {name!r} must be an object with a list of date-parts"
    return None


def _kind(value: object) -> str:
    if isinstance(value, list):
        kinds = sorted({_kind(v) for v in value})
        return "a list of " + " and ".join(kinds) if kinds else "an empty list"
    return {dict: "an object", str: "text", bool: "true/false", int: "a number", float: "a number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _unwritable(path: str) -> str | None:
    """Why refkeeper must not write ``path`` (None: it may).

    The permission bits are read as the owner's intent even where the process could
    write anyway (root ignores them): a file made read-only is not written. A directory
    made read-only is honoured too: SQLite's WAL needs files beside the database.
    """
    if path == ":memory:" or path.startswith("file:"):
        return None
    p = Path(path)
    try:
        if p.exists():
            mode = p.stat().st_mode
            if not mode & 0o222 or not os.access(p, os.W_OK):
                return f"cannot write to {path}: the file is read-only (mode {stat.S_IMODE(mode):04o})"
        parent = p.absolute().parent
        if parent.is_dir() and (not parent.stat().st_mode & 0o222 or not os.access(parent, os.W_OK)):
            return f"cannot write to {path}: its directory {parent} is read-only"
    except OSError:
        return None  # let opening it report the problem
    return None


def _readonly_uri(path: str) -> str:
    uri = Path(path).absolute().as_uri()
    wal = Path(path + "-wal")
    parent = Path(path).absolute().parent
    if not parent.stat().st_mode & 0o222 or not os.access(parent, os.W_OK):
        if not wal.exists():
            # Nothing can be writing a WAL database whose directory is read-only, and
            # without -wal/-shm files SQLite can only open it as immutable.
            return uri + "?immutable=1"
    return uri + "?mode=ro"


def _is_store_failure(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return any(s in text for s in ("locked", "busy", "readonly", "read-only", "disk I/O", "database or disk"))


def _short(migration: str) -> str:
    return migration.split("_", 1)[0]


@functools.lru_cache(maxsize=1)
def _known_schema() -> tuple[list[str], dict[str, set[str]]]:
    """The migrations this version knows, in order, and the columns of each table they make
    (applied once to an in-memory database)."""
    db = sqlite_utils.Database(memory=True)
    names = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    columns = {t: set(db[t].columns_dict) for t in db.table_names() if not t.startswith(FTS_TABLE)}
    db.close()
    return names, columns


def _candidate_to_json(c: Candidate) -> dict:
    return {
        "doi": c.doi,
        **({"work": c.work_key} if c.work_key else {}),
        "score": c.score,
        "title": c.title,
        "agree": c.evidence.agree,
        "disagree": c.evidence.disagree,
        "details": c.evidence.details,
    }


def _candidate_from_json(d: dict) -> Candidate:
    return Candidate(
        doi=d["doi"],
        work_key=d.get("work"),
        score=d["score"],
        title=d.get("title"),
        evidence=Evidence(d.get("agree", []), d.get("disagree", []), d.get("details", {})),
    )
