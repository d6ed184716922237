#!/usr/bin/env python3
"""Regenerate the golden export files in tests/golden/ from real Crossref records.

Picks records from ../shared/data/crossref-works.jsonl.gz by property (every Crossref type,
accented and non-Latin names, organisations, markup and math in titles, missing fields,
odd DOIs, long author lists, editors, article numbers), the first ones in file order, and
writes every export format for them. tests/test_golden.py re-exports the same records and
compares. Run this after an intended change to an export format, and read the diff:

    .venv/bin/python scripts/make_golden.py && git diff tests/golden/
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from refkeeper._models import Work  # noqa: E402
from refkeeper.export import export_works  # noqa: E402

WORKS_FILE = ROOT.parent / "shared" / "data" / "crossref-works.jsonl.gz"
GOLDEN = ROOT / "tests" / "golden"

# (file name, format, options)
OUTPUTS = [
    ("export.bib", "bibtex", {}),
    ("export-ascii.bib", "bibtex", {"ascii": True}),
    ("export.json", "csl-json", {}),
    ("export.ris", "ris", {}),
    ("vancouver.txt", "text", {"style": "vancouver"}),
    ("vancouver.html", "html", {"style": "vancouver"}),
    ("apa.md", "markdown", {"style": "apa"}),
    ("apa.txt", "text", {"style": "apa"}),
]
# Notes as re-verification would record them, so the golden files show where they go.
NOTES = {0: "Retracted", 1: "Corrected"}


def _names(r: dict) -> list[dict]:
    return [p for p in r.get("author") or [] if isinstance(p, dict)]


def _title(r: dict) -> str:
    return "".join(r.get("title") or [])


PROPERTIES = {
    "accented-name": lambda r: any(
        not p.get("family", "").isascii() and all(ord(c) < 0x250 for c in p.get("family", ""))
        for p in _names(r)),
    "non-latin-name": lambda r: any(
        any(ord(c) >= 0x370 and c.isalpha() for c in p.get("family", "") + p.get("name", ""))
        for p in _names(r)),
    "organisation": lambda r: any(p.get("name") and not p.get("family") for p in _names(r)),
    "italic-title": lambda r: re.search(r"<(i|em|italic)>", _title(r)) is not None,
    "sub-sup-title": lambda r: re.search(r"<(sub|sup)>", _title(r)) is not None,
    "smallcaps-title": lambda r: "<scp>" in _title(r),
    "mathml-title": lambda r: "math" in _title(r) and "<" in _title(r),
    "tex-title": lambda r: "\\" in _title(r) or "$" in _title(r),
    "special-chars-title": lambda r: re.search(r"[&%#_{}~^]", _title(r).replace("&amp;", "")) is not None,
    "no-title": lambda r: not _title(r).strip(),
    "no-author": lambda r: not r.get("author") and not r.get("editor"),
    "no-year": lambda r: not any(((r.get(k) or {}).get("date-parts") or [[None]])[0][0]
                                 for k in ("issued", "published", "published-print",
                                           "published-online", "created")),
    "odd-doi": lambda r: re.search(r"[<>#;%\[\]]", r["DOI"]) is not None,
    "many-authors": lambda r: len(_names(r)) > 21,
    "editors": lambda r: bool(r.get("editor")),
    "article-number": lambda r: bool(r.get("article-number")) and not r.get("page"),
    "subtitle": lambda r: bool(r.get("subtitle")),
    "suffix": lambda r: any(p.get("suffix") for p in _names(r)),
}


def select(path: Path, per_property: int = 2, per_type: int = 1) -> list[tuple[str, dict]]:
    """(label, record) for the first records in file order with each property and type."""
    chosen: list[tuple[str, dict]] = []
    seen: set[str] = set()
    counts: dict[str, int] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            labels = []
            kind = f"type:{record.get('type')}"
            if counts.get(kind, 0) < per_type:
                labels.append(kind)
            for name, test in PROPERTIES.items():
                if counts.get(name, 0) < per_property and test(record):
                    labels.append(name)
            if not labels or record["DOI"].lower() in seen:
                continue
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
            seen.add(record["DOI"].lower())
            chosen.append((",".join(labels), record))
    return chosen


def load(dois: list[str], path: Path = WORKS_FILE) -> list[dict]:
    """The records of ``dois`` from the shared data, in that order."""
    want = {d.lower(): i for i, d in enumerate(dois)}
    out: list[dict | None] = [None] * len(dois)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            m = re.search(r'"DOI": "((?:[^"\\]|\\.)*)"', line)
            if m and json.loads(f'"{m.group(1)}"').lower() in want:
                record = json.loads(line)
                out[want[record["DOI"].lower()]] = record
    missing = [d for d, r in zip(dois, out, strict=True) if r is None]
    if missing:
        raise SystemExit(f"records not in {path}: {missing}")
    return out  # type: ignore[return-value]


def render(records: list[dict]) -> dict[str, str]:
    """File name -> content for every golden output of ``records``."""
    works = [Work.from_crossref(r) for r in records]
    notes = {works[i].doi: note for i, note in NOTES.items() if i < len(works)}
    out = {}
    for name, fmt, options in OUTPUTS:
        buf = io.StringIO()
        export_works(works, buf, fmt, notes=notes, **options)
        out[name] = buf.getvalue()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=WORKS_FILE)
    args = parser.parse_args()
    chosen = select(args.data)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    with open(GOLDEN / "works.tsv", "w", encoding="utf-8") as fh:
        fh.write("# DOI\twhy it was picked (written by scripts/make_golden.py)\n")
        for label, record in chosen:
            fh.write(f"{record['DOI']}\t{label}\n")
    for name, content in render([r for _, r in chosen]).items():
        (GOLDEN / name).write_text(content, encoding="utf-8")
    print(f"{len(chosen)} records -> {GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    main()
