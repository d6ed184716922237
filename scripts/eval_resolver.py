#!/usr/bin/env python3
"""Evaluate `refkeeper resolve` on the real citation strings of ../shared/data.

Runs the real command (`refkeeper resolve --json -`) as a user would, against the
Crossref stand-in started in its own process (or, with --offline, against a database
holding the dev index), and prints precision, recall and F1, overall and per kind,
the false matches with examples, and citations per second.

Definitions (the data README's): a citation whose target is in the dev index is
answered right only by its DOI; any other DOI, or any DOI for a citation whose
target is not in the index, is a false match. Ambiguous and unmatched answers are
abstentions: they cost recall, never precision.

    python scripts/eval_resolver.py              # all 10,137 strings, online
    python scripts/eval_resolver.py --offline    # same, from a local database
    python scripts/eval_resolver.py --limit 2000 --seed 1
    python scripts/eval_resolver.py --offline --limit 1500 --dump before.jsonl

--dump FILE writes each citation's answer (input, status, doi), one JSON line per
citation in evaluation order, so that a refactoring can be checked to give the same
answers with `diff before.jsonl after.jsonl`.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "scripts"))

from _standin_proc import standin_process  # noqa: E402


def load_citations(limit: int | None, seed: int) -> list[dict]:
    cits = [json.loads(line) for line in gzip.open(DATA / "citations.dev.jsonl.gz")]
    if limit and limit < len(cits):
        cits = random.Random(seed).sample(cits, limit)
    return cits


def run_resolve(cits: list[dict], env: dict, offline: bool, workers: int | None) -> tuple[list[dict], float]:
    cmd = [sys.executable, "-m", "refkeeper.cli", "resolve", "--json", "-"]
    if offline:
        cmd.insert(4, "--offline")
    if workers:
        cmd[4:4] = ["--workers", str(workers)]
    # One citation per line: real strings never contain newlines, but be sure.
    stdin = "".join(" ".join(c["text"].split()) + "\n" for c in cits).encode()
    t = time.perf_counter()
    proc = subprocess.run(cmd, input=stdin, capture_output=True, env=env)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        sys.exit(f"refkeeper resolve failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    answers = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    if len(answers) != len(cits):
        sys.exit(f"{len(cits)} citations in, {len(answers)} answers out")
    return answers, elapsed


def evidence_of(db: str) -> dict[str, dict]:
    """The stored evidence for each matched citation, by input text."""
    conn = sqlite3.connect(db)
    out = {}
    for text, cands in conn.execute("SELECT text, candidates FROM citations WHERE status='matched'"):
        c = json.loads(cands or "[]")
        if c:
            out[text] = c[0]
    return out


def prf(tp: int, fp: int, positives: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / positives if positives else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--offline", action="store_true", help="resolve from a local database of the dev index")
    ap.add_argument("--limit", type=int, help="evaluate a random sample of this many strings")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, help="passed to refkeeper resolve --workers")
    ap.add_argument("--rate-limit", type=int, help="stand-in rate limit (requests/s); default none")
    ap.add_argument("--show", type=int, default=10, help="false matches to print")
    ap.add_argument("--dump", metavar="FILE", help="write input/status/doi per citation, one JSON line each")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"no data at {DATA}")

    cits = load_citations(args.limit, args.seed)
    tmp = tempfile.mkdtemp(prefix="rk-eval-")
    db = os.path.join(tmp, "eval.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFKEEPER_")}
    env["REFKEEPER_DB"] = db
    env["REFKEEPER_MAILTO"] = "eval@example.org"

    if args.offline:
        for name in ("crossref-works.jsonl.gz", "pmc-records.dev.jsonl.gz"):
            subprocess.run([sys.executable, "-m", "refkeeper.cli", "snapshot", "import",
                            str(DATA / name)], env=env, check=True, capture_output=True)
        answers, elapsed = run_resolve(cits, env, True, args.workers)
        mode = "offline (local FTS5 index of the dev index)"
    else:
        with standin_process(DATA, rate_limit=args.rate_limit) as (url, stats):
            env["REFKEEPER_CROSSREF_URL"] = url
            # The stand-in answers for the other registries too (DOI system, NCBI, arXiv).
            env.update({"REFKEEPER_DOI_URL": url + "/doi", "REFKEEPER_NCBI_URL": url + "/ncbi",
                        "REFKEEPER_NCBI_IDCONV_URL": url + "/idconv",
                        "REFKEEPER_ARXIV_URL": url + "/arxiv", "REFKEEPER_DATACITE_URL": url + "/datacite"})
            answers, elapsed = run_resolve(cits, env, False, args.workers)
            server = stats()
        mode = f"online (stand-in at {url}, rate limit {args.rate_limit or 'none'})"

    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as fh:
            for a in answers:
                fh.write(json.dumps({"input": a["input"], "status": a["status"], "doi": a["doi"]},
                                    ensure_ascii=False) + "\n")

    evidence = evidence_of(db)
    per_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    false_matches = []
    for c, a in zip(cits, answers, strict=True):
        k = per_kind[c["kind"]]
        truth = c["doi"].lower() if c["in_index"] and c["doi"] else None
        k["n"] += 1
        k["positives"] += truth is not None
        k[a["status"]] += 1
        if a["status"] == "matched":
            if a["doi"] == truth:
                k["tp"] += 1
            else:
                k["fp"] += 1
                false_matches.append((c, a))
    total = collections.Counter()
    for k in per_kind.values():
        total.update(k)

    print(f"refkeeper resolve evaluation — {len(cits)} citations, {mode}")
    print(f"{'kind':<46}{'n':>6}{'in idx':>8}{'TP':>6}{'FP':>5}{'amb':>6}{'err':>5}"
          f"{'P':>8}{'R':>8}{'F1':>8}")
    for name, k in sorted(per_kind.items()) + [("ALL", total)]:
        p, r, f = prf(k["tp"], k["fp"], k["positives"])
        print(f"{name:<46}{k['n']:>6}{k['positives']:>8}{k['tp']:>6}{k['fp']:>5}"
              f"{k['ambiguous']:>6}{k['error']:>5}{p:>8.4f}{r:>8.4f}{f:>8.4f}")
    out_of_index = sum(1 for c, a in zip(cits, answers, strict=True)
                       if not c["in_index"] and a["status"] == "matched")
    print(f"\nnot-in-index citations given a DOI (should be 0): {out_of_index}")
    print(f"throughput: {len(cits) / elapsed:.1f} citations/s ({elapsed:.1f} s wall)")
    if not args.offline:
        print(f"stand-in: {server['requests']} requests "
              f"({server['requests'] / len(cits):.2f} per citation), "
              f"refused for rate {server['refused_rate']}, for concurrency {server['refused_concurrency']}")

    # Calibration: how often the top candidate is right, by its score, over every
    # answer that offered one (matched and ambiguous alike).
    bins = [(0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 0.99), (0.99, 1.01)]
    table = {b: [0, 0] for b in bins}
    for c, a in zip(cits, answers, strict=True):
        if not a["candidates"]:
            continue
        top = a["candidates"][0]
        truth = c["doi"].lower() if c["in_index"] and c["doi"] else None
        for b in bins:
            if b[0] <= top["score"] < b[1]:
                table[b][0] += 1
                table[b][1] += top["doi"] == truth
    print("\ncalibration of the top candidate's score (all answers with candidates):")
    for (lo, hi), (n, right) in table.items():
        if n:
            print(f"  score {lo:.2f}-{min(hi, 1):.2f}: {n:>6} answers, top candidate right {right / n:.3f}")

    all_agree = 0
    print(f"\nfalse matches: {len(false_matches)}")
    for c, _answer in false_matches:
        ev = evidence.get(" ".join(c["text"].split()), {})
        full = {"title", "author", "volume", "page"} <= set(ev.get("agree", [])) and not ev.get("disagree")
        all_agree += full
    print(f"  of which the matched record agrees on title, author, volume and page with nothing "
          f"against it: {all_agree} (candidates for wrong benchmark labels; still counted as false)")
    for c, a in false_matches[: args.show]:
        ev = evidence.get(" ".join(c["text"].split()), {})
        print(f"- [{c['kind']}] {c['text'][:160]}")
        print(f"    expected {c['doi'] if c['in_index'] else 'no match'}; got {a['doi']} "
              f"({(a['candidates'][0]['title'] or '')[:70]})")
        print(f"    agree {ev.get('agree')} disagree {ev.get('disagree')}")


if __name__ == "__main__":
    main()
