"""Re-verification: re-check stored works against Crossref and keep what changed.

Papers are retracted, corrected, given expressions of concern or withdrawn after an editor
cited them; DOIs stop resolving or become aliases; publishers fix metadata. ``verify``
re-fetches stored works, records what it finds per work and per run, and names the claims
and open reader requests that lean on a work gone bad::

    from refkeeper import CrossrefClient, Store
    from refkeeper.verify import verify
    report = verify(Store("refs.db"), client=CrossrefClient(base_url=..., mailto=...))
    report.exit_code, report.findings[0].kinds, report.affected_claims

How it asks Crossref: many works per request (``/works?filter=doi:A,doi:B,...``), each
request kept under Crossref's request-line limit, then one ``/works/{doi}`` lookup for each
DOI a batch did not return, because only a single lookup tells a DOI that is gone (404)
or an alias (answered with another DOI) from one that was merely not listed.

What it records (tables from migration m004; see ``_store.py``), through ``_runs``:

* ``verify_runs``: one row per run with its scope and counts;
* ``verify_results``: one row per work checked in a run (outcome ``ok``, ``changed``,
  ``problem`` or ``error``; problem kinds; notices; metadata diff);
* ``work_snapshots``: every version of a record seen upstream, the one stored before the
  first change included; ``works.record`` always holds the latest;
* ``works.problems`` (JSON list of kinds, ``[]`` when fine) and ``works.checked_at``.

Problem kinds, most serious first: ``retraction``, ``withdrawal``, ``partial-retraction``,
``expression-of-concern``, ``not-found``, ``correction``, ``alias``; ``_checks`` says how
each is read from a record.

A run is resumable: every batch is committed in one transaction together with its
results, and the works still due are those without a result in the run. A run killed at
any point (SIGKILL included) is continued by the next call; no work gets two results in a
run and none is skipped. Only one verification runs on a database at a time.

The code is in private modules named for what they do; this package gathers the public
API:

* ``_verify``: running verification (``verify``): batches in flight, progress, resuming;
* ``_runs``: the only reader and writer of verification's tables (runs, results, record
  versions): opening and closing runs, the works due, committing a batch;
* ``_checks``: problem kinds and notices read from a record, metadata diff, ``check_record``;
* ``_fetch``: batch requests under the request-line limit, single lookups;
* ``_report``: run reports, affected claims and requests (asked of ``workflow``), a
  work's ``history``;
* ``_bibtex``: ``verify_bib``, checking a BibTeX file (verify's own reader, not the
  exporter ``refkeeper.export``).
"""

from __future__ import annotations

from ._bibtex import BibEntryResult, BibReport, verify_bib
from ._checks import DRIFT_FIELDS, KINDS, check_record, metadata_diff, notices
from ._fetch import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, MAX_REQUEST_TARGET, VERIFY_FIELDS
from ._report import Affected, Finding, History, RunReport, affected, history, run_report
from ._runs import DEFAULT_SINCE_DAYS, published_versions
from ._verify import DEFAULT_WORKERS, Progress, verify

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_SINCE_DAYS",
    "DEFAULT_WORKERS",
    "DRIFT_FIELDS",
    "KINDS",
    "MAX_BATCH_SIZE",
    "MAX_REQUEST_TARGET",
    "VERIFY_FIELDS",
    "Affected",
    "BibEntryResult",
    "BibReport",
    "Finding",
    "History",
    "Progress",
    "RunReport",
    "affected",
    "check_record",
    "history",
    "metadata_diff",
    "notices",
    "published_versions",
    "run_report",
    "verify",
    "verify_bib",
]
