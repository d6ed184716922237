#!/usr/bin/env python3
"""The README's picture of the desk, taken from a real run: docs/desk-queue.png.

Builds the seed scenario in a temporary directory through the library, the way
./scripts/demo does with the CLI (the shipped sample of real Crossref records, the
article and its claims, the trial linked as support, the reader's comment pasted whole
and resolved offline), serves the desk on 127.0.0.1 and photographs the request queue in
headless Chromium (Debian's, through Playwright; no browser download).

    python scripts/screenshot.py [--out docs/desk-queue.png] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "desk-queue.png"))
    ap.add_argument("--chromium", default=os.environ.get("REFKEEPER_CHROMIUM") or "/usr/bin/chromium")
    args = ap.parse_args()

    import uvicorn
    from playwright.sync_api import sync_playwright

    from refkeeper.web import create_app

    with tempfile.TemporaryDirectory(prefix="refkeeper-screenshot-") as tmp:
        db = os.path.join(tmp, "refs.db")
        seed(db)
        port = free_port()
        app = create_app(db_path=db, offline=True, default_editor="editor")
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium,
                                            args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1120, "height": 330}, device_scale_factor=2)
                page.goto(f"http://127.0.0.1:{port}/signin")
                page.get_by_label("Your name, as history should record it").fill("Anna")
                page.get_by_role("button", name="Continue").click()
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_load_state("networkidle")
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.out, full_page=True)
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
