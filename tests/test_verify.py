"""Re-verification over real HTTP against the stand-in, on real records altered as Crossref
alters them: notices of every kind, gone DOIs and aliases, metadata drift, incremental
runs, resuming after SIGKILL, 429/5xx storms and an unreachable Crossref."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from functools import lru_cache
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from click.testing import CliRunner
from conftest import SHARED_DATA
from standin import (
    CROSSREF_REQUEST_LINE,
    StandIn,
    earlier_version,
    with_changes,
    with_relation,
    with_update,
)

from refkeeper import _identifiers as identifiers
from refkeeper._crossref import CrossrefClient
from refkeeper._errors import NotFoundError, UsageError
from refkeeper._registries import DoiClient
from refkeeper._store import Store
from refkeeper.cli import cli
from refkeeper.verify import (
    MAX_REQUEST_TARGET,
    VERIFY_FIELDS,
    affected,
    history,
    notices,
    run_report,
    verify,
    verify_bib,
)
from refkeeper.verify._fetch import (  # the request-line packing under test: no public name fits
    Item,
    Packer,
    fetch_batch,
)
from refkeeper.verify._verify import RunLock  # the lock under test: no public name fits

# Real records of the dev index that already carry notices, as Crossref serves them today.
ERRATUM = "10.1016/j.elecom.2019.106553"  # updated-by an erratum (source: publisher)
CORRECTED = "10.1371/journal.pbio.0050002"  # updated-by a correction, and the relation too
RETRACTION_NOTICE = "10.1371/journal.pone.0210346"  # "Retraction: ...": update-to another DOI
NEW_VERSION = "10.1371/journal.pgen.1011490"  # updated-by a new_version of itself: no problem
SPECIAL = (ERRATUM, CORRECTED, RETRACTION_NOTICE, NEW_VERSION)


@lru_cache(maxsize=1)
def _first_records(n: int = 300) -> tuple[str, ...]:
    with gzip.open(SHARED_DATA / "crossref-works.jsonl.gz", "rt", encoding="utf-8") as f:
        return tuple(itertools.islice(f, n))


def real_records(n: int) -> list[dict]:
    """The first ``n`` records of crossref-works.jsonl.gz, fresh copies."""
    if not SHARED_DATA.is_dir():
        pytest.skip("shared data not present")
    return [json.loads(line) for line in _first_records()[:n]]


def fetch(server, *dois: str) -> list[dict]:
    """Real records as the stand-in serves them (before any revision)."""
    return [requests.get(f"{server.url}/works/{quote(d, safe='')}", timeout=5).json()["message"]
            for d in dois]


def client_for(server, **kw) -> CrossrefClient:
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 5)
    return CrossrefClient(base_url=server.url, mailto="editor@example.org", **kw)


def handles_for(server) -> DoiClient:
    """The stand-in's DOI system (handle API), asked about DOIs Crossref does not have."""
    return DoiClient(server.urls["doi_url"], backoff=0.01, timeout=5)


@pytest.fixture
def crossref(standin_clean):
    """The session stand-in with Crossref's request-line limit switched on."""
    standin_clean.max_request_line = CROSSREF_REQUEST_LINE
    return standin_clean


@pytest.fixture
def store(tmp_path, crossref):
    """120 real works plus the four real records with notices."""
    s = Store(tmp_path / "refs.db")
    s.add_records(real_records(120) + fetch(crossref, *SPECIAL), "snapshot")
    crossref.reset_stats()  # count only what verification asks
    yield s
    s.close()


def row(store, doi: str) -> dict:
    return next(store.db["works"].rows_where("doi = ?", [doi]))


def result(report, doi: str):
    return next(f for f in report.findings if f.doi == doi)


# --- findings, each on real records -----------------------------------------------------


@pytest.mark.parametrize(
    ("update_type", "source", "kind"),
    [
        ("retraction", "retraction-watch", "retraction"),
        ("retraction", "publisher", "retraction"),
        ("partial_retraction", "publisher", "partial-retraction"),
        ("expression_of_concern", "retraction-watch", "expression-of-concern"),
        ("withdrawal", "publisher", "withdrawal"),
        ("correction", "publisher", "correction"),
        ("erratum", "publisher", "correction"),
    ],
)
def test_each_update_notice_is_its_own_kind(store, crossref, update_type, source, kind):
    work = real_records(5)[3]
    doi = work["DOI"].lower()
    crossref.revise(doi, with_update(work, update_type, "10.5555/notice-1", source=source,
                                     date=(2023, 6, 2)))
    report = verify(store, client_for(crossref), all=True)

    f = result(report, doi)
    assert (f.outcome, f.kinds, f.new_kinds) == ("problem", [kind], [kind])
    assert f.notices == [{"kind": kind, "type": update_type, "doi": "10.5555/notice-1",
                          "sources": [source], "date": "2023-06-02",
                          "label": f.notices[0]["label"]}]
    assert json.loads(row(store, doi)["problems"]) == [kind]
    assert report.exit_code == 1
    # Nothing else in the store is reported: real records with notices are sorted apart.
    assert {x.doi for x in report.findings if x.outcome == "problem"} == {doi, ERRATUM, CORRECTED}


