"""Shared fixtures: a clean environment, the shared data, and the Crossref stand-in."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The one place the tests know where the shared data lives: beside the checkout, as in CI.
SHARED_DATA = ROOT.parent / "shared" / "data"
# The Crossref stand-in is test support, not part of refkeeper: importable as `standin`.
SUPPORT = ROOT / "tests" / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

# Fixtures shared by the desk's test-client tests (`db`, `client`); a module defining its own
# `db` (test_cli.py) overrides it.
pytest_plugins = ["deskclient"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """Tests never see a developer's own REFKEEPER_* settings."""
    for name in list(os.environ):
        if name.startswith("REFKEEPER_"):
            monkeypatch.delenv(name, raising=False)


# --- the Crossref stand-in -------------------------------------------------------------


@pytest.fixture(scope="session")
def dev_index_files() -> list[Path]:
    """The dev index files (crossref-works + pmc-records) in the shared data."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (CI has it beside the checkout)")
    from standin import dev_index

    return dev_index(SHARED_DATA)


@pytest.fixture(scope="session")
def standin(dev_index_files):
    """One Crossref stand-in over the dev index for the whole session (the index is
    built once per process; later StandIn instances over the same files reuse it)."""
    from standin import StandIn

    with StandIn(dev_index_files) as server:
        yield server


@pytest.fixture
def standin_clean(standin):
    """The session stand-in, handed back well-behaved: no queued faults, no latency,
    zeroed counters, whatever the test did to it."""
    standin.reset()
    yield standin
    standin.reset()


SAMPLE = ROOT / "src" / "refkeeper" / "data" / "sample-works.jsonl.gz"


@pytest.fixture(scope="module")
def sample_standin():
    """A stand-in serving the shipped sample (the seed scenario's works are in it, unlike
    the dev index), one per test module: a module may ``revise`` its records."""
    from standin import StandIn

    with StandIn(SAMPLE) as server:
        yield server


READER_REFERENCES = (ROOT / "examples" / "reader-references.txt").read_text().splitlines()


@pytest.fixture
def sample_store(tmp_path):
    """A fresh database holding the shipped offline sample (seed works included)."""
    from refkeeper._store import Store

    store = Store(tmp_path / "refs.db")
    store.import_snapshot(SAMPLE)
    yield store
    store.close()


@pytest.fixture(scope="session")
def dev_index_db(tmp_path_factory):
    """A database file holding the whole dev index (crossref-works + pmc-records)."""
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not present")
    from refkeeper._store import Store

    path = tmp_path_factory.mktemp("devindex") / "dev.db"
    store = Store(path)
    store.import_snapshot(SHARED_DATA / "crossref-works.jsonl.gz")
    store.import_snapshot(SHARED_DATA / "pmc-records.dev.jsonl.gz")
    store.close()
    return path


@pytest.fixture(scope="session")
def every_type() -> list[dict]:
    """Real Crossref records, the first in file order: up to ten of every Crossref type in
    the shared data, and twenty each with markup in the title, an organisation as author
    and an accented author name (a record picked for several reasons is there once)."""
    import gzip
    import json

    works = SHARED_DATA / "crossref-works.jsonl.gz"
    if not works.exists():
        pytest.skip(f"shared data not found: {works}")
    picks = {
        "markup": lambda r: "<" in "".join(r.get("title") or []),
        "organisation": lambda r: any(p.get("name") and not p.get("family")
                                      for p in r.get("author") or []),
        "accents": lambda r: any(not (p.get("family") or "").isascii() for p in r.get("author") or []),
    }
    out, count = [], {}
    with gzip.open(works, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            reasons = [record.get("type")] + [k for k, test in picks.items() if test(record)]
            wanted = [k for k in reasons if count.get(k, 0) < (10 if k == record.get("type") else 20)]
            if wanted:
                for k in wanted:
                    count[k] = count.get(k, 0) + 1
                out.append(record)
    return out


def migrations_before(prefix: str):
    """The schema of the refkeeper before the one whose migration starts with ``prefix``
    ("m014"): its migrations, to write a database an upgrade test then opens."""
    import sqlite_utils

    from refkeeper._store import migrations

    old = sqlite_utils.Migrations("refkeeper")
    for m in migrations.pending(sqlite_utils.Database(memory=True)):
        if m.name.startswith(prefix):
            break
        old(name=m.name)(m.fn)
    return old
