#!/usr/bin/env python3
"""Measure how readers' pasted reference lists are split (issue 12, "pasted lists").

Builds reader comments from the real reference strings of
``../shared/data/citations.dev.jsonl.gz``: 2-8 references each, in every everyday list
style (numbered ``1.`` / ``1)``, bracketed ``[1]``, bulleted ``-`` ``•`` ``*``, plain one
per line, blank-line separated), some hard-wrapped by a "mail client" at 60-78 columns
(one reference over several lines, markers with or without a hanging indent), with or
without a header line, always with the reader's prose before and a signature after (as
issue 12's held-out comments are; a blank line around the list most of the time, not
always). Then it splits each comment with ``refkeeper.workflow.split_text`` and prints:

* exact: the share of comments split into exactly the right references, in order
  (compared without whitespace: joining a wrapped ``cell-`` / ``penetrating`` is no
  splitting error);
* per-reference precision and recall of the split (a found reference is right when it
  is one of the comment's references, whole and alone);
* prose lines (prose, header, signature) taken as a reference on their own, and prose
  glued onto a reference (target 0 for both);

overall, per list style, per wrapping and per kind of reference string. The strings are
split into two halves by a hash of their text (``--dev``/``--holdout``): tune on the dev
half, report both. Everything is seeded and reproducible.

With ``--resolve``, each comment's references are also resolved offline (a database of
the dev index built once with ``refkeeper snapshot import``, kept in ``--db-dir``) as
split and one by one, and it reports whether the split loses or changes DOIs and
whether any prose chunk was given a DOI.

    python scripts/eval_reflist.py                   # 2,000 comments from each half
    python scripts/eval_reflist.py --holdout --n 5000 --seed 7
    python scripts/eval_reflist.py --dev --show 20   # print failures
    python scripts/eval_reflist.py --n 300 --resolve
"""

from __future__ import annotations

import argparse
import collections
import gzip
import hashlib
import json
import random
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))

from refkeeper.workflow import split_text  # noqa: E402

STYLES = {
    "numbered 1.": lambda i: f"{i}. ",
    "numbered 1)": lambda i: f"{i}) ",
    "bracketed [1]": lambda i: f"[{i}] ",
    "bullet -": lambda i: "- ",
    "bullet •": lambda i: "• ",
    "bullet *": lambda i: "* ",
    "plain lines": lambda i: "",
    "blank-line separated": lambda i: "",
}

HEADERS = [
    "References:", "Sources:", "See:", "References", "REFERENCES", "Refs:", "Sources below:",
    "Here are the references:", "Further reading:", "Literature:", "The studies:", "Bibliography",
    "See also:", "Citations:", "Papers:", "Evidence:",
]

# Readers' prose: several registers, many with numbers, years, capitalised names and the
# odd parenthesis, the things a splitter can mistake for a reference.
PROSE = [
    "Please post the reference.",
    "Great article, thank you for writing it.",
    "I have been treating low back pain for 23 years and I am not convinced by the claim in paragraph 4.",
    "Dr. Visser's 2013 trial had only 51 patients, so I would not put too much weight on it.",
    "You might want to look at the work by Smith and colleagues (2015), which found the opposite in 120 "
    "patients.",
    "Regarding claim 3: the Cochrane review from 2019 says otherwise, and so do the papers below.",
    "As a GP in Leeds I see this every week.",
    "Hi Anna, the sentence about the 'gold standard' needs a source.",
    "Here are the papers I mentioned in my e-mail of 12 March 2021.",
    "Borowsky et al. (2008) showed that peri-articular injections worked in 31 of 40 patients.",
    "Interesting read! However, the figure of 72% in Table 2 does not match the original paper.",
    "The effect size reported (d = 0.8, p < 0.001) looks too good to be true.",
    "In the UK, NICE guideline NG59 (2016) no longer recommends this.",
    "I'm a physiotherapist (MSc, Oxford) and I teach this to students.",
    "Sorry for the long comment.",
    "These are the studies my colleague Prof. Müller and I discussed at the ESC Congress in Barcelona "
    "last year.",
    "My mother was treated at St. Mary's Hospital in 2018 and it did not help at all.",
    "There is a lot of marketing going on for this procedure, and one clinic charges $4,500 for it.",
    "Several randomised trials (n = 300, 2 arms, follow-up 12 months) came to a different conclusion.",
    "Check out the following.",
    "The meta-analysis by Chen and Wang pooled 14 RCTs with 2,345 participants.",
    "According to WHO figures for 2020, 1 in 4 adults is affected.",
    "Could you add these to the article?",
    "The original study by Jones, Brown and Taylor is often misquoted.",
    "I found these on PubMed last night.",
    "FWIW, Section 2.3 of the article cites a retracted paper.",
    "Vol. 2 of the guideline (published by Springer in 2012) is also relevant.",
    "Your claim that 'nothing works' is contradicted by at least three RCTs.",
    "Ich habe diese Studien gelesen, sie zeigen etwas anderes.",
    "Page 17 of the report says so explicitly.",
]

