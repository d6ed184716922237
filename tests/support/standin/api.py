"""The part of the Crossref REST API the stand-in answers, over its SQLite database.

``works_query`` is the ``message`` of ``GET /works`` (``query``, ``query.bibliographic``,
the field queries, ``filter``, ``rows``, ``offset``, ``select``), ranked by the stand-in's
own FTS5 search (``search``); ``work_by_doi`` is the record of ``GET /works/{doi}``. Both serve later
versions of records (``revisions._Overlay``) over the stored ones. Anything the stand-in
does not implement raises ``_BadRequest``, whose ``body()`` is Crossref's
validation-failure JSON.
"""

from __future__ import annotations

import collections
import copy
import datetime
import json
import re
import sqlite3

from . import search as index
from .db import FTS_TABLE
from .revisions import _Overlay
from .search import normalize_doi

DEFAULT_ROWS = 20
MAX_ROWS = 1000  # Crossref's cap on rows
MAX_OFFSET = 10000  # Crossref's cap on offset; beyond it Crossref wants a cursor
NOT_FOUND = "Resource not found."

FILTERS = ("doi", "from-pub-date", "until-pub-date", "type", "relation.type", "relation.object",
           "relation.object-type")
# Crossref's dot filters on relations: together they describe one relation of the work.
RELATION_FILTERS = {"relation.type": "type", "relation.object": "object_lower",
                    "relation.object-type": "object_type"}
# Field queries and the index column each one is restricted to.
FIELD_QUERIES = {
    "query.author": "authors",
    "query.editor": "authors",
    "query.contributor": "authors",
    "query.container-title": "container",
}
RANK_QUERIES = ("query", "query.bibliographic")
# Real Crossref parameters the stand-in does not implement: refused with a message that
# says so, instead of being silently ignored.
UNIMPLEMENTED_PARAMS = ("facet", "cursor", "sample")
# Crossref's work types (its /types route); a type filter outside them is a 400 there too.
CROSSREF_TYPES = frozenset(
    """book-section monograph report-component report peer-review book-track
    journal-article book-part other book journal-volume book-set reference-entry
    proceedings-article journal component book-chapter proceedings-series report-series
    proceedings database standard reference-book posted-content journal-issue
    dissertation grant dataset book-series edited-book""".split()
)
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DOI = re.compile(r"^10\.\d{4,}(?:\.\d+)*/\S")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", re.IGNORECASE)


class _BadRequest(Exception):
    """A Crossref-style validation failure: one or more (type, value, message)."""

    def __init__(self, *failures: tuple[str, str, str]) -> None:
        super().__init__(failures)
        self.failures = failures

    def body(self) -> dict:
        return {
            "status": "failed",
            "message-type": "validation-failure",
            "message": [{"type": t, "value": v, "message": m} for t, v, m in self.failures],
        }


def _envelope(message_type: str, message: dict) -> dict:
    return {
        "status": "ok",
        "message-type": message_type,
        "message-version": "1.0.0",
        "message": message,
    }


def _integer(params: dict, name: str, default: int, maximum: int, hint: str = "") -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > maximum:
        raise _BadRequest((
            "integer-not-valid",
            raw,
            f"Integer specified as {raw} but must be a positive integer less than or "
            f"equal to {maximum}.{hint}",
        ))
    return int(raw)


def _parse_filters(raw: str, known_types: frozenset) -> tuple[str, list]:
    """SQL condition over ``records`` and its parameters for a Crossref filter string.

    Repeated filters of one name are alternatives (several DOIs: any of them), different
    names must all hold, as in Crossref.
    """
    by_name: dict[str, list[str]] = collections.defaultdict(list)
    failures = []
    for part in raw.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition(":")
        name, value = name.strip(), value.strip()
        if not sep:
            failures.append((
                "pair-list-form-invalid",
                raw,
                f"Pair list form specified as '{raw}' but should be of the form: "
                "key:val,...,keyN:valN",
            ))
        elif name not in FILTERS:
            failures.append((
                "filter-not-available",
                name,
                f"Filter {name} specified but there is no such filter for this route. "
                f"Valid filters for this route (in the refkeeper stand-in) are: "
                + ", ".join(FILTERS),
            ))
        else:
            by_name[name].append(value)
    conditions: list[str] = []
    params: list = []
    relation = [(RELATION_FILTERS[n], v) for n, v in by_name.items() if n in RELATION_FILTERS]
    if relation:
        # Works with one relation matching every relation.* filter given (a repeated one:
        # any of its values), as Crossref documents its dot filters.
        where = " AND ".join(f"{col} IN ({', '.join('?' * len(vals))})" for col, vals in relation)
        conditions.append(f"doi_lower IN (SELECT doi_lower FROM relations WHERE {where})")
        for col, vals in relation:
            params.extend(normalize_doi(_DOI_PREFIX.sub("", v)) if col == "object_lower" else v
                          for v in vals)
    for name, values in by_name.items():
        if name in RELATION_FILTERS:
            continue
        if name == "doi":
            dois = [normalize_doi(_DOI_PREFIX.sub("", v)) for v in values]
            for v, d in zip(values, dois, strict=True):
                if not _DOI.match(d):
                    failures.append((
                        "doi-not-valid",
                        v,
                        f"DOI specified as {v} but must be of the form: 10.prefix/suffix "
                        "where prefix is 4 or more digits and suffix is a string",
                    ))
            conditions.append(f"doi_lower IN ({', '.join('?' * len(dois))})")
            params.extend(dois)
        elif name == "type":
            for v in values:
                if v not in known_types:
                    failures.append((
                        "type-not-valid",
                        v,
                        f"Type specified as {v} but must be one of: "
                        + ", ".join(sorted(known_types)),
                    ))
            conditions.append(f"type IN ({', '.join('?' * len(values))})")
            params.extend(values)
        else:  # from-pub-date / until-pub-date
            for v in values:
                year = _date_year(v, failures)
                # Records carry a year at best reliably (and PMC-derived ones none), so
                # the stand-in compares years: from-pub-date:2010-06 admits all of 2010.
                conditions.append("year >= ?" if name == "from-pub-date" else "year <= ?")
                params.append(year)
    if failures:
        raise _BadRequest(*failures)
    return " AND ".join(conditions), params


