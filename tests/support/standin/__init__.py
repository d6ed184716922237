"""A local stand-in for the Crossref REST API, for tests and benchmarks.

What it is: a small HTTP server on 127.0.0.1 that answers the part of the Crossref REST
API refkeeper uses, from real Crossref records the caller passes in (files or dicts;
``dev_index(data_dir)`` names the dev index's files), with Crossref's URL forms, JSON
envelopes, error bodies and rate-limit headers. Tests talk real HTTP to it (habanero,
requests, connection pools, keep-alive), so the client code under test is the code that
talks to Crossref.

    with StandIn(dev_index("../shared/data"), rate_limit=50) as s:
        requests.get(s.url + "/works", params={"query.bibliographic": "..."})

It can also misbehave on purpose: enforce a rate limit and a concurrency limit (429), add
latency, and answer the next requests with scripted faults (a status such as 500 or 429
with Retry-After, a truncated JSON body, JSON of the wrong shape, a hang, a dropped
connection), with random faults of chosen kinds at a seeded rate, or with a ``storm`` of
429s (or any status) for a while, counting all of it in ``stats``. With
``max_request_line`` it refuses over-long URLs with 414, as Crossref's front end does.

Records change upstream after refkeeper stored them, and re-verification must notice.
``revise(doi, record)`` serves a later version of a record (``with_update`` adds a
retraction, correction, expression of concern... notice the way Crossref records one,
``with_changes`` corrects metadata the way a publisher's redeposit does);
``revise(doi, None)`` makes a DOI unknown (404); ``alias(old, new)`` makes a DOI an alias,
answered on ``/works/{old}`` with the record of ``new`` and absent from DOI filters;
``unlist(doi)`` keeps a record out of ``/works`` lists (a lagging search index) while
``/works/{doi}`` still finds it. All of it is undone by ``reset()``.

What it is not: Crossref. Relevance is the stand-in's own FTS5 ranking (``search``, bm25
over title, authors, container and numbers; deliberately not refkeeper's offline index),
not Crossref's Elasticsearch scores, so a test may rely on *which* record ranks first for
a good citation but never on score values. Only these routes and parameters exist:
``GET /works`` with ``query``, ``query.bibliographic``, ``query.author`` (and
``query.editor``/``query.contributor``/``query.container-title``), ``filter`` (``doi``,
``from-pub-date``, ``until-pub-date``, ``type``), ``rows``, ``offset``, ``select``,
``mailto``; and ``GET /works/{doi}``. Anything else is refused loudly (400 or 404) rather
than answered approximately, so a client that starts depending on more of the API finds
out here, not in production.

Run it by hand (benchmarks, manual checks)::

    PYTHONPATH=tests/support python -m standin --data ../shared/data --port 8080 --rate-limit 50

It lives outside the installed package (``tests/support``): tests import it through
``tests/conftest.py``, scripts put ``tests/support`` on ``sys.path`` themselves. It uses
nothing of refkeeper, so it stands in for Crossref whatever refkeeper does.

The package: ``StandIn`` (here) is the server's public face; ``db`` builds and caches the
SQLite index over the records, ``search`` is its full-text ranking, ``api`` answers
``/works`` and ``/works/{doi}`` from it, ``revisions`` makes and holds later versions of
records, ``server`` handles HTTP, limits and faults, and ``__main__`` is the command
line. The names tests and scripts use are importable from here.
"""

from __future__ import annotations

import collections
import os
import random
import socket
import threading
import time
from collections.abc import Iterable, Mapping

from .api import (
    CROSSREF_TYPES,
    DEFAULT_ROWS,
    FIELD_QUERIES,
    FILTERS,
    MAX_OFFSET,
    MAX_ROWS,
    NOT_FOUND,
    RANK_QUERIES,
    UNIMPLEMENTED_PARAMS,
    work_by_doi,
    works_query,
)
from .db import (
    DEV_INDEX_FILES,
    FTS_TABLE,
    _normalize_sources,
    _obtain_db,
    _ReadPool,
    build_db,
    dev_index,
)
from .registries import Registry, pubmed_mappings
from .revisions import (
    UPDATE_LABELS,
    _Overlay,
    crossref_date,
    earlier_version,
    with_changes,
    with_relation,
    with_update,
)
from .search import normalize_doi
from .server import (
    CROSSREF_REQUEST_LINE,
    FAULT_KINDS,
    RANDOM_FAULT_STATUSES,
    UNLIMITED_CONCURRENCY,
    UNLIMITED_RATE,
    WRONG_SHAPES,
    _Fault,
    _Handler,
    _RequestHandling,
    _Server,
)