CLOSINGS = ["Hope this helps.", "Thanks for listening.", "Keep up the good work!",
            "Let me know what you think.", "All the best with the blog."]

SIGNATURES = [
    "Thanks,\nJerry", "— J. Hesch, DC", "Thank you.\nJerry Hesch", "Best regards,\nMaria Lopez, PT, DPT",
    "Cheers\nTom", "Dr. A. K. Singh\nDepartment of Orthopaedics, University of Leeds",
    "Kind regards, Prof. Hans Müller (Zürich)", "J.H.", "--\nPeter van der Berg\nwww.example.org",
    "Regards,\nSam O'Neill\nBoston, MA 02115", "Sent from my iPhone", "Best,\nDr. Li Wei, MD, PhD",
    "Yours sincerely,\nE. M. Carter", "Greetings from Berlin,\nKlaus", "- Anne",
    "Many thanks\nR. Patel (retired GP)",
    "Thanks again,\nJohn Smith\nTel. +44 113 343 1234",
]


def bucket(text: str) -> str:
    """The half a string belongs to: by a hash of its text, stable across runs."""
    return "dev" if hashlib.sha1(text.encode()).digest()[0] % 2 == 0 else "holdout"


def load_strings(half: str) -> list[dict]:
    rows = [json.loads(line) for line in gzip.open(DATA / "citations.dev.jsonl.gz", "rt", encoding="utf-8")]
    # Real references only: a few "strings" of the set are fragments ("2001", "E g 6-15")
    # no reader would paste as a reference.
    rows = [r for r in rows if len(r["text"]) >= 30 and len(r["text"].split()) >= 4]
    for r in rows:
        r["text"] = " ".join(r["text"].split())
    return [r for r in rows if bucket(r["text"]) == half]


@dataclass
class Comment:
    text: str
    refs: list[str]
    style: str
    wrapped: bool
    kinds: list[str]
    prose_lines: list[str] = field(default_factory=list)


def wrap(text: str, width: int, indent: str, rng: random.Random) -> list[str]:
    # Mail clients break at spaces; some also after hyphens.
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=rng.random() < 0.5,
                         subsequent_indent=indent) or [""]


