"""The stand-in's HTTP side: server, handler threads, limits, faults, responses.

``_Server`` and ``_Handler`` are the standard library's threading HTTP server, tuned for
keep-alive clients. ``_RequestHandling`` is the part of ``StandIn`` that runs on their
threads for each request: the request-line limit (414), admission under the rate and
concurrency limits (429), storms, scripted and random faults, routing to ``api``, counting, and
writing the response with Crossref's rate-limit headers.
"""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

from . import registries
from .api import NOT_FOUND, _BadRequest, _envelope, work_by_doi, works_query
from .db import _ReadPool

# Header values when a limit is not enforced: large, so a client that paces itself by
# the headers (as Crossref asks) does not slow the test suite down.
UNLIMITED_RATE = 10000
UNLIMITED_CONCURRENCY = 1000
RANDOM_FAULT_STATUSES = (500, 502, 503, 504)
# What a random fault can be (``fault_kinds``): a 5xx, a 429 (as from a throttling front
# end, not the limiter), a truncated body, a body of the wrong shape, a hang, a dropped
# connection.
FAULT_KINDS = ("status", "throttle", "malformed", "shape", "hang", "close")
# Well-formed JSON in shapes Crossref never sends (a proxy's or a half-deployed API's
# answer): a client must refuse each as an error, never crash on it or store it.
WRONG_SHAPES = (
    b'{"status":"ok","message-type":"work-list","message":null}',
    b'{"status":"ok","message-type":"work-list","message":{"items":{"DOI":"10.5555/not-a-list"}}}',
    b'{"status":"ok","message-type":"work-list","message":{"total-results":2,'
    b'"items":[{"title":["An item without a DOI"]},"an item that is a string"]}}',
    b'[]',
    b'{"status":"ok","message-type":"work","message":{"DOI":12345,"title":"not a list",'
    b'"author":"nobody","issued":{"date-parts":"2020"}}}',
    b'{"status":"error","message-type":"exception","message":{"name":"class java.lang.Exception"}}',
)
# Crossref's front end allows 4096 bytes for the request line ("GET /works?... HTTP/1.1")
# and answers 414 beyond (CrossRef/rest-api-doc#251). Off unless asked for: the resolver
# sends citations of up to 10,000 characters as queries.
CROSSREF_REQUEST_LINE = 4096
# Route kinds of Crossref's API (they carry its rate-limit headers and share ``rate_limit``)
# and of the other registries (``registries``: their own windows, ``registry_rate_limit``).
CROSSREF_KINDS = ("works_query", "works_doi", "agency", "other")
REGISTRY_KINDS = ("handle", "doi", "datacite", "ncbi", "arxiv")


class _Fault:
    __slots__ = ("kind", "status", "seconds", "retry_after", "variant")

    def __init__(self, kind, status=None, seconds=None, retry_after=None, variant=0) -> None:
        self.kind, self.status, self.seconds, self.retry_after = kind, status, seconds, retry_after
        self.variant = variant  # which of WRONG_SHAPES a "shape" fault answers with


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


_AGENCY_LABELS = {"crossref": "Crossref", "datacite": "DataCite", "medra": "mEDRA"}


def _kind(path: str) -> str:
    """The route class of a request path: Crossref's routes, then the other registries'."""
    if path.rstrip("/") == "/works":
        return "works_query"
    if path.startswith("/works/") and path.endswith("/agency"):
        return "agency"
    if path.startswith("/works/") and len(path) > len("/works/"):
        return "works_doi"
    if path.startswith("/doi/api/handles/"):
        return "handle"
    for prefix, kind in (("/doi/", "doi"), ("/datacite/", "datacite"), ("/ncbi/", "ncbi"),
                         ("/idconv", "ncbi"), ("/arxiv/", "arxiv")):
        if path.startswith(prefix):
            return kind
    return "other"


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


