"""Shared fixtures: a clean environment, the shared data, and the Crossref stand-in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """Tests never see a developer's own REFKEEPER_* settings."""
    for name in list(os.environ):
        if name.startswith("REFKEEPER_"):
            monkeypatch.delenv(name, raising=False)
