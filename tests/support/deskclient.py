"""The desk through Starlette's test client: a database with the seed article and its
contested claim, an app over it talking to the stand-in, and the page's CSRF token.

tests/conftest.py loads it as a plugin; test modules import ``token``.
"""

from __future__ import annotations

import re

import pytest

from refkeeper import Store, workflow
from refkeeper.web import create_app


@pytest.fixture
def db(tmp_path):
    """A database with the seed article and its contested claim."""
    path = str(tmp_path / "refs.db")
    store = Store(path)
    art = workflow.add_article(store, "Treatment of the sacroiliac joint in patients with leg pain",
                               slug="sij-leg-pain", actor="setup")
    workflow.add_claim(store, art.id, "Intra-articular injection is the 'gold standard'.", actor="setup")
    store.close()
    return path


@pytest.fixture
def client(db, sample_standin):
    """The desk over ``db``, Crossref being the stand-in; history records "anna"."""
    from starlette.testclient import TestClient

    app = create_app(db_path=db, crossref_url=sample_standin.url, secret="s" * 40, default_editor="anna")
    with TestClient(app) as c:
        yield c


def token(client) -> str:
    """The CSRF token of the desk's pages, as a form would carry it."""
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").text).group(1)
