#!/usr/bin/env python3
"""Export benchmark: 20,000 real Crossref works from a real Store, streamed to files.

Fills a Store with the first N records of ../shared/data/crossref-works.jsonl.gz (not
timed), then times what `refkeeper export -o FILE` does for each format: read the works
and stored keys, write the file (``export.export_works``), store the new keys. The first
BibTeX export chooses every key; the later ones reuse the stored keys, as every later
export does. Peak memory is measured in a second, untimed pass with tracemalloc (Python
allocations during the export only), and the process's peak RSS is printed at the end.

    .venv/bin/python scripts/bench_export.py            # 20,000 works, every format
    .venv/bin/python scripts/bench_export.py -n 5000 --formats bibtex ris
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from refkeeper import _identifiers as identifiers  # noqa: E402
from refkeeper._store import Store  # noqa: E402
from refkeeper.export import FORMATS, export_store  # noqa: E402

WORKS_FILE = ROOT.parent / "shared" / "data" / "crossref-works.jsonl.gz"
TARGET_S = 5.0  # issue 5: 20,000 works to BibTeX in under 5 s


def fill(store: Store, n: int) -> int:
    with gzip.open(WORKS_FILE, "rt", encoding="utf-8") as fh:
        records = (json.loads(line) for line in itertools.islice(fh, n))
        return store.add_records(records, "snapshot")


def export_once(store: Store, path: Path, fmt: str, style: str = "vancouver") -> tuple[int, float]:
    """What `refkeeper export --format FMT -o PATH` does; returns (entries, seconds)."""
    t0 = time.perf_counter()
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8") as fh:
        # Keys, notes and identifiers (PMID, PMCID, arXiv ID) read once, new keys stored.
        n = export_store(store, fh, fmt, style=style)
    os.replace(tmp, path)
    return n, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="works to export [20000]")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    args = parser.parse_args()
    if not WORKS_FILE.exists():
        raise SystemExit(f"shared data not found: {WORKS_FILE}")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = Store(tmp / "bench.db")
        t0 = time.perf_counter()
        count = fill(store, args.n)
        print(f"store: {count} works from {WORKS_FILE.name} in {time.perf_counter() - t0:.1f} s "
              f"(not timed below)")
        # Re-verification records a few problems, so notes are part of the work measured.
        store.db.execute("UPDATE works SET problems = '[\"retraction\"]' WHERE rowid % 500 = 0")
        store.db.conn.commit()
        # Identifiers are part of it too (issue 13): a third of the works get a PMID, one in
        # six a PMCID, one in fifty an arXiv ID. The numbers are made up: what is measured
        # is reading them for every work, which must be one query, not one per work.
        dois = [d for (d,) in store.db.execute("SELECT doi FROM works ORDER BY rowid")]
        identifiers.record_many(store, {d: {
            **({"pmid": str(10_000_000 + i)} if i % 3 == 0 else {}),
            **({"pmcid": f"PMC{5_000_000 + i}"} if i % 6 == 0 else {}),
            **({"arxiv": f"2101.{i:05d}"} if i % 50 == 0 else {}),
        } for i, d in enumerate(dois)})

        rows = []
        runs = [("bibtex", "first: keys chosen")] + [
            (f, "keys stored") for f in args.formats]
        for fmt, note in runs:
            if fmt not in args.formats:
                continue
            style = "apa" if fmt == "markdown" else "vancouver"
            out = tmp / f"refs.{fmt}"
            n, seconds = export_once(store, out, fmt, style)
            rows.append((fmt + (f" ({style})" if fmt in ("text", "markdown", "html") else ""),
                         note, n, seconds, out.stat().st_size))

        print(f"\n{'format':<22} {'run':<20} {'entries':>8} {'seconds':>8} {'works/s':>9} {'MB':>6}")
        for fmt, note, n, seconds, size in rows:
            print(f"{fmt:<22} {note:<20} {n:>8} {seconds:>8.2f} {n / seconds:>9.0f} "
                  f"{size / 1e6:>6.1f}")
        bib = [r for r in rows if r[0] == "bibtex"]
        if bib:
            worst = max(r[3] for r in bib)
            verdict = "PASS" if worst < TARGET_S else "FAIL"
            print(f"\nBibTeX, {args.n} works: {worst:.2f} s (target < {TARGET_S:.0f} s): {verdict}")

        if not args.no_memory:
            print(f"\n{'format':<22} {'peak Python memory during export (tracemalloc)':>48}")
            for fmt in args.formats:
                tracemalloc.start()
                export_once(store, tmp / f"mem.{fmt}", fmt, "apa" if fmt == "markdown" else "vancouver")
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                print(f"{fmt:<22} {peak / 2**20:>44.1f} MiB")
        store.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS (store fill included): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
