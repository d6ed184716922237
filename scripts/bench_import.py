#!/usr/bin/env python3
"""Import reading benchmark: one huge field, read and decoded, at growing sizes.

A bibliography entry whose title is megabytes long must cost what that many
megabytes of small entries do: reading and LaTeX decoding are linear. This writes a .bib,
a .ris (the value wrapped over lines, as RIS exporters do) and a CSL-JSON file holding one
entry whose title is N MB of real Crossref title text (with LaTeX accents and escapes in
it), times ``read_bibliography`` on each, and prints MB/s per size: a rate that stays flat
as the size doubles is linear; one that halves is quadratic.

    .venv/bin/python scripts/bench_import.py                 # 1, 2, 4 and 8 MB
    .venv/bin/python scripts/bench_import.py --mb 30         # the 30 MB field of issue 11
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from refkeeper.bibimport import read_bibliography  # noqa: E402
from refkeeper.export import latex_escape  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, nargs="+", default=[1, 2, 4, 8],
                        help="field sizes in MB [1 2 4 8]")
    args = parser.parse_args()
    if not WORKS_FILE.exists():
        raise SystemExit(f"shared data not found: {WORKS_FILE}")
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
