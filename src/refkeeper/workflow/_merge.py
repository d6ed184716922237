"""One work, several identifiers: merging a duplicate into the work it is, and finding
duplicates to merge (issue 13).

A work is stored under one key (its DOI, or an internal key for a work without one); the
same work stored twice — a JSTOR copy and the publisher's DOI, an import that met a PMID
before the DOI — is merged with ``merge_works``: everything that named the dropped key
names the kept one, each table changed by its owner module (``_links``, ``_requests``,
``_identifiers``, the ``Store``), in one transaction, with a ``merge`` entry in history.

The dropped work's row stays, marked merged into the kept one and taken out of the index
and every listing: history is append-only and its rows still name the dropped key (a
foreign key to ``works``), and look-ups of the dropped key (``Store.get_work``,
``kept_doi``, ``history``) follow the mark. Re-verification's past results and snapshots
stay under the dropped key: snapshots are never changed, and they are what was seen then.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .. import _identifiers as identifiers
from .._errors import InputError, NotFoundError, UsageError
from .._models import Work, normalize_doi, parse_doi
from .._store import Store
from ._history import log
from ._links import move_work as move_links
from ._requests import move_work as move_requests

# Crossref relations between two works that are NOT one work stored twice: a preprint and
# its version of record are two works (verify reports the relation), and a record that
# says it is identical to another DOI names an alias, which is recorded, not listed.
RELATED = ("is-preprint-of", "has-preprint", "is-identical-to")


@dataclass
class MergeResult:
    """What a merge moved from ``drop`` to ``keep``."""

    keep: str
    drop: str
    links_moved: list[int] = field(default_factory=list)
    links_removed: list[int] = field(default_factory=list)  # a claim linked both: keep's stays
    stances_dropped: list[dict] = field(default_factory=list)  # links and answers whose stance went
    request_works: list[int] = field(default_factory=list)  # requests answered with drop
    request_references: list[int] = field(default_factory=list)
    answers: int = 0  # cached resolutions
    identifiers: dict[str, list[str]] = field(default_factory=dict)
    alias: bool = False  # drop is now an alias DOI of keep
    bibtex_key: str | None = None
    key_moved: bool = False
    reason: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Duplicate:
    """Two stored works that are probably one, with what says so."""

    keys: tuple[str, str]
    titles: tuple[str | None, str | None]
    evidence: list[str]

    def to_json(self) -> dict:
        return {"keys": list(self.keys), "titles": list(self.titles), "evidence": self.evidence}


def work_key(text: str) -> str:
    """The key a person gave for a work: a DOI in any written form, lower-cased, or an
    internal key (a work without a DOI) as written."""
    try:
        return parse_doi(text)
    except InputError:
        key = (text or "").strip()
        if not key:
            raise UsageError("give the key of a stored work (its DOI)") from None
        return normalize_doi(key)


def _is_doi(key: str) -> bool:
    try:
        return parse_doi(key) == key
    except InputError:
        return False


def _stored(store: Store, key: str, role: str) -> Work:
    if not store.is_stored(key):
        into = store.merged_into(key)
        if into is not None:
            raise UsageError(f"{key} was already merged into {into}")
        raise NotFoundError(f"{role} {key} is not a stored work in {store.path}")
    return store.get_work(key)


def merge_works(store: Store, *, keep: str, drop: str, actor: str, reason: str | None = None) -> MergeResult:
    """Merge the stored work ``drop`` into ``keep``: links, answers to requests, readers'
    references, cached answers, identifiers (``drop`` becomes an alias DOI of ``keep``
    when it is a DOI) and the citation key (when ``keep`` has none) follow; a claim that
    linked both keeps ``keep``'s link, and a stance lost that way is in the result and the
    history. One transaction: on any failure nothing is merged. ``UsageError`` when the
    two are one key or ``drop`` was merged already, ``NotFoundError`` for a key not stored.
    """
    keep, drop = work_key(keep), work_key(drop)
    if keep == drop:
        raise UsageError(f"cannot merge {keep} into itself")
    with store.write():
        kept, dropped = _stored(store, keep, "kept work"), _stored(store, drop, "dropped work")
        before = {"keep": _summary(store, kept), "drop": _summary(store, dropped)}
        result = MergeResult(keep=keep, drop=drop, reason=reason)
        links = move_links(store, drop, keep, actor)
        result.links_moved, result.links_removed = links["moved"], links["removed"]
        result.stances_dropped += links["stances_dropped"]
        answered = move_requests(store, drop, keep)
        result.request_works = answered["request_works"]
        result.request_references = answered["request_references"]
        result.stances_dropped += answered["stances_dropped"]
        result.alias = _is_doi(drop)
        result.identifiers = identifiers.move_work(store, drop, keep, alias=result.alias)
        moved = store.move_work(drop, keep)
        result.answers, result.bibtex_key = moved["answers"], moved["key"]
        result.key_moved = moved["key_moved"]
        log(store, actor, "merge", doi=keep, details={
            "reason": reason, "before": before, "after": _summary(store, store.get_work(keep)),
            "moved": {k: v for k, v in result.to_json().items() if k not in ("keep", "drop", "reason")},
        })
    return result


def _summary(store: Store, work: Work) -> dict:
    return {"key": work.key, "title": work.title, "year": work.year, "bibtex_key": store.get_key(work.key),
            "identifiers": identifiers.identifiers_of(store, work.key)}


def duplicate_works(store: Store) -> list[Duplicate]:
    """Pairs of stored works that are probably one work: the same PMID, PMCID or arXiv ID
    recorded for both, or the same normalised title, year and first author's surname
    where the records do not place them apart (another volume, issue or first page: a
    column that recurs under one title, issue after issue). Not listed: a preprint and its
    version of record (an arXiv DOI and a work carrying that arXiv ID, or records related
    by ``RELATED``), which are two works."""
    found: dict[tuple[str, str], list[str]] = {}
    for scheme, value, keys in identifiers.shared_identifiers(store):
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                if scheme == identifiers.ARXIV and (identifiers.arxiv_of_doi(a) == value) != (
                        identifiers.arxiv_of_doi(b) == value):
                    continue  # the arXiv preprint and a version of record carrying its ID
                found.setdefault(tuple(sorted((a, b))), []).append(f"same {scheme} {value}")
    for group in store.title_groups():
        for i, (a, _) in enumerate(group):
            for b, _ in group[i + 1:]:
                found.setdefault(tuple(sorted((a, b))), []).append("same title, year and first author")
    out = []
    for (a, b), evidence in sorted(found.items()):
        wa, wb = store.get_work(a), store.get_work(b)
        if wa is None or wb is None or _related(wa, wb):
            continue
        if evidence == ["same title, year and first author"] and _placed_apart(wa, wb):
            continue  # a column that recurs under one title ("Literature Review"), issue after issue
        out.append(Duplicate((a, b), (wa.title, wb.title), evidence))
    return out


def _placed_apart(a: Work, b: Work) -> bool:
    """Whether two records put their works in different places: another volume, issue or
    first page, where both say."""
    def first_page(w: Work) -> str | None:
        return (w.pages or "").split("-")[0].strip().lower() or None

    return any(x is not None and y is not None and str(x).strip().lower() != str(y).strip().lower()
               for x, y in ((a.volume, b.volume), (a.issue, b.issue), (first_page(a), first_page(b))))


def _related(a: Work, b: Work) -> bool:
    """Whether either record names the other by a relation that makes them two works."""
    for one, other in ((a, b), (b, a)):
        relation = (one.record or {}).get("relation") or {}
        for kind in RELATED:
            for rel in relation.get(kind) or []:
                if isinstance(rel, dict) and normalize_doi(str(rel.get("id") or "")) == other.doi:
                    return True
    return False

