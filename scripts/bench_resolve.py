#!/usr/bin/env python3
"""Resolver throughput, online against a rate-limited stand-in and offline from SQLite.

Online: the stand-in runs in its own process with a rate limit of 50 requests/s (per
route, as Crossref announces them) and refuses anything past it with 429; refkeeper
must follow the announced limit and still approach one search per citation.
Target: >= 40 citations/s with 0 requests refused.

Offline: a resolver over the `IndexSource` of a local index of the dev records, padded to
41,000 records with synthetic ones (shuffled real titles under 10.0000/ DOIs, marked
as such) so the index is the size the target names. Target: >= 200 citations/s.

    python scripts/bench_resolve.py [--n 1000] [--rate-limit 50]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "scripts"))

from _standin_proc import standin_process  # noqa: E402

from refkeeper import CrossrefClient, CrossrefSource, IndexSource, Resolver, Store  # noqa: E402


def citations(n: int, seed: int = 3) -> list[str]:
    cits = [json.loads(line)["text"] for line in gzip.open(DATA / "citations.dev.jsonl.gz")]
    return random.Random(seed).sample(cits, n)


def bench_online(texts: list[str], rate_limit: int) -> None:
    limits = {"works_doi": rate_limit, "works_query": rate_limit}
    with standin_process(DATA, rate_limit=limits) as (url, stats), tempfile.TemporaryDirectory() as tmp:
        client = CrossrefClient(base_url=url, mailto="bench@example.org")
        resolver = Resolver(source=CrossrefSource(client), store=Store(os.path.join(tmp, "b.db")))
        t = time.perf_counter()
        answers = list(resolver.resolve_many(texts))
        elapsed = time.perf_counter() - t
        s = stats()
    kinds = ("matched", "ambiguous", "unmatched", "error")
    statuses = {k: sum(a.status == k for a in answers) for k in kinds}
    print(f"online: {len(texts)} citations in {elapsed:.1f} s = {len(texts) / elapsed:.1f} citations/s")
    print(f"  stand-in limit {rate_limit}/s per route; requests {s['requests']} "
          f"({s['requests'] / len(texts):.2f}/citation, {s['requests'] / elapsed:.1f}/s); "
          f"refused for rate {s['refused_rate']}, for concurrency {s['refused_concurrency']}; "
          f"client saw 429 {client.stats.refused_429} times")
    print(f"  answers {statuses}")


def padded_records(target: int) -> list[dict]:
    recs = {}
    for name in ("crossref-works.jsonl.gz", "pmc-records.dev.jsonl.gz"):
        for line in gzip.open(DATA / name):
            r = json.loads(line)
            r.pop("reference", None)
            recs[r["DOI"].lower()] = r
    real = list(recs.values())
    rng = random.Random(41)
    titles = [r["title"][0] for r in real if r.get("title")]
    out = list(real)
    i = 0
    while len(out) < target:
        base = dict(rng.choice(real))
        words = rng.choice(titles).split()
        rng.shuffle(words)
        base.update(DOI=f"10.0000/synthetic-{i}", title=[" ".join(words)],
                    **{"x-derived-from": "bench padding"})
        out.append(base)
        i += 1
    return out


def bench_offline(texts: list[str], size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(os.path.join(tmp, "o.db"))
        t = time.perf_counter()
        store.add_records(padded_records(size), "snapshot")
        built = time.perf_counter() - t
        resolver = Resolver(source=IndexSource(store), store=store)
        t = time.perf_counter()
        answers = list(resolver.resolve_many(texts))
        elapsed = time.perf_counter() - t
    matched = sum(a.status == "matched" for a in answers)
    print(f"offline: index of {size} records built in {built:.1f} s; "
          f"{len(texts)} citations in {elapsed:.1f} s = {len(texts) / elapsed:.1f} citations/s "
          f"({matched} matched)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="citations per run")
    ap.add_argument("--rate-limit", type=int, default=50)
    ap.add_argument("--index-size", type=int, default=41000)
    ap.add_argument("--skip-online", action="store_true")
    ap.add_argument("--skip-offline", action="store_true")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    texts = citations(args.n)
    if not args.skip_online:
        bench_online(texts, args.rate_limit)
    if not args.skip_offline:
        bench_offline(texts, args.index_size)


if __name__ == "__main__":
    main()
