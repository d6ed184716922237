"""The Crossref stand-in for scripts: where it and the shared data live, and running it
in its own process.

The stand-in is test support (``tests/support/standin``), not part of the installed
package: importing this module puts ``tests/support`` on ``sys.path`` so scripts can
``import standin``. ``DEFAULT_DATA`` is where scripts look for the shared data unless
told otherwise (``--data``): beside the checkout, as in CI.

In-process, the server's threads would compete with the client for one GIL and the
figures would measure that contention, not refkeeper. A pipe carries the URL out
and the server's counters back.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUPPORT = ROOT / "tests" / "support"
DEFAULT_DATA = ROOT.parent / "shared" / "data"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))


def dev_records(data: Path) -> list[Path]:
    """The dev index files in ``data``; exits 2 with a message naming what is missing."""
    from standin import dev_index

    try:
        return dev_index(data)
    except FileNotFoundError as e:
        print(f"{e}\n(the shared data is expected beside the checkout; pass --data DIR)", file=sys.stderr)
        sys.exit(2)


def _serve(conn, records: list, kwargs: dict) -> None:
    if str(SUPPORT) not in sys.path:
        sys.path.insert(0, str(SUPPORT))
    from standin import StandIn

    with StandIn(records, **kwargs) as server:
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
def standin_process(data: Path = DEFAULT_DATA, records: list | None = None,
                    **kwargs) -> Iterator[tuple[str, Callable[[], dict]]]:
    """Yield (base URL, a function returning the server's stats) while the server runs.

    It serves ``records`` if given, else the dev index in ``data``.
    """
    if records is None:
        records = dev_records(Path(data))
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(child, records, kwargs), daemon=True)
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
