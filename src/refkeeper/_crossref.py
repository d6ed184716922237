"""A polite, robust client for the Crossref REST API (or a stand-in at another URL).

habanero builds the query (in ``_habanero``): its filter and field-query helpers turn
Python dicts into Crossref's parameter syntax and reject unknown field queries. The HTTP call
itself is made here with ``requests`` because habanero 2.9 hides response headers
(so it cannot follow Crossref's announced rate limits), retries nothing and sends
one request at a time; refkeeper must pace itself, retry 429/5xx with backoff and
run several requests at once within the concurrency limit.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass

import requests

from ._errors import CrossrefError, CrossrefUnavailableError, InputError, RateLimitedError, UsageError
from ._habanero import query_params
from ._models import parse_doi
from ._version import __version__

DEFAULT_URL = "https://api.crossref.org"
SINGLE, LIST = "single", "list"

# Crossref's announced limits (Dec 2025) before any response has told us better:
# (single works per second, list queries per second, concurrent requests).
POLITE_LIMITS = (10, 3, 3)
PUBLIC_LIMITS = (5, 1, 1)

# Connection refused / DNS failures retried before Crossref is called unreachable, and
# how long later requests then fail at once without trying.
CONNECT_RETRIES = 2
DOWN_COOLDOWN = 30.0

# Stay a little under an announced limit: clocks and windows never line up exactly.
SAFETY = 0.9
# After a 429 the pace halves (down to this fraction of the announced rate); each answered
# request wins back this much of it, so a passing squeeze costs seconds, not the run.
MIN_PACE, PACE_RECOVERY = 1 / 16, 1 / 32

# No call waits longer than this in all, attempts, backoff and retries together: a server
# that accepts connections and never answers costs a citation a minute, not several.
DEADLINE = 60.0


class RateLimiter:
    """Paces request starts and caps requests in flight; thread-safe.

    Each route class (single works, lists) is paced at the rate its responses announce
    (``X-Rate-Limit-Limit`` per ``X-Rate-Limit-Interval``), starting from Crossref's
    published defaults. Crossref (and the stand-in) may count both classes against one
    budget, so they share one schedule: a request of a class takes ``1/rate`` of it. The
    cap on requests in flight follows ``X-Concurrency-Limit``. The first 429 halves the
    pace and holds every new request for a while; answered requests win the pace back.
    """

    def __init__(self, per_second: dict[str, float], concurrency: int) -> None:
        self._rates = dict(per_second)
        self._next = 0.0
        self._pace = 1.0  # the fraction of the announced rates in use
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._in_flight = 0
        self.concurrency = concurrency
        self.announced = False  # whether a response has told us the limits yet
        self._paused_until = 0.0

    def acquire(self, kind: str) -> None:
        with self._cond:
            while self._in_flight >= self.concurrency:
                self._cond.wait()
            self._in_flight += 1
            now = time.monotonic()
            start = max(now, self._next, self._paused_until)
            self._next = start + 1.0 / (self._rates[kind] * SAFETY * self._pace)
        delay = start - now
        if delay > 0:
            time.sleep(delay)

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify()

    def refused(self, seconds: float) -> None:
        """A 429: halve the pace and hold every new request for ``seconds``."""
        with self._lock:
            self._pace = max(MIN_PACE, self._pace / 2)
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def answered(self) -> None:
        """A request was served: win back some of the pace a 429 cost."""
        with self._lock:
            self._pace = min(1.0, self._pace + PACE_RECOVERY)

    def update(self, kind: str, headers: requests.structures.CaseInsensitiveDict) -> None:
        """Learn the limits a response announces for its route class."""
        limit = _int(headers.get("x-rate-limit-limit"))
        interval = _seconds(headers.get("x-rate-limit-interval"))
        conc = _int(headers.get("x-concurrency-limit"))
        with self._cond:
            if limit and interval:
                self._rates[kind] = limit / interval
                self.announced = True
            if conc and conc != self.concurrency:
                self.concurrency = conc
                self._cond.notify_all()
            if conc:
                self.announced = True

    def rate(self, kind: str) -> float:
        """The rate announced for ``kind`` (requests per second)."""
        return self._rates[kind]

    @property
    def pace(self) -> float:
        """The fraction of the announced rates in use (1.0 until a 429)."""
        return self._pace


def check_base_url(url: str, service: str = "Crossref") -> str:
    """``url`` without a trailing slash, if it can ever reach an HTTP API; else a UsageError
    at once (an ``ftp://`` or host-less URL would otherwise fail only after every retry)."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"the {service} URL must be an http:// or https:// address, not {url!r}")
    return url.strip().rstrip("/")


def _int(value: str | None) -> int | None:
    try:
        return int(str(value).strip()) if value is not None else None
    except ValueError:
        return None


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*", value)
    if not m:
        return None
    n = float(m.group(1))
    return {"ms": n / 1000, "m": n * 60}.get(m.group(2) or "s", n)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    refused_429: int = 0
    server_errors: int = 0


class PacedClient:
    """The HTTP machinery every registry client shares: pacing by a ``RateLimiter``,
    retries of 429, 5xx, timeouts, dropped connections and unreadable bodies with backoff
    honouring ``Retry-After``, one deadline per call, and "unreachable" remembered for a
    while. ``service`` names the registry in error messages ("Crossref", "DataCite"...).

    Subclasses (``CrossrefClient``, the clients of ``_registries``) add their routes and
    their service's documented pace; each returns data or raises a ``CrossrefError``.
    """

    service = "Crossref"
    # Whether responses announce the limits (Crossref's X-Rate-Limit-* headers); services
    # that publish a pace in their documentation only are held to that pace.
    learn_limits = True

    def __init__(
        self,
        base_url: str,
        limiter: RateLimiter,
        *,
        timeout: float = 20.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        deadline: float = DEADLINE,
        contact: str | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url, self.service)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.deadline = deadline
        self.limiter = limiter
        self.stats = ClientStats()
        self._down_until = 0.0
        self._stats_lock = threading.Lock()
        self._local = threading.local()
        contact = f"; mailto:{contact}" if contact else ""
        self.user_agent = (
            f"refkeeper/{__version__} (https://github.com/refkeeper/refkeeper{contact})"
        )

    # -- HTTP -------------------------------------------------------------------

    def _session(self) -> requests.Session:
        # requests.Session is not documented as thread-safe: one per thread.
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["User-Agent"] = self.user_agent
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=8)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            self._local.session = s
        return s

    def _count(self, **inc: int) -> None:
        with self._stats_lock:
            for k, v in inc.items():
                setattr(self.stats, k, getattr(self.stats, k) + v)

    def get(self, path: str, params: dict | None = None, kind: str = LIST) -> dict | None:
        """GET ``path`` and return the parsed JSON; None for a 404."""
        return self.fetch(path, params, kind)

    def fetch(
        self,
        path: str,
        params: dict | None = None,
        kind: str = LIST,
        *,
        headers: dict | None = None,
        parse=None,
        not_found: tuple[int, ...] = (404,),
        answers: tuple[int, ...] = (),
    ):
        """GET ``base_url + path``; ``parse(response)`` (default: its JSON) is returned,
        None for a status in ``not_found``.

        Retries 429, 5xx, timeouts, dropped connections and bodies ``parse`` cannot read
        (it raises ``ValueError``) with exponential backoff (honouring ``Retry-After``),
        then raises. A 4xx status in ``answers`` is an answer (``parse`` reads it), not an
        error: the handle API says "no such DOI" with a 404 and a body.
        """
        params = self.params(dict(params or {}))
        parse = parse or _parse_json
        url = self.base_url + path
        name = self.service
        if time.monotonic() < self._down_until:
            raise CrossrefUnavailableError(
                f"{name} unreachable at {self.base_url} (not retried: it just failed)"
            )
        last_error = "no attempt made"
        unreachable = True
        refused = 0
        give_up_at = time.monotonic() + self.deadline
        tried = 0
        for attempt in range(self.max_retries + 1):
            left = give_up_at - time.monotonic()
            if left <= 0:
                last_error = f"no answer within {self.deadline:g} s ({last_error})"
                break
            if attempt:
                self._count(retries=1)
            tried += 1
            self.limiter.acquire(kind)
            try:
                resp = self._session().get(url, params=params, headers=headers,
                                           timeout=min(self.timeout, left))
            except requests.exceptions.InvalidURL as exc:
                # Retrying cannot mend a URL requests refuses to send.
                raise CrossrefError(f"cannot ask {name} at {self.base_url}: {exc}") from None
            except requests.exceptions.RequestException as exc:
                resp = None
                last_error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
                    exc, requests.exceptions.Timeout
                ):
                    refused += 1
            finally:
                self.limiter.release()
            if resp is None:
                # Nothing listening heals slower than a timeout: give up sooner.
                if unreachable and refused > CONNECT_RETRIES:
                    break
                self._sleep(attempt, None, give_up_at)
                continue
            unreachable = False
            self._count(requests=1)
            if self.learn_limits:
                self.limiter.update(kind, resp.headers)
            if resp.status_code == 429:
                self._count(refused_429=1)
                wait = _retry_after(resp.headers.get("retry-after"))
                # A 429 without Retry-After still means "slow down": back off for
                # at least one rate interval before anyone sends again.
                self.limiter.refused(wait if wait is not None else self._delay(attempt))
                last_error = "HTTP 429 Too Many Requests"
                continue
            self.limiter.answered()
            if resp.status_code in not_found:
                return None
            if resp.status_code >= 500:
                self._count(server_errors=1)
                last_error = f"HTTP {resp.status_code}"
                self._sleep(attempt, _retry_after(resp.headers.get("retry-after")), give_up_at)
                continue
            if resp.status_code >= 400 and resp.status_code not in answers:
                raise CrossrefError(
                    f"{name} rejected the request (HTTP {resp.status_code}): "
                    f"{_error_message(resp)}",
                    status=resp.status_code,
                )
            try:
                return parse(resp)
            except ValueError:
                last_error = "response could not be read"
                self._sleep(attempt, None, give_up_at)
                continue
        if unreachable:
            # Fail the next requests at once instead of each waiting out its retries:
            # a batch against a Crossref that is down ends quickly, every line an error.
            self._down_until = time.monotonic() + DOWN_COOLDOWN
            raise CrossrefUnavailableError(f"{name} unreachable at {self.base_url}: {last_error}")
        if last_error.startswith("HTTP 429"):
            raise RateLimitedError(f"{name} kept refusing for rate: {last_error}", status=429)
        raise CrossrefError(
            f"{name} request failed after {tried} attempts: {last_error}"
        )

    def params(self, params: dict) -> dict:
        """The query parameters every request of this service carries, added to ``params``."""
        return params

    def _delay(self, attempt: int) -> float:
        return self.backoff * (2**attempt) * (0.5 + random.random())

    def _sleep(self, attempt: int, retry_after: float | None, give_up_at: float) -> None:
        if attempt < self.max_retries:
            wait = retry_after if retry_after is not None else self._delay(attempt)
            time.sleep(max(0.0, min(wait, give_up_at - time.monotonic())))