class _RequestHandling:
    """Request handling for ``StandIn`` (its base class), run on the server's threads.

    The state read and counted into here (limits, queued faults, counters, the read pool,
    the later versions) is ``StandIn``'s, set up by its constructor and ``start()``.
    """

    def _connections_add(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _connections_discard(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    def _rate_limit_for(self, kind: str) -> tuple[int | None, str]:
        """(limit, window key) for a route kind; limit None means unlimited."""
        if kind in REGISTRY_KINDS:
            return (self.registry_rate_limit or {}).get(kind), kind
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
            if time.monotonic() < self._storm_until:
                # A storm answers everything with its status and leaves queued faults queued.
                fault = _Fault("status", status=self._storm_status, retry_after=self._storm_retry_after)
                self._stats["storm"] += 1
            elif self._faults:
                fault = self._faults.popleft()
            elif self.fault_rate and self._random.random() < self.fault_rate:
                fault = self._random_fault()
            else:
                return None
            self._stats["faults_injected"] += 1
            key = str(fault.status) if fault.kind == "status" else fault.kind
            self._stats["faults"][key] = self._stats["faults"].get(key, 0) + 1
            return fault

    def _random_fault(self) -> _Fault:
        # One kind keeps the draws as they were before there were kinds: same seed, same faults.
        kinds = self.fault_kinds
        kind = kinds[0] if len(kinds) == 1 else self._random.choice(kinds)
        if kind == "status":
            return _Fault(kind, status=self._random.choice(RANDOM_FAULT_STATUSES))
        if kind == "throttle":
            return _Fault("status", status=429, retry_after=self.retry_after)
        if kind == "hang":
            return _Fault(kind, seconds=self.hang_seconds)
        if kind == "shape":
            return _Fault(kind, variant=self._random.randrange(len(WRONG_SHAPES)))
        return _Fault(kind)

    def _handle(self, h: _Handler) -> None:
        pool = self._pool  # stop() clears the attribute; a late request keeps its pool
        target = h.path
        path, _, query = target.partition("?")
        if path.startswith("/v1/"):
            path = path[3:]  # Crossref serves the same routes under /v1
        kind = _kind(path)
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
            response = self._fault_response(fault) or self._route(
                pool, kind, path, query, h.headers.get("Accept") or "")
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
        if fault.kind == "shape":
            return _Response(200, WRONG_SHAPES[fault.variant % len(WRONG_SHAPES)])
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        return _text(fault.status, f"Injected fault: HTTP {fault.status}.", headers)

    def _route(self, pool: _ReadPool, kind: str, path: str, query: str,
               accept: str = "") -> _Response:
        qs = parse_qs(query, keep_blank_values=True)
        overlay = self._overlay  # one version for the whole request
        if kind in REGISTRY_KINDS or kind == "agency":
            return self._route_registry(pool, kind, path, qs, accept)
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

    def _crossref_record(self, pool: _ReadPool, doi: str) -> dict | None:
        with pool.connection() as conn:
            return work_by_doi(conn, doi, self._overlay)

    def _route_registry(self, pool: _ReadPool, kind: str, path: str, qs: dict,
                        accept: str) -> _Response:
        reg = self.registry
        if kind == "agency":
            doi = unquote(path[len("/works/"):-len("/agency")])
            agency = "crossref" if self._crossref_record(pool, doi) else reg.agency(doi)
            if agency is None:
                return _text(404, NOT_FOUND)
            return _json(200, _envelope("work-agency", {
                "DOI": doi.lower(), "agency": {"id": agency, "label": _AGENCY_LABELS.get(agency, agency)}}))
        if kind == "handle":
            doi = unquote(path[len("/doi/api/handles/"):])
            exists = reg.agency(doi) is not None or self._crossref_record(pool, doi) is not None
            return _json(*registries.handle(exists, doi))
        if kind == "doi":
            doi = unquote(path[len("/doi/"):])
            if registries.CSL_JSON not in accept:
                return _text(406, "Not Acceptable: this stand-in answers only CSL-JSON")
            csl = reg.csl(doi)
            if csl is None:
                record = self._crossref_record(pool, doi)
                csl = registries.crossref_csl(record) if record else None
            if csl is None:
                return _text(404, "DOI Not Found")
            body = json.dumps(csl, ensure_ascii=False).encode("utf-8")
            return _Response(200, body, registries.CSL_JSON + "; charset=utf-8")
        if kind == "datacite":
            doi = unquote(path[len("/datacite/dois/"):]) if path.startswith("/datacite/dois/") else ""
            if not doi or reg.agency(doi) != "datacite" or doi.lower() not in reg.dois:
                return _json(404, {"errors": [{
                    "status": "404", "title": "The resource you are looking for doesn't exist."}]})
            return _json(200, registries.datacite(doi, reg.dois[doi.lower()]))
        if kind == "ncbi":
            if not (qs.get("tool") and qs.get("email")):
                # NCBI asks every program to name itself; the stand-in holds clients to it.
                return _json(400, {"status": "error", "message": "tool and email parameters are required"})
            ids = [i for v in qs.get("ids", []) + qs.get("id", []) for i in v.split(",") if i]
            if path.rstrip("/") == "/idconv":
                if len(ids) > registries.IDCONV_MAX:
                    return _json(400, {"status": "error", "message": "too many ids (at most 200)"})
                return _json(200, registries.idconv(reg, ids))
            if path == "/ncbi/entrez/eutils/esummary.fcgi" and qs.get("db") == ["pubmed"]:
                return _json(200, registries.esummary(reg, ids))
            return _text(404, NOT_FOUND)
        if kind == "arxiv" and path.rstrip("/") == "/arxiv/query":
            ids = [i for v in qs.get("id_list", []) for i in v.split(",") if i]
            body = registries.arxiv_feed(reg, ids).encode("utf-8")
            return _Response(200, body, "application/atom+xml; charset=utf-8")
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
            if kind in CROSSREF_KINDS:  # the other registries announce no limits in headers
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
