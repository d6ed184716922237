"""One reading of a stored work's Crossref record, shared by every export format.

BibTeX, CSL-JSON, RIS and the reference styles take a work's title (with its subtitle),
container, publication date and DOI link from here, so a work reads the same in all of
them: ``work_title``, ``work_container``, ``date_parts``, ``doi_url``; ``_first`` is the
first non-empty value of a Crossref field that may be a list.
"""

from __future__ import annotations

from urllib.parse import quote

from refkeeper._models import Work
from refkeeper.export.markup import _ascii_words

__all__ = ["date_parts", "doi_url", "work_container", "work_title"]


def _first(value) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if v), None)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _title(work: Work) -> str | None:
    record = work.record or {}
    title = _first(record.get("title")) or work.title
    subtitle = _first(record.get("subtitle"))
    if title and subtitle:
        plain_sub = " ".join(_ascii_words(subtitle))
        if plain_sub and plain_sub not in " ".join(_ascii_words(title)):
            sep = " " if title.rstrip()[-1:] in ":.?!" else ": "
            title = f"{title.rstrip()}{sep}{subtitle.strip()}"
    return title or subtitle


def _container(work: Work) -> str | None:
    return _first((work.record or {}).get("container-title")) or work.container


def doi_url(doi: str) -> str:
    """The ``https://doi.org/`` link of a DOI, the DOI percent-encoded as a URI path
    (``<``, ``>``, ``#``, ``%``, spaces and the like encoded; ``/``, ``;``, ``()`` kept)."""
    return "https://doi.org/" + quote(doi.strip(), safe="/:;()[]!$&'*+,=@-._~")


# Public names for the other formats (CSL-JSON, RIS, styles): one reading of a record.
work_title = _title
work_container = _container


def _date_parts(record: dict) -> list:
    for key in ("issued", "published", "published-print", "published-online", "created"):
        parts = (record.get(key) or {}).get("date-parts") or []
        if parts and parts[0] and parts[0][0]:
            return parts[0]
    return []


date_parts = _date_parts
