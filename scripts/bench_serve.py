#!/usr/bin/env python3
"""The desk under load: server time of its busiest pages, and 20 editors clicking at once.

Builds a database the size of a busy desk through the library: 20,000 real works (from
../shared/data/crossref-works.jsonl.gz, bulk-loaded like `refkeeper snapshot import`),
100 articles with 5,000 claims (two live links each, to random works: one supporting, one
contesting or mentioning), 2,000 readers' requests with three real citation strings each
(from citations.dev.jsonl.gz, pasted and resolved offline against the 20,000 works, so
the references are matched, ambiguous and unmatched as they come), a quarter of them
answered. Nothing synthetic: every work and reference string is real.

The desk then runs in its own process (uvicorn on 127.0.0.1, the real app with a thin
timing wrapper that adds a ``Server-Timing`` header), so that the client's threads do not
compete with it for one GIL. Measured:

1. server time (the app, from the request's first byte in to the response's last byte
   out) of the queue, a request page and a claim page: p50/p95 over a few hundred
   requests each, one at a time. Target: p95 < 100 ms.
2. 20 simulated editors at once, each clicking through queue -> request -> claim ->
   article -> work for a bounded number of rounds: errors, and p95 of the time each
   click took as the editor saw it. Target: no errors, p95 < 300 ms.

    python scripts/bench_serve.py [--per-page 300] [--editors 20] [--rounds 15] [--db PATH]

Figures, not a test: the lead records them in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"

N_WORKS, N_ARTICLES, N_CLAIMS, N_REQUESTS = 20_000, 100, 5_000, 2_000


# -- building the database (through the library) -----------------------------------------


def build(path: str, seed: int = 7) -> dict:
    from refkeeper import IndexSource, Resolver, Store, extract_dois, workflow

    rnd = random.Random(seed)
    t0 = time.perf_counter()
    store = Store(path)
    with gzip.open(DATA / "crossref-works.jsonl.gz", "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in itertools.islice(f, N_WORKS)]
    store.add_records(records, "snapshot")
    # Links and pages name works by DOI as an editor types it: only DOIs read back whole.
    dois = [d for d in (r["DOI"].lower() for r in records) if extract_dois(d) == [d]]
    t_works = time.perf_counter() - t0

    claims = []
    per_article = N_CLAIMS // N_ARTICLES
    for a in range(N_ARTICLES):
        art = workflow.add_article(store, f"Article {a + 1}: what the evidence says (benchmark)",
                                   slug=f"bench-{a + 1}", actor="bench")
        for c in range(per_article):
            claim = workflow.add_claim(store, art.id, f"Claim {c + 1} of article {a + 1}: a finding "
                                       f"that {rnd.randint(10, 90)}% of patients improved.", actor="bench")
            claims.append(claim)
            first, second = rnd.sample(dois, 2)
            workflow.link(store, claim.id, first, "supports", note="benchmark link", actor="bench")
            workflow.link(store, claim.id, second, rnd.choice(["contests", "mentions"]),
                          asserted_by=rnd.choice(["editor", "reader"]), asserted_by_name="A reader",
                          actor="bench")
    t_claims = time.perf_counter() - t0 - t_works

    with gzip.open(DATA / "citations.dev.jsonl.gz", "rt", encoding="utf-8") as f:
        citations = [json.loads(line)["text"] for line in f]
    rnd.shuffle(citations)
    resolver = Resolver(source=IndexSource(store), store=store)
    requests = []
    for i in range(N_REQUESTS):
        claim = rnd.choice(claims)
        refs = citations[3 * i:3 * i + 3]
        comment = "Where is the evidence? These say otherwise:\n\n" + "\n".join(
            f"{n}. {text}" for n, text in enumerate(refs, 1))
        pasted = workflow.add_request_from_comment(
            store, claim.article_id, f"Reader {i + 1}", comment, resolver, claim=claim.id,
            received_at=f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00", actor="bench")
        requests.append(pasted.request.id)
        if i % 4 == 3:
            given = [r.doi for r in pasted.references if r.doi] or [rnd.choice(dois)]
            workflow.answer_request(store, pasted.request.id, dois=given, actor="bench")
    t_requests = time.perf_counter() - t0 - t_works - t_claims
    counts = {k: store.db.execute(f"SELECT COUNT(*) FROM {k}").fetchone()[0]
              for k in ("works", "articles", "claims", "links", "requests", "request_references", "history")}
    store.close()
    return {"counts": counts, "seconds": {"works": t_works, "claims": t_claims, "requests": t_requests},
            "claims": [c.id for c in claims], "requests": requests, "dois": dois}


# -- the server, in its own process ---------------------------------------------------------


def serve(db: str, port: int) -> None:
    """``--serve``: the desk's app with a timing wrapper, under uvicorn on 127.0.0.1."""
    import uvicorn

    from refkeeper.web import create_app

    app = create_app(db_path=db, offline=True, secret="b" * 48, default_editor="bench")

    async def timed(scope, receive, send):
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        held = []

        async def send_timed(message):
            if message["type"] == "http.response.start":
                held.append(message)  # sent with the body, once the time is known
                return
            if message["type"] == "http.response.body" and not message.get("more_body"):
                ms = (time.perf_counter() - start) * 1000
                start_msg = held.pop() if held else None
                if start_msg is not None:
                    start_msg["headers"] = list(start_msg["headers"]) + [
                        (b"server-timing", f"app;dur={ms:.2f}".encode())]
                    await send(start_msg)
            elif held:
                await send(held.pop())
            await send(message)

        await app(scope, receive, send_timed)

    uvicorn.run(timed, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", db, str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/static/desk.css", timeout=2).read()
            return proc, url
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit("the desk did not start") from None
            time.sleep(0.2)


