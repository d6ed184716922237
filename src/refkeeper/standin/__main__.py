"""``python -m refkeeper.standin``: serve the Crossref stand-in until Ctrl-C.

    python -m refkeeper.standin --port 8080 --rate-limit 50 --concurrency 3 --latency 0.05

prints the number of records indexed (stderr), then the base URL (stdout).
"""

from __future__ import annotations

import argparse
import sys
import time

from . import StandIn
from .server import CROSSREF_REQUEST_LINE


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m refkeeper.standin",
        description="Serve a local stand-in for the Crossref REST API until Ctrl-C.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("--rate-limit", type=int, help="requests per second (default: no limit)")
    p.add_argument("--rate-limit-single", type=int, metavar="N",
                   help="own limit for /works/{doi} (with --rate-limit-list; overrides --rate-limit)")
    p.add_argument("--rate-limit-list", type=int, metavar="N",
                   help="own limit for /works queries")
    p.add_argument("--concurrency", type=int, help="requests in flight (default: no limit)")
    p.add_argument("--retry-after", type=float, help="send Retry-After with limit 429s")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added per response")
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of random 5xx")
    p.add_argument("--max-request-line", type=int, metavar="BYTES",
                   help=f"answer 414 past it (Crossref: {CROSSREF_REQUEST_LINE}; default: no limit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--records", action="append", metavar="PATH",
                   help="JSONL(.gz) of Crossref works; repeatable (default: the dev index)")
    args = p.parse_args(argv)
    rate_limit: int | dict[str, int] | None = args.rate_limit
    if args.rate_limit_single is not None or args.rate_limit_list is not None:
        rate_limit = {
            k: v for k, v in (("works_doi", args.rate_limit_single),
                              ("works_query", args.rate_limit_list)) if v is not None
        }
    server = StandIn(
        args.records, host=args.host, port=args.port, rate_limit=rate_limit,
        concurrency=args.concurrency, retry_after=args.retry_after, latency=args.latency,
        fault_rate=args.fault_rate, seed=args.seed, max_request_line=args.max_request_line,
    )
    with server:
        info = server.build_info
        print(
            f"{info['records']} records indexed in {info['seconds']} s", file=sys.stderr
        )
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
