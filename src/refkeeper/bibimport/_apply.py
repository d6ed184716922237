"""``refkeeper import``: bring read bibliography entries into the store.

What the user wrote is theirs:

* their citation keys are kept (pinned in ``works.bibtex_key``), so a later export of the
  same works writes the same keys;
* an entry with a DOI that is not stored yet is stored as the user wrote it
  (``works.source = 'import'``), no network needed;
* an entry whose DOI is already stored is compared field by field with what is stored; a
  difference is shown as a diff and applied only with ``update=True`` (``--update``);
* an entry without a DOI is resolved through ``Resolver`` from a citation built from its
  fields. Only a ``matched`` answer gives it a DOI: no DOI is ever guessed. Otherwise the
  entry is stored as a work without a DOI (status ``added-without-doi``), as written,
  under an internal work key (``work_key_for``): the key of the stored work one of its
  identifiers (PMID, PMCID, arXiv ID) was recorded for, else ``pmid:<n>``, else ``rk:``
  and a hash of its title, year and first author, so that importing the same entry again
  (from this file or another) finds the same work. ``ambiguous`` entries are stored that
  way too and reported with their candidates for an editor to choose.

The entries come from the readers (``read_bibliography``); this module only decides what
becomes of each, through the store's and the resolver's public API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from refkeeper import _identifiers
from refkeeper._match import CitationFeatures, container_agreement
from refkeeper._models import (
    AMBIGUOUS,
    ERROR,
    KEY_FIELD,
    MATCHED,
    Candidate,
    Work,
    doi_of_key,
    is_internal_key,
    normalize_doi,
    work_identity,
    work_key_for,
)
from refkeeper._registries import dois_for_identifiers
from refkeeper._text import STOPWORDS, fold, words
from refkeeper.bibimport._entry import ImportEntry
from refkeeper.export import KEY_PATTERN, plain_title, work_title

__all__ = ["ADDED_WITHOUT_DOI", "FINDINGS", "ImportResult", "import_entries", "record_diff"]

FINDINGS = ("differs", "ambiguous", "unmatched", "duplicate", "error")
# An entry stored as a work without a DOI: not a finding (the work is kept, linkable and
# exportable), only counted.
ADDED_WITHOUT_DOI = "added-without-doi"
MERGE_ACTOR = "import"


@dataclass
class ImportResult:
    """What happened to one entry.

    ``status``: ``added`` (stored as written), ``added-without-doi`` (no DOI in the file
    nor found: stored under an internal key), ``resolved`` (no DOI in the file; the
    resolver matched one), ``unchanged``, ``updated`` (``--update`` applied the diff),
    ``differs`` (stored work differs; nothing changed), ``ambiguous`` (candidates for an
    editor; stored without a DOI meanwhile), ``duplicate`` (the same work already in this file), ``error``.
    ``doi`` is the work's DOI only (None for a work without one); ``work`` its work key
    (the DOI, or the internal key).
    ``diff`` lists (field, stored value, file value); ``notes`` say what else to know
    (a key that could not be kept).
    """

    entry: ImportEntry
    status: str
    doi: str | None = None
    key: str | None = None
    work: str | None = None
    diff: list[tuple[str, str, str]] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def finding(self) -> bool:
        """True when an editor has to look at this entry."""
        return self.status in FINDINGS or bool(self.notes)

    def to_json(self) -> dict:
        return {
            "index": self.entry.index,
            "line": self.entry.line,
            "key": self.key or self.entry.key,
            "status": self.status,
            "doi": self.doi,
            "work": self.work,
            "title": plain_title((self.entry.record.get("title") or [""])[0]) or None,
            "diff": [{"field": f, "stored": a, "file": b} for f, a, b in self.diff],
            "candidates": [c.to_json() for c in self.candidates],
            "notes": self.notes,
        }


# --------------------------------------------------------------------------------------
# Importing
# --------------------------------------------------------------------------------------

_COMPARED = ("type", "title", "author", "container-title", "issued", "volume", "issue", "page")


def _show(record: dict, name: str) -> str:
    value = record.get(name)
    if name == "author":
        return "; ".join(
            (f"{p.get('family')}, {p.get('given')}" if p.get("given") else p.get("family"))
            if p.get("family") else (p.get("name") or p.get("literal") or "")
            for p in value or [] if isinstance(p, dict))
    if name == "issued":
        parts = ((value or {}).get("date-parts") or [[]])[0]
        return "-".join(str(p) for p in parts if p is not None)
    if name == "page":
        value = value or record.get("article-number")  # exports write it as the page
    if name == "title":
        value = work_title(Work(key="", record=record))  # title and subtitle, as exported
    if isinstance(value, list):
        value = next((v for v in value if v), "")
    return plain_title(str(value)) if value else ""


def _norm(name: str, record: dict) -> object:
    shown = _show(record, name)
    if name == "author":
        return [re.sub(r"\W+", "", fold(p.get("family") or p.get("name") or ""))
                for p in record.get("author") or [] if isinstance(p, dict)]
    if name == "issued":
        return shown.split("-")[0]  # a year; months are too often missing on one side
    if name == "page":
        m = re.match(r"(\w+)(?:-(\w+))?", shown)
        if not m:
            return shown
        first, last = m.groups()
        if last and first.isdigit() and last.isdigit() and len(last) < len(first):
            last = first[: len(first) - len(last)] + last  # 274-80 is 274-280
        return (first, None if last == first else last)
    return re.sub(r"\W+", "", fold(shown))


def _same_journal(a: str, b: str) -> bool:
    """'J Orthop Sci' and 'Journal of Orthopaedic Science' name the same journal: every word
    of the longer name abbreviated, in order, by the shorter, and no word left over."""
    wa = [w for w in words(a) if w not in STOPWORDS]
    wb = [w for w in words(b) if w not in STOPWORDS]
    if not wa or len(wa) != len(wb):
        return False
    return (container_agreement([a], CitationFeatures.parse(b)) == 1.0
            or container_agreement([b], CitationFeatures.parse(a)) == 1.0)


def record_diff(stored: dict, incoming: dict) -> list[tuple[str, str, str]]:
    """(field, stored, incoming) for the compared fields the incoming record has and that
    differ beyond case, accents, punctuation and markup. A journal name matches either the
    stored full title or its abbreviation."""
    diff = []
    for name in _COMPARED:
        if not incoming.get(name):
            continue
        a, b = _norm(name, stored), _norm(name, incoming)
        if name == "container-title" and (b == _norm("short-container-title", stored) or _same_journal(
                _show(stored, name), _show(incoming, name))):
            continue
        if a != b:
            diff.append((name, _show(stored, name), _show(incoming, name)))
    return diff


def _usable_key(key: str | None) -> tuple[str | None, str | None]:
    if not key:
        return None, None
    key = key.strip()
    if KEY_PATTERN.fullmatch(key):
        return key, None
    return None, f"key {key!r} is not usable (ASCII letters, digits, _ : . + / -); one will be made"


def import_entries(
    store,
    entries: Iterable[ImportEntry],
    resolver=None,
    *,
    update: bool = False,
) -> Iterator[ImportResult]:
    """Import ``entries`` into ``store``, one ``ImportResult`` per entry, in order.

    ``resolver`` (a ``Resolver`` on the same store, online or offline) resolves entries
    without a DOI; without one (or when it finds none) they are stored without a DOI. With ``update=True`` a
    stored work that differs from the file takes the file's fields (and key). ``entries``
    is read as it goes (a ``Bibliography`` streams its file), a chunk at a time.
    """
    seen: dict[str, str] = {}  # work key -> label of the entry that brought it: small, kept
    # lower-cased key -> DOI: the keys taken (BibTeX ignores case), read once rather than
    # asked of the store per entry (an unindexed lookup: quadratic over a large file)
    owners: dict[str, str] = {k.lower(): d for d, k in store.bibtex_keys().items()}
    for chunk in _chunks(entries, _CHUNK):
        resolutions = {}
        if getattr(resolver, "registries", None) is not None:
            # No DOI but a PMID, PMCID or arXiv ID: its registry names the DOI (online only).
            named = [e for e in chunk if not e.doi]
            for e, doi in zip(named, dois_for_identifiers(resolver.registries,
                                                          [e.record for e in named]), strict=True):
                if doi:
                    e.record["DOI"] = doi
        missing = [e for e in chunk if not e.doi]
        if missing and resolver is not None:
            answers = resolver.resolve_many(e.citation() for e in missing)
            resolutions = {e.index: r for e, r in zip(missing, answers, strict=True)}
        results = []
        later = _Writes(without_doi=store.has_works_without_doi())
        # One transaction per chunk: a commit per entry was most of an import's time.
        with store.write():
            for entry in chunk:
                result = _import_one(store, entry, resolutions.get(entry.index), seen, update,
                                     owners, later)
                if result.work and result.status not in ("duplicate", "error"):
                    seen.setdefault(result.work, entry.label)
                results.append(result)
            later.apply(store)
        yield from results


@dataclass
class _Writes:
    """New works and their keys, written together at the end of a chunk."""

    records: list[dict] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # DOI -> key, for works without one
    # DOI -> the PMID, PMCID, arXiv ID the file gives (its x-pmid, x-pmcid, x-arxiv fields)
    identifiers: dict[str, dict[str, str]] = field(default_factory=dict)
    # (DOI, key of a stored work without a DOI that is the same entry): merged once the DOI
    # work is stored; its links, requests, history, identifiers and citation key follow.
    merges: list[tuple[str, str]] = field(default_factory=list)
    # Whether the store holds any work without a DOI (else an entry with one has nothing
    # to be merged with: no look-up per entry).
    without_doi: bool = False

    def apply(self, store) -> None:
        if self.records:
            store.add_records(self.records, "import")
        if self.keys:
            store.set_bibtex_keys(self.keys)
        if self.identifiers:
            _identifiers.record_many(store, self.identifiers)
        if self.merges:
            from refkeeper import workflow  # noqa: PLC0415 - loaded only when there is a merge

            for keep, drop in self.merges:
                if store.is_stored(drop) and store.is_stored(keep):
                    workflow.merge_works(store, keep=keep, drop=drop, actor=MERGE_ACTOR,
                                         reason=f"imported again with the DOI {keep}")


# Entries are taken a chunk at a time (the resolver answers a chunk's entries without a DOI
# together): memory stays flat however long the file.
_CHUNK = 500


def _chunks(entries: Iterable[ImportEntry], size: int) -> Iterator[list[ImportEntry]]:
    chunk: list[ImportEntry] = []
    for entry in entries:
        chunk.append(entry)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _internal_key(store, entry: ImportEntry, owner: str | None, search: bool = True) -> str:
    """The work key of an entry without a DOI: the stored work one of its identifiers was
    recorded for (which may have a DOI), else ``work_key_for`` its record, else a stored
    work without a DOI that is the same work under a key made from other fields: the one
    whose citation key the entry has (``owner``) with the same year and first author (its
    title was corrected since), or (with ``search``) one with the same title, year and first
    author."""
    for scheme in _identifiers.PRINTED:
        value = entry.record.get(f"x-{scheme}")
        if value:
            known = _identifiers.doi_for(store, scheme, value)
            if known:
                return known
    key = work_key_for(entry.record, pmid=entry.record.get(f"x-{_identifiers.PMID}"))
    if key.startswith("rk:") and store.get_work(key) is None:
        owned = store.get_work(owner) if owner and is_internal_key(owner) else None
        if owned is None and not search:
            return key
        identity = work_identity(entry.record)
        if owned is not None and identity is not None:
            stored = work_identity(owned.record)
            if stored is not None and stored[1:] == identity[1:]:
                return owned.key
        # The same work may be stored under a key made from other fields (its title was
        # updated since, say): a stored work without a DOI with the same title, year and
        # first author is it (one bounded look-up by first author and year).
        if search and identity is not None and identity[1] and identity[2]:
            for work in store.by_author_year(identity[2], identity[1], limit=50):
                if work.doi is None and work_identity(work.record) == identity:
                    return work.key
    return key


def _file_identifiers(entry: ImportEntry) -> dict[str, str]:
    """The PMID, PMCID and arXiv ID the file gives for an entry (its x-* fields)."""
    return {scheme: entry.record[f"x-{scheme}"] for scheme in _identifiers.PRINTED
            if entry.record.get(f"x-{scheme}")}


def _import_one(store, entry: ImportEntry, resolution, seen: dict, update: bool,
                owners: dict[str, str], later: _Writes) -> ImportResult:
    key, key_note = _usable_key(entry.key)
    notes = [*entry.notes, key_note] if key_note else list(entry.notes)
    wkey = entry.doi  # the work key: its DOI, else an internal key
    resolved = False
    candidates: list[Candidate] = []
    if not wkey:
        if resolution is not None and resolution.status == ERROR:
            return ImportResult(entry, "error", notes=notes + [resolution.error or "error"])
        if resolution is not None and resolution.status == MATCHED and resolution.key:
            wkey, resolved = normalize_doi(resolution.key), True
        else:
            if resolution is not None and resolution.status == AMBIGUOUS:
                candidates = resolution.candidates
            wkey = _internal_key(store, entry, owners.get(key.lower()) if key else None)
    # An alias DOI (one merged away, or recorded for a stored work), or the key of a work
    # without a DOI merged into one since, is that work.
    wkey = _identifiers.kept_doi(store, wkey)
    # An entry now carrying a DOI (or resolved to one) whose work was stored without one
    # before: that work is merged into the DOI work (after it is stored, end of chunk).
    merging = None
    if doi_of_key(wkey) and later.without_doi:
        other = _internal_key(store, entry, owners.get(key.lower()) if key else None, search=False)
        if is_internal_key(other) and store.is_stored(other):
            merging = other
    if wkey in seen:
        # The same work written twice (by its DOI, and by a PMID that names that DOI, say):
        # the identifiers either entry gives are the work's.
        ids = _file_identifiers(entry)
        if ids:
            later.identifiers.setdefault(wkey, {}).update(ids)
        return ImportResult(entry, "duplicate", doi=doi_of_key(wkey), work=wkey,
                            notes=notes + [f"same {'DOI' if doi_of_key(wkey) else 'work'} as entry"
                                           f" {seen[wkey]}"])

    stored = store.get_work(wkey)
    if stored is None and resolved:
        # The resolver stores what it matches; when it could not, there is nothing to add.
        return ImportResult(entry, "error", doi=wkey, work=wkey, notes=notes + ["matched work not stored"])
    old_key = store.get_key(wkey) if stored is not None else None
    if stored is None:
        record = {k: v for k, v in entry.record.items() if not k.startswith("x-")}
        if doi_of_key(wkey):
            record["DOI"] = entry.record.get("DOI") or wkey
            status = "added"
        else:
            record.pop("DOI", None)
            record[KEY_FIELD] = wkey
            status = ADDED_WITHOUT_DOI
        later.records.append(record)
        diff = []
    else:
        diff = [] if resolved else record_diff(stored.record, entry.record)
        if key and old_key and key != old_key:
            diff.append(("key", old_key, key))
        if not diff:
            status = "resolved" if resolved else "unchanged"
        elif not update:
            return ImportResult(entry, "differs", doi=doi_of_key(wkey), work=wkey, key=old_key,
                                diff=diff, candidates=candidates, notes=notes)
        else:
            fields = {n: entry.record[n] for n, _, _ in diff if n != "key" and n in entry.record}
            if fields:
                merged = {**stored.record, **fields}
                merged.pop("score", None)
                if "title" in fields:  # the file's title is whole: keep its subtitle, or none
                    merged.pop("subtitle", None)
                    if entry.record.get("subtitle"):
                        merged["subtitle"] = entry.record["subtitle"]
                store.add_records([merged], "import")
            status = "resolved" if resolved else "updated"
    if candidates:
        status = AMBIGUOUS  # stored (or found) without a DOI; an editor may choose one
    ids = _file_identifiers(entry)
    if ids and status != "differs":
        later.identifiers.setdefault(wkey, {}).update(ids)
    key_moves = False
    if merging is not None and status != "differs":
        later.merges.append((wkey, merging))
        notes.append(f"the work stored without a DOI as {merging} is merged into it")
        if key and owners.get(key.lower()) == merging:
            # Its citation key is this entry's: the merge moves it to the DOI work (when
            # that has none yet; else the DOI work keeps its own).
            owners[key.lower()] = wkey
            key_moves = True
            key = old_key or key
    if key_moves:
        pass
    elif key and (key != old_key):
        owner = owners.get(key.lower())
        if owner is not None and owner != wkey:
            notes.append(f"key {key!r} is already used by {owner}; "
                         + (f"keeping {old_key!r}" if old_key else "one will be made"))
            key = old_key
        else:
            if old_key is None and status in ("added", ADDED_WITHOUT_DOI, AMBIGUOUS) and stored is None:
                later.keys[wkey] = key  # a new work: its key goes with it
            else:
                store.pin_key(wkey, key)
            owners.pop((old_key or "").lower(), None)
            owners[key.lower()] = wkey
    elif not key:
        key = old_key
    return ImportResult(entry, status, doi=doi_of_key(wkey), work=wkey, key=key, diff=diff,
                        candidates=candidates, notes=notes)
