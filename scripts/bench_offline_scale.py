#!/usr/bin/env python3
"""Offline resolution as the snapshot grows (issue 14): import rate, bytes per work,
citations/s and precision/recall on the same 1,000 dev strings at each size.

Each snapshot is the dev index (crossref-works + pmc-records, 29,335 real records) padded
to the size with synthetic works, written as Crossref's public data file is published (a
directory of .json.gz files, each {"items": [...]}, 5,000 works a file). The padding is
labelled ("x-derived-from": "bench padding ...", DOIs under the fake prefix 10.0000/) and
realistic: each padded work is a real record's shape with a title mixing half the words of
one real title with words drawn from all real titles (so word frequencies stay Crossref's),
the author list of another real work, the journal of a third, a real year and plausible
volume and pages.

Each size runs as the user would: `refkeeper snapshot import DIR` then
`refkeeper resolve --offline --json -` on the 1,000 strings, each in its own process
(peak memory is that process's max RSS).

Targets (2 cores): >= 200 citations/s at 1M and <= 1.5x slower from 100k to 1M; P/R at
1M within 0.002 of 41k; <= 1.5 KB per work on disk (indexes included); import >= 5,000
works/s; memory flat in the snapshot size.

    python scripts/bench_offline_scale.py [--sizes 41000,100000,300000,1000000] [--n 1000]
        [--work DIR]   # keeps the generated snapshots there for the next run
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
PER_FILE = 5000
LABEL = "bench padding: real title words, authors, journals and years recombined"

sys.path.insert(0, str(ROOT / "src"))
from refkeeper._models import record_year  # noqa: E402


def real_records() -> list[dict]:
    recs: dict[str, dict] = {}
    for name in ("crossref-works.jsonl.gz", "pmc-records.dev.jsonl.gz"):
        for line in gzip.open(DATA / name):
            r = json.loads(line)
            recs[r["DOI"].lower()] = r
    return list(recs.values())


def padding(real: list[dict], n: int, seed: int = 14):
    """``n`` synthetic works recombined from the real ones (see the module docstring)."""
    rng = random.Random(seed)
    shapes = [{k: v for k, v in r.items() if k != "reference"} for r in real
              if r.get("type") == "journal-article" and "x-derived-from" not in r]
    titles = [r["title"][0].split() for r in real if r.get("title") and r["title"][0].strip()]
    title_words = [w for t in titles for w in t]
    authors = [r["author"] for r in real if r.get("author")]
    journals = [r for r in real if r.get("container-title")]
    years = [y for y in map(record_year, real) if y]
    for i in range(n):
        rec = dict(rng.choice(shapes))
        t = rng.choice(titles)
        keep = max(1, len(t) // 2)
        words = t[:keep] + [rng.choice(title_words) for _ in range(len(t) - keep)]
        j = rng.choice(journals)
        year = rng.choice(years)
        page = rng.randint(1, 3000)
        for k in ("published", "published-print", "published-online", "update-to", "relation"):
            rec.pop(k, None)
        rec.update({
            "DOI": f"10.0000/bench-padding-{i}",
            "title": [" ".join(words)],
            "author": rng.choice(authors),
            "container-title": j.get("container-title"),
            "short-container-title": j.get("short-container-title") or [],
            "volume": str(rng.randint(1, 400)),
            "issue": str(rng.randint(1, 12)),
            "page": f"{page}-{page + rng.randint(1, 25)}",
            "issued": {"date-parts": [[year]]},
            "x-derived-from": LABEL,
        })
        yield rec


def build_snapshot(directory: Path, size: int, real: list[dict]) -> None:
    done = directory / ".complete"
    if done.exists():
        return
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    works = _chain(real, padding(real, max(0, size - len(real))))
    k = 0
    while True:
        page = list(itertools.islice(works, PER_FILE))
        if not page:
            break
        with gzip.open(directory / f"{k:05d}.json.gz", "wt", encoding="utf-8", compresslevel=1) as fh:
            json.dump({"items": page}, fh, ensure_ascii=False)
        k += 1
    done.write_text(str(size))


def _chain(*its):
    for it in its:
        yield from it


# The child reports its own peak RSS on exit: one figure per command, not the maximum of
# every child so far (which is all RUSAGE_CHILDREN gives).
# (VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent.)
# It also reports the CPU seconds it and its workers used: on a shared machine the wall
# clock measures the neighbours too.
_WITH_RSS = ("import atexit, re, resource, sys\n"
             "def _report():\n"
             "    u = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]\n"
             "    cpu = sum(x.ru_utime + x.ru_stime for x in u)\n"
             "    own = u[0].ru_utime + u[0].ru_stime\n"
             "    hwm = re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1)\n"
             "    sys.stderr.write('\\nMAXRSS_KB %s CPU_S %.3f OWN_S %.3f\\n' % (hwm, cpu, own))\n"
             "atexit.register(_report)\n"
             "sys.argv[0] = 'refkeeper'\n"
             "from refkeeper.cli import main\n"
             "main()\n")


def run(args: list[str], env: dict, stdin: bytes | None = None) -> tuple[bytes, float, float, float, float]:
    """stdout, wall seconds, peak RSS (MB), CPU seconds (its worker processes included) and
    its own CPU seconds (for an import: the one writer's) of one `refkeeper ARGS` process."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WITH_RSS, *args], env=env, input=stdin,
                          capture_output=True)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        sys.exit(f"refkeeper {' '.join(args[:3])} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    rep = [line.split() for line in proc.stderr.decode().splitlines() if line.startswith("MAXRSS_KB")]
    if not rep:
        return proc.stdout, elapsed, float("nan"), float("nan"), float("nan")
    return proc.stdout, elapsed, int(rep[-1][1]) / 1024, float(rep[-1][3]), float(rep[-1][5])


def measure(size: int, snap: Path, cits: list[dict], tmp: Path) -> dict:
    db = tmp / f"bench-{size}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFKEEPER_")}
    env["REFKEEPER_DB"] = str(db)
    _, t_import, rss_import, cpu_import, cpu_writer = run(["snapshot", "import", "-q", str(snap)], env)
    conn = sqlite3.connect(db)
    works = conn.execute("SELECT count(*) FROM works").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    disk = sum(os.path.getsize(str(db) + s) for s in ("", "-wal") if os.path.exists(str(db) + s))
    stdin = "".join(" ".join(c["text"].split()) + "\n" for c in cits).encode()
    out, t_resolve, rss_resolve, cpu_resolve, _ = run(["resolve", "--offline", "--json", "-"], env, stdin)
    answers = [json.loads(x) for x in out.decode().splitlines()]
    tp = fp = positives = 0
    for c, a in zip(cits, answers, strict=True):
        truth = c["doi"].lower() if c["in_index"] and c["doi"] else None
        positives += truth is not None
        if a["status"] == "matched":
            tp += a["doi"] == truth
            fp += a["doi"] != truth
    return {
        "works": works,
        "import_s": t_import,
        "import_rate": works / t_import,
        "import_cpu_rate": works / cpu_import,
        "import_cpu_us": cpu_import / works * 1e6,
        "writer_cpu_us": cpu_writer / works * 1e6,
        "bytes_per_work": disk / works,
        "disk_mb": disk / 1e6,
        "cit_per_s": len(cits) / t_resolve,
        "cit_per_cpu_s": len(cits) / cpu_resolve,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / positives if positives else 1.0,
        "tp": tp, "fp": fp,
        "import_rss_mb": rss_import,
        "resolve_rss_mb": rss_resolve,
        "load": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="41000,100000,300000,1000000")
    ap.add_argument("--n", type=int, default=1000, help="dev citation strings resolved at each size")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--work", help="directory keeping the generated snapshots (default: a temporary one)")
    ap.add_argument("--generate-only", action="store_true", help="only write the snapshots (needs --work)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    cits = [json.loads(line) for line in gzip.open(DATA / "citations.dev.jsonl.gz")]
    cits = random.Random(args.seed).sample(cits, args.n)
    real = real_records()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="rk-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print("import: works/s wall (per CPU-second, workers included); resolve: citations/s wall (per"
          " CPU-second, process start included)")
    print(f"{'works':>9} {'import w/s':>17} {'B/work':>7} {'disk MB':>8} {'cit/s':>15} {'P':>7} {'R':>7}"
          f" {'TP':>4} {'FP':>3} {'RSS imp/res MB':>15}  load (1/5/15 min)", flush=True)
    try:
        for size in sizes:
            snap = work / f"snapshot-{size}"
            t = time.perf_counter()
            build_snapshot(snap, size, real)
            gen = time.perf_counter() - t
            if args.generate_only:
                print(f"{size}: snapshot in {snap} ({gen:.0f} s)", flush=True)
                continue
            r = measure(size, snap, cits, work)
            load = "/".join(f"{x:.1f}" for x in r["load"])
            imp = f"{r['import_rate']:.0f} ({r['import_cpu_rate']:.0f})"
            res = f"{r['cit_per_s']:.1f} ({r['cit_per_cpu_s']:.1f})"
            print(f"{r['works']:>9} {imp:>17} {r['bytes_per_work']:>7.0f}"
                  f" {r['disk_mb']:>8.0f} {res:>15} {r['precision']:>7.4f}"
                  f" {r['recall']:>7.4f} {r['tp']:>4} {r['fp']:>3}"
                  f" {r['import_rss_mb']:>7.0f}/{r['resolve_rss_mb']:<7.0f}  {load}"
                  f"  (snapshot made in {gen:.0f} s; import {r['import_s']:.0f} s)", flush=True)
            # The one writer cannot go faster than its own CPU allows, however many cores
            # prepare for it; per CPU-second x cores is the ceiling on idle cores.
            print(f"{'':>9} import CPU {r['import_cpu_us']:.0f} us a work, of which the writer"
                  f" {r['writer_cpu_us']:.0f} us ({r['writer_cpu_us'] / r['import_cpu_us']:.0%}):"
                  f" ceilings {2e6 / r['import_cpu_us']:,.0f} works/s on 2 idle cores,"
                  f" {1e6 / r['writer_cpu_us']:,.0f} works/s for the writer alone", flush=True)
            for suffix in ("", "-wal", "-shm"):
                Path(str(work / f"bench-{size}.db") + suffix).unlink(missing_ok=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
