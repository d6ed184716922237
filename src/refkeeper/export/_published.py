"""Exports that prefer the version of record (``export_store(prefer_published=True)``,
``refkeeper export --prefer-published``).

A stored preprint whose published version is known — its own record names it
(``relation`` ``is-preprint-of``), or re-verification found it (a ``published-version``
finding: a version of record naming the preprint, arXiv's DOI) — is written as that
version instead: one entry per work, with a note saying which preprint it replaces. A
version of record not stored yet is fetched and stored when registries are given (online);
without them (offline), or when no registry has it, the preprint is written with a note
that its published version exists but is not available.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from refkeeper._errors import CrossrefError, InputError
from refkeeper._models import Work, normalize_doi


@dataclass
class PublishedVersions:
    """What preferring the version of record decided for the works of one export."""

    # preprint DOI -> the stored version of record written in its place
    replaced: dict[str, str] = field(default_factory=dict)
    # preprint DOI -> a version of record known but not stored (offline, or no registry has it)
    unavailable: dict[str, str] = field(default_factory=dict)

    def works(self, store, works: Iterable[Work]) -> Iterator[Work]:
        """``works`` with each replaced preprint swapped for its version of record (the
        writers write a DOI once: a version of record also exported itself is one entry)."""
        seen: set[str] = set()
        for work in works:
            vor = self.replaced.get(normalize_doi(work.doi or ""))
            work = (store.get_work(vor) or work) if vor else work
            doi = normalize_doi(work.doi or "")
            if doi not in seen:
                seen.add(doi)
                yield work

    def notes(self, notes: dict[str, str]) -> dict[str, str]:
        """``notes`` (DOI -> export note) with what a reader must know of each swap."""
        out = dict(notes)

        def add(doi: str, text: str) -> None:
            out[doi] = f"{out[doi]}; {text}" if out.get(doi) else text

        for preprint, vor in self.replaced.items():
            add(vor, f"Published version of the preprint https://doi.org/{preprint}")
        for preprint, vor in self.unavailable.items():
            add(preprint, f"Preprint; published as https://doi.org/{vor} (not available here)")
        return out


def is_preprint_of(record: dict) -> str | None:
    """The version of record a preprint's own record names (``relation`` ``is-preprint-of``)."""
    for r in (record.get("relation") or {}).get("is-preprint-of") or []:
        if isinstance(r, dict) and r.get("id-type") == "doi" and r.get("id"):
            return normalize_doi(r["id"])
    return None


def published_versions_of(store, dois: list[str] | None = None, *,
                          registries=None) -> PublishedVersions:
    """Decide, for the stored works (all, or ``dois``), which preprints to write as their
    version of record. ``registries`` (``refkeeper._registries.Registries``): fetch and store
    versions of record not stored yet; None: offline, nothing fetched."""
    from .. import verify  # loaded on use: exports without this option never need it

    found = verify.published_versions(store, dois)
    pairs: dict[str, str] = {}
    # Read every record first, then fetch: nothing is written while the works are read.
    for work in store.works(dois) if dois is not None else store.works():
        doi = normalize_doi(work.doi or "")
        vor = found.get(doi) or is_preprint_of(work.record)
        if vor and vor != doi:
            pairs[doi] = vor
    out = PublishedVersions()
    for preprint, vor in pairs.items():
        if store.get_work(vor) is None and registries is not None:
            from .._registries import add_work

            try:
                add_work(store, registries, vor)
            except (CrossrefError, InputError):
                pass  # not available: the preprint is written, with a note saying so
        if store.get_work(vor) is not None:
            out.replaced[preprint] = vor
        else:
            out.unavailable[preprint] = vor
    return out
