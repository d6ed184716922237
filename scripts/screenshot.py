#!/usr/bin/env python3
"""The README's picture of the desk, taken from a real run: docs/desk-queue.png.

Builds the seed scenario in a temporary directory through the library, the way
./scripts/demo does with the CLI (the shipped sample of real Crossref records, the
article and its claims, the trial linked as support, the reader's comment pasted whole
and resolved offline), serves the desk on 127.0.0.1 and photographs the request queue in
headless Chromium (Debian's, through Playwright; no browser download), with the server
thread and launch settings the browser tests use (``tests/support/deskbrowser.py``).

    python scripts/screenshot.py [--out docs/desk-queue.png] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The desk-in-a-browser harness is test support, as the stand-in is: not installed with refkeeper.
sys.path.insert(0, str(ROOT / "tests" / "support"))
SAMPLE = ROOT / "src" / "refkeeper" / "data" / "sample-works.jsonl.gz"
VISSER = "10.1007/s00586-013-2833-2"
CLAIMS = [  # as ./scripts/demo adds them
    ("paragraph 1", "In a small randomised trial, manual therapy relieved SIJ-related leg pain in 72% of "
                    "patients (13/18), physiotherapy in 20% (3/15); p = 0.003."),
    ("paragraph 1", "Intra-articular corticosteroid injection helped half of the patients who received it "
                    "(9/18)."),
    ("paragraph 2", "Intra-articular injection is another option to consider: the position promoted as "
                    "injection being the 'gold standard'."),
]


def seed(db: str) -> None:
    from refkeeper import IndexSource, Resolver, Store, workflow

    store = Store(db)
    store.import_snapshot(SAMPLE)
    art = workflow.add_article(store, "Treatment of the sacroiliac joint in patients with leg pain",
                               slug="sij-leg-pain", url="https://example.org/blog/sij-leg-pain",
                               text=(ROOT / "examples" / "sij-article.txt").read_text(), actor="editor")
    for where, text in CLAIMS:
        claim = workflow.add_claim(store, art.id, text, location=where, actor="editor")
        workflow.link(store, claim.id, VISSER, "supports", note="the trial the article summarises",
                      actor="editor")
    workflow.add_request_from_comment(store, art.id, "Jerry Hesch",
                                      (ROOT / "examples" / "reader-comment.txt").read_text(),
                                      Resolver(source=IndexSource(store), store=store), claim=3,
                                      stance="contests", actor="editor")
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "desk-queue.png"))
    ap.add_argument("--chromium", default=os.environ.get("REFKEEPER_CHROMIUM") or "/usr/bin/chromium")
    args = ap.parse_args()

    from deskbrowser import DeskServer, launch
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="refkeeper-screenshot-") as tmp:
        db = os.path.join(tmp, "refs.db")
        seed(db)
        with DeskServer(db, offline=True, default_editor="editor") as desk, sync_playwright() as p:
            browser = launch(p, args.chromium)
            page = browser.new_page(viewport={"width": 1120, "height": 330}, device_scale_factor=2)
            page.goto(desk.url + "/signin")
            page.get_by_label("Your name, as history should record it").fill("Anna")
            page.get_by_role("button", name="Continue").click()
            page.goto(desk.url + "/")
            page.wait_for_load_state("networkidle")
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
