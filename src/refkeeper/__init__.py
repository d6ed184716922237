"""refkeeper: a reference desk for editors of evidence-based writing.

Everything the CLI does is one call away::

    from refkeeper import Store, Resolver, workflow, verify
    store = Store("refs.db")
    answer = Resolver(store=store).resolve("Murakami E et al. J Orthop Sci. 2007;12:274-80")
    answer.status, answer.doi
    workflow.link(store, claim_id, answer.doi, "contests")   # claims, links, requests
    report = verify.verify(store)                             # re-verification
"""

from . import verify, workflow  # noqa: E402  (packages: verify.verify(), workflow.link(), ...)
from ._crossref import CrossrefClient  # noqa: E402
from ._errors import (  # noqa: E402
    CrossrefError,
    CrossrefUnavailableError,
    InputError,
    NotFoundError,
    RateLimitedError,
    RefkeeperError,
    StoreError,
    UsageError,
)
from ._match import CitationFeatures, decide, extract_dois, rank, validate  # noqa: E402
from ._models import Candidate, Evidence, Resolution, Work  # noqa: E402
from ._resolve import Resolver, parse_mention, resolve  # noqa: E402
from ._settings import Settings  # noqa: E402
from ._sources import CandidateSource, CrossrefSource, IndexSource  # noqa: E402
from ._store import Store  # noqa: E402
from ._version import __version__  # noqa: E402
from .export import export_works, to_bibtex, write_bibtex  # noqa: E402
from .export.importer import import_entries, read_bibliography  # noqa: E402
from .export.styles import format_list, format_reference  # noqa: E402
from .verify import RunReport, verify_bib  # noqa: E402

__all__ = [
    "__version__",
    "RunReport",
    "export_works",
    "format_list",
    "format_reference",
    "import_entries",
    "read_bibliography",
    "verify",
    "verify_bib",
    "workflow",
    "CandidateSource",
    "Candidate",
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
    "Settings",
    "Store",
    "StoreError",
    "UsageError",
    "Work",
    "decide",
    "extract_dois",
    "parse_mention",
    "rank",
    "resolve",
    "to_bibtex",
    "validate",
    "write_bibtex",
]
