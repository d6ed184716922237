"""Reading dates written as biblatex and ISO 8601 / EDTF write them, for every format.

``-0379-02`` (a signed year: ISO 8601's numbering, where -379 is 380 BC), ``2019-03-04``,
ranges ``2019-03/2019-05`` and open ranges ``2019/..`` (or ``2019/``) become Crossref
``date-parts``: one date, or two for a range, ``[0]`` for an open end (CSL's convention,
which every exporter reads back: ``export.date_range``).
"""

from __future__ import annotations

import re

__all__ = ["parse_date"]

# One date: a sign, a year, a month, a day; a time, and EDTF's ? ~ % qualifiers, ignored.
_ONE = re.compile(r"\s*(-?\d{1,4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?(?:[T ][\d:.+Z-]*)?[?~%]?\s*")
_OPEN = ("", "..")


def _one(text: str) -> list[int] | None:
    m = _ONE.fullmatch(text)
    if not m:
        return None
    nums = [int(g) for g in m.groups() if g is not None]
    if len(nums) > 1 and not 1 <= nums[1] <= 12:
        return nums[:1]  # EDTF seasons (21-24) and the like: the year alone
    if len(nums) > 2 and not 1 <= nums[2] <= 31:
        return nums[:2]
    return nums


def parse_date(text: str) -> tuple[list[list[int]] | None, str | None]:
    """The ``date-parts`` of a date or range and a note when part of it cannot be kept
    (``None`` parts when it is no date): an open start (``../2019``) has no place in
    ``date-parts``, so the end is kept alone, and said."""
    halves = text.replace("{", "").replace("}", "").split("/")
    if len(halves) > 2:
        return None, None
    start = _one(halves[0])
    if len(halves) == 1:
        return ([start] if start else None), None
    end_text = halves[1].strip()
    if start is None:
        end = _one(end_text)
        if halves[0].strip() in _OPEN and end:
            return [end], f"date {text.strip()!r} has an open start, which is not kept: read as its end"
        return None, None
    if end_text in _OPEN:
        return [start, [0]], None
    end = _one(end_text)
    return ([start, end] if end and end != start else [start]), None
