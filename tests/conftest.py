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
