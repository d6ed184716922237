#!/usr/bin/env python3
"""Build the small offline sample the demo ships with (src/refkeeper/data/sample-works.jsonl.gz).

It holds a few hundred real Crossref records chosen from ../shared/data (musculoskeletal
and rehabilitation subjects first, then a seeded random fill), plus records for the
seed works written from the facts in ../shared/seed/seed-works.json. Seed works whose
DOI that file does not give are left out: refkeeper never invents a DOI.

Run from the repository root: python scripts/make_sample.py
"""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
OUT = ROOT / "src" / "refkeeper" / "data" / "sample-works.jsonl.gz"
SIZE = 300
SUBJECTS = re.compile(r"orthop|rheumat|rehabilit|physical therapy|sports|neurology|pain", re.I)


def seed_records() -> list[dict]:
    works = json.loads((SHARED / "seed" / "seed-works.json").read_text())["works"]
    out = []
    for w in works:
        if not w.get("doi"):
            continue
        authors = []
        for i, a in enumerate(w["authors"]):
            family, _, initials = a.rpartition(" ")
            authors.append(
                {
                    "family": family,
                    "given": " ".join(f"{c}." for c in initials),
                    "sequence": "first" if i == 0 else "additional",
                }
            )
        rec = {
            "DOI": w["doi"],
            "type": "journal-article",
            "title": [w["title"]],
            "author": authors,
            "container-title": [w["container"]],
            "volume": w.get("volume"),
            "issue": w.get("issue"),
            "page": w.get("pages"),
            "issued": {"date-parts": [[w["year"]]]},
            "x-derived-from": "seed-works.json",
        }
        out.append({k: v for k, v in rec.items() if v})
    return out


def main() -> None:
    records = [json.loads(line) for line in gzip.open(SHARED / "data" / "crossref-works.jsonl.gz")]
    articles = [r for r in records if r.get("type") == "journal-article" and r.get("title")]
    topical = [r for r in articles if SUBJECTS.search(" ".join(r.get("subject") or []))]
    rng = random.Random(2013)
    chosen = topical[: SIZE // 2]
    rest = [r for r in articles if r not in chosen]
    chosen += rng.sample(rest, SIZE - len(chosen))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(OUT, "wt", encoding="utf-8") as fh:
        for r in seed_records() + chosen:
            r = {k: v for k, v in r.items() if k != "reference"}
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"wrote {len(chosen)} real records + seed works to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
