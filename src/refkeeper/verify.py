"""Re-verification: re-check stored works against Crossref and keep what changed.

Papers are retracted, corrected, given expressions of concern or withdrawn after an editor
cited them; DOIs stop resolving or become aliases; publishers fix metadata. ``verify``
re-fetches stored works, records what it finds per work and per run, and names the claims
and open reader requests that lean on a work gone bad::

    from refkeeper import CrossrefClient, Store
    from refkeeper.verify import verify
    report = verify(Store("refs.db"), CrossrefClient())
    report.exit_code, report.findings[0].kinds, report.affected_claims

How it asks Crossref: many works per request (``/works?filter=doi:A,doi:B,...``), each
request kept under Crossref's request-line limit, then one ``/works/{doi}`` lookup for each
DOI a batch did not return, because only a single lookup tells a DOI that is gone (404)
or an alias (answered with another DOI) from one that was merely not listed.

What it records (tables from migration m004; see ``store.py``):

* ``verify_runs``: one row per run with its scope and counts;
* ``verify_results``: one row per work checked in a run (outcome ``ok``, ``changed``,
  ``problem`` or ``error``; problem kinds; notices; metadata diff);
* ``work_snapshots``: every version of a record seen upstream, the one stored before the
  first change included; ``works.record`` always holds the latest;
* ``works.problems`` (JSON list of kinds, ``[]`` when fine) and ``works.checked_at``.

Problem kinds, most serious first: ``retraction``, ``withdrawal``, ``partial-retraction``,
``expression-of-concern``, ``not-found``, ``correction`` (corrections, errata,
corrigenda, addenda), ``alias``. Each comes from the work's ``updated-by`` entries
(publisher or Retraction Watch), its own ``update-to`` entries pointing at itself (an
update made in place), or a ``relation`` such as ``is-retracted-by``. A record that is
itself a notice about another work is not a problem; ``notice_for`` says so.

A run is resumable: every batch is committed in one transaction together with its
results, and the works still due are those without a result in the run. A run killed at
any point (SIGKILL included) is continued by the next call; no work gets two results in a
run and none is skipped. Only one verification runs on a database at a time.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

from .crossref import LIST, CrossrefClient
from .errors import CrossrefError, InputError, NotFoundError, UsageError
from .models import Work, normalize_doi

try:  # POSIX: the lock that keeps two runs off one database; released even on SIGKILL
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; runs are not guarded there
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_SINCE_DAYS",
    "KINDS",
    "MAX_REQUEST_TARGET",
    "VERIFY_FIELDS",
    "Affected",
    "BibEntryResult",
    "BibReport",
    "Finding",
    "History",
    "Progress",
    "RunReport",
    "check_record",
    "history",
    "metadata_diff",
    "notices",
    "run_report",
    "verify",
    "verify_bib",
]

DEFAULT_SINCE_DAYS = 30
# DOIs per batch request. About 100 average DOIs fill Crossref's request line (below);
# more would rarely fit and would make responses of megabytes (records carry references).
DEFAULT_BATCH_SIZE = 100
MAX_BATCH_SIZE = 1000  # Crossref's cap on rows
# Bytes of path and query string per request. Crossref's front end allows 4096 bytes for
# the whole request line, "GET " and " HTTP/1.1\r\n" included, and answers 414 past it
# (CrossRef/rest-api-doc#251); 4000 leaves room for them and a little to spare.
MAX_REQUEST_TARGET = 4000
DEFAULT_WORKERS = 3  # batches in flight; the client's limiter still paces and caps them

# Problem kinds, most serious first: findings and affected claims are listed in this order.
KINDS = (
    "retraction",
    "withdrawal",
    "partial-retraction",
    "expression-of-concern",
    "not-found",
    "correction",
    "alias",
)
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
# What a batch asks Crossref for (``select``; each is on the /works whitelist, and one
# that is not would fail every batch): the fields of ``Work`` and the notices. Full
# records can carry thousands of references; without them responses stay small and the
# run's memory flat. Single lookups (/works/{doi}) cannot select and return everything.
VERIFY_FIELDS = (
    "DOI", "title", "author", "container-title", "volume", "issue", "page", "type", "publisher",
    "issued", "published", "published-print", "published-online", "created",
    "updated-by", "update-to", "relation", "deposited",
)

# What Crossref's filter accepts as a DOI; others (and DOIs with a comma, which would
# split the filter) are looked up one by one.
_FILTERABLE = re.compile(r"^10\.\d{4,}(?:\.\d+)*/[^\s,]+$")


def _now() -> str:
    # Microseconds: a run started right after another must not share its timestamps.
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# --- reading a record ------------------------------------------------------------------


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


@dataclass
class _Check:
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


def check_record(stored: dict, upstream: dict | None, doi: str,
                 known: list[str] | None = None, selected: bool = False) -> _Check:
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
        res = _Check(doi, "problem", kinds, notices=found, notice_for=notice_for)
    else:
        upstream = {k: v for k, v in upstream.items() if k != "score"}
        found, notice_for = notices(upstream)
        diff = metadata_diff(stored, upstream)
        upstream_doi = normalize_doi(upstream.get("DOI") or doi)
        if upstream_doi != doi:
            kinds = sorted(set(_kinds(found)) | {"alias"}, key=_SEVERITY.__getitem__)
            # The stored record stays under the DOI the editor cited; the primary DOI's
            # record is a different row, if anyone adds it.
            res = _Check(doi, "problem", kinds, notices=found, diff=diff,
                         alias_of=upstream_doi, notice_for=notice_for, upstream=upstream)
        else:
            kinds = _kinds(found)
            outcome = "problem" if kinds else "changed" if diff else "ok"
            res = _Check(doi, outcome, kinds, notices=found, diff=diff, notice_for=notice_for,
                         upstream=upstream)
            old_found, old_for = notices(stored)
            # Rewrite the stored record only when something an editor cares about moved;
            # citation counts and index dates change daily and are not worth a version.
            if diff or _notice_keys(old_found) != _notice_keys(found) or old_for != notice_for:
                res.replacement, res.partial = upstream, selected
    res.new_kinds = [k for k in res.kinds if k not in set(known or [])]
    return res


def _notice_keys(found: list[dict]) -> set:
    return {(n["kind"], n["doi"], tuple(n["sources"])) for n in found}


# --- asking Crossref -------------------------------------------------------------------


def filterable(doi: str) -> bool:
    """Whether ``doi`` can go in a ``filter=doi:...`` batch (else: a single lookup)."""
    return bool(_FILTERABLE.match(doi)) and len(doi) < 1000


class _Packer:
    """Sizes batches so that the request ``CrossrefClient.works_by_doi`` sends stays under
    ``MAX_REQUEST_TARGET``: requests encodes parameters with ``quote_plus``."""

    def __init__(self, client: CrossrefClient, batch_size: int,
                 limit: int = MAX_REQUEST_TARGET) -> None:
        self.batch_size = batch_size
        self.limit = limit
        self.fixed = (
            len(urlsplit(client.base_url).path) + len("/works?filter=") + len("&rows=")
            + len(str(batch_size)) + len("&select=") + len(quote_plus(",".join(VERIFY_FIELDS)))
            + (len("&mailto=") + len(quote_plus(client.mailto)) if client.mailto else 0)
        )

    @staticmethod
    def cost(doi: str) -> int:
        return len(quote_plus(f"doi:{doi}")) + len("%2C")

    def target_length(self, dois: list[str]) -> int:
        """The request target's length for ``dois`` (what the tests hold it to)."""
        return self.fixed - len(str(self.batch_size)) + len(str(len(dois))) + sum(
            map(self.cost, dois)) - len("%2C")


