"""The Crossref stand-in speaks enough of the Crossref REST API for refkeeper's tests.

Every test talks real HTTP to a running server; nothing is mocked.
"""

from __future__ import annotations

import ast
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import pytest
import requests
from conftest import ROOT, SHARED_DATA, SUPPORT
from standin import FAULT_KINDS, WRONG_SHAPES, StandIn, dev_index

from refkeeper._models import record_year

# A record from crossref-works.jsonl.gz, cited in citations.dev.jsonl.gz.
BOETTIGER = "10.1111/ele.13085"
# A SICI DOI: parentheses, angle brackets, colons and a semicolon.
SICI = "10.1002/(sici)1097-0061(200004)17:1<16::aid-yea6>3.0.co;2-e"


def citation_for(doi: str) -> dict:
    """The real citation string the dev set pairs with ``doi``."""
    with gzip.open(SHARED_DATA / "citations.dev.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            if (c["doi"] or "").lower() == doi:
                return c
    raise LookupError(doi)


def works(server, **params) -> dict:
    r = requests.get(server.url + "/works", params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def records(server, *dois: str) -> list[dict]:
    """Real records fetched from the session server, to build small custom sets."""
    return [requests.get(f"{server.url}/works/{quote(d, safe='')}").json()["message"]
            for d in dois]


# --- /works searches --------------------------------------------------------------


def test_a_real_citation_finds_its_record_first(standin_clean):
    cit = citation_for(BOETTIGER)
    assert cit["in_index"] is True

    body = works(standin_clean, **{"query.bibliographic": cit["text"], "rows": 5})

    assert body["status"] == "ok"
    assert body["message-type"] == "work-list"
    assert body["message-version"] == "1.0.0"
    message = body["message"]
    assert message["items-per-page"] == 5
    assert message["query"]["start-index"] == 0
    assert message["total-results"] >= len(message["items"]) > 0
    top = message["items"][0]
    assert top["DOI"].lower() == BOETTIGER
    assert isinstance(top["score"], float)
    scores = [item["score"] for item in message["items"]]
    assert scores == sorted(scores, reverse=True)


def test_plain_query_searches_like_bibliographic(standin_clean):
    text = "From noise to knowledge: how randomness generates novel phenomena"
    by_query = works(standin_clean, query=text, rows=3)["message"]["items"]
    by_biblio = works(standin_clean, **{"query.bibliographic": text, "rows": 3})["message"]["items"]
    assert [i["DOI"] for i in by_query] == [i["DOI"] for i in by_biblio]
    assert by_query[0]["DOI"].lower() == BOETTIGER


def test_author_query_matches_only_in_the_author_names(standin_clean):
    items = works(standin_clean, **{"query.author": "Boettiger", "rows": 100})["message"]["items"]
    assert items
    for item in items:
        families = [(a.get("family") or "").lower() for a in item.get("author") or []]
        editors = [(a.get("family") or "").lower() for a in item.get("editor") or []]
        assert "boettiger" in families + editors, item["DOI"]


def test_author_and_bibliographic_queries_must_both_match(standin_clean):
    both = works(
        standin_clean,
        **{"query.author": "Boettiger", "query.bibliographic": "noise knowledge randomness"},
    )["message"]
    assert [i["DOI"].lower() for i in both["items"]] == [BOETTIGER]
    assert both["total-results"] == 1

    nobody = works(
        standin_clean,
        **{"query.author": "Zzyzxqwv", "query.bibliographic": "noise knowledge randomness"},
    )["message"]
    assert nobody["total-results"] == 0
    assert nobody["items"] == []


def test_doi_filter_returns_exactly_those_records_in_any_case(standin_clean):
    wanted = {BOETTIGER, SICI, "10.1016/j.websem.2012.08.001"}
    flt = ",".join(f"doi:{d.upper()}" for d in sorted(wanted)) + ",doi:10.9999/not-here"

    message = works(standin_clean, filter=flt, rows=20)["message"]

    assert message["total-results"] == 3
    assert {i["DOI"].lower() for i in message["items"]} == wanted
    assert all(i["score"] == 1.0 for i in message["items"])


def test_pub_date_filters_bound_the_publication_year(standin_clean):
    message = works(
        standin_clean,
        filter="from-pub-date:2018-01,until-pub-date:2019-06-30",
        rows=200,
    )["message"]
    assert message["total-results"] > 0
    assert all(2018 <= record_year(i) <= 2019 for i in message["items"])

    only_2018 = works(
        standin_clean,
        **{"query.author": "Boettiger", "filter": "from-pub-date:2018,until-pub-date:2018"},
    )["message"]
    assert [i["DOI"].lower() for i in only_2018["items"]] == [BOETTIGER]


def test_type_filter(standin_clean):
    message = works(standin_clean, filter="type:book", rows=50)["message"]
    assert message["total-results"] > 50
    assert {i["type"] for i in message["items"]} == {"book"}


def test_rows_and_offset_page_through_results(standin_clean):
    text = "bile duct stones endoscopic"
    first = works(standin_clean, query=text, rows=10)["message"]["items"]
    page2 = works(standin_clean, query=text, rows=5, offset=5)["message"]
    assert page2["query"]["start-index"] == 5
    assert [i["DOI"] for i in page2["items"]] == [i["DOI"] for i in first[5:10]]
    assert len(works(standin_clean)["message"]["items"]) == 20  # Crossref's default


def test_select_returns_only_the_named_fields(standin_clean):
    items = works(standin_clean, query="noise knowledge", select="DOI,title", rows=3)["message"][
        "items"
    ]
    assert items and all(set(i) <= {"DOI", "title"} and "DOI" in i for i in items)
    with_score = works(standin_clean, query="noise knowledge", select="DOI,score", rows=1)
    assert set(with_score["message"]["items"][0]) == {"DOI", "score"}


def test_mailto_is_accepted(standin_clean):
    assert works(standin_clean, query="noise", mailto="editor@example.org")["status"] == "ok"


# --- validation failures look like Crossref's ------------------------------------------


def assert_validation_failure(response, failure_type: str, value: str) -> None:
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "failed"
    assert body["message-type"] == "validation-failure"
    failure = body["message"][0]
    assert (failure["type"], failure["value"]) == (failure_type, value)
    assert failure["message"]


def test_more_than_1000_rows_is_refused(standin_clean):
    r = requests.get(standin_clean.url + "/works", params={"rows": 1001})
    assert_validation_failure(r, "integer-not-valid", "1001")
    assert len(works(standin_clean, rows=1000, select="DOI")["message"]["items"]) == 1000


def test_unknown_filter_is_refused(standin_clean):
    r = requests.get(standin_clean.url + "/works", params={"filter": "publisher-name:Elsevier"})
    assert_validation_failure(r, "filter-not-available", "publisher-name")


def test_malformed_date_and_unknown_parameter_are_refused(standin_clean):
    r = requests.get(standin_clean.url + "/works", params={"filter": "from-pub-date:2018/01"})
    assert_validation_failure(r, "date-not-valid", "2018/01")
    r = requests.get(standin_clean.url + "/works", params={"query.title": "noise"})
    assert_validation_failure(r, "field-query-not-available", "query.title")
    r = requests.get(standin_clean.url + "/works", params={"colour": "blue"})
    assert_validation_failure(r, "parameter-not-allowed", "colour")


# --- /works/{doi} ------------------------------------------------------------------


@pytest.mark.parametrize("form", ["quoted", "raw", "upper-case"])
def test_work_by_doi_in_any_url_form(standin_clean, form):
    doi = {"quoted": quote(SICI, safe=""), "raw": SICI, "upper-case": SICI.upper()}[form]
    r = requests.get(f"{standin_clean.url}/works/{doi}")
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["message-type"], body["message-version"]) == (
        "ok", "work", "1.0.0",
    )
    assert body["message"]["DOI"].lower() == SICI
    assert "score" not in body["message"]


def test_unknown_doi_is_a_plain_text_404(standin_clean):
    r = requests.get(standin_clean.url + "/works/10.9999/no-such-work")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text == "Resource not found."


def test_every_response_carries_rate_limit_headers(standin_clean):
    for path in ("/works?rows=1", f"/works/{BOETTIGER}", "/works/10.9999/none", "/nowhere"):
        r = requests.get(standin_clean.url + path)
        assert r.headers["X-Rate-Limit-Limit"].isdigit(), path
        assert r.headers["X-Rate-Limit-Interval"] == "1s"
        assert r.headers["X-Concurrency-Limit"].isdigit()


def test_keep_alive_connections_are_reused(standin_clean):
    with requests.Session() as session:
        for _ in range(3):
            r = session.get(standin_clean.url + f"/works/{BOETTIGER}")
            assert r.status_code == 200
            assert int(r.headers["Content-Length"]) == len(r.content)
    assert standin_clean.stats["works_doi"] == 3


# --- limits ------------------------------------------------------------------------


def test_requests_past_the_rate_limit_get_429(dev_index_files):
    with StandIn(dev_index_files, rate_limit=3, interval=0.5) as s, requests.Session() as session:
        codes = [session.get(s.url + "/works?rows=0").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        refused = session.get(s.url + "/works?rows=0")
        assert refused.headers["X-Rate-Limit-Limit"] == "3"
        assert refused.headers["X-Rate-Limit-Interval"] == "0.5s"
        assert "Retry-After" not in refused.headers  # like Crossref, by default
        assert s.stats["refused_rate"] == 3

        time.sleep(0.55)  # the window slides on
        assert session.get(s.url + "/works?rows=0").status_code == 200


def test_single_works_and_list_queries_can_have_separate_rate_limits(dev_index_files):
    with StandIn(dev_index_files, rate_limit={"works_doi": 3, "works_query": 1}) as s:
        lists = [requests.get(s.url + "/works?rows=0") for _ in range(2)]
        singles = [requests.get(f"{s.url}/works/{BOETTIGER}") for _ in range(4)]
        assert [r.status_code for r in lists] == [200, 429]
        assert [r.status_code for r in singles] == [200, 200, 200, 429]
        assert lists[0].headers["X-Rate-Limit-Limit"] == "1"
        assert singles[0].headers["X-Rate-Limit-Limit"] == "3"


def test_rate_limit_refusals_can_carry_retry_after(dev_index_files):
    with StandIn(dev_index_files, rate_limit=1, retry_after=2) as s:
        requests.get(s.url + "/works?rows=0")
        r = requests.get(s.url + "/works?rows=0")
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "2"


def test_requests_past_the_concurrency_limit_get_429(dev_index_files):
    with StandIn(dev_index_files, concurrency=2, latency=0.4) as s:
        codes: list[int] = []

        def get() -> None:
            codes.append(requests.get(s.url + "/works").status_code)

        threads = [threading.Thread(target=get) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [200, 200, 429]
        assert s.stats["refused_concurrency"] == 1
        assert s.stats["max_in_flight"] == 2
        assert s.stats["refused_rate"] == 0


# --- injected faults ---------------------------------------------------------------


def test_injected_status_answers_the_next_request_only(standin_clean):
    standin_clean.inject("status", 500)
    standin_clean.inject("status", 429, retry_after=1)
    first = requests.get(standin_clean.url + "/works")
    second = requests.get(standin_clean.url + "/works")
    third = requests.get(standin_clean.url + "/works")
    assert first.status_code == 500
    assert (second.status_code, second.headers["Retry-After"]) == (429, "1")
    assert third.status_code == 200
    assert standin_clean.stats["faults_injected"] == 2
    assert standin_clean.stats["refused_rate"] == 0  # a scripted 429 is not the limiter's


def test_injected_malformed_body_is_not_json(standin_clean):
    standin_clean.inject("malformed")
    r = requests.get(standin_clean.url + "/works")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        r.json()


def test_injected_hang_outlasts_a_client_timeout(standin_clean):
    standin_clean.inject("hang", 2)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.get(standin_clean.url + "/works", timeout=0.3)
    assert time.monotonic() - started < 1.5
    assert requests.get(standin_clean.url + "/works", timeout=5).status_code == 200


def test_injected_close_drops_the_connection(standin_clean):
    standin_clean.inject("close")
    with pytest.raises(requests.ConnectionError):
        requests.get(standin_clean.url + "/works")
    assert requests.get(standin_clean.url + "/works").status_code == 200


def test_latency_is_added_to_every_response(standin_clean):
    standin_clean.latency = 0.2
    started = time.monotonic()
    requests.get(standin_clean.url + f"/works/{BOETTIGER}")
    assert time.monotonic() - started >= 0.2


def test_random_faults_are_reproducible_with_a_seed(dev_index_files):
    def run() -> list[int]:
        with StandIn(dev_index_files, fault_rate=0.5, seed=7) as s, requests.Session() as session:
            return [session.get(s.url + "/works?rows=0").status_code for _ in range(20)]

    codes = run()
    assert codes == run()
    assert 0 < sum(c >= 500 for c in codes) < 20


def test_injected_wrong_shape_is_json_that_is_not_a_work_list(standin_clean):
    for variant in range(len(WRONG_SHAPES)):
        standin_clean.inject("shape", variant)
    bodies = [requests.get(standin_clean.url + "/works").json() for _ in WRONG_SHAPES]
    assert requests.get(standin_clean.url + "/works").json()["message"]["items"]  # well again

    def a_work_list(body) -> bool:
        message = body.get("message") if isinstance(body, dict) else None
        items = message.get("items") if isinstance(message, dict) else None
        return (isinstance(items, list) and body.get("status") == "ok"
                and all(isinstance(i, dict) and isinstance(i.get("DOI"), str) for i in items))

    assert not any(a_work_list(b) for b in bodies)
    assert standin_clean.stats["faults"] == {"shape": len(WRONG_SHAPES)}


def test_a_storm_answers_everything_with_429_until_it_ends(standin_clean):
    standin_clean.inject("status", 500)
    standin_clean.storm(0.5, retry_after=1)
    during = [requests.get(f"{standin_clean.url}/works/{BOETTIGER}") for _ in range(3)]
    assert [(r.status_code, r.headers.get("Retry-After")) for r in during] == [(429, "1")] * 3
    time.sleep(0.6)
    # The queued fault waited out the storm; then all is well.
    assert requests.get(standin_clean.url + "/works").status_code == 500
    assert requests.get(standin_clean.url + "/works").status_code == 200
    stats = standin_clean.stats
    assert (stats["storm"], stats["faults"], stats["refused_rate"]) == (3, {"429": 3, "500": 1}, 0)


def test_a_storm_ends_on_reset(standin_clean):
    standin_clean.storm(60, 503)
    assert requests.get(standin_clean.url + "/works").status_code == 503
    standin_clean.reset()
    assert requests.get(standin_clean.url + "/works").status_code == 200


def test_random_faults_come_in_every_kind_asked_for(dev_index_files):
    def answer(session: requests.Session, url: str) -> str:
        try:
            r = session.get(url + "/works?rows=1", timeout=10)
        except requests.ConnectionError:
            return "close"
        if r.status_code != 200:
            return str(r.status_code)
        try:
            body = r.json()
        except ValueError:
            return "malformed"
        items = body.get("message", {}).get("items") if isinstance(body, dict) else None
        ok = isinstance(items, list) and len(items) == 1 and isinstance(items[0].get("DOI"), str)
        return "hang" if ok else "shape"  # a hang ends in the right answer, late

    with StandIn(dev_index_files, fault_rate=1.0, fault_kinds=FAULT_KINDS, hang_seconds=0.05,
                 retry_after=3, seed=3) as s, requests.Session() as session:
        answers = [answer(session, s.url) for _ in range(60)]
        kinds = s.stats["faults"]
    assert sum(kinds.values()) == 60
    assert {"malformed", "shape", "hang", "close", "429"} <= set(kinds)
    assert set(kinds) - {"malformed", "shape", "hang", "close", "429"} <= {"500", "502", "503", "504"}
    assert {a: answers.count(a) for a in answers} == kinds


def test_unknown_fault_kinds_are_refused(dev_index_files):
    with pytest.raises(ValueError, match="teapot"):
        StandIn(dev_index_files, fault_kinds=["status", "teapot"])


# --- custom record sets and habanero ----------------------------------------------


def test_the_stand_in_serves_only_the_records_it_is_given(tmp_path):
    # It lives outside the package and knows no data directory: callers say what to serve.
    with pytest.raises(TypeError, match="needs records"):
        StandIn(None)
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        dev_index(missing)
    missing.mkdir()
    with pytest.raises(FileNotFoundError, match=str(missing / "crossref-works.jsonl.gz")):
        dev_index(missing)
    with pytest.raises(FileNotFoundError, match=str(missing / "works.jsonl")):
        StandIn(missing / "works.jsonl").start()


def test_the_dev_index_is_the_two_files_the_data_readme_names():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    assert dev_index(SHARED_DATA) == [
        SHARED_DATA / "crossref-works.jsonl.gz", SHARED_DATA / "pmc-records.dev.jsonl.gz",
    ]


def test_the_stand_in_imports_nothing_of_refkeeper():
    # It plays Crossref: refkeeper's code (its ranking above all) must not shape its answers.
    found = []
    for path in sorted((SUPPORT / "standin").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            found += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] == "refkeeper"]
    assert found == []


def test_custom_records_later_source_wins_by_doi(standin, tmp_path):
    original = records(standin, BOETTIGER)[0]
    altered = {**original, "DOI": BOETTIGER.upper(), "title": ["An altered title"]}
    path = tmp_path / "works.jsonl"
    path.write_text(json.dumps(original) + "\n")

    with StandIn([path, altered]) as s:
        assert works(s, rows=0)["message"]["total-results"] == 1
        got = requests.get(f"{s.url}/works/{BOETTIGER}").json()["message"]
        assert got["title"] == ["An altered title"]
        found = works(s, query="altered title")["message"]["items"]
        assert [i["DOI"] for i in found] == [BOETTIGER.upper()]


def test_habanero_talks_to_the_stand_in(standin_clean):
    from habanero import Crossref

    cr = Crossref(base_url=standin_clean.url, mailto="test@example.org")
    assert cr.works(ids=SICI)["message"]["DOI"].lower() == SICI
    assert cr.works(ids=BOETTIGER)["message"]["DOI"].lower() == BOETTIGER

    found = cr.works(query_bibliographic=citation_for(BOETTIGER)["text"], limit=5)
    assert found["message"]["items"][0]["DOI"].lower() == BOETTIGER
    assert len(found["message"]["items"]) == 5
    assert standin_clean.stats["works_doi"] == 2
    assert standin_clean.stats["works_query"] == 1


def support_env() -> dict:
    """The environment `PYTHONPATH=tests/support python -m standin` runs in."""
    return {**os.environ, "PYTHONPATH": str(SUPPORT)}


def test_command_line_needs_to_be_told_what_to_serve(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "standin", "--port", "0", *args],
                              capture_output=True, text=True, cwd=ROOT, env=support_env(), timeout=60)

    nothing = run()
    assert nothing.returncode == 2
    assert "--data DIR" in nothing.stderr and "--records PATH" in nothing.stderr
    missing = run("--data", str(tmp_path / "no-data"))
    assert missing.returncode == 2
    assert str(tmp_path / "no-data") in missing.stderr
    assert "Traceback" not in missing.stderr + nothing.stderr


def test_command_line_serves_until_interrupted(standin, tmp_path):
    path = tmp_path / "works.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records(standin, BOETTIGER, SICI)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "standin", "--port", "0", "--rate-limit", "7",
         "--records", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=support_env(),
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        r = requests.get(url + "/works", params={"rows": 0}, timeout=5)
        assert r.json()["message"]["total-results"] == 2
        assert r.headers["X-Rate-Limit-Limit"] == "7"
    finally:
        proc.terminate()
        proc.wait(5)


# --- later versions of records (re-verification) ------------------------------------


def test_a_revised_record_is_served_by_doi_and_by_doi_filters(standin_clean):
    from standin import with_changes, with_update

    original = records(standin_clean, BOETTIGER)[0]
    later = with_update(with_changes(original, page="1-99"), "retraction", "10.5555/notice",
                        source="retraction-watch", date=(2024, 2, 29))
    standin_clean.revise(BOETTIGER.upper(), later)

    got = requests.get(f"{standin_clean.url}/works/{BOETTIGER}").json()["message"]
    assert got["page"] == "1-99"
    entry = got["updated-by"][-1]
    assert (entry["type"], entry["source"], entry["DOI"]) == ("retraction", "retraction-watch",
                                                              "10.5555/notice")
    assert entry["updated"]["date-parts"] == [[2024, 2, 29]] and entry["record-id"].isdigit()
    assert got["deposited"]["date-parts"] == [[2024, 5, 1]]
    listed = works(standin_clean, filter=f"doi:{BOETTIGER},doi:{SICI}")["message"]
    assert {i["DOI"].lower(): i.get("page") for i in listed["items"]}[BOETTIGER] == "1-99"
    # The stored original is untouched: reset() serves it again.
    standin_clean.reset()
    assert requests.get(f"{standin_clean.url}/works/{BOETTIGER}").json()["message"] == original


def test_a_gone_doi_is_404_and_absent_from_lists(standin_clean):
    standin_clean.revise(BOETTIGER, None)
    assert requests.get(f"{standin_clean.url}/works/{BOETTIGER}").status_code == 404
    message = works(standin_clean, filter=f"doi:{BOETTIGER},doi:{SICI}")["message"]
    assert [i["DOI"].lower() for i in message["items"]] == [SICI]
    assert message["total-results"] == 1
    assert works(standin_clean, query="noise knowledge randomness")["message"]["items"][0][
        "DOI"].lower() != BOETTIGER


def test_an_alias_answers_with_the_primary_record_and_is_not_listed(standin_clean):
    standin_clean.alias(BOETTIGER, SICI)
    got = requests.get(f"{standin_clean.url}/works/{quote(BOETTIGER, safe='')}").json()["message"]
    assert got["DOI"].lower() == SICI
    assert works(standin_clean, filter=f"doi:{BOETTIGER}")["message"]["items"] == []


def test_an_unlisted_record_is_found_only_on_its_own(standin_clean):
    standin_clean.unlist(BOETTIGER)
    assert works(standin_clean, filter=f"doi:{BOETTIGER}")["message"]["total-results"] == 0
    assert requests.get(f"{standin_clean.url}/works/{BOETTIGER}").status_code == 200


def test_a_notice_the_index_lacks_can_be_served(standin_clean):
    notice = {"DOI": "10.5555/retraction-notice", "type": "journal-article",
              "title": ["Retraction"], "update-to": [{"DOI": BOETTIGER, "type": "retraction"}]}
    standin_clean.revise(notice["DOI"], notice)
    assert requests.get(f"{standin_clean.url}/works/10.5555/retraction-notice").status_code == 200
    items = works(standin_clean, filter=f"doi:{BOETTIGER},doi:10.5555/retraction-notice")[
        "message"]["items"]
    assert [i["DOI"].lower() for i in items] == [BOETTIGER, "10.5555/retraction-notice"]
    with pytest.raises(ValueError):
        standin_clean.revise(BOETTIGER, notice)  # a record goes under its own DOI


def test_earlier_version_takes_the_notices_off_a_real_record(standin_clean):
    from standin import earlier_version

    real = records(standin_clean, "10.1371/journal.pbio.0050002")[0]
    assert real["updated-by"] and "correction" in real["relation"]
    before = earlier_version(real)
    assert "updated-by" not in before and "correction" not in before.get("relation", {})
    assert before["title"] == real["title"]


def test_revisions_can_be_given_at_construction_and_survive_reset(standin):
    rec = records(standin, BOETTIGER)[0]
    with StandIn([rec], revisions={BOETTIGER: None}, aliases={"10.5555/old": BOETTIGER}) as s:
        assert requests.get(f"{s.url}/works/{BOETTIGER}").status_code == 404
        s.reset()
        assert requests.get(f"{s.url}/works/{BOETTIGER}").status_code == 404
        assert requests.get(f"{s.url}/works/10.5555/old").status_code == 404  # alias of a gone DOI


def test_request_lines_past_the_limit_get_414_like_crossref(standin_clean):
    from standin import CROSSREF_REQUEST_LINE

    standin_clean.max_request_line = CROSSREF_REQUEST_LINE
    fits = "x" * (CROSSREF_REQUEST_LINE - len("GET /works?query= HTTP/1.1\r\n"))
    # 4096 bytes with the CRLF: admitted; two more: refused before anything else.
    assert requests.get(standin_clean.url + "/works", params={"query": fits}).status_code == 200
    r = requests.get(standin_clean.url + "/works", params={"query": fits + "xx"})
    assert r.status_code == 414
    assert standin_clean.stats["too_long"] == 1
    standin_clean.reset()
    assert requests.get(standin_clean.url + "/works", params={"query": fits + "xx"}).status_code == 200


# --- the registries beside Crossref (issue 13) ----------------------------------------------


def test_the_handle_api_answers_in_its_documented_shape(standin_clean):
    base = standin_clean.urls["doi_url"]
    found = requests.get(f"{base}/api/handles/{BOETTIGER}", timeout=5)
    assert found.status_code == 200 and found.json()["responseCode"] == 1
    assert found.json()["handle"] == BOETTIGER and found.json()["values"][0]["type"] == "URL"
    gone = requests.get(f"{base}/api/handles/10.5281/zenodo.0000001", timeout=5)
    assert gone.status_code == 404
    assert gone.json() == {"responseCode": 100, "handle": "10.5281/zenodo.0000001"}
    # The other registries announce no limits in headers, unlike Crossref.
    assert "X-Rate-Limit-Limit" not in found.headers


def test_content_negotiation_answers_only_csl_json(standin_clean):
    base = standin_clean.urls["doi_url"]
    csl = requests.get(f"{base}/10.3280/PDS2019-002004",
                       headers={"Accept": "application/vnd.citationstyles.csl+json"}, timeout=5)
    assert csl.status_code == 200 and csl.headers["Content-Type"].startswith(
        "application/vnd.citationstyles.csl+json")
    assert csl.json()["publisher"] == "FrancoAngeli"
    crossref = requests.get(f"{base}/{BOETTIGER}",
                            headers={"Accept": "application/vnd.citationstyles.csl+json"}, timeout=5)
    assert crossref.json()["DOI"].lower() == BOETTIGER
    assert requests.get(f"{base}/{BOETTIGER}", headers={"Accept": "text/html"}, timeout=5).status_code == 406


def test_datacite_answers_its_own_dois_in_json_api(standin_clean):
    base = standin_clean.urls["datacite_url"]
    body = requests.get(f"{base}/dois/10.5281/zenodo.4468102", timeout=5).json()
    attrs = body["data"]["attributes"]
    assert body["data"]["type"] == "dois" and attrs["publisher"] == "Zenodo"
    assert attrs["creators"][0]["familyName"] == "Okafor" and attrs["publicationYear"] == 2021
    assert requests.get(f"{base}/dois/10.3280/pds2019-002004", timeout=5).status_code == 404  # mEDRA's


def test_ncbi_routes_require_tool_and_email_and_cap_ids_at_200(standin_clean):
    urls = standin_clean.urls
    polite = {"tool": "refkeeper", "email": "editor@example.org", "format": "json"}
    assert requests.get(urls["idconv_url"] + "/", params={"ids": "17530380"}, timeout=5).status_code == 400
    too_many = ",".join(str(10_000_000 + i) for i in range(201))
    assert requests.get(urls["idconv_url"] + "/", params={**polite, "ids": too_many},
                        timeout=5).status_code == 400
    summary = requests.get(urls["ncbi_url"] + "/entrez/eutils/esummary.fcgi", timeout=5, params={
        "tool": "refkeeper", "email": "e@example.org", "db": "pubmed", "id": "17530380",
        "retmode": "json"}).json()["result"]
    assert summary["uids"] == ["17530380"]
    doi = {"idtype": "doi", "idtypen": 3, "value": "10.1007/s00776-007-1126-1"}
    assert doi in summary["17530380"]["articleids"]


def test_arxiv_answers_atom_for_old_and_new_ids(standin_clean):
    import xml.etree.ElementTree as ET

    atom = "{http://www.w3.org/2005/Atom}"
    feed = requests.get(standin_clean.urls["arxiv_url"] + "/query",
                        params={"id_list": "2101.00001v1,hep-th/9901001"}, timeout=5)
    assert feed.headers["Content-Type"].startswith("application/atom+xml")
    ids = [e.findtext(atom + "id") for e in ET.fromstring(feed.content).iter(atom + "entry")]
    assert ids == ["http://arxiv.org/abs/2101.00001v1", "http://arxiv.org/abs/hep-th/9901001v1"]


def test_registry_routes_have_their_own_rate_windows_and_take_faults(dev_index_files):
    with StandIn(dev_index_files, rate_limit=1000, registry_rate_limit={"handle": 2}) as s:
        codes = [requests.get(f"{s.urls['doi_url']}/api/handles/{BOETTIGER}", timeout=5).status_code
                 for _ in range(3)]
        assert codes == [200, 200, 429]
        assert requests.get(f"{s.url}/works/{BOETTIGER}", timeout=5).status_code == 200
        s.inject("status", 503)
        assert requests.get(f"{s.urls['arxiv_url']}/query", params={"id_list": "2101.00001"},
                            timeout=5).status_code == 503
        assert s.stats["handle"] == 3 and s.stats["arxiv"] == 1
