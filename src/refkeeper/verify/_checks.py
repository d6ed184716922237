"""What a Crossref record says about a work's standing: pure functions over records.

Problem kinds, most serious first: ``retraction``, ``withdrawal``, ``partial-retraction``,
``expression-of-concern``, ``not-found``, ``correction`` (corrections, errata,
corrigenda, addenda), ``alias``, and ``published-version`` (a preprint whose version of
record exists: Crossref's ``is-preprint-of`` relation; a version of record whose
``has-preprint`` names it, or arXiv's DOI and journal reference, read by ``_fetch``).
PubMed's publication types add ``retraction`` notices with the source ``pubmed``
(``add_notice``). Each comes from the work's ``updated-by`` entries
(publisher or Retraction Watch), its own ``update-to`` entries pointing at itself (an
update made in place), or a ``relation`` such as ``is-retracted-by``. A record that is
itself a notice about another work is not a problem; ``notice_for`` says so.

``notices`` reads them from one record, ``metadata_diff`` compares the fields an editor
cites, and ``check_record`` puts both together for a stored record and what Crossref
answers now (see ``verify``, which fetches, stores and reports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .._models import Work, normalize_doi

# Problem kinds, most serious first: findings and affected claims are listed in this order.
KINDS = (
    "retraction",
    "withdrawal",
    "partial-retraction",
    "expression-of-concern",
    "not-found",
    "correction",
    "alias",
    # Not a fault: a preprint now has a version of record, the one to cite.
    "published-version",
)
PUBLISHED_VERSION = "published-version"
_SEVERITY = {k: i for i, k in enumerate(KINDS)}

# Crossref's update types (Crossmark, and Retraction Watch's natures) by problem kind.
# Types not here (new_version, new_edition, reinstatement...) are not problems.
_TYPE_KINDS = {
    "retraction": "retraction",
    "retracted": "retraction",
    "partial_retraction": "partial-retraction",
    "withdrawal": "withdrawal",
    "withdrawn": "withdrawal",
    "removal": "withdrawal",  # removed for legal reasons: gone from the record all the same
    "expression_of_concern": "expression-of-concern",
    "correction": "correction",
    "corrigendum": "correction",
    "erratum": "correction",
    "err": "correction",  # some publishers' spelling, seen in real records
    "addendum": "correction",
    "clarification": "correction",
    "publisher_note": "correction",
}
# ``relation`` names, with is-/has- and -by taken off, by problem kind. Names ending in
# -of/-for/-to are the notice's side (this record *is* the notice) and are not problems.
_RELATION_KINDS = {
    "retraction": "retraction",
    "retracted": "retraction",
    "partial-retraction": "partial-retraction",
    "partially-retracted": "partial-retraction",
    "withdrawal": "withdrawal",
    "withdrawn": "withdrawal",
    "removal": "withdrawal",
    "expression-of-concern": "expression-of-concern",
    "correction": "correction",
    "corrected": "correction",
    "erratum": "correction",
    "corrigendum": "correction",
}
# Lifted by a later reinstatement (Retraction Watch records them).
_REINSTATABLE = {"retraction", "partial-retraction", "withdrawal", "expression-of-concern"}

DRIFT_FIELDS = ("title", "authors", "year", "container", "volume", "issue", "pages", "type")


# --- reading a record -----------------------------------------------------------------


def _type_key(value: str | None) -> str:
    return re.sub(r"[\s\-]+", "_", (value or "").strip().lower())


def _date(value: dict | None) -> str | None:
    parts = ((value or {}).get("date-parts") or [[]])[0] or []
    try:
        return "-".join(f"{int(p):02d}" if i else f"{int(p):04d}" for i, p in enumerate(parts[:3]))
    except (TypeError, ValueError):
        return None


def _relation_kind(name: str) -> str | None:
    n = name.lower().replace("_", "-")
    if n.endswith(("-of", "-for", "-to")):
        return None
    stem = n.removeprefix("is-").removeprefix("has-").removesuffix("-by")
    return _RELATION_KINDS.get(stem)


def notices(record: dict) -> tuple[list[dict], list[dict]]:
    """(notices about this work, works this record is itself a notice about).

    A notice is ``{"kind", "type", "doi", "sources", "date", "label"}``: ``kind`` one of
    ``KINDS``, ``type`` Crossref's own word for it, ``doi`` the notice's DOI, ``sources``
    where it was found (``publisher``, ``retraction-watch``, ``relation``). The same
    notice reported by several sources is one notice. Most serious first.
    """
    own = normalize_doi(record.get("DOI") or "")
    found: dict[tuple[str, str], dict] = {}
    reinstated: str | None = None

    def add(kind: str, typ: str, doi: str | None, source: str, date: str | None,
            label: str | None) -> None:
        key = (kind, normalize_doi(doi or own))
        n = found.setdefault(key, {"kind": kind, "type": typ, "doi": key[1], "sources": [],
                                   "date": date, "label": label})
        if source not in n["sources"]:
            n["sources"].append(source)
        if date and (n["date"] is None or date < n["date"]):
            n["date"] = date
        n["label"] = n["label"] or label

    for e in record.get("updated-by") or []:
        if not isinstance(e, dict):
            continue
        typ = _type_key(e.get("type"))
        if typ == "reinstatement":
            d = _date(e.get("updated")) or "9999"
            reinstated = max(reinstated or "", d)
            continue
        kind = _TYPE_KINDS.get(typ)
        if kind:
            # Entries from before Crossref named sources were all the publisher's.
            add(kind, e.get("type"), e.get("DOI"), e.get("source") or "publisher",
                _date(e.get("updated")), e.get("label"))
    notice_for: list[dict] = []
    for e in record.get("update-to") or []:
        if not isinstance(e, dict):
            continue
        kind = _TYPE_KINDS.get(_type_key(e.get("type")))
        target = normalize_doi(e.get("DOI") or own)
        if not kind:
            continue
        if target == own:  # the record updates itself: a retraction or withdrawal in place
            add(kind, e.get("type"), own, e.get("source") or "publisher",
                _date(e.get("updated")), e.get("label"))
        else:
            notice_for.append({"doi": target, "kind": kind, "type": e.get("type")})
    for name, entries in (record.get("relation") or {}).items():
        if name.lower().replace("_", "-") == "is-preprint-of":
            # This record is the preprint; the relation names its version of record.
            for r in entries if isinstance(entries, list) else []:
                if isinstance(r, dict) and r.get("id-type") == "doi" and r.get("id"):
                    add(PUBLISHED_VERSION, name, r["id"], "relation", None, None)
            continue
        kind = _relation_kind(name)
        if not kind or not isinstance(entries, list):
            continue
        for r in entries:
            if isinstance(r, dict) and r.get("id-type") == "doi" and r.get("id"):
                add(kind, name, r["id"], "relation", None, None)
    out = list(found.values())
    if reinstated:
        out = [n for n in out if not (n["kind"] in _REINSTATABLE and (n["date"] or "") <= reinstated)]
    for n in out:
        n["sources"].sort()
    out.sort(key=lambda n: (_SEVERITY[n["kind"]], n["date"] or "", n["doi"]))
    return out, notice_for


def _kinds(found: list[dict]) -> list[str]:
    return sorted({n["kind"] for n in found}, key=_SEVERITY.__getitem__)


def worst(kinds: list[str]) -> int:
    return min((_SEVERITY[k] for k in kinds if k in _SEVERITY), default=len(KINDS))


def _norm(value):
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def metadata_diff(stored: dict, upstream: dict) -> dict[str, list]:
    """Field-by-field differences ``{field: [stored, upstream]}`` over ``DRIFT_FIELDS``
    (title, authors, year, container, volume, issue, pages, type); whitespace-only
    differences are not differences."""
    a, b = Work.from_crossref(stored), Work.from_crossref(upstream)
    diff = {}
    for f in DRIFT_FIELDS:
        va, vb = getattr(a, f), getattr(b, f)
        if _norm(va) != _norm(vb):
            diff[f] = [va, vb]
    return diff


# --- checking a record against Crossref's answer --------------------------------------


@dataclass
class Check:
    """What one work's check found; committed with its batch."""

    doi: str
    outcome: str  # ok | changed | problem | error
    kinds: list[str] = field(default_factory=list)
    new_kinds: list[str] = field(default_factory=list)
    notices: list[dict] = field(default_factory=list)
    diff: dict = field(default_factory=dict)
    alias_of: str | None = None
    notice_for: list[dict] = field(default_factory=list)
    error: str | None = None
    upstream: dict | None = field(default=None, repr=False)  # what Crossref answered
    # What to store now, when something an editor cares about moved; with ``partial`` it
    # holds VERIFY_FIELDS only and the stored record keeps its other fields.
    replacement: dict | None = field(default=None, repr=False)
    partial: bool = False
    # The registration agency learnt for a DOI Crossref does not have (recorded with the work).
    agency: str | None = None


