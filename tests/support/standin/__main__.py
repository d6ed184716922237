"""``python -m standin``: serve the Crossref stand-in until Ctrl-C.

From the repository root (the stand-in is not installed with refkeeper)::

    PYTHONPATH=tests/support python -m standin --data ../shared/data --port 8080 --rate-limit 50

prints the number of records indexed (stderr), then the base URL (stdout).
"""

from __future__ import annotations

import argparse
import sys
import time

from . import StandIn
from .db import DEV_INDEX_FILES, dev_index
from .server import CROSSREF_REQUEST_LINE, FAULT_KINDS


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m standin",
        description="Serve a local stand-in for the Crossref REST API until Ctrl-C.",
    )
    p.add_argument("--data", metavar="DIR",
                   help=f"serve the dev index in DIR ({', '.join(DEV_INDEX_FILES)}), "
                        "e.g. ../shared/data")
    p.add_argument("--records", action="append", metavar="PATH",
                   help="JSONL(.gz) of Crossref works; repeatable, served after --data's")
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
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of random faults")
    p.add_argument("--fault-kinds", default="status", metavar="K[,K...]",
                   help=f"what random faults may be: {', '.join(FAULT_KINDS)} (default: status, a 5xx)")
    p.add_argument("--hang-seconds", type=float, default=30.0, help="how long a random hang lasts")
    p.add_argument("--max-request-line", type=int, metavar="BYTES",
                   help=f"answer 414 past it (Crossref: {CROSSREF_REQUEST_LINE}; default: no limit)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if not args.data and not args.records:
        p.error("give the records to serve: --data DIR (the dev index, e.g. ../shared/data) "
                "or --records PATH")
    try:
        records = [*(dev_index(args.data) if args.data else []), *(args.records or [])]
    except FileNotFoundError as e:
        p.error(str(e))
    rate_limit: int | dict[str, int] | None = args.rate_limit
    if args.rate_limit_single is not None or args.rate_limit_list is not None:
        rate_limit = {
            k: v for k, v in (("works_doi", args.rate_limit_single),
                              ("works_query", args.rate_limit_list)) if v is not None
        }
    try:
        server = StandIn(
            records, host=args.host, port=args.port, rate_limit=rate_limit,
            concurrency=args.concurrency, retry_after=args.retry_after, latency=args.latency,
            fault_rate=args.fault_rate, fault_kinds=args.fault_kinds.split(","),
            hang_seconds=args.hang_seconds, seed=args.seed, max_request_line=args.max_request_line,
        )
        server.start()
    except (ValueError, FileNotFoundError) as e:
        p.error(str(e))
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
