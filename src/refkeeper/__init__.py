"""refkeeper: a reference desk for editors of evidence-based writing.

Everything the CLI does is one call away::

    from refkeeper import Store, Resolver
    store = Store("refs.db")
    answer = Resolver(store=store).resolve("Murakami E et al. J Orthop Sci. 2007;12:274-80")
    answer.status, answer.doi
"""

__version__ = "0.1.0"

from .crossref import CrossrefClient  # noqa: E402
from .errors import (  # noqa: E402
    CrossrefError,
    CrossrefUnavailableError,
    InputError,
    NotFoundError,
    RateLimitedError,
    RefkeeperError,
    StoreError,
    UsageError,
)
from .export import to_bibtex, write_bibtex  # noqa: E402
from .match import CitationFeatures, decide, extract_dois, rank, validate  # noqa: E402
from .models import Candidate, Evidence, Resolution, Work  # noqa: E402
from .resolve import Resolver, parse_mention, resolve  # noqa: E402
from .store import Store  # noqa: E402

__all__ = [
    "Candidate",
    "CitationFeatures",
    "CrossrefClient",
    "CrossrefError",
    "CrossrefUnavailableError",
    "Evidence",
    "InputError",
    "NotFoundError",
    "RateLimitedError",
    "RefkeeperError",
    "Resolution",
    "Resolver",
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
