"""The Crossref client over real HTTP against the stand-in: pacing, retries, faults, errors."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from standin import StandIn

from refkeeper._crossref import CrossrefClient
from refkeeper._errors import (
    CrossrefError,
    CrossrefUnavailableError,
    InputError,
    RateLimitedError,
    UsageError,
)

MURAKAMI_LIKE = "10.1258/095646203767869057"  # a real record of the dev index
PAREN_DOI = "10.1016/s0140-6736(05)67402-8"


def client_for(server, **kw) -> CrossrefClient:
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 5)
    return CrossrefClient(base_url=server.url, mailto="editor@example.org", **kw)


def test_a_work_is_fetched_by_doi_and_an_unknown_doi_is_none(standin_clean):
    c = client_for(standin_clean)
    assert c.work(MURAKAMI_LIKE)["DOI"].lower() == MURAKAMI_LIKE
    assert c.work(PAREN_DOI.upper())["DOI"].lower() == PAREN_DOI
    assert c.work("10.9999/not-a-real-doi") is None
    with pytest.raises(InputError):
        c.work("not-a-doi")


def test_search_uses_habanero_spelling_for_field_queries_and_filters(standin_clean):
    c = client_for(standin_clean)
    items = c.search("Traditional surgeons in sub-Saharan Africa south Sudan", rows=3)
    assert items[0]["DOI"].lower() == MURAKAMI_LIKE
    by_author = c.search(query_author="Giltay", filter={"from_pub_date": "2006",
                                                        "until_pub_date": "2006"}, rows=5)
    assert by_author and all(i["author"][0]["family"] == "Giltay" for i in by_author)
    with pytest.raises(InputError):
        c.search("x", rows=1001)


def test_many_works_come_back_in_one_batched_request(standin_clean):
    c = client_for(standin_clean)
    got = c.works_by_doi([MURAKAMI_LIKE, PAREN_DOI, "10.9999/absent"])
    assert {i["DOI"].lower() for i in got} == {MURAKAMI_LIKE, PAREN_DOI}
    assert standin_clean.stats["requests"] == 1


def test_the_user_agent_names_refkeeper_and_the_mailto(standin_clean):
    c = client_for(standin_clean)
    assert c.user_agent.startswith("refkeeper/") and "mailto:editor@example.org" in c.user_agent


@pytest.mark.parametrize(
    "fault",
    [("status", 500), ("status", 503), ("status", 429), ("malformed", None), ("close", None)],
)
def test_transient_faults_are_retried_to_success(standin_clean, fault):
    standin_clean.inject(fault[0], fault[1], times=2)
    c = client_for(standin_clean)
    assert c.work(MURAKAMI_LIKE)["DOI"].lower() == MURAKAMI_LIKE
    assert c.stats.retries == 2


def test_retry_after_on_429_is_honoured(standin_clean):
    standin_clean.inject("status", 429, retry_after=0.5)
    c = client_for(standin_clean)
    t = time.monotonic()
    c.work(MURAKAMI_LIKE)
    assert time.monotonic() - t >= 0.45


def test_a_hung_request_times_out_and_is_retried(standin_clean):
    standin_clean.inject("hang", 5)
    c = client_for(standin_clean, timeout=0.3)
    assert c.work(MURAKAMI_LIKE)["DOI"].lower() == MURAKAMI_LIKE
    assert c.stats.retries == 1


def test_a_429_storm_ends_in_a_rate_limited_error(standin_clean):
    standin_clean.inject("status", 429, times=10)
    with pytest.raises(RateLimitedError):
        client_for(standin_clean, max_retries=3).work(MURAKAMI_LIKE)


def test_persistent_5xx_ends_in_a_crossref_error(standin_clean):
    standin_clean.inject("status", 502, times=10)
    with pytest.raises(CrossrefError, match="502"):
        client_for(standin_clean, max_retries=2).work(MURAKAMI_LIKE)


def test_a_bad_request_is_not_retried_and_says_why(standin_clean):
    c = client_for(standin_clean)
    with pytest.raises(CrossrefError, match="400"):
        c.get("/works", {"filter": "no-such-filter:1"})
    assert c.stats.retries == 0


def test_an_unreachable_crossref_is_reported_as_such():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    c = CrossrefClient(base_url=f"http://127.0.0.1:{port}", max_retries=1, backoff=0.01)
    with pytest.raises(CrossrefUnavailableError, match="unreachable"):
        c.work(MURAKAMI_LIKE)


def test_the_client_follows_the_announced_limits_and_is_never_refused():
    records = [{"DOI": f"10.5555/rate{i}", "title": [f"Work {i}"]} for i in range(3)]
    with StandIn(records, rate_limit={"works_doi": 20, "works_query": 20}, concurrency=3) as s:
        c = client_for(s)
        t = time.monotonic()
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda i: c.work(f"10.5555/rate{i % 3}"), range(40)))
        elapsed = time.monotonic() - t
        assert c.limiter.rate("single") == 20  # learnt from X-Rate-Limit-* headers
        assert c.limiter.concurrency == 3  # learnt from X-Concurrency-Limit
        assert s.stats["refused_rate"] == 0 and s.stats["refused_concurrency"] == 0
        assert c.stats.refused_429 == 0
        assert elapsed >= 1.0  # 40 requests at < 20/s cannot finish sooner


def test_a_very_long_query_is_cut_to_fit_crossrefs_request_line():
    """Crossref answers 414 past 4,096 bytes of request line; a pasted run-on text must still go."""
    records = [{"DOI": "10.5555/long", "title": ["Sacroiliac joint injections compared"]}]
    text = "Sacroiliac joint injections compared " + "é lorem ipsum dolor " * 600
    with StandIn(records, max_request_line=4096) as s:
        items = client_for(s).search(text, rows=1)
        assert items[0]["DOI"] == "10.5555/long"
        assert s.stats["too_long"] == 0


# -- answers of the wrong shape ----------------------------------------------------------


@contextmanager
def json_server(answer: Callable[[str, dict], object]) -> Iterator[str]:
    """A local HTTP server answering every GET with 200 and ``answer(path, query)`` as JSON:
    a Crossref that speaks valid JSON of any shape. Yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = json.dumps(answer(url.path, query)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


WRONG_SHAPES = {
    "a JSON string": "Service Unavailable",
    "a list": [{"DOI": MURAKAMI_LIKE}],
    "no message": {"status": "ok"},
    "a message that is a string": {"status": "ok", "message": "busy"},
    "items that are not a list": {"status": "ok", "message": {"items": {"DOI": MURAKAMI_LIKE}}},
    "a DOI that is a number": {"status": "ok", "message": {"items": [{"DOI": 10.1258}]}},
    "a record that is a string": {"status": "ok", "message": {"items": [MURAKAMI_LIKE]}},
}


@pytest.mark.parametrize("shape", list(WRONG_SHAPES))
def test_valid_json_of_the_wrong_shape_is_a_crossref_error_for_that_call(shape):
    with json_server(lambda path, query: WRONG_SHAPES[shape]) as url:
        c = CrossrefClient(base_url=url, max_retries=0)
        with pytest.raises(CrossrefError, match="unexpected shape"):
            c.search("Traditional surgeons in sub-Saharan Africa", rows=3)
        with pytest.raises(CrossrefError, match="unexpected shape"):
            c.works_by_doi([MURAKAMI_LIKE, PAREN_DOI])


def test_a_single_work_of_the_wrong_shape_is_a_crossref_error():
    answers = {"/works/10.5555/a": {"message": {"DOI": 101}}, "/works/10.5555/b": {"message": ["x"]}}
    with json_server(lambda path, query: answers[path]) as url:
        c = CrossrefClient(base_url=url, max_retries=0)
        for doi in ("10.5555/a", "10.5555/b"):
            with pytest.raises(CrossrefError, match="unexpected shape"):
                c.work(doi)


def test_the_resolver_cannot_read_a_record_whose_fields_have_the_wrong_types():
    """The client hands such a record on (re-verification reports it as one unreadable
    work); the candidate source, which must read it, fails that call instead."""
    from refkeeper import CrossrefSource

    odd = {"DOI": "10.5555/c", "title": ["A title"], "author": "Smith, J.", "issued": "2007"}

    def answer(path, query):
        return {"message": odd if path.startswith("/works/") else {"items": [odd]}}

    with json_server(answer) as url:
        c = CrossrefClient(base_url=url, max_retries=0)
        assert c.work("10.5555/c") == odd and c.search("A title") == [odd]
        source = CrossrefSource(c)
        for call in (lambda: source.work("10.5555/c"), lambda: source.search("A title", 5),
                     lambda: source.mention("Smith", 2007, None)):
            with pytest.raises(CrossrefError, match="10.5555/c: author is a str"):
                call()


# -- pacing, deadlines, URLs that cannot work -------------------------------------------


def test_single_works_and_searches_share_one_budget_when_the_server_counts_them_together():
    """The stand-in with one rate limit counts /works/{doi} and /works in one window and
    announces that limit on both routes: a client mixing them must stay under it in sum."""
    records = [{"DOI": f"10.5555/mix{i}", "title": [f"Mixed pacing work {i}"]} for i in range(3)]
    with StandIn(records, rate_limit=15, concurrency=4) as s:
        c = client_for(s)

        def call(i):
            return c.work(f"10.5555/mix{i % 3}") if i % 2 else c.search(f"Mixed pacing work {i % 3}", rows=1)

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(call, range(36)))
        assert s.stats["works_doi"] == s.stats["works_query"] == 18
        assert s.stats["refused_rate"] == 0 and c.stats.refused_429 == 0


