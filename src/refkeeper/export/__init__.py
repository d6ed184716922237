"""Export of stored works in every format: BibTeX, CSL-JSON, RIS and formatted references.

``export_works`` streams works to a file in one of ``FORMATS``; the keyed formats (bibtex,
csl-json, ris) share one ``KeyAssigner`` scheme, so a work has the same key in all of them.
``problem_note``/``store_notes`` turn the problems re-verification recorded (a retraction,
a correction) into the note every format prints with a work.

The modules are private; their public names are gathered here. The formats: ``_bibtex``
(with ``_latex`` for escaping), ``_csl``, ``_ris`` and ``_styles`` (Vancouver and APA);
what they share: ``_types`` (the one table of Crossref types and what each format calls
them), ``_fields`` (one reading of a record's fields), ``_markup`` (Crossref's title
markup) and ``_keys`` (citation keys). Reading bibliographies in is ``refkeeper.bibimport``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TextIO

from refkeeper._errors import InputError
from refkeeper._identifiers import identifiers_by_doi
from refkeeper._models import Work, normalize_doi, problem_kinds
from refkeeper.export._bibtex import MONTHS, entry_type, to_bibtex, work_to_entry, write_bibtex
from refkeeper.export._csl import csl_type, work_to_csl, write_csl_json
from refkeeper.export._fields import (
    DateRange,
    date_range,
    doi_url,
    edtf_date,
    one_line,
    work_container,
    work_title,
)
from refkeeper.export._keys import KEY_PATTERN, KeyAssigner, bibtex_key, check_key
from refkeeper.export._latex import latex_escape, title_to_latex
from refkeeper.export._markup import plain_title, title_runs
from refkeeper.export._published import PublishedVersions, is_preprint_of, published_versions_of
from refkeeper.export._ris import ris_type, work_to_ris, write_ris
from refkeeper.export._styles import (
    REFERENCE_FORMATS,
    STYLES,
    format_list,
    format_reference,
    write_references,
)
from refkeeper.export._types import TYPES, TypeNames, crossref_type, type_names

__all__ = [
    "FORMATS",
    "KEY_PATTERN",
    "MONTHS",
    "PROBLEM_NOTES",
    "REFERENCE_FORMATS",
    "STYLES",
    "TYPES",
    "DateRange",
    "KeyAssigner",
    "PublishedVersions",
    "TypeNames",
    "bibtex_key",
    "check_key",
    "crossref_type",
    "csl_type",
    "date_range",
    "doi_url",
    "edtf_date",
    "entry_type",
    "export_store",
    "export_works",
    "format_list",
    "format_reference",
    "is_preprint_of",
    "latex_escape",
    "one_line",
    "plain_title",
    "problem_note",
    "published_versions_of",
    "ris_type",
    "store_notes",
    "title_runs",
    "title_to_latex",
    "to_bibtex",
    "type_names",
    "work_container",
    "work_title",
    "work_to_csl",
    "work_to_entry",
    "work_to_ris",
    "write_bibtex",
    "write_csl_json",
    "write_references",
    "write_ris",
]

FORMATS = ("bibtex", "csl-json", "ris", *REFERENCE_FORMATS)


def export_store(
    store,
    fp: TextIO,
    fmt: str = "bibtex",
    dois: Iterable[str] | None = None,
    *,
    style: str = "vancouver",
    ascii: bool = False,
    prefer_published: bool = False,
    registries=None,
) -> int:
    """Export stored works (all, or ``dois`` in that order) to ``fp``: the stored keys are
    kept, new ones chosen and stored, recorded problems become notes, and each work's
    PMID, PMCID and arXiv ID (read for all of them at once) are written with it. Returns
    the number of entries written.

    ``prefer_published``: a preprint whose version of record is known (its own record's
    ``is-preprint-of``, or a ``published-version`` finding of verify) is written as that
    version, with a note naming the preprint; one entry per work. A version of record not
    stored is fetched and stored through ``registries`` (``Registries``; None: offline,
    and the preprint is written with a note that its published version is not available).
    """
    dois = None if dois is None else list(dois)
    notes = store_notes(store, dois)
    if prefer_published:
        versions = published_versions_of(store, dois, registries=registries)
        if dois is not None:
            # One entry per work: a version of record also asked for itself is written once.
            dois = list(dict.fromkeys(versions.replaced.get(normalize_doi(d), normalize_doi(d))
                                      for d in dois))
            notes = store_notes(store, dois)
        notes = versions.notes(notes)
    works = store.works(dois) if dois is not None else store.works()
    if dois is not None:
        # One entry per work: a DOI given twice, or a merged DOI beside the one it was
        # merged into, names the same work.
        works = _once(works)
    if prefer_published and dois is None:
        works = versions.works(store, works)
    n, used = export_works(works, fp, fmt, keys=store.bibtex_keys(), notes=notes,
                           style=style, ascii=ascii, identifiers=identifiers_by_doi(store, dois))
    store.set_bibtex_keys(used)
    return n


def _once(works: Iterable[Work]) -> Iterator[Work]:
    seen: set[str] = set()
    for work in works:
        if work.doi not in seen:
            seen.add(work.doi)
            yield work


def export_works(
    works: Iterable[Work],
    fp: TextIO,
    fmt: str = "bibtex",
    *,
    keys: dict[str, str] | None = None,
    notes: dict[str, str] | None = None,
    style: str = "vancouver",
    ascii: bool = False,
    identifiers: dict[str, dict[str, str]] | None = None,
) -> tuple[int, dict[str, str]]:
    """Stream ``works`` to ``fp`` in ``fmt`` (one of ``FORMATS``); return the number of
    entries written and DOI -> key for the keyed formats (bibtex, csl-json, ris).

    ``keys`` are the stored keys (``Store.bibtex_keys()``), ``notes`` DOI -> note
    (``problem_note``); ``style`` ("vancouver"/"apa") is for the reference-list formats;
    ``ascii`` is for bibtex (LaTeX escapes) and csl-json (``\\u`` escapes); ``identifiers``
    is DOI -> {"pmid", "pmcid", "arxiv"} (``_identifiers.identifiers_by_doi``), written in
    every format that has a place for them.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if ascii and fmt not in ("bibtex", "csl-json"):
        raise InputError("--ascii applies to bibtex and csl-json only")
    if fmt == "bibtex":
        used = write_bibtex(works, fp, keys, ascii, notes=notes, identifiers=identifiers)
    elif fmt == "csl-json":
        used = write_csl_json(works, fp, keys, notes=notes, ascii=ascii, identifiers=identifiers)
    elif fmt == "ris":
        used = write_ris(works, fp, keys, notes=notes, identifiers=identifiers)
    else:
        return write_references(works, fp, style, fmt, notes=notes, identifiers=identifiers), {}
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