def test_a_retraction_made_in_place_and_one_told_by_a_relation(store, crossref):
    a, b = real_records(8)[6:8]
    # Elsevier-style: the article's own record updates itself.
    crossref.revise(a["DOI"], with_update(a, "withdrawal"))
    # Only a relation says it (the relation Crossref derives from the notice's update-to).
    crossref.revise(b["DOI"], with_relation(b, "is-retracted-by", "10.5555/rn"))
    report = verify(store, client_for(crossref), all=True)
    fa, fb = result(report, a["DOI"].lower()), result(report, b["DOI"].lower())
    assert fa.kinds == ["withdrawal"] and fa.notices[0]["doi"] == a["DOI"].lower()
    assert fb.kinds == ["retraction"] and fb.notices[0]["sources"] == ["relation"]


def test_real_corrections_are_found_when_the_stored_record_predates_them(tmp_path, crossref):
    # As stored before the notices existed; the stand-in serves the real records of today.
    real = fetch(crossref, ERRATUM, CORRECTED)
    s = Store(tmp_path / "refs.db")
    s.add_records([earlier_version(r) for r in real], "snapshot")
    report = verify(s, client_for(crossref), all=True)

    erratum, corrected = result(report, ERRATUM), result(report, CORRECTED)
    assert erratum.kinds == ["correction"] and erratum.notices[0]["type"] == "erratum"
    assert erratum.notices[0]["doi"] == "10.1016/j.elecom.2019.106595"
    # updated-by and relation name the same notice: one notice, two sources.
    assert corrected.notices == [{
        "kind": "correction", "type": "correction", "doi": "10.1371/journal.pbio.0060304",
        "sources": ["publisher", "relation"], "date": corrected.notices[0]["date"],
        "label": corrected.notices[0]["label"]}]
    # The record with its notice replaced the stored one; the one from before is kept.
    assert s.get_work(ERRATUM).record.get("updated-by")
    h = history(s, ERRATUM)
    assert [x["run_id"] for x in h.snapshots] == [None, report.run_id]
    assert "updated-by" not in h.snapshots[0]["record"]


def test_a_notice_and_a_new_version_are_not_problems(store, crossref):
    report = verify(store, client_for(crossref), all=True)
    assert RETRACTION_NOTICE not in {f.doi for f in report.findings}
    assert NEW_VERSION not in {f.doi for f in report.findings}
    found, notice_for = notices(store.get_work(RETRACTION_NOTICE).record)
    assert found == []
    assert notice_for == [{"doi": "10.1371/journal.pone.0031093", "kind": "retraction",
                           "type": "retraction"}]
    assert json.loads(row(store, RETRACTION_NOTICE)["problems"]) == []


def test_a_reinstatement_lifts_an_earlier_retraction():
    rec = real_records(1)[0]
    rec = with_update(rec, "retraction", "10.5555/r", date=(2020, 1, 1), source="retraction-watch")
    assert [n["kind"] for n in notices(rec)[0]] == ["retraction"]
    rec = with_update(rec, "reinstatement", "10.5555/back", date=(2021, 3, 1), source="retraction-watch")
    assert notices(rec)[0] == []