def test_the_first_429_slows_the_pace_and_answers_win_it_back(standin_clean):
    standin_clean.inject("status", 429)
    c = client_for(standin_clean)
    c.work(MURAKAMI_LIKE)
    assert c.stats.refused_429 == 1 and c.limiter.pace < 1.0
    for _ in range(40):
        c.work(MURAKAMI_LIKE)
    assert c.limiter.pace == 1.0


def test_the_worker_pool_is_sized_from_the_announced_concurrency():
    """Before any answer the client assumes Crossref's polite pool (3 at a time); the
    stand-in announces 8. Resolving a batch must use all 8, as the server said it may."""
    from refkeeper import CrossrefSource, Resolver

    records = [{"DOI": f"10.5555/pool{i}", "title": [f"Pool sizing work number {i}"]} for i in range(30)]
    with StandIn(records, concurrency=8, latency=0.2) as s:
        resolver = Resolver(source=CrossrefSource(client_for(s)))
        answers = list(resolver.resolve_many([f"Pool sizing work number {i}. 2001" for i in range(40)]))
        assert len(answers) == 40 and not any(a.status == "error" for a in answers)
        assert s.stats["max_in_flight"] == 8 and s.stats["refused_concurrency"] == 0


def test_a_server_that_never_answers_costs_one_deadline_not_every_retry(standin_clean):
    standin_clean.inject("hang", 3, times=50)
    c = client_for(standin_clean, timeout=0.3, deadline=1.0, max_retries=20)
    with pytest.raises(CrossrefUnavailableError, match="no answer within 1 s"):
        c.work(MURAKAMI_LIKE)
    assert c.stats.retries < 20


@pytest.mark.parametrize("url", ["ftp://api.crossref.org", "api.crossref.org", "http://", "file:///tmp/x"])
def test_a_crossref_url_that_can_never_work_is_refused_at_once(url):
    with pytest.raises(UsageError, match="http:// or https://"):
        CrossrefClient(base_url=url)