def _date_year(value: str, failures: list) -> int:
    m = _DATE.match(value)
    if not m:
        failures.append((
            "date-not-valid",
            value,
            f"Date specified as {value} but must be of the form: yyyy or yyyy-MM or yyyy-MM-dd",
        ))
        return 0
    y, mo, d = (int(g) if g else 1 for g in m.groups())
    try:
        datetime.date(y, mo, d)
    except ValueError:
        failures.append((
            "date-not-legitimate",
            value,
            f"Date {value} specified in the correct format but represents an illegitimate date.",
        ))
    return y


def _single(qs: dict[str, list[str]]) -> dict[str, str]:
    """One value per parameter (the last, as most servers do); filters are joined."""
    params = {k: v[-1] for k, v in qs.items()}
    if "filter" in qs:
        params["filter"] = ",".join(qs["filter"])
    return params


def works_query(
    conn: sqlite3.Connection,
    qs: dict[str, list[str]],
    known_types: frozenset,
    overlay: _Overlay | None = None,
) -> dict:
    """The ``message`` of ``GET /works`` for parsed query-string ``qs``; raises _BadRequest.

    With an ``overlay``, revised records replace the stored ones, hidden DOIs are left
    out, and revised records of DOIs the database lacks are found by a ``doi`` filter
    (searches still rank the stored text: the index is built once).
    """
    params = _single(qs)
    failures = []
    for name in params:
        if name in RANK_QUERIES or name in FIELD_QUERIES:
            continue
        if name.startswith("query."):
            failures.append((
                "field-query-not-available",
                name,
                f"Field query {name} specified but there is no such field query for this "
                "route. Valid field queries for this route (in the refkeeper stand-in) are: "
                + ", ".join(["query.bibliographic", *FIELD_QUERIES]),
            ))
        elif name in UNIMPLEMENTED_PARAMS:
            failures.append((
                "parameter-not-implemented",
                name,
                f"The refkeeper stand-in does not implement {name} (Crossref does).",
            ))
        elif name == "sort" and params[name] not in ("score", "relevance"):
            failures.append((
                "parameter-not-implemented",
                name,
                "The refkeeper stand-in only sorts by score (relevance).",
            ))
        elif name == "order" and params[name] != "desc":
            failures.append((
                "parameter-not-implemented",
                name,
                "The refkeeper stand-in only sorts in descending order.",
            ))
        elif name not in ("filter", "rows", "offset", "select", "mailto", "sort", "order"):
            failures.append(
                ("parameter-not-allowed", name, f"This route does not support {name}")
            )
    if failures:
        raise _BadRequest(*failures)
    rows = _integer(params, "rows", DEFAULT_ROWS, MAX_ROWS)
    offset = _integer(
        params, "offset", 0, MAX_OFFSET,
        " Use the cursor parameter to page further into result sets.",
    )
    select = [s.strip() for s in params.get("select", "").split(",") if s.strip()]
    where, where_params = _parse_filters(params.get("filter", ""), known_types)
    if overlay and overlay.hidden:
        hidden = sorted(overlay.hidden)
        where = " AND ".join(
            c for c in (where, f"doi_lower NOT IN ({', '.join('?' * len(hidden))})") if c
        )
        where_params = [*where_params, *hidden]

    rank_text = " ".join(params[q] for q in RANK_QUERIES if params.get(q, "").strip())
    fields = [(col, params[q]) for q, col in FIELD_QUERIES.items() if params.get(q, "").strip()]
    if rank_text or fields:
        # Full-text search. The bibliographic text ranks; each field query must also
        # match in its own column (AND). With field queries only, the first one ranks.
        rank_column = None
        if not rank_text:
            rank_column, rank_text = fields.pop(0)
        extra, extra_params = "", []
        for col, text in fields:
            expr = index.match_expression(text, col)
            if expr is None:  # nothing searchable in it: nothing can match it
                return _work_list([], 0, rows, offset, params)
            extra += f" AND rowid IN (SELECT rowid FROM [{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH ?)"
            extra_params.append(expr)
        if where:
            extra += f" AND rowid IN (SELECT rowid FROM records WHERE {where})"
            extra_params.extend(where_params)
        expr = index.match_expression(rank_text, rank_column)
        if expr is None:
            return _work_list([], 0, rows, offset, params)
        total = conn.execute(
            f"SELECT count(*) FROM [{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH ? {extra}",
            (expr, *extra_params),
        ).fetchone()[0]
        hits = index.search(
            conn, FTS_TABLE, rank_text, limit=offset + rows, column=rank_column,
            extra_where=extra, params=tuple(extra_params),
        )[offset:]
    else:
        # Filters only (or nothing): every matching record, in load order, score 1.0.
        cond = f"WHERE {where}" if where else ""
        total = conn.execute(f"SELECT count(*) FROM records {cond}", where_params).fetchone()[0]
        hits = [
            (r[0], 1.0)
            for r in conn.execute(
                f"SELECT rowid FROM records {cond} ORDER BY rowid LIMIT ? OFFSET ?",
                (*where_params, rows, offset),
            )
        ]
    found = []
    if hits:
        ids = [h[0] for h in hits]
        texts = dict(conn.execute(
            f"SELECT rowid, json FROM records WHERE rowid IN ({', '.join('?' * len(ids))})", ids
        ))
        for rowid, score in hits:
            item = json.loads(texts[rowid])
            revised = overlay.records.get(normalize_doi(item["DOI"])) if overlay else None
            if revised is not None:
                item = copy.deepcopy(revised)
            found.append((item, float(score)))
    if overlay and not (rank_text or fields) and offset == 0:
        # Revised records the database never held: a doi filter finds them, at the end.
        added = _new_revisions(conn, overlay, params.get("filter", ""), found)
        total += len(added)
        found.extend((rec, 1.0) for rec in added[: max(0, rows - len(found))])
    items = []
    for item, score in found:
        item["score"] = score
        if select:
            # Like Crossref: only the selected fields, score included only if asked.
            item = {k: item[k] for k in select if k in item}
        items.append(item)
    return _work_list(items, total, rows, offset, params)


