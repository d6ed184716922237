"""Background jobs with progress: one runner per server, a bounded pool of worker threads.

A job is a function run in a worker thread; it reports progress through its ``Job``
(``job.step(...)``) which pages read (``runner.get(key)``) to show how far it got. Jobs
open their own ``Store`` (one connection per thread) and share the desk's one
``CrossrefClient``, so every job stays within the same Crossref limits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .._errors import RefkeeperError

log = logging.getLogger("refkeeper.web")

RUNNING, DONE, FAILED = "running", "done", "failed"


@dataclass
class Job:
    key: str                      # e.g. "request:12": what the job is about, for pages
    total: int = 0                # steps expected (0: unknown)
    expected: list[Any] = field(default_factory=list)  # what the steps are about, in order
    done: int = 0
    status: str = RUNNING
    error: str | None = None
    items: list[Any] = field(default_factory=list)   # what each step produced, in order
    result: Any = None

    def step(self, item: Any = None) -> None:
        """One step finished (called from the job's thread)."""
        if item is not None:
            self.items.append(item)
        self.done += 1

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def snapshot(self) -> JobView:
        """The job's state at one instant, for one page render (the job moves on meanwhile)."""
        done = self.done
        status = self.status
        return JobView(self.key, self.total, done, status, self.error, self.expected[done:])


@dataclass(frozen=True)
class JobView:
    key: str
    total: int
    done: int
    status: str
    error: str | None
    remaining: list[Any]

    @property
    def running(self) -> bool:
        return self.status == RUNNING


class JobRunner:
    """Runs jobs on at most ``workers`` threads; keeps the latest job per key."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refkeeper-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, key: str, fn: Callable[..., Any], *args: Any, expected: list | None = None,
               **kwargs: Any) -> Job:
        """Start ``fn(job, *args, **kwargs)`` in the background; its return value is ``job.result``.
        ``expected``: what each step is about (its length is the job's total)."""
        job = Job(key, total=len(expected or ()), expected=list(expected or ()))
        with self._lock:
            self._jobs[key] = job
        self._pool.submit(self._run, job, fn, args, kwargs)
        return job

    def get(self, key: str) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def running(self, key: str) -> bool:
        job = self.get(key)
        return job is not None and job.running

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    @staticmethod
    def _run(job: Job, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            job.result = fn(job, *args, **kwargs)
            job.status = DONE
        except RefkeeperError as exc:
            job.error, job.status = str(exc), FAILED
        except Exception as exc:  # a bug: logged with its traceback, shown as one line
            log.exception("background job %s failed", job.key)
            job.error, job.status = f"internal error ({type(exc).__name__})", FAILED
