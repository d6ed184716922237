"""Settings: where the database is and how to reach Crossref, read once at the edge.

Only the edges (the command line, a web desk) look at the environment; they build one
``Settings`` with ``Settings.from_environ(os.environ)`` and make every service from it
(``settings.store()``, ``settings.client()``, ``settings.resolver(...)``), so the library
below them takes explicit arguments and behaves the same whoever calls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ._crossref import DEFAULT_URL, CrossrefClient
from ._resolve import Resolver
from ._sources import CandidateSource, CrossrefSource, IndexSource
from ._store import DEFAULT_DB, Store

# The environment variables of the contract; nothing else is read.
ENV_DB, ENV_CROSSREF_URL, ENV_MAILTO = "REFKEEPER_DB", "REFKEEPER_CROSSREF_URL", "REFKEEPER_MAILTO"


@dataclass(frozen=True)
class Settings:
    """The database path, the Crossref base URL and the polite-pool address."""

    db: str = DEFAULT_DB
    crossref_url: str = DEFAULT_URL
    mailto: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from ``REFKEEPER_DB``, ``REFKEEPER_CROSSREF_URL`` and ``REFKEEPER_MAILTO``;
        an unset or empty variable keeps the default."""
        return cls(
            db=environ.get(ENV_DB) or DEFAULT_DB,
            crossref_url=environ.get(ENV_CROSSREF_URL) or DEFAULT_URL,
            mailto=environ.get(ENV_MAILTO) or None,
        )

    def store(self) -> Store:
        """The database these settings name, opened (and migrated)."""
        return Store(self.db)

    def client(self, **options) -> CrossrefClient:
        """A Crossref client for these settings; ``options`` (timeout, max_retries, backoff)
        are passed on."""
        return CrossrefClient(base_url=self.crossref_url, mailto=self.mailto, **options)

    def source(
        self, store: Store, *, offline: bool = False, client: CrossrefClient | None = None
    ) -> CandidateSource:
        """Where candidates come from: the works stored in ``store`` when ``offline``, else
        Crossref (through ``client``, or a new client for these settings)."""
        if offline:
            return IndexSource(store)
        return CrossrefSource(client or self.client())

    def resolver(
        self,
        store: Store,
        *,
        offline: bool = False,
        refresh: bool = False,
        client: CrossrefClient | None = None,
    ) -> Resolver:
        """A resolver caching its answers in ``store``, searching Crossref or (``offline``)
        only the works already stored."""
        return Resolver(
            source=self.source(store, offline=offline, client=client), store=store, refresh=refresh
        )