@dataclass
class _Item:
    doi: str
    record: dict
    known: list[str]


def _fetch_listed(client: CrossrefClient, dois: list[str]) -> tuple[dict[str, dict], int]:
    """Records of ``dois`` (``VERIFY_FIELDS`` only) by one filter request, halving the
    batch if Crossref refuses it as malformed or too long (single lookups then settle the
    odd DOI)."""
    params = {"filter": ",".join(f"doi:{d}" for d in dois), "rows": str(len(dois)),
              "select": ",".join(VERIFY_FIELDS)}
    try:
        data = client.get("/works", params, kind=LIST)
        items = ((data or {}).get("message") or {}).get("items") or []
    except CrossrefError as exc:
        if exc.status not in (400, 413, 414):
            raise
        if len(dois) == 1:
            return {}, 1
        mid = len(dois) // 2
        a, na = _fetch_listed(client, dois[:mid])
        b, nb = _fetch_listed(client, dois[mid:])
        return {**a, **b}, 1 + na + nb
    return {normalize_doi(i["DOI"]): i for i in items if isinstance(i, dict) and i.get("DOI")}, 1


def _fetch_batch(client: CrossrefClient, items: list[_Item]) -> tuple[list[_Check], int]:
    """Check one batch: (results in order, requests made). Raises ``CrossrefError`` when
    Crossref fails for good; nothing of the batch is then kept."""
    listed = [it.doi for it in items if filterable(it.doi)]
    found, n = _fetch_listed(client, listed) if listed else ({}, 0)
    out = []
    for it in items:
        rec = found.get(it.doi)
        selected = rec is not None
        if rec is None:
            try:
                rec = client.work(it.doi)
            except InputError as exc:
                out.append(_Check(it.doi, "error", error=str(exc)))
                continue
            except CrossrefError as exc:
                if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                    n += 1
                    out.append(_Check(it.doi, "error", error=str(exc)))
                    continue
                raise
            n += 1
        try:
            out.append(check_record(it.record, rec, it.doi, it.known, selected))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            # A record shaped in a way nobody foresaw costs one work, not the whole run.
            out.append(_Check(it.doi, "error", error=f"unreadable Crossref record: {exc!r}"))
    return out, n


