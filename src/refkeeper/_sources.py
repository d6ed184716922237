"""Where a resolver's candidate works come from: Crossref, or the works already stored.

The resolver asks a ``CandidateSource`` three questions (the work a written DOI names;
works like a citation; works a short mention "Surname (Year)" may mean) and validates
every answer itself, field by field. A source only finds candidates, it never decides:
that is what lets another registry, or a bounded-cost index, plug in here without the
matching changing.
"""

from __future__ import annotations

from typing import Protocol

from ._crossref import CrossrefClient, check_fields
from ._identifiers import kept_doi
from ._models import Work
from ._store import Store

# Crossref filters a mention by year on the server, so a page of author hits is enough.
CROSSREF_MENTION_ROWS = 20
# The local index finds a mention by its first-author-and-year key: at most this many
# works, best for the context chosen by the resolver.
INDEX_MENTION_POOL = 200


class CandidateSource(Protocol):
    """Candidate works for the resolver; each method may raise a ``RefkeeperError``."""

    #: Recorded with every answer ("crossref", "offline"): where its candidates came from.
    name: str

    def parallelism(self) -> int:
        """How many look-ups may run at once; 1 means only from the calling thread."""
        ...

    def work(self, doi: str) -> Work | None:
        """The work ``doi`` names, or None when the source does not know it."""
        ...

    def search(self, text: str, rows: int) -> list[Work]:
        """Up to ``rows`` works most like the free-text citation ``text``, best first."""
        ...

    def mention(self, family: str, year: int, context: str | None) -> list[Work]:
        """Works that may be the one "``family`` (``year``)" means, best for ``context`` first.

        The resolver keeps only those whose first author and year fit, so a source may
        return more; how many is the source's own trade-off.
        """
        ...


class CrossrefSource:
    """Candidates from Crossref's REST API (``query.bibliographic``, author and year)."""

    name = "crossref"

    def __init__(self, client: CrossrefClient, mention_rows: int = CROSSREF_MENTION_ROWS) -> None:
        self.client = client
        self.mention_rows = mention_rows

    def parallelism(self) -> int:
        # Twice the concurrency limit keeps the pipe full while responses are parsed.
        return min(16, max(1, self.client.limiter.concurrency) * 2)

    def work(self, doi: str) -> Work | None:
        rec = self.client.work(doi)
        return Work.from_crossref(check_fields(rec, "a work")) if rec else None

    def search(self, text: str, rows: int) -> list[Work]:
        items = self.client.search(query_bibliographic=text, rows=rows)
        return [Work.from_crossref(check_fields(i, "a search")) for i in items]

    def mention(self, family: str, year: int, context: str | None) -> list[Work]:
        items = self.client.search(
            query_bibliographic=context or None,
            query_author=family,
            filter={"from_pub_date": str(year), "until_pub_date": str(year)},
            rows=self.mention_rows,
        )
        return [Work.from_crossref(check_fields(i, "a search")) for i in items]


class IndexSource:
    """Candidates from the works stored in a ``Store``: nothing leaves the machine.

    Every look-up is bounded (blocking keys in a B-tree, rare words in the FTS5 index,
    each read to at most a fixed number of rows), so a citation costs about the same
    against 40,000 works as against millions (``_index.candidates``)."""

    name = "offline"

    def __init__(self, store: Store, mention_pool: int = INDEX_MENTION_POOL) -> None:
        self.store = store
        self.mention_pool = mention_pool

    def parallelism(self) -> int:
        # A SQLite connection is not shared across threads; local look-ups are fast anyway.
        return 1

    # Works without a DOI (stored under an internal key) are never candidates: a resolver
    # answers DOIs, and ``resolve --json``'s ``doi`` is only ever a real DOI or null.

    def work(self, doi: str) -> Work | None:
        # An alias DOI (merged, or recorded for a stored work) answers with that work; a
        # work without a DOI is never a candidate.
        work = self.store.get_work(kept_doi(self.store, doi))
        return work if work is not None and work.has_doi else None

    def search(self, text: str, rows: int) -> list[Work]:
        found = self.store.candidates(text, limit=rows)
        if all(w.has_doi for w in found):
            return found
        # Some of the best are works without a DOI: look a little further for DOI works.
        return [w for w in self.store.candidates(text, limit=rows * 3) if w.has_doi][:rows]

    def mention(self, family: str, year: int, context: str | None) -> list[Work]:
        return [w for w in self.store.by_author_year(family, year, limit=self.mention_pool)
                if w.has_doi]
