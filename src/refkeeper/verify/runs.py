"""Running re-verification (see ``refkeeper.verify``): which works are due, batches,
resuming, storing results.

A run is resumable: every batch is committed in one transaction together with its
results, and the works still due are those without a result in the run. A run killed at
any point (SIGKILL included) is continued by the next call; no work gets two results in a
run and none is skipped. Only one verification runs on a database at a time.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .._crossref import CrossrefClient
from .._errors import CrossrefError, UsageError
from .checks import _Check
from .fetch import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, VERIFY_FIELDS, _fetch_batch, _Item, _Packer, filterable
from .report import RunReport, run_report

try:  # POSIX: the lock that keeps two runs off one database; released even on SIGKILL
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; runs are not guarded there
    fcntl = None  # type: ignore[assignment]


DEFAULT_SINCE_DAYS = 30
DEFAULT_WORKERS = 3  # batches in flight; the client's limiter still paces and caps them


def _now() -> str:
    # Microseconds: a run started right after another must not share its timestamps.
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# --- runs -----------------------------------------------------------------------------


@dataclass
class Progress:
    """Passed to ``verify(progress=...)`` after each committed batch."""

    run_id: int
    done: int  # works checked in the run so far (earlier invocations included)
    total: int  # works due in the run
    rate: float  # works per second in this invocation
    eta: float | None  # seconds left at that rate


class _RunLock:
    """An exclusive lock beside the database (``refs.db-verify.lock``), held for a run."""

    def __init__(self, path: str) -> None:
        self.path = None if path == ":memory:" or fcntl is None else f"{path}-verify.lock"
        self._fh = None

    def __enter__(self) -> _RunLock:
        if self.path:
            fh = open(self.path, "a")  # noqa: SIM115 - held open for the run
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                raise UsageError(
                    f"another `refkeeper verify` is running on this database ({self.path} is locked)"
                ) from None
            self._fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def verify(
    store,
    client: CrossrefClient | None = None,
    since: float | None = None,
    all: bool = False,  # noqa: A002 - the CLI's --all
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[Progress], None] | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
    resume: bool = True,
) -> RunReport:
    """Re-check stored works against Crossref; returns the run's report.

    Which works: those not checked in the last ``since`` days (default
    ``DEFAULT_SINCE_DAYS``), never-checked ones included; ``all=True`` checks every work.
    An unfinished run (killed, or interrupted by Crossref failing) is always continued
    first, with the scope it started with, unless ``resume=False`` abandons it.

    Crossref failing for good does not raise: the report comes back ``interrupted`` with
    the ``error``, everything checked until then kept. Raises ``UsageError`` for bad
    arguments or when another verification holds the database.
    """
    if all and since is not None:
        raise UsageError("--since and --all cannot be combined")
    if since is not None and since < 0:
        raise UsageError("--since must be a number of days, 0 or more")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise UsageError(f"batch size must be between 1 and {MAX_BATCH_SIZE}")
    client = client or CrossrefClient()
    db = store.db
    with _RunLock(store.path):
        run_id, resumed = _open_run(db, None if all else since, all, batch_size, resume)
        try:
            _run(store, client, run_id, batch_size, max(1, workers), progress)
        except CrossrefError as exc:
            _close_run(db, run_id, "interrupted", str(exc))
        except BaseException as exc:  # a bug, Ctrl-C: the run is continued next time
            try:
                _close_run(db, run_id, "interrupted", f"{type(exc).__name__}: {exc}")
            finally:
                raise
        else:
            _close_run(db, run_id, "finished", None)
        return run_report(store, run_id, resumed=resumed)


def _open_run(db, since: float | None, all_: bool, batch_size: int, resume: bool) -> tuple[int, bool]:
    with db.atomic():
        unfinished = [r[0] for r in db.execute(
            "SELECT id FROM verify_runs WHERE status IN ('running', 'interrupted') ORDER BY id DESC")]
        if unfinished and resume:
            run_id, older = unfinished[0], unfinished[1:]
            db.execute("UPDATE verify_runs SET status = 'running', resumes = resumes + 1, error = NULL,"
                       " batch_size = ? WHERE id = ?", [batch_size, run_id])
        else:
            run_id, older = None, unfinished
        for r in older:
            db.execute("UPDATE verify_runs SET status = 'abandoned', finished_at = ? WHERE id = ?",
                       [_now(), r])
        if run_id is None:
            started = datetime.now(timezone.utc)
            days = None if all_ else (DEFAULT_SINCE_DAYS if since is None else since)
            cutoff = None if days is None else (started - timedelta(days=days)).isoformat(
                timespec="microseconds")
            run_id = db.execute(
                "INSERT INTO verify_runs (started_at, status, scope, since_days, cutoff, batch_size)"
                " VALUES (?, 'running', ?, ?, ?, ?)",
                [started.isoformat(timespec="microseconds"), "all" if days is None else "since",
                 days, cutoff, batch_size],
            ).lastrowid
        # Total for progress: what is done plus what is still due now.
        cutoff = db.execute("SELECT cutoff FROM verify_runs WHERE id = ?", [run_id]).fetchone()[0]
        sql, params = _due_sql(run_id, cutoff)
        due = db.execute(f"SELECT count(*) FROM works WHERE {sql}", params).fetchone()[0]
        db.execute("UPDATE verify_runs SET total = checked + ? WHERE id = ?", [due, run_id])
    return run_id, bool(unfinished and resume)


def _due_sql(run_id: int, cutoff: str | None) -> tuple[str, list]:
    """The condition for works still due in a run: in scope and without a result in it."""
    sql = "NOT EXISTS (SELECT 1 FROM verify_results r WHERE r.run_id = ? AND r.doi = works.doi)"
    params: list = [run_id]
    if cutoff is not None:
        sql += " AND (works.checked_at IS NULL OR works.checked_at < ?)"
        params.append(cutoff)
    return sql, params


def _close_run(db, run_id: int, status: str, error: str | None) -> None:
    with db.atomic():
        db.execute("UPDATE verify_runs SET status = ?, finished_at = ?, error = ? WHERE id = ?",
                   [status, _now() if status == "finished" else None, error, run_id])


def _batches(db, client: CrossrefClient, run_id: int, batch_size: int) -> Iterator[list[_Item]]:
    """Due works in DOI order, a page at a time (never the whole table in memory), packed
    into batches that fit one request."""
    cutoff = db.execute("SELECT cutoff FROM verify_runs WHERE id = ?", [run_id]).fetchone()[0]
    cond, params = _due_sql(run_id, cutoff)
    packer = _Packer(client, batch_size)
    # Stored records can carry thousands of references; SQLite drops them before Python
    # sees the text, and only the verified fields are held while a batch is in flight.
    try:
        db.execute("SELECT json_remove('{}', '$.reference')")
        record_sql = "json_remove(record, '$.reference')"
    except sqlite3.OperationalError:  # pragma: no cover - SQLite built without JSON1
        record_sql = "record"
    after = ""
    batch: list[_Item] = []
    length = packer.fixed
    while True:
        # Keyset paging: works in flight have no result yet, but `after` is past them.
        rows = db.execute(
            f"SELECT doi, {record_sql}, problems FROM works WHERE doi > ? AND {cond} ORDER BY doi LIMIT ?",
            [after, *params, batch_size],
        ).fetchall()
        if not rows:
            break
        after = rows[-1][0]
        for doi, record, problems in rows:
            rec = json.loads(record)
            item = _Item(doi, {k: rec[k] for k in VERIFY_FIELDS if k in rec},
                         json.loads(problems) if problems else [])
            cost = packer.cost(doi) if filterable(doi) else 0
            if batch and (len(batch) >= batch_size or length + cost > packer.limit):
                yield batch
                batch, length = [], packer.fixed
            batch.append(item)
            length += cost
    if batch:
        yield batch


def _run(store, client: CrossrefClient, run_id: int, batch_size: int, workers: int,
         progress: Callable[[Progress], None] | None) -> None:
    db = store.db
    started = time.monotonic()
    done_here = 0
    pending: deque[Future] = deque()

    def commit(fut: Future) -> None:
        nonlocal done_here
        results, n = fut.result()
        _commit(store, run_id, results, n)
        done_here += len(results)
        if progress is not None:
            done, total = db.execute(
                "SELECT checked, total FROM verify_runs WHERE id = ?", [run_id]).fetchone()
            rate = done_here / max(time.monotonic() - started, 1e-6)
            eta = (total - done) / rate if rate > 0 else None
            progress(Progress(run_id, done, total, rate, eta))

    pool = ThreadPoolExecutor(workers, thread_name_prefix="refkeeper-verify")
    try:
        for batch in _batches(db, client, run_id, batch_size):
            pending.append(pool.submit(_fetch_batch, client, batch))
            # At most workers + 1 batches held: memory stays flat however many works.
            while len(pending) > workers:
                commit(pending.popleft())
        while pending:
            commit(pending.popleft())
    except CrossrefError:
        # Keep every batch that did finish; the others are due again next time.
        for fut in pending:
            fut.cancel()
        for fut in pending:
            if not fut.cancelled() and fut.exception() is None:
                commit(fut)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _commit(store, run_id: int, results: list[_Check], requests: int) -> None:
    """One batch, all or nothing: results, works' verdicts, new record versions, counts."""
    db = store.db
    stamp = _now()
    counts = Counter(r.outcome for r in results)
    with db.atomic():
        replacing = [r for r in results if r.replacement is not None]
        if replacing:
            marks = ",".join("?" * len(replacing))
            dois = [r.doi for r in replacing]
            old = {d: (rec, ts) for d, rec, ts in db.execute(
                f"SELECT doi, record, coalesce(updated_at, added_at) FROM works WHERE doi IN ({marks})",
                dois)}
            kept = {d for (d,) in db.execute(
                f"SELECT DISTINCT doi FROM work_snapshots WHERE doi IN ({marks})", dois)}
            replacing = [r for r in replacing if r.doi in old]  # deleted meanwhile: leave it so
            for r in replacing:
                if r.partial:
                    # A batch answer holds the verified fields only: they replace the stored
                    # ones (absent means removed upstream); the rest (references...) stays.
                    full = json.loads(old[r.doi][0])
                    r.replacement = {**{k: v for k, v in full.items() if k not in VERIFY_FIELDS},
                                     **r.replacement}
                    r.partial = False
                if r.doi not in kept:  # the version stored before the first change
                    db.execute("INSERT INTO work_snapshots (doi, taken_at, run_id, record)"
                               " VALUES (?, ?, NULL, ?)", [r.doi, old[r.doi][1] or stamp, old[r.doi][0]])
            if replacing:
                store.add_records([r.replacement for r in replacing], "crossref")
        snapshot_ids = {}
        for r in replacing:
            snapshot_ids[r.doi] = db.execute(
                "INSERT INTO work_snapshots (doi, taken_at, run_id, record) VALUES (?, ?, ?, ?)",
                [r.doi, stamp, run_id, json.dumps(r.replacement, ensure_ascii=False)],
            ).lastrowid
        for r in results:
            if r.outcome != "error":
                db.execute("UPDATE works SET problems = ?, checked_at = ? WHERE doi = ?",
                           [json.dumps(r.kinds), stamp, r.doi])
            db.execute(
                "INSERT INTO verify_results (run_id, doi, checked_at, outcome, kinds, new_kinds,"
                " notices, diff, alias_of, notice_for, snapshot_id, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, r.doi, stamp, r.outcome, json.dumps(r.kinds), json.dumps(r.new_kinds),
                 json.dumps(r.notices, ensure_ascii=False) if r.notices else None,
                 json.dumps(r.diff, ensure_ascii=False) if r.diff else None,
                 r.alias_of, json.dumps(r.notice_for) if r.notice_for else None,
                 snapshot_ids.get(r.doi), r.error],
            )
        db.execute(
            "UPDATE verify_runs SET checked = checked + ?, ok = ok + ?, changed = changed + ?,"
            " problems = problems + ?, errors = errors + ?, requests = requests + ? WHERE id = ?",
            [len(results), counts["ok"], counts["changed"], counts["problem"], counts["error"],
             requests, run_id],
        )