# --- runs --------------------------------------------------------------------------------


@dataclass
class Progress:
    """Passed to ``verify(progress=...)`` after each committed batch."""

    run_id: int
    done: int  # works checked in the run so far (earlier invocations included)
    total: int  # works due in the run
    rate: float  # works per second in this invocation
    eta: float | None  # seconds left at that rate


@dataclass
class Finding:
    """A work that needs an editor: a problem, changed metadata, or a failed check."""

    doi: str
    title: str | None
    outcome: str  # problem | changed | error
    kinds: list[str]
    new_kinds: list[str]
    notices: list[dict]
    diff: dict
    alias_of: str | None
    notice_for: list[dict]
    error: str | None
    checked_at: str


@dataclass
class Affected:
    """A live claim link or an open reader request that leans on a work with problems."""

    what: str  # claim | request
    id: int
    doi: str
    kinds: list[str]
    article_id: int | None = None
    article_title: str | None = None
    text: str | None = None  # the claim, or the reader's words
    stance: str | None = None  # how the work bears on the claim (supports, contests ...)
    confirmed: bool | None = None
    claim_id: int | None = None


@dataclass
class RunReport:
    """One run's outcome, read back from the database (so a resumed run reports all of it).

    ``status`` is ``finished``, or ``interrupted`` with ``error`` when Crossref failed for
    good: what was checked is kept and the next ``verify`` call continues the run.
    """

    run_id: int
    status: str
    scope: str
    since_days: float | None
    started_at: str
    finished_at: str | None
    resumed: bool  # this call continued an earlier, unfinished run
    total: int
    counts: dict  # checked, ok, changed, problems, errors
    kind_counts: dict  # works per problem kind
    requests: int
    findings: list[Finding]
    affected_claims: list[Affected]
    open_requests: list[Affected]
    error: str | None = None
    # Works with problems found by earlier runs and not checked in this one, by kind:
    # still there, but not news (they do not change the exit code).
    known_problems: dict = field(default_factory=dict)

    @property
    def needs_attention(self) -> bool:
        return bool(self.findings)

    @property
    def exit_code(self) -> int:
        """2 interrupted, 1 findings, 0 nothing needs attention (the CLI's exit code)."""
        return 2 if self.status != "finished" else 1 if self.findings else 0

    def to_json(self) -> dict:
        """The stable JSON of ``refkeeper verify --json``."""
        return {
            "run": {
                "id": self.run_id,
                "status": self.status,
                "scope": self.scope,
                "since_days": self.since_days,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "resumed": self.resumed,
            },
            "total": self.total,
            "counts": self.counts,
            "kinds": self.kind_counts,
            "requests": self.requests,
            "needs_attention": self.needs_attention,
            "findings": [asdict(f) for f in self.findings],
            "affected_claims": [asdict(a) for a in self.affected_claims],
            "open_requests": [asdict(a) for a in self.open_requests],
            "known_problems": self.known_problems,
            "error": self.error,
        }


class _RunLock:
    """An exclusive lock beside the database (``refs.db-verify.lock``), held for a run."""

    def __init__(self, path: str) -> None:
        self.path = None if path == ":memory:" or fcntl is None else f"{path}-verify.lock"
        self._fh = None

    def __enter__(self) -> _RunLock:
        if self.path:
            fh = open(self.path, "a")  # noqa: SIM115 - held open for the run
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                raise UsageError(
                    f"another `refkeeper verify` is running on this database ({self.path} is locked)"
                ) from None
            self._fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def verify(
    store,
    client: CrossrefClient | None = None,
    since: float | None = None,
    all: bool = False,  # noqa: A002 - the CLI's --all
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[Progress], None] | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
    resume: bool = True,
) -> RunReport:
    """Re-check stored works against Crossref; returns the run's report.

    Which works: those not checked in the last ``since`` days (default
    ``DEFAULT_SINCE_DAYS``), never-checked ones included; ``all=True`` checks every work.
    An unfinished run (killed, or interrupted by Crossref failing) is always continued
    first, with the scope it started with, unless ``resume=False`` abandons it.

    Crossref failing for good does not raise: the report comes back ``interrupted`` with
    the ``error``, everything checked until then kept. Raises ``UsageError`` for bad
    arguments or when another verification holds the database.
    """
    if all and since is not None:
        raise UsageError("--since and --all cannot be combined")
    if since is not None and since < 0:
        raise UsageError("--since must be a number of days, 0 or more")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise UsageError(f"batch size must be between 1 and {MAX_BATCH_SIZE}")
    client = client or CrossrefClient()
    db = store.db
    with _RunLock(store.path):
        run_id, resumed = _open_run(db, None if all else since, all, batch_size, resume)
        try:
            _run(store, client, run_id, batch_size, max(1, workers), progress)
        except CrossrefError as exc:
            _close_run(db, run_id, "interrupted", str(exc))
        except BaseException as exc:  # a bug, Ctrl-C: the run is continued next time
            try:
                _close_run(db, run_id, "interrupted", f"{type(exc).__name__}: {exc}")
            finally:
                raise
        else:
            _close_run(db, run_id, "finished", None)
        return run_report(store, run_id, resumed=resumed)


