#!/usr/bin/env python3
"""Re-verification cost: requests, refusals, wall time and memory for 10,000 stored works.

The stand-in runs in its own process over the dev index with Crossref's limits: 50
requests/s per route (429 past it) and a 4096-byte request line (414 past it). Stored
works are real records from ../shared/data/crossref-works.jsonl.gz; for a few percent of
them the stand-in serves a later version made the way Crossref makes one (retraction and
expression-of-concern notices from Retraction Watch, publisher corrections and
withdrawals, corrected metadata) or answers 404 or with another DOI (an alias), so the
run also has to find exactly those.

Target: 10,000 works re-verified with at most 250 requests and none refused for rate;
peak memory flat as the number of works grows (the run streams works from SQLite).

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
from standin import CROSSREF_REQUEST_LINE, with_changes, with_update  # noqa: E402

from refkeeper import CrossrefClient, Store  # noqa: E402
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


def build_store(path: str, records: list[dict]) -> None:
    s = Store(path)
    s.add_records(records, "snapshot")
    s.close()


def run_once(db_path: str, url: str, stats, measure_memory: bool) -> dict:
    """One run with --all over a stored copy; the stand-in's counters are diffed around it."""
    store = Store(db_path)
    client = CrossrefClient(base_url=url, mailto="bench@example.org")
    before = stats()
    gc.collect()
    if measure_memory:
        tracemalloc.start()
    t = time.perf_counter()
    report = verify(store, client, all=True)
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] if measure_memory else None
    if measure_memory:
        tracemalloc.stop()
    after = stats()
    store.close()
    server = {k: after[k] - before[k] for k in
              ("requests", "works_query", "works_doi", "refused_rate", "refused_concurrency", "too_long")}
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
    stored = {n: {r["DOI"].lower() for r in records[:n]} for n in sizes}
    tmp = tempfile.mkdtemp(prefix="bench-verify-")
    try:
        for n in sizes:
            build_store(os.path.join(tmp, f"{n}.db"), records[:n])
        del records  # from here on only the databases hold works
        gc.collect()
        limits = {"works_doi": args.rate_limit, "works_query": args.rate_limit}
        with standin_process(DATA, rate_limit=limits, max_request_line=CROSSREF_REQUEST_LINE,
                             revisions=revisions, aliases=aliases) as (url, stats):
            print(f"stand-in: dev index, {args.rate_limit} requests/s per route, request line "
                  f"<= {CROSSREF_REQUEST_LINE} bytes; later versions planted for {len(expected)} works")
            print(f"{'works':>7} {'requests':>9} {'batch':>6} {'single':>7} {'429':>4} {'414':>4} "
                  f"{'wall s':>7} {'works/s':>8} {'peak MiB':>9} {'findings':>9}  found as planted")
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
                print(f"{n:>7,} {s['requests']:>9} {s['works_query']:>6} {s['works_doi']:>7} "
                      f"{s['refused_rate']:>4} {s['too_long']:>4} {timed['elapsed']:>7.1f} "
                      f"{n / timed['elapsed']:>8.0f} {mem['peak'] / 2**20:>9.1f} {len(r.findings):>9}  "
                      f"{'yes' if ok else 'NO'}")
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
