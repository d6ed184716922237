"""A bibliography file or text -> entries: the format named, or told from the file.

A file is opened in the encoding ``detect_encoding`` finds, and its format is told from
its content as well as its name: a file that yields no entry in the format claimed is an
``InputError`` naming the format it looks like (a Web of Science export named ``.ris``),
never "0 entries". BibTeX and Scopus CSV are streamed: entries are read as the file is,
one at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from refkeeper._errors import InputError, UsageError
from refkeeper.bibimport._bibtex import bibtex_entries, read_bibtex
from refkeeper.bibimport._csl import read_csl_json
from refkeeper.bibimport._encoding import Encoding, detect_encoding
from refkeeper.bibimport._entry import ImportEntry
from refkeeper.bibimport._ris import read_ris
from refkeeper.bibimport._scopus import csv_columns, looks_like_scopus, read_scopus, scopus_entries
from refkeeper.bibimport._wos import read_wos

__all__ = ["FORMAT_NAMES", "READERS", "Bibliography", "open_bibliography", "parse_bibliography",
           "read_bibliography", "sniff_format"]

# format -> reader: text in, (entries, problems) out
READERS = {"bibtex": read_bibtex, "ris": read_ris, "csl-json": read_csl_json, "wos": read_wos,
           "scopus": read_scopus}
# the formats read as a stream: lines in, entries out as they are read
_STREAMED = {"bibtex": bibtex_entries, "scopus": scopus_entries}
# what messages call each format, the ones we read and the ones we only recognise
FORMAT_NAMES = {
    "bibtex": "BibTeX", "ris": "RIS", "csl-json": "CSL-JSON",
    "wos": "Web of Science tagged export", "pubmed": "PubMed/MEDLINE export",
    "endnote": "EndNote tagged export (.enw)", "scopus": "Scopus CSV export",
    "csv": "CSV table", "json": "JSON that is not CSL-JSON", "xml": "XML document",
}
_SUFFIXES = {".bib": "bibtex", ".bibtex": "bibtex", ".ris": "ris", ".json": "csl-json",
             ".csljson": "csl-json"}  # a .csv is told by its header (Scopus's, or not)


def sniff_format(head: str) -> str | None:
    """The format the first few kilobytes of a file look like (a key of ``FORMAT_NAMES``),
    or ``None``."""
    text = head.lstrip("\ufeff \t\r\n")
    if re.match(r"(?:FN |VR |PT [A-Z]\s)", text) and re.search(r"^(?:PT|AU|TI|UT) ", text, re.M):
        return "wos"
    if re.match(r"(?:\d+\.\s*\n)?TY  -", text) or re.search(r"^TY  - ", text, re.M):
        return "ris"
    if re.match(r"PMID- ", text):
        return "pubmed"
    if re.match(r"%[0A-Z] ", text):
        return "endnote"
    if text.startswith(("[", "{")):
        return "csl-json" if re.search(r'"(?:type|title|id|DOI|author|issued)"', text) else "json"
    if text.startswith("<"):
        return "xml"
    columns = csv_columns(text)
    if columns is not None:
        return "scopus" if looks_like_scopus(columns) else "csv"
    if re.search(r"^\s*@\s*[A-Za-z]+\s*[{(]", text, re.M) or "@" in text:
        return "bibtex"
    return None


@dataclass
class Bibliography:
    """An opened bibliography file: its format, its encoding and how it was found; iterate
    for its entries (read as you go). ``problems`` fills as the entries are read; ``count``
    is how many were read. Iterating raises ``InputError`` when the file holds no entry."""

    path: Path
    format: str
    encoding: Encoding
    found: str | None = None  # the format the content looks like
    columns: list[str] | None = None  # a CSV file's header, to name what was found
    problems: list[str] = field(default_factory=list)
    count: int = 0

    def __iter__(self) -> Iterator[ImportEntry]:
        self.count = 0
        with self.path.open(encoding=self.encoding.name, errors=self._errors, newline=None) as fh:
            if self.format in _STREAMED:
                entries: Iterator[ImportEntry] = _STREAMED[self.format](fh, self.problems)
            else:
                try:
                    read, problems = READERS[self.format](fh.read())
                except InputError:
                    # "not JSON" says less than what the file is (a Scopus CSV given as
                    # JSON); for JSON that is not CSL-JSON the reader's reason says more
                    if self.found and self.found not in (self.format, "json"):
                        raise InputError(self._nothing_read()) from None
                    raise
                self.problems += problems
                entries = iter(read)
            try:
                for entry in entries:
                    self.count += 1
                    yield entry
            except UnicodeDecodeError as exc:
                raise InputError(f"cannot read {self.path}: not {self.encoding}: {exc.reason}") from None
        if self.count == 0:
            raise InputError(self._nothing_read())

    @property
    def _errors(self) -> str:
        return "replace" if self.encoding.how == "undecodable bytes replaced" else "strict"

    def _nothing_read(self) -> str:
        claimed = FORMAT_NAMES[self.format]
        if self.found and self.found != self.format:
            hint = f" (read it with --from {self.found})" if self.found in READERS else ""
            return (f"{self.path}: no {claimed} entry read: the file looks like a "
                    f"{_found_name(self.found, self.columns)}{hint}")
        why = f" ({self.problems[0]})" if self.problems else ""
        return f"{self.path}: no {claimed} entry read: the file holds none that can be read{why}"


def open_bibliography(path: str | Path, fmt: str | None = None) -> Bibliography:
    """A bibliography file, opened: format from ``fmt``, else the file name, else the
    content. ``InputError`` for a file that cannot be read or whose format is not known."""
    p = Path(path)
    if fmt is not None and fmt not in READERS:
        raise UsageError(f"unknown bibliography format {fmt!r}")
    try:
        encoding = detect_encoding(p)
        with p.open(encoding=encoding.name, errors="replace") as fh:
            head = fh.read(8192)
    except FileNotFoundError:
        raise InputError(f"no such file: {p}") from None
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror or exc}") from None
    found = sniff_format(head)
    columns = csv_columns(head.lstrip("\ufeff \t\r\n")) if found in ("csv", "scopus") else None
    claimed = fmt or _SUFFIXES.get(p.suffix.lower())
    if claimed is None:
        if found not in READERS:
            named = (f"it looks like a {_found_name(found, columns)}, which is not read" if found
                     else "cannot tell the format")
            raise InputError(f"{p}: {named}; give a .bib, .ris, CSL-JSON .json or Scopus .csv file")
        claimed = found
    return Bibliography(p, claimed, encoding, found, columns)


def _found_name(found: str, columns: list[str] | None) -> str:
    """What messages call the format found; a CSV that is not Scopus's with its columns."""
    if found == "csv" and columns:
        return f"{FORMAT_NAMES['csv']} with columns {', '.join(columns[:6])}" + (
            ", ..." if len(columns) > 6 else "")
    return FORMAT_NAMES[found]


def parse_bibliography(text: str, fmt: str) -> tuple[list[ImportEntry], list[str]]:
    """Entries and parse problems of a bibliography ``text`` in ``fmt``
    ("bibtex", "ris", "csl-json", "wos" or "scopus")."""
    if fmt not in READERS:
        raise UsageError(f"unknown bibliography format {fmt!r}")
    return READERS[fmt](text)


def read_bibliography(path: str | Path, fmt: str | None = None) -> tuple[list[ImportEntry], list[str]]:
    """Entries and parse problems of a bibliography file (see ``open_bibliography``), all
    read; the problems include what became of single entries (their ``notes``). Raises
    ``InputError`` if it cannot be read at all, or holds no entry."""
    bib = open_bibliography(path, fmt)
    entries = list(bib)
    return entries, bib.problems + [note for e in entries for note in e.notes]
