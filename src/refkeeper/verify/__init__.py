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
``expression-of-concern``, ``not-found``, ``correction``, ``alias``; ``checks`` says how
each is read from a record.

A run is resumable: every batch is committed in one transaction together with its
results, and the works still due are those without a result in the run. A run killed at
any point (SIGKILL included) is continued by the next call; no work gets two results in a
run and none is skipped. Only one verification runs on a database at a time.

The code is in modules named for what they do; every name is importable from here:

* ``runs``: running verification (``verify``): which works are due, batches, resuming,
  storing results;
* ``checks``: problem kinds and notices read from a record, metadata diff, ``check_record``
  (not named ``notices``: that is the function);
* ``fetch``: batch requests under the request-line limit, single lookups;
* ``report``: run reports, affected claims and requests, a work's ``history``;
* ``bibtex``: ``verify_bib``, checking a BibTeX file (verify's own reader, not the
  exporter ``refkeeper.export.bibtex``).
"""

from __future__ import annotations

from .bibtex import BibEntryResult, BibReport, _bib_diff, verify_bib  # noqa: F401

# Every name that was in refkeeper.verify when it was one module (private helpers
# included) is imported back from the module it lives in now.
from .checks import (  # noqa: F401
    _REINSTATABLE,
    _RELATION_KINDS,
    _SEVERITY,
    _TYPE_KINDS,
    DRIFT_FIELDS,
    KINDS,
    _Check,
    _date,
    _kinds,
    _norm,
    _notice_keys,
    _relation_kind,
    _type_key,
    _worst,
    check_record,
    metadata_diff,
    notices,
)
from .fetch import (  # noqa: F401
    _FILTERABLE,
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_SIZE,
    MAX_REQUEST_TARGET,
    VERIFY_FIELDS,
    _fetch_batch,
    _fetch_listed,
    _Item,
    _Packer,
    filterable,
)
from .report import (  # noqa: F401
    _STANCE_ORDER,
    Affected,
    Finding,
    History,
    RunReport,
    _chunks,
    _finding_order,
    affected,
    history,
    run_report,
)
from .runs import (  # noqa: F401
    DEFAULT_SINCE_DAYS,
    DEFAULT_WORKERS,
    Progress,
    _batches,
    _close_run,
    _commit,
    _due_sql,
    _now,
    _open_run,
    _run,
    _RunLock,
    verify,
)

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
