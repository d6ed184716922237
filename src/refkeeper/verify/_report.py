"""What verification recorded, read back (see ``verify``).

``run_report``: one run's counts and findings, most serious first, with the live claim
links and open reader requests that lean on a work gone bad (``affected``). ``history``:
every check of one work and every version of its record seen upstream.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from .. import workflow
from .._errors import NotFoundError
from .._models import normalize_doi
from .._store import Store
from ._checks import KINDS, worst
from ._runs import checked_in_run, checked_without_doi, checks_of, findings, run_row, versions_of


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
    # Works without a DOI checked (counted in ``ok``): never asked of Crossref or the DOI
    # system, so never dead; those with a PMID were asked of PubMed.
    without_doi: int = 0

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
            "without_doi": self.without_doi,
            "error": self.error,
        }


# --- reports --------------------------------------------------------------------------


def run_report(store: Store, run_id: int | None = None, *, resumed: bool = False) -> RunReport:
    """The report of run ``run_id`` (default: the latest run) from the database."""
    run = run_row(store, run_id)
    if run is None:
        raise NotFoundError("no verification run" + (f" {run_id}" if run_id is not None else " yet"))
    rid = run["id"]
    rows = findings(store, rid)
    titles = store.titles(r["doi"] for r in rows)
    found = [Finding(r["doi"], titles.get(r["doi"]), r["outcome"], r["kinds"], r["new_kinds"], r["notices"],
                     r["diff"], r["alias_of"], r["notice_for"], r["error"], r["checked_at"]) for r in rows]
    kind_counts: Counter = Counter(k for f in found for k in f.kinds)
    found.sort(key=_finding_order)
    claims, requests_ = affected(store, {f.doi: f.kinds for f in found if f.kinds})
    # Problems found by earlier runs on works this run did not check: still there, not news.
    earlier = store.work_problems()
    in_run = checked_in_run(store, rid, list(earlier))
    known: Counter = Counter(k for doi, kinds in earlier.items() if doi not in in_run for k in kinds)
    return RunReport(
        run_id=rid, status=run["status"], scope=run["scope"], since_days=run["since_days"],
        started_at=run["started_at"], finished_at=run["finished_at"], resumed=resumed, total=run["total"],
        counts={k: run[k] for k in ("checked", "ok", "changed", "problems", "errors")},
        kind_counts={k: kind_counts[k] for k in KINDS if kind_counts[k]},
        requests=run["requests"], findings=found, affected_claims=claims, open_requests=requests_,
        error=run["error"], known_problems={k: known[k] for k in KINDS if known[k]},
        without_doi=checked_without_doi(store, rid),
    )


def _finding_order(f: Finding) -> tuple:
    outcome_rank = {"problem": 0, "changed": 1, "error": 2}.get(f.outcome, 3)
    return (outcome_rank, worst(f.kinds), f.doi)


_STANCE_ORDER = {"supports": 0, "contests": 1, "mentions": 2}


def affected(store: Store, kinds_by_doi: dict[str, list[str]]) -> tuple[list[Affected], list[Affected]]:
    """(live claim links, open reader requests) that involve the given works, most serious
    first: a claim *supported* by a retracted work leads. The workflow says what relies on
    the works (``workflow.relying_on``); this only ranks it."""
    if not kinds_by_doi:
        return [], []
    claims: list[Affected] = []
    reqs: dict[tuple[int, str], Affected] = {}
    for doi, relying in workflow.relying_on(store, kinds_by_doi).items():
        kinds = kinds_by_doi.get(doi) or kinds_by_doi.get(relying.doi, [])
        for cl in relying.links:
            claims.append(Affected("claim", cl.claim.id, doi, kinds, cl.article.id, cl.article.title,
                                   cl.claim.text, cl.link.stance, cl.link.confirmed, cl.claim.id))
        for r in relying.open_requests:
            reqs.setdefault((r.id, doi), Affected("request", r.id, doi, kinds, r.article_id, None, r.text,
                                                  None, None, r.claim_id))
    claims.sort(key=lambda a: (worst(a.kinds), _STANCE_ORDER.get(a.stance or "", 9), a.id, a.doi))
    requests_ = sorted(reqs.values(), key=lambda a: (worst(a.kinds), a.id, a.doi))
    return claims, requests_


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


def history(store: Store, doi: str) -> History:
    """The checks and record versions of ``doi``, with those of the keys merged into it
    (each check says which ``doi`` it was about); ``NotFoundError`` if it was never stored
    nor checked."""
    doi = normalize_doi(doi)
    doi = store.merged_into(doi) or doi
    keys = [doi, *store.merged_keys(doi)]
    state = store.check_state(doi)
    keep = ("doi", "run_id", "run_started_at", "checked_at", "outcome", "kinds", "new_kinds", "notices",
            "diff", "alias_of", "notice_for", "snapshot_id", "error")
    checks = sorted(({k: r[k] for k in keep} for key in keys for r in checks_of(store, key)),
                    key=lambda c: (c["checked_at"], c["run_id"]))
    versions = sorted((v for key in keys for v in versions_of(store, key)), key=lambda v: v["id"])
    if state is None and not checks:
        raise NotFoundError(f"{doi} is not in {store.path} and was never verified")
    title, problems, checked_at = state if state else (None, None, None)
    return History(doi, title, problems, checked_at, checks, versions)