def test_gone_alias_and_unlisted_are_told_apart_by_single_lookups(store, crossref):
    gone, old, primary, lagging = real_records(12)[8:12]
    crossref.revise(gone["DOI"], None)
    crossref.alias(old["DOI"], primary["DOI"])
    crossref.unlist(lagging["DOI"])  # missing from the batch page, found on its own
    report = verify(store, client_for(crossref), all=True, handles=handles_for(crossref))

    assert result(report, gone["DOI"].lower()).kinds == ["not-found"]
    alias = result(report, old["DOI"].lower())
    assert (alias.kinds, alias.alias_of) == (["alias"], primary["DOI"].lower())
    assert lagging["DOI"].lower() not in {f.doi for f in report.findings}
    singles = [t for t, _ in crossref.history if t.startswith("/works/")]
    assert len(singles) == 3  # exactly the three the batches did not return
    # Only the DOI Crossref answered 404 for is asked of the DOI system, which says it is gone.
    asked = [t for t, _ in crossref.history if t.startswith("/doi/")]
    assert asked == [f"/doi/api/handles/{gone['DOI'].lower()}"]
    # The stored record of a gone DOI is kept as it was.
    assert store.get_work(gone["DOI"]).title == gone["title"][0]
    assert store.get_work(old["DOI"]).title == old["title"][0]


def test_metadata_drift_is_a_diff_and_every_version_is_kept(store, crossref):
    work = real_records(20)[15]
    doi = work["DOI"].lower()
    fixed = with_changes(work, title=["A corrected title"], page="101-119", volume="12")
    crossref.revise(doi, fixed)
    first = verify(store, client_for(crossref), all=True)

    f = result(first, doi)
    assert f.outcome == "changed" and f.kinds == []
    assert f.diff == {"title": [work["title"][0], "A corrected title"],
                      "volume": [work.get("volume"), "12"],
                      "pages": [work.get("page"), "101-119"]}
    stored = store.get_work(doi).record
    assert stored["title"] == ["A corrected title"] and stored["deposited"] == fixed["deposited"]
    # Batches fetch the verified fields only; everything else stays as it was stored.
    assert all(stored[k] == v for k, v in work.items() if k not in VERIFY_FIELDS)
    assert store.search("corrected title", limit=1)[0].doi == doi  # the index follows

    # Unchanged since: no finding, no new version. Changed again: a third version.
    second = verify(store, client_for(crossref), all=True)
    assert doi not in {x.doi for x in second.findings}
    crossref.revise(doi, with_changes(fixed, title=["A twice corrected title"]))
    verify(store, client_for(crossref), all=True)
    h = history(store, doi)
    assert [s["record"]["title"][0] for s in h.snapshots] == [
        work["title"][0], "A corrected title", "A twice corrected title"]
    assert [c["outcome"] for c in h.checks] == ["changed", "ok", "changed"]
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        store.db.execute("DELETE FROM work_snapshots")


def test_a_record_nobody_foresaw_costs_one_work_not_the_run(store, crossref):
    work = real_records(30)[25]
    crossref.revise(work["DOI"], {**work, "author": "Smith, J."})  # a string, not a list
    report = verify(store, client_for(crossref), all=True)
    f = result(report, work["DOI"].lower())
    assert f.outcome == "error" and "unreadable" in f.error
    assert report.status == "finished" and report.counts["errors"] == 1
    assert row(store, work["DOI"].lower())["checked_at"] is None  # due again next time


def test_restart_abandons_an_unfinished_run(store, crossref):
    crossref.inject("status", 503, times=20)
    cut = verify(store, client_for(crossref, max_retries=0), all=True)
    assert cut.status == "interrupted"
    crossref.clear_faults()
    fresh = verify(store, client_for(crossref), all=True, resume=False)
    assert fresh.run_id != cut.run_id and not fresh.resumed and fresh.status == "finished"
    assert run_report(store, cut.run_id).status == "abandoned"


def test_history_of_an_unknown_doi_is_not_found(store):
    with pytest.raises(NotFoundError):
        history(store, "10.9999/never")


# --- which works, how many requests ----------------------------------------------------


def test_incremental_runs_check_only_works_due(store, crossref):
    c = client_for(crossref)
    first = verify(store, c)  # never checked: all due
    assert first.counts["checked"] == store.count_works() == 124
    assert verify(store, c).counts["checked"] == 0
    stale = [r["doi"] for r in store.db.query("SELECT doi FROM works ORDER BY doi LIMIT 7")]
    store.db.execute(
        f"UPDATE works SET checked_at = '2020-01-01T00:00:00+00:00' WHERE doi IN "
        f"({','.join('?' * len(stale))})", stale)
    store.db.conn.commit()
    again = verify(store, c, since=30)
    assert again.counts["checked"] == 7
    assert {r["doi"] for r in store.db.query(
        "SELECT doi FROM verify_results WHERE run_id = ?", [again.run_id])} == set(stale)
    assert verify(store, c, all=True).counts["checked"] == 124