def _open_run(db, since: float | None, all_: bool, batch_size: int, resume: bool) -> tuple[int, bool]:
    with db.atomic():
        unfinished = [r[0] for r in db.execute(
            "SELECT id FROM verify_runs WHERE status IN ('running', 'interrupted') ORDER BY id DESC")]
        if unfinished and resume:
            run_id, older = unfinished[0], unfinished[1:]
            db.execute("UPDATE verify_runs SET status = 'running', resumes = resumes + 1, error = NULL,"
                       " batch_size = ? WHERE id = ?", [batch_size, run_id])
        else:
            run_id, older = None, unfinished
        for r in older:
            db.execute("UPDATE verify_runs SET status = 'abandoned', finished_at = ? WHERE id = ?",
                       [_now(), r])
        if run_id is None:
            started = datetime.now(timezone.utc)
            days = None if all_ else (DEFAULT_SINCE_DAYS if since is None else since)
            cutoff = None if days is None else (started - timedelta(days=days)).isoformat(
                timespec="microseconds")
            run_id = db.execute(
                "INSERT INTO verify_runs (started_at, status, scope, since_days, cutoff, batch_size)"
                " VALUES (?, 'running', ?, ?, ?, ?)",
                [started.isoformat(timespec="microseconds"), "all" if days is None else "since",
                 days, cutoff, batch_size],
            ).lastrowid
        # Total for progress: what is done plus what is still due now.
        cutoff = db.execute("SELECT cutoff FROM verify_runs WHERE id = ?", [run_id]).fetchone()[0]
        sql, params = _due_sql(run_id, cutoff)
        due = db.execute(f"SELECT count(*) FROM works WHERE {sql}", params).fetchone()[0]
        db.execute("UPDATE verify_runs SET total = checked + ? WHERE id = ?", [due, run_id])
    return run_id, bool(unfinished and resume)


def _due_sql(run_id: int, cutoff: str | None) -> tuple[str, list]:
    """The condition for works still due in a run: in scope and without a result in it."""
    sql = "NOT EXISTS (SELECT 1 FROM verify_results r WHERE r.run_id = ? AND r.doi = works.doi)"
    params: list = [run_id]
    if cutoff is not None:
        sql += " AND (works.checked_at IS NULL OR works.checked_at < ?)"
        params.append(cutoff)
    return sql, params


def _close_run(db, run_id: int, status: str, error: str | None) -> None:
    with db.atomic():
        db.execute("UPDATE verify_runs SET status = ?, finished_at = ?, error = ? WHERE id = ?",
                   [status, _now() if status == "finished" else None, error, run_id])


def _batches(db, client: CrossrefClient, run_id: int, batch_size: int) -> Iterator[list[_Item]]:
    """Due works in DOI order, a page at a time (never the whole table in memory), packed
    into batches that fit one request."""
    cutoff = db.execute("SELECT cutoff FROM verify_runs WHERE id = ?", [run_id]).fetchone()[0]
    cond, params = _due_sql(run_id, cutoff)
    packer = _Packer(client, batch_size)
    # Stored records can carry thousands of references; SQLite drops them before Python
    # sees the text, and only the verified fields are held while a batch is in flight.
    try:
        db.execute("SELECT json_remove('{}', '$.reference')")
        record_sql = "json_remove(record, '$.reference')"
    except sqlite3.OperationalError:  # pragma: no cover - SQLite built without JSON1
        record_sql = "record"
    after = ""
    batch: list[_Item] = []
    length = packer.fixed
    while True:
        # Keyset paging: works in flight have no result yet, but `after` is past them.
        rows = db.execute(
            f"SELECT doi, {record_sql}, problems FROM works WHERE doi > ? AND {cond} ORDER BY doi LIMIT ?",
            [after, *params, batch_size],
        ).fetchall()
        if not rows:
            break
        after = rows[-1][0]
        for doi, record, problems in rows:
            rec = json.loads(record)
            item = _Item(doi, {k: rec[k] for k in VERIFY_FIELDS if k in rec},
                         json.loads(problems) if problems else [])
            cost = packer.cost(doi) if filterable(doi) else 0
            if batch and (len(batch) >= batch_size or length + cost > packer.limit):
                yield batch
                batch, length = [], packer.fixed
            batch.append(item)
            length += cost
    if batch:
        yield batch


