"""A whole bibliography file imported in one call, its outcome kept: what the desk's import
page runs (``refkeeper import`` streams the same ``open_bibliography`` + ``import_entries``
itself, printing each entry as it goes).

Every result is handed to ``on_result`` as soon as it is known, so that a caller who shows
progress (the desk's background job) holds everything imported so far even when the file
turns out to be unreadable half-way: nothing half-imported goes unseen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from refkeeper.bibimport._apply import ImportResult, import_entries
from refkeeper.bibimport._read import FORMAT_NAMES, Bibliography, open_bibliography

__all__ = ["ImportReport", "import_file"]


@dataclass
class ImportReport:
    """The outcome of importing one file: its format and encoding (how it was chosen), one
    ``ImportResult`` per entry read, and the problems met reading it (entries not read,
    with their line and key)."""

    format: str
    encoding: str
    results: list[ImportResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def format_name(self) -> str:
        return FORMAT_NAMES.get(self.format, self.format)

    @property
    def unread(self) -> int:
        """Entries the reader could not read (each has a problem saying where)."""
        return sum(1 for p in self.problems if " not read: " in p)

    @property
    def counts(self) -> dict[str, int]:
        """Entries by status, ``not read`` included; in the order first met."""
        out: dict[str, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        if self.unread:
            out["not read"] = self.unread
        return out

    @property
    def findings(self) -> list[ImportResult]:
        """The entries an editor must look at (differs, ambiguous, unmatched, duplicate,
        error, or with a note), in file order."""
        return [r for r in self.results if r.finding]

    @property
    def not_stored(self) -> list[ImportResult]:
        """Entries that left nothing in the store (a duplicate, an error)."""
        return [r for r in self.results if r.work is None or r.status in ("duplicate", "error")]

    @property
    def without_doi(self) -> list[ImportResult]:
        """Entries stored as works without a DOI (no DOI in the file, none found)."""
        return [r for r in self.results if r.work is not None and r.doi is None
                and r.status not in ("duplicate", "error")]


def import_file(
    store,
    path: str | Path | Bibliography,
    fmt: str | None = None,
    resolver=None,
    *,
    update: bool = False,
    on_result: Callable[[ImportResult], None] | None = None,
    on_open: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import the bibliography at ``path`` (format ``fmt``, else told from its name and
    content; or a ``Bibliography`` already opened) into ``store``, as ``refkeeper import``
    does; see ``import_entries`` for ``resolver`` and ``update``. ``on_open`` gets the
    report once the file's format and encoding are known; ``on_result`` each entry's
    result as it is decided. Raises ``InputError`` for a file in no readable format or
    with no entry, and for a file that cannot be decoded part-way (the entries before it
    stay imported and were handed on)."""
    bib = path if isinstance(path, Bibliography) else open_bibliography(path, fmt)
    report = ImportReport(bib.format, str(bib.encoding), problems=bib.problems)
    if on_open is not None:
        on_open(report)
    for result in import_entries(store, bib, resolver, update=update):
        report.results.append(result)
        if on_result is not None:
            on_result(result)
    return report
