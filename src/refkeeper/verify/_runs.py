"""Verification's own tables (see ``refkeeper.verify``): the only module that reads or
writes ``verify_runs`` (one row per run, with its scope and counts), ``verify_results``
(one row per work checked in a run) and ``work_snapshots`` (every version of a record
seen upstream). The latest verdict per work (``works.problems``, ``works.checked_at``)
and the record itself belong to the store (``Store.record_checks``, ``add_records``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

from .._store import Store, now
from ._checks import Check
from ._fetch import VERIFY_FIELDS

DEFAULT_SINCE_DAYS = 30
PAGE = 500  # DOIs per query when walking the works due


# --- runs -------------------------------------------------------------------------------


def open_run(store: Store, since: float | None, all_: bool, batch_size: int,
             resume: bool) -> tuple[int, bool]:
    """Continue the unfinished run (unless ``resume`` is False: it is abandoned) or start
    one; returns (run id, whether it was continued)."""
    with store.write() as db:
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
                       [now(), r])
        if run_id is None:
            started = now()
            days = None if all_ else (DEFAULT_SINCE_DAYS if since is None else since)
            cutoff = None if days is None else (
                datetime.fromisoformat(started) - timedelta(days=days)).isoformat(timespec="microseconds")
            run_id = db.execute(
                "INSERT INTO verify_runs (started_at, status, scope, since_days, cutoff, batch_size)"
                " VALUES (?, 'running', ?, ?, ?, ?)",
                [started, "all" if days is None else "since", days, cutoff, batch_size],
            ).lastrowid
        # Total for progress: what is done plus what is still due now.
        due = sum(len(page) for page in due_pages(store, run_id))
        db.execute("UPDATE verify_runs SET total = checked + ? WHERE id = ?", [due, run_id])
    return run_id, bool(unfinished and resume)


def close_run(store: Store, run_id: int, status: str, error: str | None) -> None:
    with store.write() as db:
        db.execute("UPDATE verify_runs SET status = ?, finished_at = ?, error = ? WHERE id = ?",
                   [status, now() if status == "finished" else None, error, run_id])


def due_pages(store: Store, run_id: int, page: int = PAGE) -> Iterator[list[str]]:
    """The works still due in a run, in DOI order, a page at a time (never the whole table
    in memory): in the run's scope and without a result in it. Keyset paging, so works in
    flight (no result yet, but before the last page's end) are not handed out twice."""
    cutoff = store.db.execute("SELECT cutoff FROM verify_runs WHERE id = ?", [run_id]).fetchone()[0]
    after = ""
    while True:
        dois = store.dois_checked_before(cutoff, after, page)
        if not dois:
            return
        after = dois[-1]
        done = checked_in_run(store, run_id, dois)
        due = [d for d in dois if d not in done]
        if due:
            yield due


def run_progress(store: Store, run_id: int) -> tuple[int, int]:
    """(works checked, works due in all) of a run."""
    return store.db.execute("SELECT checked, total FROM verify_runs WHERE id = ?", [run_id]).fetchone()


def checked_in_run(store: Store, run_id: int, dois: list[str]) -> set[str]:
    """Those of ``dois`` that have a result in the run."""
    out: set[str] = set()
    for i in range(0, len(dois), PAGE):
        chunk = dois[i:i + PAGE]
        out.update(r[0] for r in store.db.execute(
            f"SELECT doi FROM verify_results WHERE run_id = ? AND doi IN ({','.join('?' * len(chunk))})",
            [run_id, *chunk]))
    return out


def checked_without_doi(store: Store, run_id: int) -> int:
    """How many works without a DOI (internal keys: never ``10.``) a run checked."""
    return store.db.execute(
        "SELECT count(*) FROM verify_results WHERE run_id = ? AND doi NOT LIKE '10.%'",
        [run_id]).fetchone()[0]


def commit_batch(store: Store, run_id: int, results: list[Check], requests: int) -> None:
    """One batch, all or nothing: results, works' verdicts, new record versions, counts."""
    stamp = now()
    counts = Counter(r.outcome for r in results)
    with store.write() as db:
        replacing = [r for r in results if r.replacement is not None]
        if replacing:
            dois = [r.doi for r in replacing]
            old = store.stored_versions(dois)
            kept = {d for (d,) in db.execute(
                f"SELECT DISTINCT doi FROM work_snapshots WHERE doi IN ({','.join('?' * len(dois))})", dois)}
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
        store.record_checks({r.doi: r.kinds for r in results if r.outcome != "error"}, stamp)
        for r in results:
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


# --- reading back -------------------------------------------------------------------------


def run_row(store: Store, run_id: int | None) -> dict | None:
    """The row of run ``run_id`` (None: the latest run), or None when there is none."""
    rows = store.db.query(
        "SELECT * FROM verify_runs " + ("WHERE id = ?" if run_id is not None else "ORDER BY id DESC LIMIT 1"),
        [run_id] if run_id is not None else [],
    )
    return next(iter(rows), None)


def findings(store: Store, run_id: int) -> list[dict]:
    """The results of a run that need attention (outcome other than ok), JSON decoded."""
    return [_result(r) for r in store.db.query(
        "SELECT * FROM verify_results WHERE run_id = ? AND outcome != 'ok'", [run_id])]


def checks_of(store: Store, doi: str) -> list[dict]:
    """Every result for one work, oldest first, with when its run started."""
    return [_result(r) for r in store.db.query(
        "SELECT r.*, v.started_at AS run_started_at FROM verify_results r"
        " JOIN verify_runs v ON v.id = r.run_id WHERE r.doi = ? ORDER BY r.checked_at, r.run_id", [doi])]


def versions_of(store: Store, doi: str) -> list[dict]:
    """Every version of a work's record seen upstream, oldest first."""
    rows = store.db.query("SELECT * FROM work_snapshots WHERE doi = ? ORDER BY id", [doi])
    return [{"id": r["id"], "taken_at": r["taken_at"], "run_id": r["run_id"],
             "record": json.loads(r["record"])} for r in rows]


def _result(row: dict) -> dict:
    row = dict(row)
    row["kinds"] = json.loads(row["kinds"])
    row["new_kinds"] = json.loads(row["new_kinds"])
    row["notices"] = json.loads(row["notices"] or "[]")
    row["diff"] = json.loads(row["diff"] or "{}")
    row["notice_for"] = json.loads(row["notice_for"] or "[]")
    return row


def published_versions(store: Store, dois: list[str] | None = None) -> dict[str, str]:
    """Preprint DOI -> the DOI of its version of record, for the works (all, or ``dois``)
    whose latest verdict has a ``published-version`` finding naming one (a finding with only
    a journal reference names none); the latest result naming one wins."""
    flagged = sorted(d for d, kinds in store.work_problems(dois).items()
                     if "published-version" in kinds)
    out: dict[str, str] = {}
    for i in range(0, len(flagged), PAGE):
        chunk = flagged[i:i + PAGE]
        for doi, raw in store.db.execute(
                f"SELECT doi, notices FROM verify_results WHERE doi IN ({','.join('?' * len(chunk))})"
                " AND notices IS NOT NULL ORDER BY checked_at, run_id", chunk):
            named = [n["doi"] for n in json.loads(raw)
                     if n.get("kind") == "published-version" and n.get("doi")]
            if named:
                out[doi] = named[0]
    return out