class CrossrefClient(PacedClient):
    """Talks to Crossref; every method either returns data or raises a ``CrossrefError``.

    ``base_url`` is the API's root (the real API unless a stand-in or mirror is named);
    ``mailto`` is the user's address, which puts requests in Crossref's polite pool.
    Nothing is read from the environment: the caller (``Settings.client()``) decides.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        mailto: str | None = None,
        timeout: float = 20.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        deadline: float = DEADLINE,
    ) -> None:
        self.mailto = mailto or None
        single, lst, conc = POLITE_LIMITS if self.mailto else PUBLIC_LIMITS
        super().__init__(
            base_url or DEFAULT_URL, RateLimiter({SINGLE: single, LIST: lst}, conc),
            timeout=timeout, max_retries=max_retries, backoff=backoff, deadline=deadline,
            contact=self.mailto,
        )

    def params(self, params: dict) -> dict:
        if self.mailto:
            params["mailto"] = self.mailto
        return params

    # -- API --------------------------------------------------------------------

    def work(self, doi: str) -> dict | None:
        """The Crossref record for ``doi``, or None when Crossref does not know it."""
        doi = parse_doi(doi)
        # DOIs may contain '/', '?', '#', ';', '<'...: quote all but '/' so the
        # server sees the DOI, not a query string or fragment.
        data = self.get("/works/" + urllib.parse.quote(doi, safe="/"), kind=SINGLE)
        return None if data is None else check_record(message(data, "a work"), "a work")

    def agency(self, doi: str) -> str | None:
        """The registration agency of ``doi`` as Crossref knows it (``/works/{doi}/agency``:
        "crossref", "datacite", "medra"...), or None when no agency has it."""
        doi = parse_doi(doi)
        data = self.get("/works/" + urllib.parse.quote(doi, safe="/") + "/agency", kind=SINGLE)
        if data is None:
            return None
        agency = message(data, "an agency").get("agency")
        found = agency.get("id") if isinstance(agency, dict) else None
        return str(found).strip().lower() if found else None

    def search(
        self,
        query_bibliographic: str | None = None,
        rows: int = 5,
        filter: dict | None = None,  # noqa: A002 - Crossref's own name
        select: list[str] | None = None,
        **field_queries: str,
    ) -> list[dict]:
        """Items of ``/works`` for a bibliographic query and/or field queries and filters.

        ``field_queries`` use habanero's spelling: ``query_author="Murakami"``.
        """
        if not 0 < rows <= 1000:
            raise InputError("rows must be between 1 and 1000")
        fq = {k: fit_query(v) for k, v in field_queries.items() if v}
        if query_bibliographic:
            fq["query_bibliographic"] = fit_query(query_bibliographic)
        params = query_params(fq, filter)
        if select:
            params["select"] = ",".join(select)
        params["rows"] = str(rows)
        data = self.get("/works", params, kind=LIST)
        return [] if data is None else items(data, "a search")

    def works_by_doi(self, dois: list[str], select: list[str] | None = None) -> list[dict]:
        """Many works in one request (``filter=doi:A,doi:B``); missing ones are simply absent.

        ``select`` limits each record to those fields (Crossref's ``select``).
        """
        if not dois:
            return []
        params = {"filter": ",".join(f"doi:{d}" for d in dois), "rows": str(len(dois))}
        if select:
            params["select"] = ",".join(select)
        data = self.get("/works", params, kind=LIST)
        return [] if data is None else items(data, "a DOI list")


# -- the shape of Crossref's answers ------------------------------------------------------
# Valid JSON of the wrong shape (a proxy's error page as a JSON string, a list, a number
# for a DOI) fails the call it answers with a CrossrefError, like any other failed call,
# instead of a TypeError deep in matching. The client checks the structure every caller
# relies on (message, items, a DOI string per record); a record's own fields are checked
# by the caller that reads them (``check_fields``): re-verification reports such a record
# as one unreadable work, while the resolver cannot match against it.

# Record fields refkeeper reads, and the JSON types Crossref gives them.
RECORD_FIELDS: dict[str, tuple[type, ...]] = {
    "title": (list, str),
    "subtitle": (list, str),
    "container-title": (list, str),
    "short-container-title": (list, str),
    "author": (list,),
    "editor": (list,),
    **{k: (dict,) for k in ("issued", "published", "published-print", "published-online", "created")},
}


def shape_error(what: str, detail: str) -> CrossrefError:
    return CrossrefError(f"Crossref answered {what} with an unexpected shape: {detail}")


def message(data: object, what: str) -> dict:
    """The ``message`` object of a Crossref answer."""
    if not isinstance(data, dict):
        raise shape_error(what, f"a JSON {type(data).__name__}, not an object")
    msg = data.get("message")
    if not isinstance(msg, dict):
        raise shape_error(what, "no message object" if msg is None else f"message is a {type(msg).__name__}")
    return msg


def check_record(record: object, what: str) -> dict:
    """``record`` if it is a work record: an object with a DOI string."""
    if not isinstance(record, dict):
        raise shape_error(what, f"a record that is a {type(record).__name__}")
    doi = record.get("DOI")
    if not isinstance(doi, str) or not doi.strip():
        raise shape_error(what, f"a record whose DOI is {doi!r}")
    return record


def check_fields(record: dict, what: str) -> dict:
    """``record`` if the fields ``Work.from_crossref`` reads have the types Crossref gives them."""
    doi = record.get("DOI")
    for name, types in RECORD_FIELDS.items():
        value = record.get(name)
        if value is not None and not isinstance(value, types):
            raise shape_error(what, f"{doi}: {name} is a {type(value).__name__}")
    for person in (record.get("author") or []) + (record.get("editor") or []):
        if not isinstance(person, dict):
            raise shape_error(what, f"{doi}: a person that is a {type(person).__name__}")
    return record


def items(data: object, what: str) -> list[dict]:
    """The records of a ``/works`` list answer."""
    found = message(data, what).get("items")
    if found is None:
        return []
    if not isinstance(found, list):
        raise shape_error(what, f"items is a {type(found).__name__}")
    return [check_record(r, what) for r in found]


# Crossref refuses request lines over 4,096 bytes (414). A query is cut, at a word, so
# that its URL-encoded form stays well inside that with room for the other parameters.
MAX_QUERY_BYTES = 2500


def fit_query(text: str, budget: int = MAX_QUERY_BYTES) -> str:
    """``text`` shortened at a word boundary until its URL-encoded form fits ``budget`` bytes.

    Only the query sent to Crossref is cut; the whole citation is still used to validate
    candidates. Real references are far shorter; this guards pasted run-on text.
    """
    text = " ".join(text.split())
    if len(urllib.parse.quote_plus(text)) <= budget:
        return text
    words = text.split(" ")
    lo, hi = 0, len(words)  # the longest prefix of words that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(urllib.parse.quote_plus(" ".join(words[:mid]))) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def _parse_json(resp: requests.Response):
    return resp.json()


def _error_message(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:200]
    msg = body.get("message") if isinstance(body, dict) else body
    if isinstance(msg, list):
        return "; ".join(m.get("message", json.dumps(m)) if isinstance(m, dict) else str(m)
                         for m in msg)[:200]
    return str(msg)[:200]
