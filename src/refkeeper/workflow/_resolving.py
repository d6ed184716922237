"""A work stored without a DOI, resolved later: when a DOI is found for it, the work
without one is merged into the DOI work (``merge_works``: its links, requests, history and
identifiers follow), so nothing an editor did with it is lost."""

from __future__ import annotations

from dataclasses import dataclass

from .. import _identifiers as identifiers
from .._errors import UsageError
from .._models import MATCHED, Resolution, Work, parse_work_key
from .._store import Store
from ..export import format_reference
from ._common import DEFAULT_ACTOR
from ._merge import merge_works


@dataclass
class WorkResolution:
    """What resolving a work without a DOI gave: the resolver's answer for it and, when it
    matched a DOI, the DOI work it was merged into (``merged_into``)."""

    key: str
    resolution: Resolution
    merged_into: str | None = None

    def to_json(self) -> dict:
        return {"work": self.key, "merged_into": self.merged_into, **self.resolution.to_json()}


def work_citation(store: Store, work: Work) -> str:
    """The citation the resolver is asked about a stored work: its Vancouver reference,
    with its PMID, PMCID and arXiv ID (a registry may know the DOI they have now)."""
    ids = identifiers.identifiers_by_doi(store, [work.key]).get(work.key, {})
    return format_reference(work, "vancouver", "text", ids=ids)


def resolve_work(store: Store, key: str, resolver, *, actor: str = DEFAULT_ACTOR) -> WorkResolution:
    """Run ``resolver`` on the stored work without a DOI ``key``; when it matches a DOI,
    merge the work into that DOI's work (stored by the resolver) and say so. Only a
    ``matched`` answer merges; an ambiguous one is returned with its candidates for an
    editor. ``UsageError`` when ``key`` names a work that has a DOI."""
    key = parse_work_key(key)
    work = store.require_work(key)
    if work.doi is not None:
        raise UsageError(f"{key} has a DOI already; nothing to resolve")
    res = resolver.resolve(work_citation(store, work))
    if res.status != MATCHED or res.doi is None:
        return WorkResolution(key, res)
    merge_into(store, keep=res.doi, drop=key, actor=actor, reason=f"resolved to {res.doi}")
    return WorkResolution(key, res, merged_into=res.doi)


def merge_into(store: Store, *, keep: str, drop: str, actor: str, reason: str) -> None:
    """Merge the work without a DOI ``drop`` into the DOI work ``keep`` (a no-op when they
    are the same work or ``drop`` was merged already)."""
    if keep != drop and store.is_stored(drop):
        merge_works(store, keep=keep, drop=drop, actor=actor, reason=reason)
