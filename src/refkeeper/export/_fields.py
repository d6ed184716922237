"""One reading of a stored work's Crossref record, shared by every export format.

BibTeX, CSL-JSON, RIS and the reference styles take a work's title (with its subtitle),
container, publication date, people, institution and DOI (and its link) from here, so a
work reads the same in all of them.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import quote

from refkeeper._models import DATE_FIELDS, Work, first_text, record_date_parts
from refkeeper.export._markup import ascii_words, clean_text, squeeze

__all__ = [
    "DateRange",
    "date_range",
    "doi_url",
    "edtf_date",
    "work_link",
    "work_url",
    "int_date_parts",
    "one_line",
    "work_container",
    "work_doi",
    "work_institution",
    "work_people",
    "work_title",
]


def one_line(value) -> str | None:
    """The first non-empty value of a field (``first_text``) cleaned and on one line."""
    value = first_text(value)
    if not value:
        return None
    return squeeze(value) or None


def work_title(work: Work) -> str | None:
    """The title with its subtitle (unless the title already holds it), markup kept."""
    record = work.record or {}
    title = first_text(record.get("title")) or work.title
    subtitle = first_text(record.get("subtitle"))
    if title and subtitle:
        plain_sub = " ".join(ascii_words(subtitle))
        if plain_sub and plain_sub not in " ".join(ascii_words(title)):
            sep = " " if title.rstrip()[-1:] in ":.?!" else ": "
            title = f"{title.rstrip()}{sep}{subtitle.strip()}"
    return title or subtitle


def work_container(work: Work) -> str | None:
    """The journal, book or series title, markup kept."""
    return first_text((work.record or {}).get("container-title")) or work.container


def work_institution(work: Work) -> str | None:
    """The first named institution (a thesis's university, a report's agency)."""
    return first_text([i.get("name") for i in (work.record or {}).get("institution") or []
                       if isinstance(i, dict)])


def work_people(work: Work, role: str) -> list[dict]:
    """The ``author`` or ``editor`` objects of the record; a work built without a record
    author list gives its ``authors`` strings ("Family, Given" or a whole name) instead."""
    record = work.record or {}
    if record.get(role):
        return [p for p in record[role] if isinstance(p, dict)]
    if role != "author" or "author" in record:
        return []
    return [{"family": a.split(", ", 1)[0], "given": a.split(", ", 1)[1]} if ", " in a
            else {"name": a} for a in work.authors]


def work_doi(work: Work) -> str:
    """The DOI as the record spells it (case kept), without any whitespace; "" if none."""
    return "".join(clean_text((work.record or {}).get("DOI") or work.doi or "").split())


def work_link(work: Work) -> str | None:
    """The link a work without a DOI was imported with (its record's ``URL``), else None.
    A work with a DOI is linked through doi.org instead (Crossref's ``URL`` is that link)."""
    if work.doi or (work.record or {}).get("DOI"):
        return None
    url = "".join(clean_text(str((work.record or {}).get("URL") or "")).split())
    return url if url.lower().startswith(("http://", "https://")) else None


def work_url(work: Work) -> str | None:
    """The one link every format writes for a work: its DOI's doi.org link, else the link
    it was imported with (``work_link``), else None."""
    doi = work_doi(work)
    return doi_url(doi) if doi else work_link(work)


def doi_url(doi: str) -> str:
    """The ``https://doi.org/`` link of a DOI, the DOI percent-encoded as a URI path
    (``<``, ``>``, ``#``, ``%``, spaces and the like encoded; ``/``, ``;``, ``()`` kept)."""
    return "https://doi.org/" + quote(doi.strip(), safe="/:;()[]!$&'*+,=@-._~")


def int_date_parts(record: dict) -> list[int]:
    """The leading date parts that are whole numbers (a year, then month, then day)."""
    parts: list[int] = []
    for p in record_date_parts(record)[:3]:
        try:
            parts.append(int(p))
        except (TypeError, ValueError):
            break
    return parts


class DateRange(NamedTuple):
    """A publication date as the record holds it: ``start`` (year, month, day; the year may
    be negative: ISO 8601's numbering, -379 is 380 BC) and, for a range, ``end``: its parts,
    or ``[]`` for an open end (CSL's ``[[2019], [0]]``, biblatex's ``2019/..``)."""

    start: list[int]
    end: list[int] | None = None

    @property
    def is_range(self) -> bool:
        return self.end is not None


def _valid(parts) -> list[int]:
    out: list[int] = []
    for n, p in enumerate(list(parts)[:3]):
        try:
            value = int(p)
        except (TypeError, ValueError):
            break
        if n == 1 and not 1 <= value <= 12 or n == 2 and not 1 <= value <= 31:
            break
        out.append(value)
    return out


def date_range(record: dict) -> DateRange | None:
    """The publication date of a record (the first of ``DATE_FIELDS`` with a year) with the
    end of its range, if it is one: Crossref's ``date-parts`` hold one date, a range two
    (CSL's convention, which the importer keeps); an end of year 0 is an open end."""
    for key in DATE_FIELDS:
        parts = (record.get(key) or {}).get("date-parts") or []
        if not (parts and isinstance(parts[0], list) and parts[0] and parts[0][0]):
            continue
        start = _valid(parts[0])
        if not start:
            continue
        if len(parts) < 2 or not isinstance(parts[1], list):
            return DateRange(start)
        end = _valid(parts[1])
        if end[:1] == [0] or not end:
            return DateRange(start, [])  # [0] (or nothing readable): an open end
        return DateRange(start) if end == start else DateRange(start, end)
    return None


def _edtf_one(parts: list[int]) -> str:
    year = f"{parts[0]:05d}" if parts[0] < 0 else f"{parts[0]:04d}"
    return "-".join([year, *(f"{p:02d}" for p in parts[1:])])


def edtf_date(date: DateRange) -> str:
    """A date as biblatex's ``date`` field and ISO 8601 write it: ``-0379-02``,
    ``2019-03-04``, ``2019-03/2019-05``, ``2019/..`` (an open end)."""
    if date.end is None:
        return _edtf_one(date.start)
    return f"{_edtf_one(date.start)}/{_edtf_one(date.end) if date.end else '..'}"
