"""One entry of a bibliography file, as every reader yields it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from refkeeper._identifiers import ARXIV, PMCID, PMID, normalize
from refkeeper._models import Work, normalize_doi
from refkeeper.export import format_reference, plain_title

__all__ = ["ImportEntry", "identifier_fields", "numbered"]

# What an entry's PMID, PMCID and arXiv ID look like when they are one (anything else in
# such a field is left alone: not every "accession number" is a PMID).
_VALID = {
    PMID: re.compile(r"\d{1,9}"),
    PMCID: re.compile(r"(?i)(?:PMC)*\d{1,9}"),
    ARXIV: re.compile(r"(?i)(?:arxiv:)?(?:\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?"),
}


def identifier_fields(pmid: str | None = None, pmcid: str | None = None,
                      arxiv: str | None = None) -> dict[str, str]:
    """The ``x-pmid``/``x-pmcid``/``x-arxiv`` fields of a record read from a file (the
    importer records them with the work; ``x-`` fields are never stored in the record),
    normalised; values that are not such identifiers are dropped."""
    out = {}
    for scheme, value in ((PMID, pmid), (PMCID, pmcid), (ARXIV, arxiv)):
        value = (value or "").strip()
        if value and _VALID[scheme].fullmatch(value):
            out[f"x-{scheme}"] = normalize(scheme, value)
    return out


@dataclass
class ImportEntry:
    """One entry of a bibliography file, in the Crossref shape the store keeps."""

    index: int  # 1-based position in the file
    key: str | None
    record: dict
    line: int | None = None  # where the entry starts in the file, when the format has lines
    # what the reader changed or could not read (a key made for it, a DOI field refused):
    # the importer reports them with the entry
    notes: list[str] = field(default_factory=list)

    @property
    def doi(self) -> str | None:
        doi = self.record.get("DOI")
        return normalize_doi(doi) if doi else None

    @property
    def label(self) -> str:
        """How messages name the entry: its key, else its position and title."""
        where = f" (line {self.line})" if self.line else ""
        if self.key:
            return self.key + where
        title = plain_title((self.record.get("title") or [""])[0])
        return f"#{self.index}{where} {title[:60]}".strip()

    def work(self) -> Work:
        return Work.from_crossref({**self.record, "DOI": self.record.get("DOI") or ""})

    def citation(self) -> str:
        """A Vancouver reference built from the entry's fields, for the resolver; an entry
        with an author and a year but no title is a short mention ("Murakami et al. (2007)"),
        which the resolver answers with candidates rather than a guess."""
        work = self.work()
        people = [p for p in self.record.get("author") or [] if p.get("family")]
        if not work.title and people and work.year:
            more = " et al." if len(self.record.get("author") or []) > 1 else ""
            return f"{people[0]['family']}{more} ({work.year})"
        return format_reference(work, "vancouver", "text")


def numbered(pairs) -> list[ImportEntry]:
    """``(key, record)`` pairs in file order as entries numbered from 1."""
    return [ImportEntry(i, key, record) for i, (key, record) in enumerate(pairs, 1)]
