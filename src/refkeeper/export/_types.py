"""Crossref work types and what each format calls them: one table for every format.

``TYPES`` maps a Crossref type to its ``TypeNames``: the family the reference styles write
it as (``article``, ``chapter``, ``book``...), the BibTeX entry type, the CSL item type and
the RIS reference type. Writers look a type up with ``type_names``; the importer reads a
format's type back with ``crossref_type``, which inverts the same table (the first Crossref
type in table order that a format name stands for), plus the names other tools write that
refkeeper never does (``@mastersthesis``, ``EJOUR``, ``article-magazine``).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["TYPES", "TypeNames", "crossref_type", "type_names"]


class TypeNames(NamedTuple):
    family: str  # the reference styles' template
    bibtex: str
    csl: str  # CSL 1.0.2 ("standard", "periodical", "document" fall back in 1.0.1 processors)
    ris: str


# Order matters where several Crossref types share a name: reading a file back, the
# name gives the first of them (CSL "periodical" -> journal-issue, RIS "CHAP" -> book-chapter).
TYPES: dict[str, TypeNames] = {
    "journal-article": TypeNames("article", "article", "article-journal", "JOUR"),
    "proceedings-article": TypeNames("paper", "inproceedings", "paper-conference", "CPAPER"),
    "book-chapter": TypeNames("chapter", "incollection", "chapter", "CHAP"),
    "book-section": TypeNames("chapter", "incollection", "chapter", "CHAP"),
    "book-part": TypeNames("chapter", "incollection", "chapter", "CHAP"),
    "book-track": TypeNames("chapter", "misc", "chapter", "CHAP"),
    "reference-entry": TypeNames("chapter", "incollection", "entry", "ENCYC"),
    "book": TypeNames("book", "book", "book", "BOOK"),
    "monograph": TypeNames("book", "book", "book", "BOOK"),
    "edited-book": TypeNames("book", "book", "book", "EDBOOK"),
    "reference-book": TypeNames("book", "book", "book", "BOOK"),
    "book-set": TypeNames("book", "book", "book", "BOOK"),
    "book-series": TypeNames("book", "book", "book", "BOOK"),
    "proceedings": TypeNames("book", "misc", "book", "CONF"),
    "proceedings-series": TypeNames("other", "misc", "book", "GEN"),
    "report": TypeNames("report", "techreport", "report", "RPRT"),
    "report-series": TypeNames("report", "misc", "report", "RPRT"),
    "report-component": TypeNames("report", "misc", "report", "RPRT"),
    "dissertation": TypeNames("thesis", "phdthesis", "thesis", "THES"),
    "posted-content": TypeNames("preprint", "misc", "article", "UNPB"),
    "dataset": TypeNames("dataset", "misc", "dataset", "DATA"),
    "database": TypeNames("dataset", "misc", "dataset", "DATA"),
    "standard": TypeNames("other", "misc", "standard", "STAND"),
    "peer-review": TypeNames("other", "misc", "review", "GEN"),
    "journal-issue": TypeNames("other", "misc", "periodical", "JFULL"),
    "journal-volume": TypeNames("other", "misc", "periodical", "GEN"),
    "journal": TypeNames("other", "misc", "periodical", "JFULL"),
    # "other" before "component" and "grant": a generic name read back is "other".
    "other": TypeNames("other", "misc", "document", "GEN"),
    "component": TypeNames("other", "misc", "document", "GEN"),
    "grant": TypeNames("other", "misc", "document", "GEN"),
}

# Names other tools write for types refkeeper writes another way (read, never written).
_READ_ONLY_NAMES = {
    "bibtex": {
        "conference": "proceedings-article", "inbook": "book-chapter", "mvbook": "book",
        "collection": "edited-book", "proceedings": "proceedings", "report": "report",
        "mastersthesis": "dissertation", "thesis": "dissertation", "dataset": "dataset",
        "online": "posted-content", "unpublished": "posted-content",
        "inreference": "reference-entry", "reference": "reference-book", "manual": "report",
        "standard": "standard",
    },
    "csl": {
        "article-magazine": "journal-article", "article-newspaper": "journal-article",
        "entry-encyclopedia": "reference-entry", "entry-dictionary": "reference-entry",
    },
    "ris": {
        "EJOUR": "journal-article", "MGZN": "journal-article", "NEWS": "journal-article",
        "INPR": "journal-article", "ECHAP": "book-chapter", "DICT": "reference-entry",
        "EBOOK": "book", "DBASE": "dataset",
    },
    # Scopus's "Document Type" column (read only: refkeeper writes no Scopus files)
    "scopus": {
        "Article": "journal-article", "Review": "journal-article", "Letter": "journal-article",
        "Editorial": "journal-article", "Note": "journal-article", "Erratum": "journal-article",
        "Short Survey": "journal-article", "Data Paper": "journal-article",
        "Retracted": "journal-article", "Article in Press": "journal-article",
        "Conference Paper": "proceedings-article", "Conference Review": "proceedings",
        "Book Chapter": "book-chapter", "Book": "book", "Report": "report",
    },
}


def type_names(crossref_type: str | None) -> TypeNames:
    """What every format calls a Crossref type; an unknown type is written as ``other``."""
    return TYPES.get(crossref_type or "", TYPES["other"])


def _read_back(fmt: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for ctype, row in TYPES.items():
        names.setdefault(getattr(row, fmt), ctype)
    names[getattr(TYPES["other"], fmt)] = "other"  # misc, document, GEN say nothing more
    return {**names, **_READ_ONLY_NAMES[fmt]}


_CROSSREF_TYPES = {**{fmt: _read_back(fmt) for fmt in ("bibtex", "csl", "ris")},
                   "scopus": _READ_ONLY_NAMES["scopus"]}


def crossref_type(fmt: str, name: str) -> str:
    """The Crossref type a ``fmt`` ("bibtex", "csl", "ris", or "scopus": a Scopus
    "Document Type", read only) type name is stored as (``other`` for a name the table
    does not know). Names are matched as the format spells them: BibTeX lower-case, RIS
    upper-case, Scopus capitalised ("Conference Paper")."""
    return _CROSSREF_TYPES[fmt].get(name, "other")