def check_record(stored: dict, upstream: dict | None, doi: str,
                 known: list[str] | None = None, selected: bool = False) -> Check:
    """Compare a stored record with what Crossref answers now for ``doi``.

    ``upstream`` is None when a single lookup answered 404; ``selected`` when it holds
    only ``VERIFY_FIELDS`` (a batch answer). ``known`` are the problem kinds the work had
    before, so that ``new_kinds`` says what is news.
    """
    doi = normalize_doi(doi)
    if upstream is None:
        # Gone: the notices we already knew of still stand.
        found, notice_for = notices(stored)
        kinds = _kinds(found) + ["not-found"]
        kinds.sort(key=_SEVERITY.__getitem__)
        res = Check(doi, "problem", kinds, notices=found, notice_for=notice_for)
    else:
        upstream = {k: v for k, v in upstream.items() if k != "score"}
        found, notice_for = notices(upstream)
        diff = metadata_diff(stored, upstream)
        upstream_doi = normalize_doi(upstream.get("DOI") or doi)
        if upstream_doi != doi:
            kinds = sorted(set(_kinds(found)) | {"alias"}, key=_SEVERITY.__getitem__)
            # The stored record stays under the DOI the editor cited; the primary DOI's
            # record is a different row, if anyone adds it.
            res = Check(doi, "problem", kinds, notices=found, diff=diff,
                         alias_of=upstream_doi, notice_for=notice_for, upstream=upstream)
        else:
            kinds = _kinds(found)
            outcome = "problem" if kinds else "changed" if diff else "ok"
            res = Check(doi, outcome, kinds, notices=found, diff=diff, notice_for=notice_for,
                         upstream=upstream)
            old_found, old_for = notices(stored)
            # Rewrite the stored record only when something an editor cares about moved;
            # citation counts and index dates change daily and are not worth a version.
            if diff or _notice_keys(old_found) != _notice_keys(found) or old_for != notice_for:
                res.replacement, res.partial = upstream, selected
    res.new_kinds = [k for k in res.kinds if k not in set(known or [])]
    return res


def add_notice(check: Check, notice: dict, known: list[str] | None = None) -> None:
    """Add a notice another source gave (PubMed, arXiv) to ``check``: one already there of
    the same kind gains the source instead of a second notice; kinds, outcome and
    ``new_kinds`` follow. An ``error`` check stays an error."""
    if check.outcome == "error":
        return
    for n in check.notices:
        if n["kind"] == notice["kind"] and (notice["kind"] != PUBLISHED_VERSION
                                             or n["doi"] == notice["doi"] or not notice["doi"]):
            n["sources"] = sorted(set(n["sources"]) | set(notice["sources"]))
            for k, v in notice.items():
                n.setdefault(k, v)
            break
    else:
        check.notices.append(notice)
        check.notices.sort(key=lambda n: (_SEVERITY[n["kind"]], n.get("date") or "", n.get("doi") or ""))
    check.kinds = sorted(set(check.kinds) | {notice["kind"]}, key=_SEVERITY.__getitem__)
    check.outcome = "problem"
    check.new_kinds = [k for k in check.kinds if k not in set(known or [])]


def _notice_keys(found: list[dict]) -> set:
    return {(n["kind"], n["doi"], tuple(n["sources"])) for n in found}