def test_batches_fill_crossrefs_request_line_and_never_exceed_it(tmp_path, crossref):
    # The longest DOIs of the dev index: SICI DOIs with <, >, ;, : and # to escape.
    with gzip.open(SHARED_DATA / "crossref-works.jsonl.gz", "rt", encoding="utf-8") as f:
        long_ones = [json.loads(line) for line in itertools.islice(f, 6600, 6750)]
    assert sum("(sici)" in r["DOI"] for r in long_ones) > 100
    s = Store(tmp_path / "refs.db")
    s.add_records([*real_records(250), *long_ones], "snapshot")
    c = client_for(crossref)
    report = verify(s, c, all=True)

    assert report.counts["checked"] == s.count_works()
    lists = [t for t, _ in crossref.history if t.startswith("/works?")]
    assert crossref.stats["too_long"] == 0
    assert max(map(len, lists)) <= MAX_REQUEST_TARGET
    packer = Packer(c, 100)
    sizes, partial = [], 0
    for target in lists:
        dois = [p.removeprefix("doi:") for p in parse_qs(urlsplit(target).query)["filter"][0].split(",")]
        # The packer's arithmetic is what requests sends, to the byte.
        assert packer.target_length(dois) == len(target)
        sizes.append(len(dois))
        # Full: a hundred DOIs, or no room for one more (the longest take 102 bytes).
        partial += len(dois) < 100 and len(target) <= MAX_REQUEST_TARGET - 102
    assert partial <= 1  # only the last batch may be short
    assert sum(sizes) == 400 and len(lists) <= 7  # long SICI DOIs fill a request at ~40


def test_a_batch_refused_as_too_long_is_halved_until_it_fits(store, crossref):
    crossref.max_request_line = 1500  # a stricter front end than Crossref's
    report = verify(store, client_for(crossref), all=True)
    assert report.status == "finished" and report.counts["checked"] == 124
    assert crossref.stats["too_long"] > 0
    assert report.counts["errors"] == 0


def test_a_second_run_is_refused_while_one_holds_the_database(store, crossref):
    with RunLock(store.path), pytest.raises(UsageError, match="another"):
        verify(store, client_for(crossref))


def test_bad_arguments_are_usage_errors(store, crossref):
    c = client_for(crossref)
    with pytest.raises(UsageError):
        verify(store, c, since=3, all=True)
    with pytest.raises(UsageError):
        verify(store, c, batch_size=0)


# --- faults, interruption, resumption ---------------------------------------------------


def assert_each_work_checked_once(store, run_id: int) -> None:
    dois = [r[0] for r in store.db.execute(
        "SELECT doi FROM verify_results WHERE run_id = ?", [run_id])]
    assert sorted(dois) == sorted(r[0] for r in store.db.execute("SELECT doi FROM works"))
    run = store.db.execute("SELECT status, checked, total FROM verify_runs WHERE id = ?",
                           [run_id]).fetchone()
    assert run == ("finished", len(dois), len(dois))


def test_a_storm_of_429s_and_5xx_is_ridden_out(store, crossref):
    c = client_for(crossref, max_retries=5)
    crossref.inject("status", 429, retry_after=0.05)
    crossref.inject("status", 503)
    crossref.inject("status", 429)
    crossref.inject("status", 502)

    def more_weather(p) -> None:
        crossref.inject("status", 500)
        crossref.inject("status", 429, retry_after=0.02)

    report = verify(store, c, all=True, batch_size=30, workers=1, progress=more_weather)
    assert report.status == "finished" and report.exit_code == 1
    assert_each_work_checked_once(store, report.run_id)
    assert c.stats.retries == crossref.stats["faults_injected"] >= 10