def _run(store, client: CrossrefClient, run_id: int, batch_size: int, workers: int,
         progress: Callable[[Progress], None] | None) -> None:
    db = store.db
    started = time.monotonic()
    done_here = 0
    pending: deque[Future] = deque()

    def commit(fut: Future) -> None:
        nonlocal done_here
        results, n = fut.result()
        _commit(store, run_id, results, n)
        done_here += len(results)
        if progress is not None:
            done, total = db.execute(
                "SELECT checked, total FROM verify_runs WHERE id = ?", [run_id]).fetchone()
            rate = done_here / max(time.monotonic() - started, 1e-6)
            eta = (total - done) / rate if rate > 0 else None
            progress(Progress(run_id, done, total, rate, eta))

    pool = ThreadPoolExecutor(workers, thread_name_prefix="refkeeper-verify")
    try:
        for batch in _batches(db, client, run_id, batch_size):
            pending.append(pool.submit(_fetch_batch, client, batch))
            # At most workers + 1 batches held: memory stays flat however many works.
            while len(pending) > workers:
                commit(pending.popleft())
        while pending:
            commit(pending.popleft())
    except CrossrefError:
        # Keep every batch that did finish; the others are due again next time.
        for fut in pending:
            fut.cancel()
        for fut in pending:
            if not fut.cancelled() and fut.exception() is None:
                commit(fut)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _commit(store, run_id: int, results: list[_Check], requests: int) -> None:
    """One batch, all or nothing: results, works' verdicts, new record versions, counts."""
    db = store.db
    stamp = _now()
    counts = Counter(r.outcome for r in results)
    with db.atomic():
        replacing = [r for r in results if r.replacement is not None]
        if replacing:
            marks = ",".join("?" * len(replacing))
            dois = [r.doi for r in replacing]
            old = {d: (rec, ts) for d, rec, ts in db.execute(
                f"SELECT doi, record, coalesce(updated_at, added_at) FROM works WHERE doi IN ({marks})",
                dois)}
            kept = {d for (d,) in db.execute(
                f"SELECT DISTINCT doi FROM work_snapshots WHERE doi IN ({marks})", dois)}
            replacing = [r for r in replacing if r.doi in old]  # deleted meanwhile: leave it so
            for r in replacing:
                if r.partial:
                    # A batch answer holds the verified fields only: they replace the stored
                    # ones (absent means removed upstream); the rest (references...) stays.
                    full = json.loads(old[r.doi][0])
                    r.replacement = {**{k: v for k, v in full.items() if k not in VERIFY_FIELDS},
                                     **r.replacement}
                    r.partial = False
                if r.doi not in kept:  # the version stored before the first change
                    db.execute("INSERT INTO work_snapshots (doi, taken_at, run_id, record)"
                               " VALUES (?, ?, NULL, ?)", [r.doi, old[r.doi][1] or stamp, old[r.doi][0]])
            if replacing:
                store.add_records([r.replacement for r in replacing], "crossref")
        snapshot_ids = {}
        for r in replacing:
            snapshot_ids[r.doi] = db.execute(
                "INSERT INTO work_snapshots (doi, taken_at, run_id, record) VALUES (?, ?, ?, ?)",
                [r.doi, stamp, run_id, json.dumps(r.replacement, ensure_ascii=False)],
            ).lastrowid
        for r in results:
            if r.outcome != "error":
                db.execute("UPDATE works SET problems = ?, checked_at = ? WHERE doi = ?",
                           [json.dumps(r.kinds), stamp, r.doi])
            db.execute(
                "INSERT INTO verify_results (run_id, doi, checked_at, outcome, kinds, new_kinds,"
                " notices, diff, alias_of, notice_for, snapshot_id, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, r.doi, stamp, r.outcome, json.dumps(r.kinds), json.dumps(r.new_kinds),
                 json.dumps(r.notices, ensure_ascii=False) if r.notices else None,
                 json.dumps(r.diff, ensure_ascii=False) if r.diff else None,
                 r.alias_of, json.dumps(r.notice_for) if r.notice_for else None,
                 snapshot_ids.get(r.doi), r.error],
            )
        db.execute(
            "UPDATE verify_runs SET checked = checked + ?, ok = ok + ?, changed = changed + ?,"
            " problems = problems + ?, errors = errors + ?, requests = requests + ? WHERE id = ?",
            [len(results), counts["ok"], counts["changed"], counts["problem"], counts["error"],
             requests, run_id],
        )


# --- reports --------------------------------------------------------------------------


