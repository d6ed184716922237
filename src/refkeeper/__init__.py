"""refkeeper: a reference desk for editors of evidence-based writing.

Everything the CLI does is one call away::

    from refkeeper import IndexSource, Resolver, Settings, Store, workflow, verify
    store = Store("refs.db")
    answer = Resolver(source=IndexSource(store), store=store).resolve(
        "Murakami E et al. J Orthop Sci. 2007;12:274-80")     # offline, from stored works
    answer = Settings().resolver(store).resolve("...")        # online, through Crossref
    answer.status, answer.doi
    workflow.link(store, claim_id, answer.doi, "contests")   # claims, links, requests
    report = verify.verify(store, Settings().client())        # re-verification

The resolver core is imported at once; the packages ``workflow``, ``verify`` and
``export`` (and pybtex, rispy, latexcodec behind them) only when one of their names is
first used (PEP 562), so ``import refkeeper`` and ``refkeeper --help`` stay quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._crossref import CrossrefClient, PacedClient
from ._errors import (
    CrossrefError,
    CrossrefUnavailableError,
    InputError,
    NotFoundError,
    RateLimitedError,
    RefkeeperError,
    StoreError,
    UsageError,
)
from ._identifiers import arxiv_doi, find_identifiers
from ._match import CitationFeatures, decide, extract_dois, rank, validate
from ._models import (
    Candidate,
    Evidence,
    Resolution,
    Work,
    doi_of_key,
    is_internal_key,
    parse_doi,
    work_key_for,
)
from ._registries import ArxivClient, DoiClient, NcbiClient, Registries, add_work
from ._resolve import Resolver, parse_mention, resolve
from ._settings import Settings
from ._sources import CandidateSource, CrossrefSource, IndexSource
from ._store import Store
from ._version import __version__

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and editors
    from . import export, verify, workflow
    from .bibimport import import_entries, read_bibliography
    from .export import export_works, format_list, format_reference, to_bibtex, write_bibtex
    from .verify import RunReport, verify_bib

# name -> (module, attribute); attribute None means the module itself.
_LAZY: dict[str, tuple[str, str | None]] = {
    "export": ("refkeeper.export", None),
    "verify": ("refkeeper.verify", None),
    "workflow": ("refkeeper.workflow", None),
    "RunReport": ("refkeeper.verify", "RunReport"),
    "verify_bib": ("refkeeper.verify", "verify_bib"),
    "export_works": ("refkeeper.export", "export_works"),
    "to_bibtex": ("refkeeper.export", "to_bibtex"),
    "write_bibtex": ("refkeeper.export", "write_bibtex"),
    "import_entries": ("refkeeper.bibimport", "import_entries"),
    "read_bibliography": ("refkeeper.bibimport", "read_bibliography"),
    "format_list": ("refkeeper.export", "format_list"),
    "format_reference": ("refkeeper.export", "format_reference"),
}


def __getattr__(name: str):
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'refkeeper' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "__version__",
    "ArxivClient",
    "DoiClient",
    "NcbiClient",
    "PacedClient",
    "Registries",
    "add_work",
    "arxiv_doi",
    "find_identifiers",
    "Candidate",
    "CandidateSource",
    "CitationFeatures",
    "CrossrefClient",
    "CrossrefError",
    "CrossrefSource",
    "CrossrefUnavailableError",
    "Evidence",
    "IndexSource",
    "InputError",
    "NotFoundError",
    "RateLimitedError",
    "RefkeeperError",
    "Resolution",
    "Resolver",
    "RunReport",
    "Settings",
    "Store",
    "StoreError",
    "UsageError",
    "Work",
    "decide",
    "doi_of_key",
    "is_internal_key",
    "work_key_for",
    "export",
    "export_works",
    "extract_dois",
    "format_list",
    "format_reference",
    "import_entries",
    "parse_doi",
    "parse_mention",
    "rank",
    "read_bibliography",
    "resolve",
    "to_bibtex",
    "validate",
    "verify",
    "verify_bib",
    "workflow",
    "write_bibtex",
]