def test_crossref_failing_for_good_interrupts_and_the_next_run_resumes(store, crossref):
    c = client_for(crossref, max_retries=1)
    calls = []

    def break_after_first(p) -> None:
        calls.append(p.done)
        if len(calls) == 1:
            crossref.inject("status", 503, times=100)

    cut = verify(store, c, all=True, batch_size=40, workers=1, progress=break_after_first)
    assert (cut.status, cut.exit_code, cut.counts["checked"]) == ("interrupted", 2, 40)
    assert "503" in cut.error
    assert store.db.execute("SELECT count(*) FROM works WHERE checked_at IS NOT NULL").fetchone()[0] == 40

    crossref.clear_faults()
    done = verify(store, client_for(crossref), since=5)  # the unfinished run wins
    assert (done.run_id, done.resumed, done.status) == (cut.run_id, True, "finished")
    assert_each_work_checked_once(store, done.run_id)
    assert {f.doi for f in done.findings} >= {ERRATUM, CORRECTED}  # the whole run's findings


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_an_unreachable_crossref_ends_the_run_with_exit_2_and_keeps_what_was_done(tmp_path):
    records = real_records(90)
    s = Store(tmp_path / "refs.db")
    s.add_records(records, "snapshot")
    dead = CrossrefClient(base_url=closed_port_url(), mailto="e@example.org", backoff=0.01, max_retries=2)
    nothing = verify(s, dead, all=True)
    assert (nothing.status, nothing.exit_code, nothing.counts["checked"]) == ("interrupted", 2, 0)
    assert "unreachable" in nothing.error

    # Reachable for the first batch, then gone.
    server = StandIn(records).start()
    try:
        c = CrossrefClient(base_url=server.url, mailto="e@example.org", backoff=0.01, max_retries=2)
        part = verify(s, c, batch_size=30, workers=1, progress=lambda p: server.stop())
    finally:
        server.stop()
    assert (part.run_id, part.status, part.counts["checked"]) == (nothing.run_id, "interrupted", 30)
    assert "unreachable" in part.error

    with StandIn(records) as again:
        done = verify(s, CrossrefClient(base_url=again.url, backoff=0.01))
    assert done.status == "finished" and done.exit_code == 0
    assert_each_work_checked_once(s, done.run_id)


KILLABLE = textwrap.dedent("""
    import sys
    from refkeeper._crossref import CrossrefClient
    from refkeeper._store import Store
    from refkeeper.verify import verify
    verify(Store(sys.argv[1]), CrossrefClient(base_url=sys.argv[2], backoff=0.01),
           all=True, batch_size=20, workers=1)
""")


def test_a_run_killed_with_sigkill_resumes_without_checking_anything_twice(tmp_path, crossref):
    path = tmp_path / "refs.db"
    s = Store(path)
    s.add_records(real_records(300), "snapshot")
    s.close()
    crossref.latency = 0.1  # each batch takes a while: the kill lands mid-run
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE, str(path), crossref.url])
    try:
        deadline = time.monotonic() + 20
        done = 0
        while done < 60 and time.monotonic() < deadline:
            time.sleep(0.02)
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as ro:
                    done = ro.execute("SELECT count(*) FROM verify_results").fetchone()[0]
            except sqlite3.OperationalError:
                pass  # the table is being created
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)

    s = Store(path)
    (status, checked), = s.db.execute("SELECT status, checked FROM verify_runs").fetchall()
    kept = {r[0] for r in s.db.execute("SELECT doi FROM verify_results")}
    # Whole batches or nothing: counts, results and works agree.
    assert status == "running" and checked == len(kept) and len(kept) % 20 == 0 and kept
    assert kept == {r[0] for r in s.db.execute("SELECT doi FROM works WHERE checked_at IS NOT NULL")}
    assert s.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    crossref.latency = 0
    crossref.reset_stats()
    report = verify(s, client_for(crossref), all=True)
    assert report.resumed and report.status == "finished"
    assert_each_work_checked_once(s, report.run_id)
    asked = set()
    for target, _ in crossref.history:
        for part in parse_qs(urlsplit(target).query).get("filter", [""])[0].split(","):
            asked.add(part.removeprefix("doi:").lower())
    assert asked and not asked & kept  # nothing checked before the kill was asked again
    assert s.db.execute("SELECT count(*) FROM verify_runs").fetchone()[0] == 1


# --- who is affected --------------------------------------------------------------------


def add_claims(store, retracted: str, corrected: str) -> None:
    db = store.db
    t = "2025-01-01T00:00:00+00:00"
    db.execute("INSERT INTO articles (id, title, added_at) VALUES (1, 'Sacroiliac joint pain', ?)", [t])
    claims = [(1, "Injections near the joint did better"), (2, "Pain returns within a year"),
              (3, "Lidocaine is safe here")]
    for cid, text in claims:
        db.execute("INSERT INTO claims (id, article_id, text, added_at) VALUES (?, 1, ?, ?)", [cid, text, t])
    links = [(1, 2, corrected, "mentions", None), (2, 1, retracted, "supports", None),
             (3, 3, retracted, "supports", t),  # removed: not live any more
             (4, 2, retracted, "contests", None)]
    for lid, cid, doi, stance, removed in links:
        db.execute("INSERT INTO links (id, claim_id, doi, stance, asserted_by, created_at, removed_at)"
                   " VALUES (?, ?, ?, ?, 'editor', ?, ?)", [lid, cid, doi, stance, t, removed])
    for rid, status in ((1, "open"), (2, "answered")):
        db.execute("INSERT INTO requests (id, article_id, reader, status, received_at)"
                   " VALUES (?, 1, 'A reader', ?, ?)", [rid, status, t])
        db.execute("INSERT INTO request_works (request_id, doi, added_at) VALUES (?, ?, ?)",
                   [rid, retracted, t])
    db.conn.commit()


