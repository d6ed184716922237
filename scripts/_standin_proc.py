"""Run the Crossref stand-in in its own process for evaluations and benchmarks.

In-process, the server's threads would compete with the client for one GIL and the
figures would measure that contention, not refkeeper. A pipe carries the URL out
and the server's counters back.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _serve(conn, kwargs: dict) -> None:
    from refkeeper.standin import StandIn

    with StandIn(**kwargs) as server:
        conn.send(server.url)
        while True:
            cmd = conn.recv()
            if cmd == "stats":
                conn.send(dict(server.stats))
            elif cmd == "reset":
                server.reset_stats()
                conn.send(True)
            else:
                break


@contextmanager
def standin_process(**kwargs) -> Iterator[tuple[str, Callable[[], dict]]]:
    """Yield (base URL, a function returning the server's stats) while the server runs."""
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(child, kwargs), daemon=True)
    proc.start()
    if not parent.poll(300):
        proc.kill()
        raise RuntimeError("the stand-in did not start")
    url = parent.recv()

    def stats() -> dict:
        parent.send("stats")
        return parent.recv()

    try:
        yield url, stats
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.kill()