def run_report(store, run_id: int | None = None, *, resumed: bool = False) -> RunReport:
    """The report of run ``run_id`` (default: the latest run) from the database."""
    db = store.db
    row = db.execute(
        "SELECT id, status, scope, since_days, started_at, finished_at, total, checked, ok, changed,"
        " problems, errors, requests, error FROM verify_runs "
        + ("WHERE id = ?" if run_id is not None else "ORDER BY id DESC LIMIT 1"),
        [run_id] if run_id is not None else [],
    ).fetchone()
    if row is None:
        raise NotFoundError("no verification run" + (f" {run_id}" if run_id is not None else " yet"))
    (rid, status, scope, since_days, started_at, finished_at, total, checked, ok, changed,
     problems, errors, requests, error) = row
    findings = []
    kind_counts: Counter = Counter()
    for (doi, outcome, kinds, new_kinds, notices_, diff, alias_of, notice_for, err, checked_at,
         title) in db.execute(
        "SELECT r.doi, r.outcome, r.kinds, r.new_kinds, r.notices, r.diff, r.alias_of, r.notice_for,"
        " r.error, r.checked_at, w.title FROM verify_results r LEFT JOIN works w ON w.doi = r.doi"
        " WHERE r.run_id = ? AND r.outcome != 'ok'", [rid]):
        f = Finding(doi, title, outcome, json.loads(kinds), json.loads(new_kinds),
                    json.loads(notices_ or "[]"), json.loads(diff or "{}"), alias_of,
                    json.loads(notice_for or "[]"), err, checked_at)
        kind_counts.update(f.kinds)
        findings.append(f)
    findings.sort(key=_finding_order)
    claims, requests_ = affected(store, {f.doi: f.kinds for f in findings if f.kinds})
    known: Counter = Counter()
    for (problems_,) in db.execute(
        "SELECT w.problems FROM works w WHERE w.problems IS NOT NULL AND w.problems != '[]' AND NOT EXISTS"
        " (SELECT 1 FROM verify_results r WHERE r.run_id = ? AND r.doi = w.doi)", [rid]):
        known.update(json.loads(problems_))
    return RunReport(
        run_id=rid, status=status, scope=scope, since_days=since_days, started_at=started_at,
        finished_at=finished_at, resumed=resumed, total=total,
        counts={"checked": checked, "ok": ok, "changed": changed, "problems": problems,
                "errors": errors},
        kind_counts={k: kind_counts[k] for k in KINDS if kind_counts[k]},
        requests=requests, findings=findings, affected_claims=claims, open_requests=requests_,
        error=error, known_problems={k: known[k] for k in KINDS if known[k]},
    )


def _worst(kinds: list[str]) -> int:
    return min((_SEVERITY[k] for k in kinds if k in _SEVERITY), default=len(KINDS))


def _finding_order(f: Finding) -> tuple:
    outcome_rank = {"problem": 0, "changed": 1, "error": 2}.get(f.outcome, 3)
    return (outcome_rank, _worst(f.kinds), f.doi)


_STANCE_ORDER = {"supports": 0, "contests": 1, "mentions": 2}


def affected(store, kinds_by_doi: dict[str, list[str]]) -> tuple[list[Affected], list[Affected]]:
    """(live claim links, open reader requests) that involve the given works, most serious
    first: a claim *supported* by a retracted work leads.

    Reads the claims tables (migration m003) only if they exist, so verification works on
    a database without them.
    """
    if not kinds_by_doi:
        return [], []
    db = store.db
    tables = set(db.table_names())

    def cols(t: str) -> set[str]:
        return set(db[t].columns_dict) if t in tables else set()

    dois = list(kinds_by_doi)
    claims: list[Affected] = []
    links, claim_cols, art_cols = cols("links"), cols("claims"), cols("articles")
    if {"claim_id", "doi"} <= links and "id" in claim_cols:
        sel = ["l.id", "l.claim_id", "l.doi"]
        sel.append("l.stance" if "stance" in links else "NULL")
        sel.append("l.confirmed" if "confirmed" in links else "NULL")
        sel.append("c.text" if "text" in claim_cols else "NULL")
        sel.append("c.article_id" if "article_id" in claim_cols else "NULL")
        join = ""
        if "article_id" in claim_cols and {"id", "title"} <= art_cols:
            sel.append("a.title")
            join = " LEFT JOIN articles a ON a.id = c.article_id"
        else:
            sel.append("NULL")
        live = " AND l.removed_at IS NULL" if "removed_at" in links else ""
        for chunk in _chunks(dois, 500):
            for _lid, cid, doi, stance, confirmed, text, aid, atitle in db.execute(
                f"SELECT {', '.join(sel)} FROM links l JOIN claims c ON c.id = l.claim_id{join}"
                f" WHERE l.doi IN ({','.join('?' * len(chunk))}){live}", chunk):
                claims.append(Affected("claim", cid, doi, kinds_by_doi[doi], aid, atitle, text, stance,
                                       None if confirmed is None else bool(confirmed), cid))
        claims.sort(key=lambda a: (_worst(a.kinds), _STANCE_ORDER.get(a.stance or "", 9), a.id, a.doi))
    reqs: dict[tuple[int, str], Affected] = {}
    req_cols = cols("requests")
    if {"id", "status"} <= req_cols:
        r_sel = ", ".join(
            f"r.{c}" if c in req_cols else "NULL" for c in ("article_id", "claim_id", "text"))
        sources = [(t, "doi") for t in ("request_works", "request_references")
                   if {"request_id", "doi"} <= cols(t)]
        for table, col in sources:
            for chunk in _chunks(dois, 500):
                for rid, doi, aid, cid, text in db.execute(
                    f"SELECT r.id, x.{col}, {r_sel} FROM {table} x JOIN requests r ON r.id = x.request_id"
                    f" WHERE r.status = 'open' AND x.{col} IN ({','.join('?' * len(chunk))})", chunk):
                    reqs.setdefault((rid, doi), Affected("request", rid, doi, kinds_by_doi[doi], aid,
                                                         None, text, None, None, cid))
    requests_ = sorted(reqs.values(), key=lambda a: (_worst(a.kinds), a.id, a.doi))
    return claims, requests_