def test_the_report_names_affected_claims_a_supported_retraction_first(store, crossref):
    retracted, corrected = (r["DOI"].lower() for r in real_records(40)[30:32])
    add_claims(store, retracted, corrected)
    rec_r, rec_c = fetch(crossref, retracted, corrected)
    crossref.revise(retracted, with_update(rec_r, "retraction", "10.5555/rn", source="retraction-watch"))
    crossref.revise(corrected, with_update(rec_c, "correction", "10.5555/cn"))
    report = verify(store, client_for(crossref), all=True)

    got = [(a.id, a.doi, a.stance, a.kinds) for a in report.affected_claims]
    assert got == [(1, retracted, "supports", ["retraction"]),
                   (2, retracted, "contests", ["retraction"]),
                   (2, corrected, "mentions", ["correction"])]
    assert report.affected_claims[0].article_title == "Sacroiliac joint pain"
    assert [(a.id, a.doi) for a in report.open_requests] == [(1, retracted)]
    assert report.findings[0].doi == retracted  # the most serious finding leads too
    as_json = report.to_json()
    assert as_json["affected_claims"][0]["text"] == "Injections near the joint did better"


def test_a_work_no_claim_or_open_request_relies_on_affects_nothing(store):
    retracted, corrected = (r["DOI"].lower() for r in real_records(40)[30:32])
    add_claims(store, retracted, corrected)
    unused = next(w.doi for w in store.works() if w.doi not in (retracted, corrected))
    assert affected(store, {unused: ["retraction"]}) == ([], [])
    claims, requests_ = affected(store, {retracted: ["retraction"]})
    assert {a.id for a in claims} == {1, 2}  # claim 3's link was removed
    assert [a.id for a in requests_] == [1]  # request 2 was answered



def test_an_open_request_about_a_claim_relies_on_the_works_the_claim_is_linked_to(store):
    retracted, corrected = (r["DOI"].lower() for r in real_records(40)[30:32])
    add_claims(store, retracted, corrected)
    t = "2025-02-01T00:00:00+00:00"
    # Request 3 asks for claim 2's evidence; nothing has been given in answer yet.
    store.db.execute("INSERT INTO requests (id, article_id, claim_id, reader, status, received_at)"
                     " VALUES (3, 1, 2, 'Another reader', 'open', ?)", [t])
    # Request 4 asked about claim 3, whose link to the retracted work was removed.
    store.db.execute("INSERT INTO requests (id, article_id, claim_id, reader, status, received_at)"
                     " VALUES (4, 1, 3, 'A third reader', 'open', ?)", [t])
    store.db.conn.commit()
    _, requests_ = affected(store, {retracted: ["retraction"]})
    assert [a.id for a in requests_] == [1, 3]
    _, requests_ = affected(store, {corrected: ["correction"]})
    assert [a.id for a in requests_] == [3]

# --- the command line -------------------------------------------------------------------


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def cli_env(crossref):
    return {**crossref.environ, "REFKEEPER_MAILTO": "editor@example.org"}


@pytest.fixture
def small_db(tmp_path, crossref):
    path = str(tmp_path / "refs.db")
    s = Store(path)
    s.add_records(real_records(60), "snapshot")
    s.close()
    return path


def test_cli_exit_codes_and_json(small_db, crossref, cli_env):
    ok = run("--db", small_db, "verify", "--json", env=cli_env)
    assert ok.exit_code == 0, ok.output
    body = json.loads(ok.stdout)
    assert body["counts"]["checked"] == 60 and body["needs_attention"] is False
    assert ok.stderr == ""  # quiet: no progress, no chatter

    work = real_records(60)[44]
    crossref.revise(work["DOI"], with_update(work, "expression_of_concern", "10.5555/eoc"))
    found = run("--db", small_db, "verify", "--all", env=cli_env)
    assert found.exit_code == 1
    assert "EXPRESSION-OF-CONCERN" in found.stdout and work["DOI"].lower() in found.stdout
    assert "10.5555/eoc" in found.stdout

    hist = run("--db", small_db, "verify", "history", work["DOI"], env=cli_env)
    assert hist.exit_code == 0
    assert "expression-of-concern" in hist.stdout and "checks:" in hist.stdout

    assert run("--db", small_db, "verify", "--all", "--since", "3", env=cli_env).exit_code == 2
    assert run("--db", small_db, "verify", "--json", "history", "x", env=cli_env).exit_code == 2
    assert run("--db", small_db, "verify", "history", "10.9999/none", env=cli_env).exit_code == 2