def make_comment(rng: random.Random, pool: list[dict]) -> Comment:
    style = rng.choice(sorted(STYLES))
    wrapped = rng.random() < 0.45
    width = rng.randint(60, 78)
    k = rng.randint(2, 8)
    picked = rng.sample(pool, k)
    refs = [r["text"] for r in picked]
    lines: list[str] = []
    prose_lines: list[str] = []

    def add_prose(par: str) -> None:
        out = wrap(par, width, "", rng) if wrapped else [par]
        lines.extend(out)
        prose_lines.extend(out)

    # As issue 12's held-out comments are: always the reader's prose before and a signature
    # after; most readers leave a blank line around the list, some do not.
    for p in range(rng.choice([1, 1, 2])):
        if p:
            lines.append("")
        add_prose(" ".join(rng.sample(PROSE, rng.randint(1, 3))))
    if rng.random() < 0.8:
        lines.append("")
    if rng.random() < 0.5:
        h = rng.choice(HEADERS)
        lines.append(h)
        prose_lines.append(h)
    hang = rng.random() < 0.5
    for i, ref in enumerate(refs, 1):
        marker = STYLES[style](i)
        item = marker + ref
        if wrapped:
            lines.extend(wrap(item, width, " " * len(marker) if hang and marker else "", rng))
        else:
            lines.append(item)
        if style == "blank-line separated":
            lines.append("")
    if rng.random() < 0.85:
        lines.append("")
    if rng.random() < 0.3:
        add_prose(rng.choice(CLOSINGS))
    for s in rng.choice(SIGNATURES).split("\n"):
        lines.append(s)
        prose_lines.append(s)
    return Comment("\n".join(lines).strip("\n") + "\n", refs, style, wrapped, [r["kind"] for r in picked],
                   prose_lines)


def key(s: str) -> str:
    # Whitespace does not count (a wrapped "cell-" / "penetrating" comes back joined), nor
    # does a list number some real strings carry ("3) Eckek RH ..."): the splitter takes
    # it for the list's own marker, which is no splitting error.
    return re.sub(r"\s+", "", re.sub(r"^\s*(?:\[\d{1,3}\]|\(\d{1,3}\)|\d{1,3}[.)])\s+", "", s))


@dataclass
class Score:
    comments: int = 0
    exact: int = 0
    truth: int = 0
    found: int = 0
    right: int = 0
    prose_alone: int = 0
    prose_glued: int = 0

    def add(self, other: Score) -> None:
        for f in self.__dataclass_fields__:
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def row(self, name: str) -> str:
        p = self.right / self.found if self.found else 1.0
        r = self.right / self.truth if self.truth else 1.0
        return (f"{name:<28}{self.comments:>7}{self.exact / max(1, self.comments):>9.2%}"
                f"{p:>9.4f}{r:>9.4f}{self.prose_alone:>8}{self.prose_glued:>8}")


def score(c: Comment, found: list[str]) -> Score:
    s = Score(comments=1, truth=len(c.refs), found=len(found))
    truth = [key(r) for r in c.refs]
    got = [key(f) for f in found]
    s.exact = int(got == truth)
    left = collections.Counter(truth)
    for g in got:
        if left[g] > 0:
            left[g] -= 1
            s.right += 1
    # Prose taken for a reference: a prose line found alone, or inside a found reference
    # (lines that happen to occur inside one of the comment's references do not count).
    prose = [key(p) for p in c.prose_lines if key(p) and not any(key(p) in t for t in truth)]
    for g in got:
        if g in truth:
            continue
        hits = [p for p in prose if p in g]
        if hits and not any(t in g for t in truth) and sum(map(len, hits)) >= len(g) * 0.5:
            s.prose_alone += 1
        elif hits:
            s.prose_glued += 1
    return s


def report(title: str, scores: list[tuple[Comment, Score]]) -> Score:
    print(f"\n{title}")
    print(f"{'':<28}{'n':>7}{'exact':>9}{'P':>9}{'R':>9}{'prose':>8}{'glued':>8}")
    groups: dict[str, Score] = collections.defaultdict(Score)
    total = Score()
    for c, s in scores:
        total.add(s)
        groups[c.style].add(s)
        groups["wrapped" if c.wrapped else "not wrapped"].add(s)
    for name in sorted(STYLES) + ["not wrapped", "wrapped"]:
        print(groups[name].row(name))
    print(total.row("ALL"))
    # Per kind of string: a comment counts for each kind it holds.
    kinds: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for c, s in scores:
        for kd in set(c.kinds):
            kinds[kd][0] += 1
            kinds[kd][1] += s.exact
    print("  exact, by kind of reference string in the comment:")
    for kd, (n, ok) in sorted(kinds.items()):
        print(f"    {kd:<50}{n:>6}{ok / n:>9.2%}")
    return total


