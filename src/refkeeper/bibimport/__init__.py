"""``refkeeper import``: existing bibliographies (BibTeX, RIS, CSL-JSON, Web of Science,
Scopus CSV) into the store.

Split by what it does:

* readers, one per format, each turning text into plain ``ImportEntry`` objects in the
  Crossref shape the store keeps (``read_bibtex``, ``read_ris``, ``read_csl_json``,
  ``read_wos``, ``read_scopus``); ``open_bibliography`` finds a file's encoding (``detect_encoding``) and
  format (``sniff_format``) and reads it as a stream. They store nothing and
  are usable on their own (``refkeeper verify --bib`` checks a file without importing it);
* ``latex_to_text``: LaTeX in BibTeX fields -> Unicode text and Crossref-style markup;
* ``import_entries``: what becomes of each entry (added, compared with what is stored,
  resolved when it has no DOI), through the store's and the resolver's public API.
"""

from __future__ import annotations

from refkeeper.bibimport._apply import FINDINGS, ImportResult, import_entries, record_diff
from refkeeper.bibimport._bibtex import bibtex_entries, read_bibtex
from refkeeper.bibimport._csl import csl_to_record, read_csl_json
from refkeeper.bibimport._encoding import Encoding, detect_encoding
from refkeeper.bibimport._entry import ImportEntry
from refkeeper.bibimport._latex import latex_to_text
from refkeeper.bibimport._read import (
    FORMAT_NAMES,
    READERS,
    Bibliography,
    open_bibliography,
    parse_bibliography,
    read_bibliography,
    sniff_format,
)
from refkeeper.bibimport._ris import read_ris
from refkeeper.bibimport._scopus import read_scopus, scopus_entries
from refkeeper.bibimport._wos import read_wos

__all__ = [
    "FINDINGS",
    "FORMAT_NAMES",
    "READERS",
    "Bibliography",
    "Encoding",
    "bibtex_entries",
    "ImportEntry",
    "ImportResult",
    "csl_to_record",
    "detect_encoding",
    "import_entries",
    "latex_to_text",
    "open_bibliography",
    "parse_bibliography",
    "read_bibliography",
    "read_bibtex",
    "read_csl_json",
    "read_ris",
    "read_scopus",
    "read_wos",
    "record_diff",
    "scopus_entries",
    "sniff_format",
]