def test_cli_unreachable_crossref_is_exit_2_and_says_it_continues(small_db):
    env = {"REFKEEPER_CROSSREF_URL": closed_port_url(), "REFKEEPER_MAILTO": "e@example.org"}
    res = run("--db", small_db, "verify", "--json", env=env)
    assert res.exit_code == 2
    assert json.loads(res.stdout)["run"]["status"] == "interrupted"
    assert "unreachable" in res.stderr and "again to continue" in res.stderr


def test_cli_help_teaches_verify():
    out = run("verify", "--help").output
    for word in ("--since", "--all", "--bib", "--json", "retraction", "expression-of-concern",
                 "not-found", "alias", "Exit code", "history"):
        assert word in out


def test_a_bibtex_file_is_checked_without_importing_it(tmp_path, crossref, cli_env):
    a, b, c, d = fetch(crossref, *(r["DOI"] for r in real_records(56)[52:56]))
    crossref.revise(a["DOI"], with_update(a, "retraction", "10.5555/rn", source="retraction-watch"))
    crossref.revise(d["DOI"], None)
    wrong_year = int(b["issued"]["date-parts"][0][0]) - 3
    bib = tmp_path / "refs.bib"
    bib.write_text(textwrap.dedent(f"""\
        @article{{retracted, title={{{a['title'][0]}}}, doi={{{a['DOI']}}}}}
        @article{{misdated, title={{{b['title'][0]}}}, year={{{wrong_year}}},
                  url={{https://doi.org/{b['DOI']}}}}}
        @article{{fine, title={{{{{c['title'][0]}}}}}, doi={{https://doi.org/{c['DOI'].upper()}}},
                  year={{{c['issued']['date-parts'][0][0]}}}}}
        @book{{nodoi, title={{A book without a DOI}}, year={{1999}}}}
        @article{{gone, doi={{{d['DOI']}}}}}
    """))
    report = verify_bib(bib, client_for(crossref), handles=handles_for(crossref))
    by_key = {e.key: e for e in report.entries}
    assert by_key["retracted"].kinds == ["retraction"]
    assert by_key["misdated"].outcome == "changed" and list(by_key["misdated"].diff) == ["year"]
    assert by_key["fine"].outcome == "ok", by_key["fine"]
    assert by_key["nodoi"].outcome == "no-doi"
    assert by_key["gone"].kinds == ["not-found"]
    assert [e.key for e in report.findings] == ["retracted", "gone", "misdated"]
    assert report.requests == 3  # one batch, one single lookup for the 404, one handle lookup

    res = run("--db", str(tmp_path / "untouched.db"), "verify", "--bib", str(bib), env=cli_env)
    assert res.exit_code == 1
    assert "RETRACTION  retracted" in res.stdout and "DIFFERS  misdated" in res.stdout
    assert "nodoi" in res.stdout
    assert not (tmp_path / "untouched.db").exists()


def test_a_report_can_be_read_back_later(store, crossref):
    first = verify(store, client_for(crossref), all=True)
    again = run_report(store)
    assert again.run_id == first.run_id and again.counts == first.counts
    assert [f.doi for f in again.findings] == [f.doi for f in first.findings]


def test_progress_shows_count_rate_and_eta_on_a_terminal_only(capsys):
    from refkeeper.cli import ProgressLine
    from refkeeper.verify import Progress

    line = ProgressLine(enabled=True)
    line(Progress(run_id=1, done=1200, total=10000, rate=45.5, eta=193.4))
    line.close()
    err = capsys.readouterr().err
    assert "1,200/10,000" in err and "45.5/s" in err and "ETA 3m13s" in err
    quiet = ProgressLine(enabled=False)
    quiet(Progress(1, 1, 2, 1.0, 1.0))
    quiet.close()
    assert capsys.readouterr().err == ""


# --- DOIs of other agencies (issue 13) ----------------------------------------------------------