def resolve_check(comments: list[Comment], found_all: list[list[str]], prose_all: list[list[str]],
                  db_dir: Path) -> None:
    from refkeeper import IndexSource, Resolver, Store

    db_dir.mkdir(parents=True, exist_ok=True)
    path = db_dir / "dev-index.db"
    if not path.exists():
        print(f"building {path} from the dev index (once)...", file=sys.stderr)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        st = Store(tmp)
        st.import_snapshot(DATA / "crossref-works.jsonl.gz")
        st.import_snapshot(DATA / "pmc-records.dev.jsonl.gz")
        st.close()
        tmp.rename(path)
    store = Store(path)
    resolver = Resolver(source=IndexSource(store), store=store)

    def dois(texts: list[str]) -> list[str | None]:
        return [r.doi if r.status == "matched" else None for r in resolver.resolve_many(texts)]

    alone_n = split_n = lost = changed = prose_doi = 0
    for c, found, prose in zip(comments, found_all, prose_all, strict=True):
        alone = collections.Counter(d for d in dois(c.refs) if d)
        split = collections.Counter(d for d in dois(found) if d)
        alone_n += sum(alone.values())
        split_n += sum(split.values())
        lost += sum((alone - split).values())
        changed += sum((split - alone).values())
        prose_doi += sum(1 for d in dois(prose) if d)
    store.close()
    print("\nresolving (offline, dev index): DOIs matched")
    print(f"  strings one by one: {alone_n}; as split: {split_n}; lost by the split: {lost}; "
          f"DOIs the split gives that the strings alone do not: {changed}; "
          f"prose chunks given a DOI: {prose_doi}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    half = ap.add_mutually_exclusive_group()
    half.add_argument("--dev", action="store_const", const="dev", dest="half", help="only the dev half")
    half.add_argument("--holdout", action="store_const", const="holdout", dest="half",
                      help="only the holdout half")
    ap.add_argument("--n", type=int, default=2000, help="comments per half (default 2000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", type=int, default=0, help="print this many wrongly split comments")
    ap.add_argument("--resolve", action="store_true", help="also resolve offline, split vs one by one")
    ap.add_argument("--db-dir", type=Path, default=Path("/tmp/refkeeper-eval-reflist"),
                    help="where --resolve keeps its database of the dev index")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"no data at {DATA}")
    for h in [args.half] if args.half else ["dev", "holdout"]:
        pool = load_strings(h)
        rng = random.Random(f"{args.seed}/{h}")
        comments = [make_comment(rng, pool) for _ in range(args.n)]
        scores, found_all, prose_all = [], [], []
        shown = 0
        for c in comments:
            chunks = split_text(c.text)
            found = [ch.text for ch in chunks if ch.is_reference]
            found_all.append(found)
            prose_all.append([ch.text for ch in chunks if not ch.is_reference])
            s = score(c, found)
            scores.append((c, s))
            if not s.exact and shown < args.show:
                shown += 1
                print(f"\n--- {c.style}{', wrapped' if c.wrapped else ''}: {len(c.refs)} references, "
                      f"{len(found)} found\n{c.text}")
                truth = {key(r) for r in c.refs}
                prose = key("".join(c.prose_lines))
                for ch in chunks:
                    k = key(ch.text)
                    if k in truth:
                        mark = "ok   " if ch.is_reference else "LOST "
                    elif ch.is_reference:
                        mark = "WRONG"
                    else:
                        mark = "prose" if k in prose else "LOST "
                    print(f"  [{mark}] {ch.text[:200]}")
        report(f"{h} half: {len(pool)} strings, {args.n} comments, seed {args.seed}", scores)
        if args.resolve:
            resolve_check(comments, found_all, prose_all, args.db_dir)


if __name__ == "__main__":
    main()
