"""Later versions of records, for re-verification tests.

What Crossref serves for a work changes after refkeeper stored it. These helpers take a
real record and return a copy changed the way Crossref changes one, for ``StandIn.revise``:
``with_update`` (a retraction, correction, expression of concern... notice),
``with_relation``, ``with_changes`` (a publisher's redeposit of corrected metadata), and
``earlier_version`` (a real record as it was before its notices). ``_Overlay`` holds the
revisions, aliases and unlisted DOIs a server serves over its immutable database.
"""

from __future__ import annotations

import copy
import datetime
import zlib
from collections.abc import Iterable, Mapping

from .search import normalize_doi

# Crossref's labels for its update types (Crossmark) and Retraction Watch's natures.
UPDATE_LABELS = {
    "retraction": "Retraction",
    "partial_retraction": "Partial retraction",
    "withdrawal": "Withdrawal",
    "removal": "Removal",
    "expression_of_concern": "Expression of concern",
    "correction": "Correction",
    "erratum": "Erratum",
    "corrigendum": "Corrigendum",
    "addendum": "Addendum",
    "clarification": "Clarification",
    "new_version": "New version",
    "reinstatement": "Reinstatement",
}


def crossref_date(year: int, month: int = 1, day: int = 1) -> dict:
    """A date as Crossref writes it in ``updated``, ``indexed``, ``deposited``."""
    dt = datetime.datetime(year, month, day, tzinfo=datetime.timezone.utc)
    return {
        "date-parts": [[year, month, day]],
        "date-time": dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timestamp": int(dt.timestamp() * 1000),
    }


def with_update(
    record: dict,
    update_type: str,
    notice_doi: str | None = None,
    *,
    source: str = "publisher",
    date: tuple[int, int, int] = (2024, 5, 1),
    label: str | None = None,
    record_id: str | None = None,
) -> dict:
    """``record`` as Crossref serves it once an update notice points at it.

    Crossref records the notice in the updated work's ``updated-by`` (``type`` as in
    Crossmark: ``retraction``, ``correction``, ``erratum``, ``expression_of_concern``,
    ``withdrawal``...; ``source`` ``publisher`` or ``retraction-watch``, the latter with a
    Retraction Watch ``record-id``) and re-indexes the work. ``notice_doi`` defaults to the
    work's own DOI: an update made in place, as with Elsevier's withdrawals.
    """
    rec = copy.deepcopy(record)
    entry = {
        "updated": crossref_date(*date),
        "DOI": notice_doi or record["DOI"],
        "type": update_type,
        "source": source,
        "label": label or UPDATE_LABELS.get(update_type, update_type.replace("_", " ").capitalize()),
    }
    if source == "retraction-watch":
        entry["record-id"] = record_id or str(zlib.crc32(f"{record['DOI']} {update_type}".encode()) % 100000)
    rec["updated-by"] = [*rec.get("updated-by", []), entry]
    rec["indexed"] = {**crossref_date(*date), "version": "3.40.0"}
    return rec


def with_relation(record: dict, relation: str, target_doi: str, asserted_by: str = "object") -> dict:
    """``record`` with one more ``relation`` entry (e.g. ``"is-retracted-by"``)."""
    rec = copy.deepcopy(record)
    relations = dict(rec.get("relation") or {})
    relations[relation] = [
        *relations.get(relation, []),
        {"id-type": "doi", "id": target_doi, "asserted-by": asserted_by},
    ]
    rec["relation"] = relations
    return rec


def with_changes(record: dict, *, date: tuple[int, int, int] = (2024, 5, 1), **fields) -> dict:
    """``record`` after the publisher redeposited corrected metadata.

    Fields use Crossref's keys with ``_`` for ``-`` (``title=["..."]``, ``page="12-19"``,
    ``container_title=[...]``, ``author=[...]``); a value of None removes the field.
    ``deposited`` and ``indexed`` move to ``date``, as they do on a redeposit.
    """
    rec = copy.deepcopy(record)
    for name, value in fields.items():
        key = name.replace("_", "-")
        if value is None:
            rec.pop(key, None)
        else:
            rec[key] = value
    rec["deposited"] = crossref_date(*date)
    rec["indexed"] = {**crossref_date(*date), "version": "3.40.0"}
    return rec


def earlier_version(record: dict) -> dict:
    """What a record looked like before its update notices: without ``updated-by`` and
    without the relations Crossref derives from them. Real records that already carry a
    notice serve as the later version of this one."""
    rec = copy.deepcopy(record)
    rec.pop("updated-by", None)
    notice_relations = {
        name for name in (rec.get("relation") or {})
        if name.replace("_", "-").removeprefix("is-").removeprefix("has-").split("-")[0]
        in {"retraction", "retracted", "correction", "corrected", "erratum", "corrigendum",
            "expression", "withdrawal", "withdrawn", "partial", "new"}
    }
    if notice_relations:
        rec["relation"] = {k: v for k, v in rec["relation"].items() if k not in notice_relations}
    return rec


class _Overlay:
    """Later versions served over the immutable database. Replaced whole on each change,
    so request threads read one consistent version without a lock."""

    __slots__ = ("records", "aliases", "unlisted", "hidden")

    def __init__(self, records: Mapping[str, dict | None] | None = None,
                 aliases: Mapping[str, str] | None = None,
                 unlisted: Iterable[str] = ()) -> None:
        self.records = {normalize_doi(k): v for k, v in (records or {}).items()}
        self.aliases = {normalize_doi(k): normalize_doi(v) for k, v in (aliases or {}).items()}
        self.unlisted = frozenset(normalize_doi(d) for d in unlisted)
        # Kept out of /works lists: unknown DOIs, aliases (Crossref lists the primary DOI
        # only) and unlisted ones.
        self.hidden = frozenset(
            {d for d, r in self.records.items() if r is None} | set(self.aliases) | self.unlisted
        )

    def __bool__(self) -> bool:
        return bool(self.records or self.aliases or self.unlisted)

    def changed(self, *, records=None, aliases=None, unlisted=None) -> _Overlay:
        return _Overlay(
            {**self.records, **(records or {})},
            {**self.aliases, **(aliases or {})},
            self.unlisted | set(unlisted or ()),
        )
