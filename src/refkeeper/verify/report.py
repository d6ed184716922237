"""What verification recorded, read back (see ``verify``).

``run_report``: one run's counts and findings, most serious first, with the live claim
links and open reader requests that lean on a work gone bad (``affected``). ``history``:
every check of one work and every version of its record seen upstream.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from .._errors import NotFoundError
from .._models import normalize_doi
from .checks import KINDS, _worst


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


# --- history --------------------------------------------------------------------------


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
