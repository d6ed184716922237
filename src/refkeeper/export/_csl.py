"""CSL-JSON: the bibliography format citeproc-js, Pandoc and Zotero read.

``work_to_csl`` turns a stored work (a Crossref record) into one CSL-JSON item with the
variables citeproc expects (``id``, ``type``, ``title``, ``author``/``editor`` as name
objects, ``issued`` as ``date-parts``, ``container-title``, ``page``, ``DOI`` ...).
Reading CSL-JSON back is the importer's (``refkeeper.bibimport``).

Titles keep their styling in the rich-text subset that citeproc processors understand
(``<i>``, ``<sub>``, ``<sup>``, ``<span style="font-variant:small-caps;">``); every other
piece of Crossref markup (JATS, MathML, TeX) is converted by ``title_runs`` first,
so no other tag reaches the output. JSON escaping makes any text safe as data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from refkeeper._models import Work
from refkeeper.export._fields import (
    date_range,
    one_line,
    work_container,
    work_doi,
    work_institution,
    work_people,
    work_title,
    work_url,
)
from refkeeper.export._keys import KeyAssigner, keyed
from refkeeper.export._markup import plain_title, title_runs
from refkeeper.export._types import type_names

__all__ = ["csl_type", "work_to_csl", "write_csl_json"]

_RICH = {
    "it": ("<i>", "</i>"),
    "sub": ("<sub>", "</sub>"),
    "sup": ("<sup>", "</sup>"),
    "sc": ('<span style="font-variant:small-caps;">', "</span>"),
}


def csl_type(crossref_type: str | None) -> str:
    """The CSL item type for a Crossref work type (``document`` for anything unknown)."""
    return type_names(crossref_type).csl


def _rich(runs: list) -> str:
    out = []
    for r in runs:
        if isinstance(r, str):
            out.append(r)
            continue
        inner = _rich(r[1])
        if not inner.strip():
            continue
        opening, closing = _RICH.get(r[0], ("", ""))
        out.append(f"{opening}{inner}{closing}")
    return "".join(out)


def _names(people: list[dict]) -> list[dict]:
    out = []
    for p in people:
        family = one_line(p.get("family"))
        if family:
            name = {"family": family}
            for src, dst in (("given", "given"), ("suffix", "suffix")):
                v = one_line(p.get(src))
                if v:
                    name[dst] = v
            out.append(name)
            continue
        literal = one_line(p.get("name") or p.get("literal") or p.get("given"))
        if literal:
            out.append({"literal": literal})
    return out


def _date(record: dict) -> dict | None:
    """``issued``: one date, or two for a range; an open end is ``[0]`` (the CSL test
    suite's and citeproc-js's convention). Years before 1 AD: CSL counts them as historians
    do (-380 is 380 BC; citeproc prints "380 BC"), the record as ISO 8601 and biblatex do
    (-379 is 380 BC, 0 is 1 BC), so they are written one lower (``_csl_year``)."""
    date = date_range(record)
    if date is None:
        return None
    start = [_csl_year(date.start[0]), *date.start[1:]]
    if date.end is None:
        return {"date-parts": [start]}
    end = [_csl_year(date.end[0]), *date.end[1:]] if date.end else [0]
    return {"date-parts": [start, end]}


def _csl_year(iso_year: int) -> int:
    """A year as CSL numbers it (no year 0: -1 is 1 BC) from ISO 8601's (0 is 1 BC)."""
    return iso_year - 1 if iso_year <= 0 else iso_year


def work_to_csl(work: Work, key: str | None = None, note: str | None = None,
                ids: dict[str, str] | None = None) -> dict:
    """One CSL-JSON item for a work; ``id`` and ``citation-key`` are ``key`` (else id is the DOI).

    Only variables with a value are present. ``page`` keeps Crossref's range (``274-280``);
    an article number without pages goes to ``number``. ``note`` carries a retraction or
    correction notice. ``ids`` (``pmid``, ``pmcid``) become CSL's ``PMID`` and ``PMCID``
    (``PMC1234567``); an arXiv ID, which CSL has no variable for, is ``number`` of a preprint
    without one (as Zotero writes it: ``arXiv:2101.00001``).
    """
    record = work.record or {}
    ctype = csl_type(work.type or record.get("type"))
    item: dict = {"id": key or work.key, "type": ctype}
    if key:
        item["citation-key"] = key  # CSL 1.0.2: what Pandoc and Zotero cite by

    title = work_title(work)
    if title:
        rich = _rich(title_runs(title)).strip()
        if rich:
            item["title"] = rich
    container = work_container(work)
    if container:
        item["container-title"] = plain_title(container)
    short = one_line(record.get("short-container-title"))
    if short and short != item.get("container-title"):
        item["container-title-short"] = short

    for role in ("author", "editor"):
        names = _names(work_people(work, role))
        if names:
            item[role] = names

    issued = _date(record)
    if issued is None and work.year:
        issued = {"date-parts": [[work.year]]}
    if issued:
        item["issued"] = issued

    for var, value in (
        ("volume", work.volume or record.get("volume")),
        ("issue", work.issue or record.get("issue")),
        ("page", work.pages or record.get("page")),
        ("publisher", work.publisher or record.get("publisher")),
        ("publisher-place", record.get("publisher-location")),
        ("ISSN", record.get("ISSN")),
        ("ISBN", record.get("ISBN")),
        ("edition", record.get("edition-number")),
        ("language", record.get("language")),
    ):
        v = one_line(value)
        if v:
            item[var] = v
    number = one_line(record.get("article-number"))
    if number and "page" not in item:
        item["number"] = number

    institution = one_line(work_institution(work))
    if institution and ctype in ("thesis", "report") or (institution and "publisher" not in item):
        item["publisher"] = institution
    if ctype == "thesis":
        degree = one_line(record.get("degree"))
        item["genre"] = degree or "Dissertation"
    if record.get("type") == "posted-content" and (record.get("subtype") or "preprint") == "preprint":
        item["genre"] = "Preprint"
    event = record.get("event") or {}
    if isinstance(event, dict) and one_line(event.get("name")):
        item["event-title"] = one_line(event.get("name"))
        if one_line(event.get("location")):
            item["event-place"] = one_line(event.get("location"))

    doi = work_doi(work)
    if doi:
        item["DOI"] = doi
    url = work_url(work)
    if url:
        item["URL"] = url
    ids = ids or {}
    if ids.get("pmid"):
        item["PMID"] = ids["pmid"]
    if ids.get("pmcid"):
        item["PMCID"] = "PMC" + ids["pmcid"]
    if ids.get("arxiv") and "number" not in item:
        item["number"] = "arXiv:" + ids["arxiv"]
    if note:
        item["note"] = note
    return item


def write_csl_json(
    works: Iterable[Work],
    fp: TextIO,
    keys: dict[str, str] | None = None,
    *,
    notes: dict[str, str] | None = None,
    ascii: bool = False,
    identifiers: dict[str, dict[str, str]] | None = None,
) -> dict[str, str]:
    """Stream works to ``fp`` as a CSL-JSON array, one item per line; return DOI -> key.

    Keys (item ``id``) are the BibTeX keys, chosen as by ``write_bibtex``.
    ``ascii=True`` escapes non-ASCII characters as ``\\uXXXX`` (still the same JSON).
    """
    assign = KeyAssigner(keys)
    fp.write("[")
    for n, (work, key, note, ids) in enumerate(keyed(works, assign, notes, identifiers)):
        fp.write(",\n" if n else "\n")
        fp.write(json.dumps(work_to_csl(work, key, note, ids), ensure_ascii=ascii))
    fp.write("\n]\n")
    return assign.assigned
