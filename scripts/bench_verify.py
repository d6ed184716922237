#!/usr/bin/env python3
"""Re-verification cost: requests, refusals, wall time and memory for 10,000 stored works.

The stand-in runs in its own process over the dev index with Crossref's limits: 50
requests/s per route (429 past it) and a 4096-byte request line (414 past it). Stored
works are real records from ../shared/data/crossref-works.jsonl.gz; for a few percent of
them the stand-in serves a later version made the way Crossref makes one (retraction and
expression-of-concern notices from Retraction Watch, publisher corrections and
withdrawals, corrected metadata) or answers 404 or with another DOI (an alias), so the
run also has to find exactly those.

A tenth of the stored works are DOIs of other agencies (DataCite, mEDRA: issue 13),
recorded with their agency as `add` and `resolve` record it; the stand-in's DOI system
knows them, except a few that no agency registered (planted "not-found"). The DOI system
is paced at 10 requests/s (the stand-in refuses past it).

A tenth of the Crossref works have a PMID (made up) that the stand-in's PubMed knows, a
few of them marked "Retracted Publication" there (planted "retraction"), so verify asks
PubMed too, at NCBI's 3 requests/s; real preprints whose record names their version of
record (``is-preprint-of``), or that a version of record names (``has-preprint``: one
relation-filter request per batch holding a preprint), are ``published-version`` findings.

Target: 10,000 works re-verified with at most 250 Crossref requests plus one handle lookup
per non-Crossref DOI (and one per DOI Crossref answers 404 for), at most one PubMed
request per batch, none refused for rate; no
non-Crossref DOI reported dead unless planted; peak memory flat as the number of works
grows (the run streams works from SQLite).

    python scripts/bench_verify.py [--sizes 2500,5000,10000,20000] [--rate-limit 50]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "scripts"))

from _standin_proc import standin_process  # noqa: E402
from standin import CROSSREF_REQUEST_LINE, Registry, with_changes, with_update  # noqa: E402

from refkeeper import CrossrefClient, Store  # noqa: E402
from refkeeper import _identifiers as identifiers  # noqa: E402
from refkeeper._registries import ArxivClient, DoiClient, NcbiClient  # noqa: E402
from refkeeper.verify import verify  # noqa: E402

# Later versions per 10,000 works (scaled down for the smaller runs by sampling order).
PLAN = (
    ("retraction", 20), ("expression-of-concern", 10), ("correction", 30), ("withdrawal", 5),
    ("changed", 100), ("not-found", 20), ("alias", 10),
)


def load_records(n: int, seed: int = 11) -> list[dict]:
    with gzip.open(DATA / "crossref-works.jsonl.gz", "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    # Real records already carrying notices would be findings too; leave them out so the
    # findings are exactly what the plan planted.
    records = [r for r in records if not r.get("updated-by") and not r.get("update-to")]
    return random.Random(seed).sample(records, n)


# Of every 1,000 non-Crossref works, this many carry a DOI no agency registered.
UNREGISTERED_PER_1000 = 10
AGENCIES = ("datacite", "datacite", "datacite", "medra")


def other_agency_records(n: int) -> tuple[list[dict], Registry, dict[str, str]]:
    """``n`` works with DataCite/mEDRA DOIs (shaped as an import stores them), the stand-in
    registry that knows them, and the planted "not-found" ones."""
    registry = Registry()
    records, expected = [], {}
    for i in range(n):
        agency = AGENCIES[i % len(AGENCIES)]
        prefix = "10.5281/zenodo." if agency == "datacite" else "10.3280/bench"
        doi = f"{prefix}{7000000 + i}"
        records.append({"DOI": doi, "type": "dataset", "title": [f"Benchmark dataset {i}"],
                        "x-agency": agency})
        if i % 1000 < UNREGISTERED_PER_1000:
            expected[doi] = "not-found"
        else:
            registry.register(doi, agency)
    return records, registry, expected


def plan_later_versions(records: list[dict], seed: int = 5) -> tuple[dict, dict, dict]:
    """(revisions, aliases, expected kind by DOI) for the stand-in, from real records."""
    rng = random.Random(seed)
    order = list(range(len(records)))
    rng.shuffle(order)
    revisions: dict[str, dict | None] = {}
    aliases: dict[str, str] = {}
    expected: dict[str, str] = {}
    picks = iter(order)
    for kind, count in PLAN:
        for _ in range(count):
            rec = records[next(picks)]
            doi = rec["DOI"].lower()
            date = (2024, rng.randint(1, 12), rng.randint(1, 28))
            notice = f"10.5555/notice-{len(expected)}"
            if kind == "retraction":
                revisions[doi] = with_update(rec, "retraction", notice, source="retraction-watch", date=date)
            elif kind == "expression-of-concern":
                revisions[doi] = with_update(rec, "expression_of_concern", notice,
                                             source="retraction-watch", date=date)
            elif kind == "correction":
                revisions[doi] = with_update(rec, rng.choice(["correction", "erratum"]), notice, date=date)
            elif kind == "withdrawal":
                revisions[doi] = with_update(rec, "withdrawal", None, date=date)  # in place
            elif kind == "changed":
                title = (rec.get("title") or ["Untitled"])[0]
                revisions[doi] = with_changes(rec, title=[title.rstrip(".") + " (corrected)"], date=date)
            elif kind == "not-found":
                revisions[doi] = None
            else:  # alias: the DOI now answers with another stored work's record
                aliases[doi] = records[next(picks)]["DOI"].lower()
            expected[doi] = kind
    return revisions, aliases, expected


# Of every 1,000 Crossref works, this many have a PMID, and of those PubMed marks this many
# "Retracted Publication" (issue 13: verify asks PubMed about works with a PMID).
PMID_PER_1000, PUBMED_RETRACTED_PER_1000 = 100, 2


def plant_pmids(records: list[dict], registry: Registry, expected: dict[str, str]) -> None:
    """Give some works (none with a planted finding) a PMID PubMed knows, a few of them
    retracted there. The PMIDs and summaries are made up; the records are real."""
    n = 0
    for i, rec in enumerate(records):
        doi = rec["DOI"].lower()
        if i % 1000 >= PMID_PER_1000 or doi in expected:
            continue
        pmid = str(30_000_000 + i)
        retracted = n % (PMID_PER_1000 // PUBMED_RETRACTED_PER_1000) == 0
        registry.add_pubmed({"pmid": pmid, "doi": rec["DOI"], "summary": {
            "title": (rec.get("title") or [""])[0], "authors": [], "source": "",
            "pubtype": ["Journal Article"] + (["Retracted Publication"] if retracted else []),
        }})
        rec["x-pmid"] = pmid
        if retracted:
            expected[doi] = "retraction"
        n += 1


def named_preprints() -> set[str]:
    """The preprints a version of record in the stand-in's data names (``has-preprint``)."""
    named = set()
    with gzip.open(DATA / "crossref-works.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            if '"has-preprint"' in line:
                for r in json.loads(line)["relation"]["has-preprint"]:
                    named.add(r["id"].lower())
    return named


def expect_published_versions(records: list[dict], expected: dict[str, str]) -> None:
    """Real preprints whose Crossref record names their version of record, or that a
    version of record names (``has-preprint``, asked of Crossref's relation filter), are
    findings of their own kind (``published-version``), unless a later version was planted
    for them."""
    named = named_preprints()
    for rec in records:
        if (rec.get("relation") or {}).get("is-preprint-of") or (
                rec.get("type") == "posted-content" and rec["DOI"].lower() in named):
            expected.setdefault(rec["DOI"].lower(), "published-version")


def build_store(path: str, records: list[dict]) -> None:
    s = Store(path)
    s.add_records([{k: v for k, v in r.items() if not k.startswith("x-")} for r in records], "snapshot")
    identifiers.record_many(s, {r["DOI"]: {"agency": r["x-agency"]} for r in records if "x-agency" in r})
    identifiers.record_many(s, {r["DOI"]: {"pmid": r["x-pmid"]} for r in records if "x-pmid" in r})
    s.close()


def run_once(db_path: str, url: str, stats, measure_memory: bool) -> dict:
    """One run with --all over a stored copy; the stand-in's counters are diffed around it."""
    store = Store(db_path)
    client = CrossrefClient(base_url=url, mailto="bench@example.org")
    handles = DoiClient(url + "/doi", mailto="bench@example.org")
    ncbi = NcbiClient(url + "/ncbi", idconv_url=url + "/idconv", email="bench@example.org")
    arxiv = ArxivClient(url + "/arxiv")
    before = stats()
    gc.collect()
    if measure_memory:
        tracemalloc.start()
    t = time.perf_counter()
    report = verify(store, client, all=True, handles=handles, ncbi=ncbi, arxiv=arxiv)
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] if measure_memory else None
    if measure_memory:
        tracemalloc.stop()
    after = stats()
    store.close()
    server = {k: after[k] - before[k] for k in
              ("requests", "works_query", "works_doi", "agency", "handle", "ncbi", "arxiv",
               "refused_rate", "refused_concurrency", "too_long")}
    return {"report": report, "elapsed": elapsed, "peak": peak, "server": server}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2500,5000,10000,20000", help="stored works per run, comma-separated")
    ap.add_argument("--rate-limit", type=int, default=50, help="stand-in limit per route, requests/s")
    args = ap.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")

    records = load_records(max(sizes))
    revisions, aliases, expected = plan_later_versions(records)
    others, registry, unregistered = other_agency_records(max(sizes) // 10)
    expected.update(unregistered)
    expect_published_versions(records, expected)
    plant_pmids(records, registry, expected)
    others_dois = {r["DOI"].lower() for r in others}
    chosen = {n: records[:n - n // 10] + others[:n // 10] for n in sizes}
    stored = {n: {r["DOI"].lower() for r in chosen[n]} for n in sizes}
    tmp = tempfile.mkdtemp(prefix="bench-verify-")
    try:
        for n in sizes:
            build_store(os.path.join(tmp, f"{n}.db"), chosen[n])
        del chosen
        del records  # from here on only the databases hold works
        gc.collect()
        limits = {"works_doi": args.rate_limit, "works_query": args.rate_limit}
        with standin_process(DATA, rate_limit=limits, max_request_line=CROSSREF_REQUEST_LINE,
                             revisions=revisions, aliases=aliases, registry=registry,
                             registry_rate_limit={"handle": 10, "ncbi": 3}) as (url, stats):
            print(f"stand-in: dev index, {args.rate_limit} requests/s per route, request line "
                  f"<= {CROSSREF_REQUEST_LINE} bytes, DOI system 10 requests/s, NCBI 3/s; later versions "
                  f"planted for {len(expected)} works")
            print(f"{'works':>7} {'other':>6} {'crossref':>9} {'batch':>6} {'single':>7} {'agency':>7} "
                  f"{'handle':>7} {'ncbi':>5} {'429':>4} {'414':>4} {'wall s':>7} {'works/s':>8} "
                  f"{'peak MiB':>9} "
                  f"{'findings':>9}  found as planted  within budget")
            for n in sizes:
                path = os.path.join(tmp, f"{n}.db")
                fresh = path + ".fresh"
                shutil.copy(path, fresh)  # the memory run starts from the same state
                timed = run_once(path, url, stats, measure_memory=False)
                mem = run_once(fresh, url, stats, measure_memory=True)
                r, s = timed["report"], timed["server"]
                planted = {d: k for d, k in expected.items() if d in stored[n]}
                got = {f.doi: (f.kinds[0] if f.kinds else f.outcome) for f in r.findings}
                ok = got == planted and r.counts["checked"] == n and r.status == "finished"
                crossref = s["works_query"] + s["works_doi"] + s["agency"]
                # One handle lookup per non-Crossref DOI, and one per DOI Crossref answers 404.
                gone = sum(1 for d, k in planted.items() if k == "not-found" and d not in others_dois)
                # PubMed: one esummary per batch at most (the batch's PMIDs together).
                budget = (crossref <= 250 * n / 10_000 and s["handle"] <= n // 10 + gone
                          and s["ncbi"] <= r.counts["checked"] // 100 + 1)
                print(f"{n:>7,} {n // 10:>6,} {crossref:>9} {s['works_query']:>6} {s['works_doi']:>7} "
                      f"{s['agency']:>7} {s['handle']:>7} {s['ncbi']:>5} "
                      f"{s['refused_rate']:>4} {s['too_long']:>4} {timed['elapsed']:>7.1f} "
                      f"{n / timed['elapsed']:>8.0f} {mem['peak'] / 2**20:>9.1f} {len(r.findings):>9}  "
                      f"{'yes' if ok else 'NO':<16}  {'yes' if budget else 'NO'}")
                if not ok:
                    missing = {d: k for d, k in planted.items() if got.get(d) != k}
                    extra = {d: k for d, k in got.items() if d not in planted}
                    print(f"    missed {list(missing.items())[:5]} extra {list(extra.items())[:5]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
          "(includes loading 24k records to build the stores; 'peak MiB' is the Python heap "
          "during verify, from tracemalloc)")


if __name__ == "__main__":
    main()