ZENODO, FIGSHARE, MEDRA = "10.5281/zenodo.4468102", "10.6084/m9.figshare.14237519", "10.3280/pds2019-002004"
NOWHERE = "10.5281/zenodo.0000001"  # registered by nobody: the DOI system does not know it


def other_agency_records() -> list[dict]:
    """Stored as an import of a .bib would store them: Crossref-shaped, agency unknown."""
    return [{"DOI": ZENODO, "title": ["Sacroiliac joint injection outcomes: pooled patient-level dataset"],
             "type": "dataset"},
            {"DOI": FIGSHARE, "title": ["Lidocaine dosing survey of pain clinics, 2019-2020"],
             "type": "dataset"},
            {"DOI": MEDRA, "title": ["Il dolore sacroiliaco nella pratica clinica: una revisione narrativa"],
             "type": "journal-article"},
            {"DOI": NOWHERE, "title": ["A dataset whose DOI was never registered"], "type": "dataset"}]


def test_dois_crossref_lacks_are_dead_only_when_the_doi_system_says_so(store, crossref):
    store.add_records(other_agency_records(), "import")
    report = verify(store, client_for(crossref), all=True, handles=handles_for(crossref))

    found = {f.doi for f in report.findings}
    assert NOWHERE in found and not {ZENODO, FIGSHARE, MEDRA} & found  # they exist: nothing to say
    assert result(report, NOWHERE).kinds == ["not-found"]
    # Crossref named the agency of each DOI the DOI system knows; the works record it.
    assert identifiers.agencies(store, [ZENODO, FIGSHARE, MEDRA, NOWHERE]) == {
        ZENODO: "datacite", FIGSHARE: "datacite", MEDRA: "medra"}
    handle_lookups = [t for t, _ in crossref.history if t.startswith("/doi/api/handles/")]
    assert sorted(handle_lookups) == sorted(
        f"/doi/api/handles/{d}" for d in (ZENODO, FIGSHARE, MEDRA, NOWHERE))


def test_works_of_other_agencies_skip_crossref_on_later_runs(store, crossref):
    store.add_records(other_agency_records()[:3], "import")
    identifiers.record_many(store, {ZENODO: {"agency": "datacite"}, MEDRA: {"agency": "medra"}})
    verify(store, client_for(crossref), all=True, handles=handles_for(crossref))
    asked_crossref = " ".join(t for t, _ in crossref.history if t.startswith("/works"))
    assert ZENODO not in asked_crossref and MEDRA not in asked_crossref
    assert FIGSHARE in asked_crossref  # its agency was not known yet


def test_without_the_doi_system_a_doi_crossref_lacks_is_an_error_not_a_dead_doi(store, crossref):
    store.add_records(other_agency_records()[:1], "import")
    report = verify(store, client_for(crossref), all=True)
    assert result(report, ZENODO).outcome == "error"
    assert "not-found" not in result(report, ZENODO).kinds


def test_the_doi_system_failing_costs_the_work_an_error_never_a_dead_doi(store, crossref):
    store.add_records(other_agency_records()[:1], "import")
    identifiers.record(store, ZENODO, {"agency": "datacite"})
    crossref.storm(30, status=503)
    try:
        chk = fetch_batch(client_for(crossref, max_retries=1), [Item(ZENODO, {}, [], "datacite")],
                          DoiClient(crossref.urls["doi_url"], backoff=0.01, timeout=5, max_retries=1))
    finally:
        crossref.reset()
    assert chk[0][0].outcome == "error" and chk[0][0].kinds == []


def test_a_bib_with_datacite_and_medra_dois_has_no_false_dead_doi(tmp_path, crossref):
    bib = tmp_path / "mixed.bib"
    bib.write_text(textwrap.dedent(f"""\
        @misc{{zenodo, title={{Sacroiliac joint injection outcomes: pooled patient-level dataset}},
               doi={{{ZENODO}}}, year={{2021}}}}
        @article{{medra, title={{Il dolore sacroiliaco nella pratica clinica: una revisione narrativa}},
                  doi={{{MEDRA}}}, year={{2019}}}}
        @misc{{arxiv, title={{Periarticular injection targets for the sacroiliac joint: an anatomical study}},
               doi={{10.48550/arXiv.2101.00001}}, year={{2021}}}}
    """))
    report = verify_bib(bib, client_for(crossref), handles=handles_for(crossref))
    assert {e.key: e.outcome for e in report.entries} == {"zenodo": "ok", "medra": "ok", "arxiv": "ok"}
