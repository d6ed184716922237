"""Export of stored works in every format: BibTeX, CSL-JSON, RIS and formatted references.

``export_works`` streams works to a file in one of ``FORMATS``; the keyed formats (bibtex,
csl-json, ris) share one ``KeyAssigner`` scheme, so a work has the same key in all of them.
``problem_note``/``store_notes`` turn the problems re-verification recorded (a retraction,
a correction) into the note every format prints with a work.

The formats live in their own modules: ``bibtex`` (with ``latex`` for escaping), ``csl``,
``ris`` and ``styles``; ``markup`` reads Crossref's title markup, ``fields`` a record's
fields, ``keys`` makes citation keys; ``importer`` reads a bibliography (BibTeX, RIS,
CSL-JSON) into the store. The names they define that were always imported from here
(``write_bibtex``, ``title_runs``, ``KeyAssigner``...) are re-exported.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from refkeeper._errors import InputError
from refkeeper._models import Work, problem_kinds

# The names marked F401 are re-exported: they lived in this module before the BibTeX
# writer and its helpers moved out, and csl, ris, styles, the CLI, tests and scripts
# import them from here.
from refkeeper.export import csl, ris, styles
from refkeeper.export.bibtex import MONTHS, entry_type, to_bibtex, work_to_entry, write_bibtex  # noqa: F401
from refkeeper.export.fields import _first, date_parts, doi_url, work_container, work_title  # noqa: F401
from refkeeper.export.keys import KEY_PATTERN, KeyAssigner, bibtex_key, check_key  # noqa: F401
from refkeeper.export.latex import _ascii_char, latex_escape, title_to_latex  # noqa: F401
from refkeeper.export.markup import _clean, plain_title, title_runs  # noqa: F401

__all__ = [
    "KeyAssigner",
    "bibtex_key",
    "check_key",
    "doi_url",
    "export_store",
    "export_works",
    "entry_type",
    "latex_escape",
    "plain_title",
    "problem_note",
    "store_notes",
    "title_runs",
    "title_to_latex",
    "to_bibtex",
    "work_to_entry",
    "write_bibtex",
]

FORMATS = ("bibtex", "csl-json", "ris", "text", "markdown", "html")
KEYED_FORMATS = ("bibtex", "csl-json", "ris")


def export_store(
    store,
    fp: TextIO,
    fmt: str = "bibtex",
    dois: Iterable[str] | None = None,
    *,
    style: str = "vancouver",
    ascii: bool = False,
) -> int:
    """Export stored works (all, or ``dois`` in that order) to ``fp``: the stored keys are
    kept, new ones chosen and stored, and recorded problems become notes. Returns the
    number of entries written."""
    dois = None if dois is None else list(dois)
    works = store.works(dois) if dois is not None else store.works()
    n, used = export_works(works, fp, fmt, keys=store.bibtex_keys(), notes=store_notes(store, dois),
                           style=style, ascii=ascii)
    store.set_bibtex_keys(used)
    return n


def export_works(
    works: Iterable[Work],
    fp: TextIO,
    fmt: str = "bibtex",
    *,
    keys: dict[str, str] | None = None,
    notes: dict[str, str] | None = None,
    style: str = "vancouver",
    ascii: bool = False,
) -> tuple[int, dict[str, str]]:
    """Stream ``works`` to ``fp`` in ``fmt`` (one of ``FORMATS``); return the number of
    entries written and DOI -> key for the keyed formats (bibtex, csl-json, ris).

    ``keys`` are the stored keys (``Store.bibtex_keys()``), ``notes`` DOI -> note
    (``problem_note``); ``style`` ("vancouver"/"apa") is for the reference-list formats;
    ``ascii`` is for bibtex (LaTeX escapes) and csl-json (``\\u`` escapes).
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if ascii and fmt not in ("bibtex", "csl-json"):
        raise InputError("--ascii applies to bibtex and csl-json only")
    if fmt == "bibtex":
        used = write_bibtex(works, fp, keys, ascii, notes=notes)
    elif fmt == "csl-json":
        used = csl.write_csl_json(works, fp, keys, notes=notes, ascii=ascii)
    elif fmt == "ris":
        used = ris.write_ris(works, fp, keys, notes=notes)
    else:
        return styles.write_references(works, fp, style, fmt, notes=notes), {}
    return len(used), used


# --------------------------------------------------------------------------------------
# Notes: what a reader must know about a work
# --------------------------------------------------------------------------------------

# Kinds that re-verification records in ``works.problems`` and that change how a work may
# be cited, with the words an export prints. Other kinds (a DOI that no longer resolves,
# metadata drift) are for the editor, not for the reader of a bibliography.
PROBLEM_NOTES = {
    "retraction": "Retracted",
    "partial-retraction": "Partially retracted",
    "withdrawal": "Withdrawn",
    "removal": "Removed",
    "expression-of-concern": "Expression of concern",
    "correction": "Corrected",
    "erratum": "Corrected",
    "corrigendum": "Corrected",
}


def problem_note(problems) -> str | None:
    """The export note for a work's recorded problems (``works.problems``: a JSON list of
    kinds, or the list itself): ``"Retracted"``, ``"Corrected"``, ``"Retracted; Corrected"``;
    None when nothing a reader must know was recorded (or the work was never checked)."""
    kinds = problem_kinds(problems) or []
    words: list[str] = []
    for kind in PROBLEM_NOTES:  # most serious first, each word once
        if kind in kinds and PROBLEM_NOTES[kind] not in words:
            words.append(PROBLEM_NOTES[kind])
    return "; ".join(words) or None


def store_notes(store, dois: Iterable[str] | None = None) -> dict[str, str]:
    """DOI -> export note for the stored works whose recorded problems a reader must see."""
    notes = {}
    for doi, problems in store.work_problems(dois).items():
        note = problem_note(problems)
        if note:
            notes[doi] = note
    return notes
