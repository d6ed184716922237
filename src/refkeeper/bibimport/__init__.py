"""``refkeeper import``: existing bibliographies (BibTeX, RIS, CSL-JSON) into the store.

Split by what it does:

* readers, one per format, each turning text into plain ``ImportEntry`` objects in the
  Crossref shape the store keeps (``read_bibtex``, ``read_ris``, ``read_csl_json``;
  ``read_bibliography`` picks one from the file name or content). They store nothing and
  are usable on their own (``refkeeper verify --bib`` checks a file without importing it);
* ``latex_to_text``: LaTeX in BibTeX fields -> Unicode text and Crossref-style markup;
* ``import_entries``: what becomes of each entry (added, compared with what is stored,
  resolved when it has no DOI), through the store's and the resolver's public API.
"""

from __future__ import annotations

from refkeeper.bibimport._apply import FINDINGS, ImportResult, import_entries, record_diff
from refkeeper.bibimport._bibtex import bibtex_entries, read_bibtex
from refkeeper.bibimport._csl import csl_to_record, read_csl_json
from refkeeper.bibimport._entry import ImportEntry
from refkeeper.bibimport._latex import latex_to_text
from refkeeper.bibimport._read import READERS, parse_bibliography, read_bibliography
from refkeeper.bibimport._ris import read_ris

__all__ = [
    "FINDINGS",
    "READERS",
    "bibtex_entries",
    "ImportEntry",
    "ImportResult",
    "csl_to_record",
    "import_entries",
    "latex_to_text",
    "parse_bibliography",
    "read_bibliography",
    "read_bibtex",
    "read_csl_json",
    "read_ris",
    "record_diff",
]