def _chunks(seq: list, n: int) -> Iterator[list]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


# --- history ---------------------------------------------------------------------------


@dataclass
class History:
    """Everything verification knows about one work."""

    doi: str
    title: str | None
    problems: list[str] | None  # the latest verdict (None: never checked)
    checked_at: str | None
    checks: list[dict]  # oldest first: run_id, checked_at, outcome, kinds, notices, diff ...
    snapshots: list[dict]  # oldest first: id, taken_at, run_id, record

    def to_json(self) -> dict:
        return asdict(self)


def history(store, doi: str) -> History:
    """The checks and record versions of ``doi``; ``NotFoundError`` if it was never stored
    nor checked."""
    doi = normalize_doi(doi)
    db = store.db
    row = db.execute("SELECT title, problems, checked_at FROM works WHERE doi = ?", [doi]).fetchone()
    checks = [
        {"run_id": run_id, "run_started_at": started, "checked_at": checked_at, "outcome": outcome,
         "kinds": json.loads(kinds), "new_kinds": json.loads(new_kinds),
         "notices": json.loads(notices_ or "[]"), "diff": json.loads(diff or "{}"),
         "alias_of": alias_of, "notice_for": json.loads(notice_for or "[]"),
         "snapshot_id": snapshot_id, "error": error}
        for (run_id, started, checked_at, outcome, kinds, new_kinds, notices_, diff, alias_of,
             notice_for, snapshot_id, error) in db.execute(
            "SELECT r.run_id, v.started_at, r.checked_at, r.outcome, r.kinds, r.new_kinds, r.notices,"
            " r.diff, r.alias_of, r.notice_for, r.snapshot_id, r.error FROM verify_results r"
            " JOIN verify_runs v ON v.id = r.run_id WHERE r.doi = ? ORDER BY r.checked_at, r.run_id",
            [doi])
    ]
    snaps = [
        {"id": sid, "taken_at": taken_at, "run_id": run_id, "record": json.loads(record)}
        for sid, taken_at, run_id, record in db.execute(
            "SELECT id, taken_at, run_id, record FROM work_snapshots WHERE doi = ? ORDER BY id", [doi])
    ]
    if row is None and not checks:
        raise NotFoundError(f"{doi} is not in {store.path} and was never verified")
    title, problems, checked_at = row if row else (None, None, None)
    return History(doi, title, json.loads(problems) if problems else None, checked_at, checks, snaps)


# --- a BibTeX file ---------------------------------------------------------------------


@dataclass
class BibEntryResult:
    """One entry of a checked BibTeX file."""

    key: str
    doi: str | None
    outcome: str  # ok | changed (differs from Crossref) | problem | error | no-doi
    kinds: list[str] = field(default_factory=list)
    notices: list[dict] = field(default_factory=list)
    diff: dict = field(default_factory=dict)  # {field: [bib, Crossref]}
    alias_of: str | None = None
    error: str | None = None


@dataclass
class BibReport:
    """What ``verify_bib`` found; nothing is stored."""

    path: str
    entries: list[BibEntryResult]
    requests: int

    @property
    def findings(self) -> list[BibEntryResult]:
        order = {"problem": 0, "changed": 1, "error": 2}
        found = [e for e in self.entries if e.outcome in order]
        return sorted(found, key=lambda e: (order[e.outcome], _worst(e.kinds), e.key))

    @property
    def exit_code(self) -> int:
        return 1 if self.findings else 0

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "entries": len(self.entries),
            "checked": sum(e.doi is not None for e in self.entries),
            "without_doi": [e.key for e in self.entries if e.outcome == "no-doi"],
            "requests": self.requests,
            "needs_attention": bool(self.findings),
            "findings": [asdict(e) for e in self.findings],
        }


