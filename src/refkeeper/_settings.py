"""Settings: where the database is and how to reach Crossref, read once at the edge.

Only the edges (the command line, a web desk) look at the environment; they build one
``Settings`` with ``Settings.from_environ(os.environ)`` and make every service from it
(``settings.store()``, ``settings.client()``, ``settings.resolver(...)``), so the library
below them takes explicit arguments and behaves the same whoever calls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ._crossref import DEFAULT_URL, CrossrefClient
from ._registries import (
    DEFAULT_ARXIV_URL,
    DEFAULT_DATACITE_URL,
    DEFAULT_DOI_URL,
    DEFAULT_IDCONV_URL,
    DEFAULT_NCBI_URL,
    ArxivClient,
    DataciteClient,
    DoiClient,
    NcbiClient,
    Registries,
)
from ._resolve import Resolver
from ._sources import CandidateSource, CrossrefSource, IndexSource
from ._store import DEFAULT_DB, Store

# The environment variables of the contract; nothing else is read.
ENV_DB, ENV_CROSSREF_URL, ENV_MAILTO = "REFKEEPER_DB", "REFKEEPER_CROSSREF_URL", "REFKEEPER_MAILTO"
# The other registries' base URLs follow REFKEEPER_CROSSREF_URL's pattern (issue 13).
ENV_DOI_URL, ENV_DATACITE_URL = "REFKEEPER_DOI_URL", "REFKEEPER_DATACITE_URL"
ENV_NCBI_URL, ENV_IDCONV_URL = "REFKEEPER_NCBI_URL", "REFKEEPER_NCBI_IDCONV_URL"
ENV_ARXIV_URL, ENV_NCBI_API_KEY = "REFKEEPER_ARXIV_URL", "REFKEEPER_NCBI_API_KEY"


@dataclass(frozen=True)
class Settings:
    """The database path, the registries' base URLs, the polite-pool address (sent to
    Crossref and, as ``email``, to NCBI) and NCBI's API key."""

    db: str = DEFAULT_DB
    crossref_url: str = DEFAULT_URL
    mailto: str | None = None
    doi_url: str = DEFAULT_DOI_URL
    datacite_url: str = DEFAULT_DATACITE_URL
    ncbi_url: str = DEFAULT_NCBI_URL
    idconv_url: str = DEFAULT_IDCONV_URL
    arxiv_url: str = DEFAULT_ARXIV_URL
    ncbi_api_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from ``REFKEEPER_DB``, ``REFKEEPER_CROSSREF_URL``, ``REFKEEPER_MAILTO``,
        ``REFKEEPER_DOI_URL``, ``REFKEEPER_DATACITE_URL``, ``REFKEEPER_NCBI_URL``,
        ``REFKEEPER_NCBI_IDCONV_URL``, ``REFKEEPER_ARXIV_URL`` and ``REFKEEPER_NCBI_API_KEY``;
        an unset or empty variable keeps the default."""
        return cls(
            db=environ.get(ENV_DB) or DEFAULT_DB,
            crossref_url=environ.get(ENV_CROSSREF_URL) or DEFAULT_URL,
            mailto=environ.get(ENV_MAILTO) or None,
            doi_url=environ.get(ENV_DOI_URL) or DEFAULT_DOI_URL,
            datacite_url=environ.get(ENV_DATACITE_URL) or DEFAULT_DATACITE_URL,
            ncbi_url=environ.get(ENV_NCBI_URL) or DEFAULT_NCBI_URL,
            idconv_url=environ.get(ENV_IDCONV_URL) or DEFAULT_IDCONV_URL,
            arxiv_url=environ.get(ENV_ARXIV_URL) or DEFAULT_ARXIV_URL,
            ncbi_api_key=environ.get(ENV_NCBI_API_KEY) or None,
        )

    def store(self) -> Store:
        """The database these settings name, opened (and migrated)."""
        return Store(self.db)

    def client(self, **options) -> CrossrefClient:
        """A Crossref client for these settings; ``options`` (timeout, max_retries, backoff)
        are passed on."""
        return CrossrefClient(base_url=self.crossref_url, mailto=self.mailto, **options)

    def doi_client(self) -> DoiClient:
        """The DOI system (handle API, content negotiation) at ``doi_url``."""
        return DoiClient(self.doi_url, mailto=self.mailto)

    def registries(self, client: CrossrefClient | None = None) -> Registries:
        """Every registry these settings name, Crossref through ``client`` (or a new one)."""
        return Registries(
            crossref=client or self.client(),
            doi=self.doi_client(),
            ncbi=NcbiClient(self.ncbi_url, idconv_url=self.idconv_url,
                            api_key=self.ncbi_api_key, email=self.mailto),
            arxiv=ArxivClient(self.arxiv_url),
            datacite=DataciteClient(self.datacite_url),
        )

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
        only the works already stored; online, identifiers written in a citation (DOIs of
        any agency, PMIDs, PMCIDs, arXiv IDs) are followed through the other registries."""
        client = None if offline else (client or self.client())
        return Resolver(
            source=self.source(store, offline=offline, client=client), store=store,
            refresh=refresh, registries=None if offline else self.registries(client),
        )