def _new_revisions(conn: sqlite3.Connection, overlay: _Overlay, raw_filter: str,
                   found: list) -> list[dict]:
    """Overlay records asked for by a doi-only filter that the database does not hold."""
    names = {p.partition(":")[0].strip() for p in raw_filter.split(",") if p.strip()}
    if names != {"doi"}:
        return []
    wanted = [normalize_doi(_DOI_PREFIX.sub("", p.partition(":")[2].strip()))
              for p in raw_filter.split(",") if p.strip()]
    have = {normalize_doi(item["DOI"]) for item, _ in found}
    out = []
    for doi in dict.fromkeys(wanted):
        rec = overlay.records.get(doi)
        if rec is None or doi in have or doi in overlay.hidden:
            continue
        if conn.execute("SELECT 1 FROM records WHERE doi_lower = ?", (doi,)).fetchone():
            continue  # in the database: the SQL above already decided about it
        out.append(copy.deepcopy(rec))
    return out


def _work_list(items: list, total: int, rows: int, offset: int, params: dict) -> dict:
    terms = next((params[q] for q in RANK_QUERIES if params.get(q, "").strip()), None)
    return {
        "facets": {},
        "total-results": total,
        "items": items,
        "items-per-page": rows,
        "query": {"start-index": offset, "search-terms": terms},
    }


def work_by_doi(conn: sqlite3.Connection, doi: str, overlay: _Overlay | None = None) -> dict | None:
    """The stored record for ``doi`` (any case, optionally doi.org/doi: prefixed).

    With an ``overlay``: its revision of the record, None for a DOI it made unknown, and
    for an alias the record of the DOI it points to (whose ``DOI`` is that one).
    """
    key = normalize_doi(_DOI_PREFIX.sub("", doi))
    if overlay:
        for _ in range(8):  # an alias of an alias resolves too; a cycle does not loop
            if key in overlay.records:
                rec = overlay.records[key]
                return copy.deepcopy(rec) if rec is not None else None
            if key not in overlay.aliases:
                break
            key = overlay.aliases[key]
    row = conn.execute("SELECT json FROM records WHERE doi_lower = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None