def _bib_doi(fields) -> str | None:
    from .match import extract_dois

    for name in ("doi", "url"):
        value = fields.get(name)
        if value:
            # BibTeX files escape TeX specials in DOIs: 10.1000/a\_b is 10.1000/a_b.
            value = re.sub(r"\\([_%&#$])", r"\1", value).replace("{", "").replace("}", "")
            found = extract_dois(value)
            if found:
                return normalize_doi(found[0])
    return None


def _bib_record(entry, doi: str) -> dict:
    """The fields of a BibTeX entry as a Crossref-shaped record, to diff like a snapshot."""
    from pybtex.richtext import Text

    def plain(name: str) -> str | None:
        value = entry.fields.get(name)
        if not value:
            return None
        try:
            return Text.from_latex(value).render_as("text")
        except Exception:  # unbalanced braces and the like: compare the raw text
            return value

    rec: dict = {"DOI": doi}
    if plain("title"):
        rec["title"] = [plain("title")]
    year = entry.fields.get("year", "")
    if year.strip().isdigit():
        rec["issued"] = {"date-parts": [[int(year.strip())]]}
    for bib_name, key in (("volume", "volume"), ("number", "issue"), ("pages", "page")):
        if entry.fields.get(bib_name):
            rec[key] = entry.fields[bib_name].replace("--", "-")
    return rec


def _bib_diff(bib: dict, upstream: dict) -> dict:
    """Differences a person would call wrong: title words, year, volume, first page; only
    for fields the entry has (a BibTeX file is no full record)."""
    from .match import compact

    a, b = Work.from_crossref(bib), Work.from_crossref(upstream)
    diff = {}
    if a.title and b.title and compact(a.title) != compact(b.title):
        diff["title"] = [a.title, b.title]
    for f in ("year", "volume", "issue"):
        va, vb = getattr(a, f), getattr(b, f)
        if va is not None and vb is not None and str(va).strip() != str(vb).strip():
            diff[f] = [va, vb]
    first = [re.split(r"[-–]", p.strip())[0] if p else None for p in (a.pages, b.pages)]
    if all(first) and first[0] != first[1]:
        diff["pages"] = [a.pages, b.pages]
    return diff


def verify_bib(path: str | Path, client: CrossrefClient | None = None,
               batch_size: int = DEFAULT_BATCH_SIZE) -> BibReport:
    """Check the DOIs of a BibTeX file against Crossref without importing anything.

    Each entry with a DOI (``doi`` field, or a doi.org ``url``) gets the problem kinds of
    ``verify`` and a diff of title, year, volume, issue and first page against Crossref;
    entries without a DOI are listed as ``no-doi``. Raises ``InputError`` for a file that
    cannot be read or parsed, ``CrossrefError`` when Crossref fails for good.
    """
    import pybtex.errors
    from pybtex.database.input.bibtex import Parser

    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise UsageError(f"batch size must be between 1 and {MAX_BATCH_SIZE}")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {p}: {exc}") from exc
    # Real bibliographies have duplicate keys and odd entries: pybtex's complaints are
    # collected instead of raised, and whatever parsed is checked.
    with pybtex.errors.capture():
        try:
            data = Parser().parse_string(text)
        except Exception as exc:  # pybtex raises its own types and plain ones on bad input
            raise InputError(f"{p} is not valid BibTeX: {exc}") from None
    client = client or CrossrefClient()
    entries: list[BibEntryResult] = []
    by_doi: dict[str, list[tuple[BibEntryResult, dict]]] = {}
    for key, entry in data.entries.items():
        doi = _bib_doi(entry.fields)
        res = BibEntryResult(key, doi, "no-doi" if doi is None else "ok")
        entries.append(res)
        if doi is not None:
            by_doi.setdefault(doi, []).append((res, _bib_record(entry, doi)))
    packer = _Packer(client, batch_size)
    requests = 0
    batch: list[_Item] = []
    length = packer.fixed

    def flush() -> None:
        nonlocal requests, batch, length
        checks, n = _fetch_batch(client, batch)
        requests += n
        for item, chk in zip(batch, checks, strict=True):
            for res, bib in by_doi[item.doi]:
                res.kinds, res.notices, res.alias_of, res.error = (
                    chk.kinds, chk.notices, chk.alias_of, chk.error)
                if chk.outcome == "error":
                    res.outcome = "error"
                    continue
                # The entry's own fields play the stored record: what differs is worth a look.
                res.diff = _bib_diff(bib, chk.upstream) if chk.upstream is not None else {}
                res.outcome = "problem" if chk.kinds else "changed" if res.diff else "ok"
        batch, length = [], packer.fixed

    for doi, uses in by_doi.items():
        cost = packer.cost(doi) if filterable(doi) else 0
        if batch and (len(batch) >= batch_size or length + cost > packer.limit):
            flush()
        batch.append(_Item(doi, uses[0][1], []))
        length += cost
    if batch:
        flush()
    return BibReport(str(p), entries, requests)
