#!/usr/bin/env python3
"""Import benchmark: a library of thousands of entries, and one huge field.

``--entries N`` (default 7150, the size of the library of issue 12): writes a .bib of N
real Crossref records exported as ASCII LaTeX (accents as commands, math as ``$...$``),
imports it offline into a fresh database (every entry has a DOI: nothing to resolve),
and prints entries/s for reading alone and for the whole import, and the peak memory of
a child process importing the file and a file four times as long: streamed, the two
peaks are close (memory flat in the file size).

``--mb``: one huge field, read and decoded, at growing sizes:

A bibliography entry whose title is megabytes long must cost what that many
megabytes of small entries do: reading and LaTeX decoding are linear. This writes a .bib,
a .ris (the value wrapped over lines, as RIS exporters do) and a CSL-JSON file holding one
entry whose title is N MB of real Crossref title text (with LaTeX accents and escapes in
it), times ``read_bibliography`` on each, and prints MB/s per size: a rate that stays flat
as the size doubles is linear; one that halves is quadratic.

    .venv/bin/python scripts/bench_import.py                 # 7,150 entries; 1, 2, 4, 8 MB
    .venv/bin/python scripts/bench_import.py --entries 7150 --mb   # entries only
    .venv/bin/python scripts/bench_import.py --mb 30         # the 30 MB field of issue 11
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from refkeeper._models import Work  # noqa: E402
from refkeeper._store import Store  # noqa: E402
from refkeeper.bibimport import import_entries, open_bibliography, read_bibliography  # noqa: E402
from refkeeper.export import export_works, latex_escape  # noqa: E402

WORKS_FILE = ROOT.parent / "shared" / "data" / "crossref-works.jsonl.gz"


def field_text(mb: float) -> str:
    """``mb`` megabytes of real titles, as LaTeX (accents as commands, specials escaped)."""
    titles = []
    with gzip.open(WORKS_FILE, "rt", encoding="utf-8") as fh:
        for line in fh:
            titles += json.loads(line).get("title") or []
            if len(titles) >= 20_000:
                break
    unit = latex_escape(" ".join(titles), ascii=True)
    size = int(mb * 1_000_000)
    return (unit * (size // len(unit) + 1))[:size].rstrip("\\")


def files(tmp: Path, value: str) -> dict[str, Path]:
    bib = tmp / "big.bib"
    bib.write_text("@article{big,\n  author = {M{\\\"u}ller, Jos{\\'e}},\n"
                   f"  title = {{{value}}},\n  doi = {{10.1007/s00776-007-1126-1}},\n}}\n",
                   encoding="utf-8")
    ris = tmp / "big.ris"
    wrapped = "\n".join(value[i : i + 76] for i in range(0, len(value), 76))
    ris.write_text(f"TY  - JOUR\nTI  - {wrapped}\nDO  - 10.1007/s00776-007-1126-1\nER  - \n",
                   encoding="utf-8")
    csl = tmp / "big.json"
    csl.write_text(json.dumps([{"id": "big", "type": "article-journal", "title": value,
                                "DOI": "10.1007/s00776-007-1126-1"}]), encoding="utf-8")
    return {"bibtex": bib, "ris": ris, "csl-json": csl}


def library(path: Path, n: int, repeat: int = 1) -> None:
    """A .bib of ``n`` real records (ASCII LaTeX), ``repeat`` times with fresh DOIs after
    the first (so a longer file is that many more distinct works)."""
    records = []
    with gzip.open(WORKS_FILE, "rt", encoding="utf-8") as fh:
        for line in fh:
            records.append(json.loads(line))
            if len(records) == n:
                break
    with path.open("w", encoding="utf-8") as out:
        for r in range(repeat):
            works = [Work.from_crossref({**rec, "DOI": rec["DOI"] + (f".r{r}" if r else "")})
                     for rec in records]
            export_works(works, out, "bibtex", ascii=True)


def import_file(path: Path, db: Path) -> tuple[int, float, float, float]:
    """Entries, seconds reading alone, seconds importing (offline, into a fresh ``db``),
    and the CPU seconds of the import (the machine may be shared: wall time then says
    more about the neighbours than about the import)."""
    t0 = time.perf_counter()
    read = sum(1 for _ in open_bibliography(path))
    reading = time.perf_counter() - t0
    store = Store(db)
    t0, c0 = time.perf_counter(), time.process_time()
    results = list(import_entries(store, open_bibliography(path)))
    importing, cpu = time.perf_counter() - t0, time.process_time() - c0
    store.close()
    assert len(results) == read and all(r.status == "added" for r in results), {
        r.status for r in results}
    return read, reading, importing, cpu


def child_peak(path: Path, db: Path) -> float:
    """Peak resident memory (MB) of a child process importing ``path``."""
    out = subprocess.run([sys.executable, __file__, "--child", str(path), str(db)],
                         check=True, capture_output=True, text=True).stdout
    return float(out.split()[-1])


def entries_bench(n: int) -> None:
    print(f"{'entries':>8} {'file MB':>8} {'read/s':>9} {'import/s':>9} {'seconds':>8} "
          f"{'per CPU s':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        bib = Path(tmp) / "library.bib"
        library(bib, n)
        count, reading, importing, cpu = import_file(bib, Path(tmp) / "a.db")
        size = bib.stat().st_size / 1e6
        print(f"{count:>8} {size:>8.1f} {count / reading:>9.0f} {count / importing:>9.0f} "
              f"{importing:>8.2f} {count / cpu:>9.0f}", flush=True)
        big = Path(tmp) / "library4.bib"
        library(big, n, repeat=4)
        one, four = child_peak(bib, Path(tmp) / "m1.db"), child_peak(big, Path(tmp) / "m4.db")
        print(f"peak memory importing {bib.stat().st_size / 1e6:.1f} MB: {one:.0f} MB; "
              f"{big.stat().st_size / 1e6:.1f} MB (4x): {four:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, nargs="*", default=[1, 2, 4, 8],
                        help="field sizes in MB [1 2 4 8]; none: skip")
    parser.add_argument("--entries", type=int, default=7150,
                        help="entries of the library benchmark [7150]; 0: skip")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import_file(Path(args.child[0]), Path(args.child[1]))
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return
    if not WORKS_FILE.exists():
        raise SystemExit(f"shared data not found: {WORKS_FILE}")
    if args.entries:
        entries_bench(args.entries)
    if not args.mb:
        return
    print(f"{'format':<10} {'field MB':>9} {'seconds':>8} {'MB/s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for mb in args.mb:
            value = field_text(mb)
            for fmt, path in files(Path(tmp), value).items():
                t0 = time.perf_counter()
                entries, _ = read_bibliography(path, fmt)
                seconds = time.perf_counter() - t0
                assert len(entries) == 1 and entries[0].doi == "10.1007/s00776-007-1126-1"
                print(f"{fmt:<10} {mb:>9.1f} {seconds:>8.2f} {mb / seconds:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
