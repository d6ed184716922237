"""Running re-verification (see ``refkeeper.verify``): which works are due, batches,
resuming, storing results.

A run is resumable: every batch is committed in one transaction together with its
results, and the works still due are those without a result in the run. A run killed at
any point (SIGKILL included) is continued by the next call; no work gets two results in a
run and none is skipped. Only one verification runs on a database at a time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from .. import _identifiers as identifiers
from .._crossref import CrossrefClient
from .._errors import CrossrefError, StoreError, UsageError
from .._registries import ArxivClient, DoiClient, NcbiClient
from .._store import Store
from ._fetch import (
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_SIZE,
    VERIFY_FIELDS,
    Item,
    Packer,
    at_crossref,
    fetch_batch,
    filterable,
)
from ._report import RunReport, run_report
from ._runs import close_run, commit_batch, due_pages, open_run, run_progress

try:  # POSIX: the lock that keeps two runs off one database; released even on SIGKILL
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; runs are not guarded there
    fcntl = None  # type: ignore[assignment]


DEFAULT_WORKERS = 3  # batches in flight; the client's limiter still paces and caps them


# --- runs -----------------------------------------------------------------------------


@dataclass
class Progress:
    """Passed to ``verify(progress=...)`` after each committed batch."""

    run_id: int
    done: int  # works checked in the run so far (earlier invocations included)
    total: int  # works due in the run
    rate: float  # works per second in this invocation
    eta: float | None  # seconds left at that rate


class RunLock:
    """An exclusive lock beside the database (``refs.db-verify.lock``), held for a run."""

    def __init__(self, path: str) -> None:
        self.path = None if path == ":memory:" or fcntl is None else f"{path}-verify.lock"
        self._fh = None

    def __enter__(self) -> RunLock:
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
    store: Store,
    client: CrossrefClient,
    since: float | None = None,
    all: bool = False,  # noqa: A002 - the CLI's --all
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[Progress], None] | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
    resume: bool = True,
    handles: DoiClient | None = None,
    ncbi: NcbiClient | None = None,
    arxiv: ArxivClient | None = None,
) -> RunReport:
    """Re-check stored works against Crossref; returns the run's report.

    Which works: those not checked in the last ``since`` days (default
    ``DEFAULT_SINCE_DAYS``), never-checked ones included; ``all=True`` checks every work.
    An unfinished run (killed, or interrupted by Crossref failing) is always continued
    first, with the scope it started with, unless ``resume=False`` abandons it.

    ``handles`` (the DOI system) is asked whether DOIs Crossref does not have exist: only
    its "no such DOI" makes a ``not-found``; without it such DOIs are errors. ``ncbi``
    (PubMed) is asked about works with a PMID (retractions PubMed marks), ``arxiv`` about
    arXiv preprints (a published version); left out, they are not asked.

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
    if not store.writable:
        # A run records what it finds; refuse before taking the lock, so nothing (not even
        # the lock file) is written beside a database this process must not change.
        raise StoreError(store.readonly_reason)
    with RunLock(store.path):
        run_id, resumed = open_run(store, None if all else since, all, batch_size, resume)
        try:
            _run(store, client, run_id, batch_size, max(1, workers), progress,
                 (handles, ncbi, arxiv))
        except CrossrefError as exc:
            close_run(store, run_id, "interrupted", str(exc))
        except BaseException as exc:  # a bug, Ctrl-C: the run is continued next time
            try:
                close_run(store, run_id, "interrupted", f"{type(exc).__name__}: {exc}")
            finally:
                raise
        else:
            close_run(store, run_id, "finished", None)
        return run_report(store, run_id, resumed=resumed)


def _batches(store, client: CrossrefClient, run_id: int, batch_size: int) -> Iterator[list[Item]]:
    """Due works in DOI order, a page at a time (never the whole table in memory), packed
    into batches that fit one request; only the verified fields are held while a batch is
    in flight."""
    packer = Packer(client, batch_size)
    batch: list[Item] = []
    length = packer.fixed
    for dois in due_pages(store, run_id, batch_size):
        agencies = identifiers.agencies(store, dois)
        pmids = identifiers.dois_with(store, identifiers.PMID, dois)
        for doi, rec, problems in store.records_to_check(dois):
            item = Item(doi, {k: rec[k] for k in VERIFY_FIELDS if k in rec}, problems,
                        agencies.get(doi), pmids.get(doi))
            cost = packer.cost(doi) if filterable(doi) and at_crossref(item) else 0
            if batch and (len(batch) >= batch_size or length + cost > packer.limit):
                yield batch
                batch, length = [], packer.fixed
            batch.append(item)
            length += cost
    if batch:
        yield batch


def _run(store, client: CrossrefClient, run_id: int, batch_size: int, workers: int,
         progress: Callable[[Progress], None] | None,
         others: tuple[DoiClient | None, NcbiClient | None, ArxivClient | None]) -> None:
    started = time.monotonic()
    done_here = 0
    pending: deque[Future] = deque()

    def commit(fut: Future) -> None:
        nonlocal done_here
        results, n = fut.result()
        with store.write():
            commit_batch(store, run_id, results, n)
            learnt = {r.doi: {identifiers.AGENCY: r.agency} for r in results if r.agency}
            if learnt:
                identifiers.record_many(store, learnt)
        done_here += len(results)
        if progress is not None:
            done, total = run_progress(store, run_id)
            rate = done_here / max(time.monotonic() - started, 1e-6)
            eta = (total - done) / rate if rate > 0 else None
            progress(Progress(run_id, done, total, rate, eta))

    pool = ThreadPoolExecutor(workers, thread_name_prefix="refkeeper-verify")
    try:
        for batch in _batches(store, client, run_id, batch_size):
            pending.append(pool.submit(fetch_batch, client, batch, *others))
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