__all__ = [
    "CROSSREF_REQUEST_LINE",
    "CROSSREF_TYPES",
    "DEFAULT_ROWS",
    "DEV_INDEX_FILES",
    "FAULT_KINDS",
    "FIELD_QUERIES",
    "FILTERS",
    "FTS_TABLE",
    "MAX_OFFSET",
    "MAX_ROWS",
    "NOT_FOUND",
    "RANDOM_FAULT_STATUSES",
    "RANK_QUERIES",
    "Registry",
    "UNIMPLEMENTED_PARAMS",
    "UNLIMITED_CONCURRENCY",
    "UNLIMITED_RATE",
    "UPDATE_LABELS",
    "WRONG_SHAPES",
    "StandIn",
    "build_db",
    "crossref_date",
    "dev_index",
    "earlier_version",
    "main",
    "pubmed_mappings",
    "with_changes",
    "with_relation",
    "with_update",
    "work_by_doi",
    "works_query",
]


class StandIn(_RequestHandling):
    """The Crossref stand-in server. Use as a context manager or start()/stop().

    records: a path, a record dict, or a list mixing both (a later record with the same
        DOI, any case, replaces earlier); ``dev_index(data_dir)`` for the dev index.
        Required: the stand-in knows no data directory of its own.
    rate_limit: admitted requests per ``interval`` seconds (sliding window); past it 429.
        An int is one window for all requests; a dict such as
        ``{"works_doi": 10, "works_query": 3}`` gives each route its own window, as
        Crossref limits single-work lookups and list queries separately (a route not
        in the dict is unlimited). The headers of each response carry its route's limit.
    concurrency: requests allowed in flight at once; past it 429.
    retry_after: seconds to send in Retry-After on limit refusals (default: no header,
        as Crossref often omits it).
    latency: seconds added to every response (settable at runtime).
    fault_rate, seed: probability of a random fault on an admitted request, seeded.
    fault_kinds: what a random fault may be (``FAULT_KINDS``), drawn evenly: "status"
        (a 5xx), "throttle" (429, with ``retry_after`` if set), "malformed" (truncated
        JSON), "shape" (JSON of a wrong shape), "hang" (``hang_seconds``, then the
        answer), "close" (dropped connection). Default: 5xx only.
    max_request_line: refuse longer request lines ("GET /works?... HTTP/1.1" and its CRLF)
        with 414, as Crossref's front end does past ``CROSSREF_REQUEST_LINE`` (settable).
    revisions, aliases, unlisted: later versions to serve from the start, as ``revise``,
        ``alias`` and ``unlist`` would set them (``reset()`` returns to these).
    """

    def __init__(
        self,
        records: object,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int | dict[str, int] | None = None,
        interval: float = 1.0,
        concurrency: int | None = None,
        retry_after: float | None = None,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        fault_kinds: Iterable[str] = ("status",),
        hang_seconds: float = 30.0,
        seed: int = 0,
        max_request_line: int | None = None,
        revisions: Mapping[str, dict | None] | None = None,
        aliases: Mapping[str, str] | None = None,
        unlisted: Iterable[str] = (),
        registry: Registry | None = None,
        registry_rate_limit: dict[str, int] | None = None,
    ) -> None:
        self._sources = _normalize_sources(records)
        # The registries beside Crossref (see ``registries``): the fixtures unless given.
        self.registry = registry if registry is not None else Registry()
        self.registry_rate_limit = registry_rate_limit
        self.host, self.port = host, port
        self.rate_limit = rate_limit
        self.interval = interval
        self.concurrency = concurrency
        self.retry_after = retry_after
        self.latency = latency
        self.fault_rate = fault_rate
        self.fault_kinds = tuple(fault_kinds)
        unknown = [k for k in self.fault_kinds if k not in FAULT_KINDS]
        if unknown or not self.fault_kinds:
            raise ValueError(f"fault_kinds {unknown or '()'}: each one of {', '.join(FAULT_KINDS)}")
        self.hang_seconds = hang_seconds
        self._storm_until = 0.0
        self._storm_status = 429
        self._storm_retry_after: float | None = None
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
            name="crossref-standin", daemon=True,
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

    @property
    def urls(self) -> dict[str, str]:
        """The base URL of each registry this stand-in answers for, by setting name."""
        return {"crossref_url": self.url, "doi_url": self.url + "/doi",
                "datacite_url": self.url + "/datacite", "ncbi_url": self.url + "/ncbi",
                "idconv_url": self.url + "/idconv", "arxiv_url": self.url + "/arxiv"}

    @property
    def environ(self) -> dict[str, str]:
        """``urls`` as the REFKEEPER_* variables the command line reads."""
        names = {"crossref_url": "REFKEEPER_CROSSREF_URL", "doi_url": "REFKEEPER_DOI_URL",
                 "datacite_url": "REFKEEPER_DATACITE_URL", "ncbi_url": "REFKEEPER_NCBI_URL",
                 "idconv_url": "REFKEEPER_NCBI_IDCONV_URL", "arxiv_url": "REFKEEPER_ARXIV_URL"}
        return {names[k]: v for k, v in self.urls.items()}

    def register(self, doi: str, agency: str, csl: dict | None = None) -> None:
        """Serve ``doi`` as a DOI of ``agency`` (not Crossref): the handle API finds it,
        content negotiation answers ``csl`` (or a bare record)."""
        self.registry.register(doi, agency, csl)

    def inject(self, kind: str, value: float | None = None, *, retry_after: float | None = None,
               times: int = 1) -> None:
        """Queue a fault for the next admitted request(s), one per request, in order.

        inject("status", 500)                  answer 500 (text body)
        inject("status", 429, retry_after=1)   answer 429 with Retry-After: 1
        inject("malformed")                    answer 200 with a truncated JSON body
        inject("shape", 2)                     answer 200 with WRONG_SHAPES[2] (valid JSON)
        inject("hang", 5)                      wait 5 s (default 30), then answer normally
        inject("close")                        drop the connection without answering
        """
        if kind == "status":
            if value is None or not 100 <= int(value) <= 599:
                raise ValueError("inject('status', code) needs an HTTP status code")
            fault = _Fault(kind, status=int(value), retry_after=retry_after)
        elif kind == "hang":
            fault = _Fault(kind, seconds=30.0 if value is None else float(value))
        elif kind == "shape":
            fault = _Fault(kind, variant=0 if value is None else int(value))
        elif kind in ("malformed", "close"):
            fault = _Fault(kind)
        else:
            raise ValueError(f"unknown fault {kind!r}: status, malformed, shape, hang or close")
        with self._lock:
            self._faults.extend([fault] * times)

    def storm(self, seconds: float, status: int = 429, *, retry_after: float | None = None) -> None:
        """Answer every admitted request with ``status`` for the next ``seconds``, as
        Crossref does when it sheds load: a 429 storm by default. Counted in
        ``stats["storm"]`` and ``faults_injected``; queued faults wait until it ends."""
        if not 100 <= int(status) <= 599:
            raise ValueError("storm() needs an HTTP status code")
        with self._lock:
            self._storm_status, self._storm_retry_after = int(status), retry_after
            self._storm_until = time.monotonic() + seconds

    def clear_faults(self) -> None:
        """Drop queued faults and end a storm."""
        with self._lock:
            self._faults.clear()
            self._storm_until = 0.0

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
            "agency": 0,  # GET /works/{doi}/agency
            "handle": 0,  # the DOI system's handle API
            "doi": 0,  # DOI content negotiation
            "datacite": 0,  # DataCite's /dois/{doi}
            "ncbi": 0,  # the PMC ID converter and E-utilities
            "arxiv": 0,  # arXiv's query
            "other": 0,  # any other path (404)
            "refused_rate": 0,  # 429 for the rate limit
            "refused_concurrency": 0,  # 429 for the concurrency limit
            "faults_injected": 0,  # scripted, random or storm faults served
            "faults": {},  # those by kind: "500", "429", "malformed", "shape", "hang", "close"
            "storm": 0,  # requests answered by a storm
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
            snap["faults"] = dict(self._stats["faults"])
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
        """Back to how it was constructed: no queued faults or storm, the constructor's latency,
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


def __getattr__(name: str):
    # ``main`` lives in __main__.py and is imported only when asked for: importing that
    # module here would make ``python -m standin`` load it twice (runpy warns).
    if name == "main":
        from .__main__ import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