# -- measuring ------------------------------------------------------------------------------


class Client:
    """One editor's keep-alive connection (http.client), timing each page."""

    def __init__(self, url: str) -> None:
        import http.client

        self.host, self.port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=30)

    def get(self, path: str) -> tuple[int, float, float]:
        """(status, server ms, client ms) of one GET."""
        t = time.perf_counter()
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        resp.read()
        client_ms = (time.perf_counter() - t) * 1000
        timing = resp.getheader("server-timing") or "app;dur=nan"
        return resp.status, float(timing.split("dur=")[1]), client_ms


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def single_pages(url: str, data: dict, n: int, rnd: random.Random) -> dict:
    c = Client(url)
    out = {}
    kinds = {
        "queue (home)": lambda: "/",
        "queue, later page": lambda: f"/?page={rnd.randint(2, N_REQUESTS // 25)}",
        "queue, open, by article": lambda: f"/?status=open&article={rnd.randint(1, N_ARTICLES)}",
        "request page": lambda: f"/requests/{rnd.choice(data['requests'])}",
        "claim page": lambda: f"/claims/{rnd.choice(data['claims'])}",
        "article page": lambda: f"/articles/{rnd.randint(1, N_ARTICLES)}",
        "work page": lambda: "/works/" + quote(rnd.choice(data["dois"]), safe="/"),
    }
    for name, path in kinds.items():
        for _ in range(10):  # warm-up: the first connections, caches
            c.get(path())
        server, errors = [], 0
        for _ in range(n):
            status, ms, _ = c.get(path())
            errors += status != 200
            server.append(ms)
        out[name] = {"n": n, "errors": errors, "p50": statistics.median(server), "p95": pct(server, 95),
                     "max": max(server)}
    return out


def editors(url: str, data: dict, n_editors: int, rounds: int) -> dict:
    times: list[float] = []
    server: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def editor(k: int) -> None:
        rnd = random.Random(1000 + k)
        c = Client(url)
        for _ in range(rounds):
            path_list = ["/", f"/?page={rnd.randint(1, 20)}", f"/requests/{rnd.choice(data['requests'])}",
                         f"/claims/{rnd.choice(data['claims'])}", f"/articles/{rnd.randint(1, N_ARTICLES)}",
                         "/works/" + quote(rnd.choice(data["dois"]), safe="/")]
            for path in path_list:
                try:
                    status, ms, client_ms = c.get(path)
                except Exception as exc:  # a refused or dropped connection is an error
                    with lock:
                        errors.append(f"{path}: {type(exc).__name__}: {exc}")
                    c = Client(url)
                    continue
                with lock:
                    times.append(client_ms)
                    server.append(ms)
                    if status != 200:
                        errors.append(f"{path}: HTTP {status}")

    t = time.perf_counter()
    threads = [threading.Thread(target=editor, args=(k,)) for k in range(n_editors)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    return {"editors": n_editors, "clicks": len(times), "errors": errors, "wall": wall,
            "p50": statistics.median(times), "p95": pct(times, 95), "max": max(times),
            "server_p95": pct(server, 95), "clicks_per_s": len(times) / wall}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-page", type=int, default=300, help="requests per page kind, one at a time")
    ap.add_argument("--editors", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=15, help="click-through rounds per editor (6 pages each)")
    ap.add_argument("--db", help="keep the database here (built if missing) instead of a temp dir")
    args = ap.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"no shared data at {DATA}")

    tmp = tempfile.TemporaryDirectory(prefix="bench_serve-")
    db = args.db or os.path.join(tmp.name, "refs.db")
    meta = Path(db + ".bench.json")
    if os.path.exists(db) and meta.exists():
        data = json.loads(meta.read_text())
        print(f"database: {db} (built before)")
    else:
        print(f"building {db}: {N_WORKS:,} works, {N_CLAIMS:,} claims, {N_REQUESTS:,} requests ...",
              flush=True)
        data = build(db)
        meta.write_text(json.dumps(data))
        s = data["seconds"]
        print(f"  built in {sum(s.values()):.0f} s (works {s['works']:.0f} s, claims and links "
              f"{s['claims']:.0f} s, requests resolved offline {s['requests']:.0f} s)")
    print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in data["counts"].items()))
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")

    proc, url = start_server(db)
    try:
        print(f"\n1. server time, one request at a time ({args.per_page} per page kind; target p95 < 100 ms)")
        single = single_pages(url, data, args.per_page, random.Random(3))
        for name, r in single.items():
            print(f"  {name:<24} p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  max {r['max']:6.1f} ms"
                  f"  errors {r['errors']}")
        print(f"\n2. {args.editors} editors clicking through at once ({args.rounds} rounds of 6 pages each;"
              " target: no errors, p95 < 300 ms)")
        e = editors(url, data, args.editors, args.rounds)
        print(f"  {e['clicks']} clicks in {e['wall']:.1f} s ({e['clicks_per_s']:.0f}/s):"
              f" p50 {e['p50']:.1f} ms, p95 {e['p95']:.1f} ms, max {e['max']:.1f} ms as the editors saw it;"
              f" server p95 {e['server_p95']:.1f} ms; errors {len(e['errors'])}")
        for err in e["errors"][:10]:
            print("    " + err)
    finally:
        proc.terminate()
        proc.wait(10)
    ok = all(r["p95"] < 100 and not r["errors"] for k, r in single.items()
             if k in ("queue (home)", "request page", "claim page")) and not e["errors"] and e["p95"] < 300
    print("\ntargets " + ("met" if ok else "MISSED"))


if __name__ == "__main__":
    main()
