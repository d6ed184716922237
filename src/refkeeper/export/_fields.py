"""One reading of a stored work's Crossref record, shared by every export format.

BibTeX, CSL-JSON, RIS and the reference styles take a work's title (with its subtitle),
container, publication date, people, institution and DOI (and its link) from here, so a
work reads the same in all of them.
"""

from __future__ import annotations

from urllib.parse import quote

from refkeeper._models import Work, first_text, record_date_parts
from refkeeper.export._markup import ascii_words, clean_text, squeeze

__all__ = [
    "doi_url",
    "work_link",
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
