"""The SQLite store: works, resolved citations and their full-text index.

The schema lives here and only here, as an ordered list of migrations
(``sqlite_utils.Migrations``) so an existing ``refs.db`` is upgraded in place,
never rebuilt. Tables are plain and named for people, so ``datasette refs.db``
is a usable browser.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

from . import index
from .errors import InputError, NotFoundError, StoreError
from .models import Candidate, Evidence, Resolution, Work, normalize_doi

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


# --- m003 (claims, links, reference requests) goes here ---


# --- m004 (verification runs and results) goes here ---


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def citation_key(text: str, context: str | None = None) -> str:
    norm = " ".join(text.split()) + "\x00" + " ".join((context or "").split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


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
            migrations.apply(self.db)
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
