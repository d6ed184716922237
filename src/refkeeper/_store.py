"""The SQLite store: works, resolved citations and their full-text index.

The schema lives here and only here, as an ordered list of migrations
(``sqlite_utils.Migrations``) so an existing ``refs.db`` is upgraded in place,
never rebuilt. Tables are plain and named for people, so ``datasette refs.db``
is a usable browser.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

from . import _index as index
from ._errors import InputError, NotFoundError, StoreError
from ._models import Candidate, Evidence, Resolution, Work, normalize_doi, problem_kinds

DEFAULT_DB = "refs.db"
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


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def citation_key(text: str, context: str | None = None) -> str:
    norm = " ".join(text.split()) + "\x00" + " ".join((context or "").split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


# Database files this process has brought to the latest migration, by (device, inode): the
# desk opens a Store per request, and checking the migrations table every time cost more
# than most pages' queries. A file replaced at the same path has another inode.
_MIGRATED: set[tuple[int, int]] = set()


def _migrate(db: sqlite_utils.Database, path: str) -> None:
    try:
        st = os.stat(path) if path != ":memory:" else None
    except OSError:
        st = None
    key = (st.st_dev, st.st_ino) if st is not None else None
    if key is not None and key in _MIGRATED:
        return
    migrations.apply(db)
    if key is not None:
        _MIGRATED.add(key)


class Store:
    """A refkeeper database. ``Store()`` opens ``$REFKEEPER_DB`` or ``./refs.db``."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = str(path or os.environ.get("REFKEEPER_DB") or DEFAULT_DB)
        try:
            self.db = sqlite_utils.Database(self.path)
            self.db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                # WAL lets Datasette read while refkeeper writes; with WAL, NORMAL sync
                # never corrupts the file and only a power cut can lose the last commits.
                self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute("PRAGMA synchronous = NORMAL")
            _migrate(self.db, self.path)
        except Exception as exc:  # sqlite3.DatabaseError, OSError ...
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    # -- works --------------------------------------------------------------------

    def add_work(self, record: dict, source: str = "crossref") -> Work:
        """Insert or update one Crossref record; the full-text index follows."""
        self.add_records([record], source)
        return Work.from_crossref(record)

    def add_records(self, records: Iterable[dict], source: str, batch_size: int = 1000) -> int:
        """Bulk upsert Crossref records in transactions of ``batch_size``; returns the count."""
        n = 0
        batch: list[dict] = []
        for rec in records:
            if not isinstance(rec, dict) or not rec.get("DOI"):
                raise InputError("a Crossref record needs a DOI")
            batch.append(rec)
            if len(batch) >= batch_size:
                n += self._write_batch(batch, source)
                batch = []
        if batch:
            n += self._write_batch(batch, source)
        return n

    def _write_batch(self, records: list[dict], source: str) -> int:
        stamp = now()
        rows = []
        for rec in records:
            rec = {k: v for k, v in rec.items() if k != "score"}
            w = Work.from_crossref(rec)
            rows.append(
                {
                    "doi": w.doi,
                    "title": w.title,
                    "authors": json.dumps(w.authors, ensure_ascii=False),
                    "year": w.year,
                    "container": w.container,
                    "volume": w.volume,
                    "issue": w.issue,
                    "pages": w.pages,
                    "type": w.type,
                    "publisher": w.publisher,
                    "record": json.dumps(rec, ensure_ascii=False),
                    "source": source,
                    "updated_at": stamp,
                }
            )
        with self.db.atomic():
            existing = {
                r[0]
                for r in self.db.execute(
                    f"SELECT doi FROM works WHERE doi IN ({','.join('?' * len(rows))})",
                    [r["doi"] for r in rows],
                )
            }
            for r in rows:
                if r["doi"] not in existing:
                    r["added_at"] = stamp
            self.db["works"].upsert_all(rows, pk="doi", alter=False)
            ids = dict(
                self.db.execute(
                    f"SELECT doi, rowid FROM works WHERE doi IN ({','.join('?' * len(rows))})",
                    [r["doi"] for r in rows],
                ).fetchall()
            )
            by_doi = {normalize_doi(rec["DOI"]): rec for rec in records}
            index.add(self.db.conn, FTS_TABLE, ((ids[d], rec) for d, rec in by_doi.items()))
        return len(rows)

    def get_work(self, doi: str) -> Work | None:
        row = self.db.execute(
            "SELECT record FROM works WHERE doi = ?", [normalize_doi(doi)]
        ).fetchone()
        return Work.from_crossref(json.loads(row[0])) if row else None

    def require_work(self, doi: str) -> Work:
        w = self.get_work(doi)
        if w is None:
            raise NotFoundError(f"{doi} is not in {self.path}; add it with `refkeeper add {doi}`")
        return w

    def works(self, dois: Iterable[str] | None = None) -> Iterator[Work]:
        """Stored works (all, or the given DOIs in that order), streamed."""
        if dois is None:
            for (rec,) in self.db.execute("SELECT record FROM works ORDER BY rowid"):
                yield Work.from_crossref(json.loads(rec))
            return
        for d in dois:
            yield self.require_work(d)

    def count_works(self) -> int:
        return self.db["works"].count

    def search(self, text: str, limit: int = 10, column: str | None = None) -> list[Work]:
        """Stored works ranked by full-text relevance to ``text``."""
        hits = index.search(self.db.conn, FTS_TABLE, text, limit, column=column)
        if not hits:
            return []
        records = dict(
            self.db.execute(
                f"SELECT rowid, record FROM works WHERE rowid IN ({','.join('?' * len(hits))})",
                [rowid for rowid, _ in hits],
            ).fetchall()
        )
        out = []
        for rowid, rel in hits:
            if rowid in records:
                rec = json.loads(records[rowid])
                rec["score"] = rel
                out.append(Work.from_crossref(rec))
        return out

    def bibtex_keys(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT doi, bibtex_key FROM works WHERE bibtex_key IS NOT NULL"))

    def set_bibtex_keys(self, keys: dict[str, str]) -> None:
        with self.db.atomic():
            for doi, key in keys.items():
                self.db.execute(
                    "UPDATE works SET bibtex_key = ? WHERE doi = ? AND bibtex_key IS NULL",
                    [key, doi],
                )

    def import_snapshot(self, path: str | os.PathLike, source: str = "snapshot") -> int:
        """Import a Crossref public-data-file style JSONL (optionally .gz), one work per line."""
        p = Path(path)
        if not p.exists():
            raise InputError(f"no such file: {p}")
        opener = gzip.open if p.suffix == ".gz" else open

        def records() -> Iterator[dict]:
            with opener(p, "rt", encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise InputError(f"{p}:{lineno}: not JSON ({exc.msg})") from None
                    # Crossref's API wraps works in {"message": ...}; dumps don't.
                    rec = rec.get("message", rec) if isinstance(rec, dict) else rec
                    if isinstance(rec, dict) and "items" in rec:
                        yield from rec["items"]
                    else:
                        yield rec

        try:
            return self.add_records(records(), source)
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {p}: {exc}") from exc

    # -- resolved citations ---------------------------------------------------------

    def cached_resolution(self, text: str, context: str | None = None) -> Resolution | None:
        row = self.db.execute(
            "SELECT status, doi, score, candidates, error, method FROM citations WHERE key = ?",
            [citation_key(text, context)],
        ).fetchone()
        if not row:
            return None
        status, doi, score, cands, error, method = row
        return Resolution(
            input=text,
            status=status,
            doi=doi,
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
        with self.db.atomic():
            best = res.best
            if res.status == "matched" and best and best.work is not None:
                # Online answers refresh the stored record; offline ones already are it.
                if source == "crossref" or self.get_work(best.doi) is None:
                    self.add_records([best.work.record], source)
            row = {
                "key": citation_key(res.input, context),
                "text": res.input,
                "context": context,
                "status": res.status,
                "doi": res.doi,
                "score": res.score,
                "method": res.method,
                "candidates": json.dumps([_candidate_to_json(c) for c in res.candidates]),
                "error": res.error,
                "source": source,
                "resolved_at": now(),
            }
            self.db["citations"].upsert(row, pk="key", alter=False)

    def citations(self) -> Iterator[dict]:
        yield from self.db["citations"].rows_where(order_by="id")

    # -- citation keys and export notes (issue 5) ---------------------------------------

    def get_key(self, doi: str) -> str | None:
        """The citation key stored for a work (None when none was chosen yet)."""
        row = self.db.execute(
            "SELECT bibtex_key FROM works WHERE doi = ?", [normalize_doi(doi)]
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
        ``InputError`` when another work has that key (compared without case)."""
        doi = normalize_doi(doi)
        with self.db.atomic():
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
        sql = "SELECT doi, problems FROM works WHERE problems IS NOT NULL AND problems != '[]'"
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


def _candidate_to_json(c: Candidate) -> dict:
    return {
        "doi": c.doi,
        "score": c.score,
        "title": c.title,
        "agree": c.evidence.agree,
        "disagree": c.evidence.disagree,
        "details": c.evidence.details,
    }


def _candidate_from_json(d: dict) -> Candidate:
    return Candidate(
        doi=d["doi"],
        score=d["score"],
        title=d.get("title"),
        evidence=Evidence(d.get("agree", []), d.get("disagree", []), d.get("details", {})),
    )
