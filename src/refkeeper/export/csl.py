"""CSL-JSON: the bibliography format citeproc-js, Pandoc and Zotero read.

``work_to_csl`` turns a stored work (a Crossref record) into one CSL-JSON item with the
variables citeproc expects (``id``, ``type``, ``title``, ``author``/``editor`` as name
objects, ``issued`` as ``date-parts``, ``container-title``, ``page``, ``DOI`` ...), and
``csl_to_record`` reads an item back into the Crossref shape the store keeps, for
``refkeeper import``.

Titles keep their styling in the rich-text subset that citeproc processors understand
(``<i>``, ``<sub>``, ``<sup>``, ``<span style="font-variant:small-caps;">``); every other
piece of Crossref markup (JATS, MathML, TeX) is converted by ``markup.title_runs`` first,
so no other tag reaches the output. JSON escaping makes any text safe as data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TextIO

from refkeeper._errors import InputError
from refkeeper._models import Work, normalize_doi
from refkeeper.export.fields import _first, date_parts, work_container, work_title
from refkeeper.export.keys import KeyAssigner
from refkeeper.export.markup import _clean, plain_title, title_runs

__all__ = [
    "CSL_TYPES",
    "csl_to_record",
    "csl_type",
    "read_csl_json",
    "work_to_csl",
    "write_csl_json",
]

# Crossref work type -> CSL 1.0.2 item type. Types a CSL 1.0.1 processor lacks
# ("standard", "periodical", "document") fall back gracefully in citeproc-js and Pandoc.
CSL_TYPES = {
    "journal-article": "article-journal",
    "proceedings-article": "paper-conference",
    "book-chapter": "chapter",
    "book-section": "chapter",
    "book-part": "chapter",
    "book-track": "chapter",
    "reference-entry": "entry",
    "book": "book",
    "monograph": "book",
    "edited-book": "book",
    "reference-book": "book",
    "book-set": "book",
    "book-series": "book",
    "proceedings": "book",
    "proceedings-series": "book",
    "report": "report",
    "report-series": "report",
    "report-component": "report",
    "dissertation": "thesis",
    "posted-content": "article",
    "dataset": "dataset",
    "database": "dataset",
    "standard": "standard",
    "peer-review": "review",
    "journal-issue": "periodical",
    "journal-volume": "periodical",
    "journal": "periodical",
    "component": "document",
    "other": "document",
    "grant": "document",
}

# CSL type -> the Crossref type an imported item is stored as.
_CROSSREF_TYPES = {
    "article-journal": "journal-article",
    "article-magazine": "journal-article",
    "article-newspaper": "journal-article",
    "paper-conference": "proceedings-article",
    "chapter": "book-chapter",
    "entry": "reference-entry",
    "entry-encyclopedia": "reference-entry",
    "entry-dictionary": "reference-entry",
    "book": "book",
    "report": "report",
    "thesis": "dissertation",
    "article": "posted-content",
    "dataset": "dataset",
    "standard": "standard",
    "review": "peer-review",
    "periodical": "journal-issue",
    "document": "other",
}

_RICH = {
    "it": ("<i>", "</i>"),
    "sub": ("<sub>", "</sub>"),
    "sup": ("<sup>", "</sup>"),
    "sc": ('<span style="font-variant:small-caps;">', "</span>"),
}


def csl_type(crossref_type: str | None) -> str:
    """The CSL item type for a Crossref work type (``document`` for anything unknown)."""
    return CSL_TYPES.get(crossref_type or "", "document")


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


def _text(value) -> str | None:
    value = _first(value)
    if not value:
        return None
    return " ".join(_clean(value).split()) or None


def _names(people) -> list[dict]:
    out = []
    for p in people or []:
        if not isinstance(p, dict):
            continue
        family = _text(p.get("family"))
        if family:
            name = {"family": family}
            for src, dst in (("given", "given"), ("suffix", "suffix")):
                v = _text(p.get(src))
                if v:
                    name[dst] = v
            out.append(name)
            continue
        literal = _text(p.get("name") or p.get("literal") or p.get("given"))
        if literal:
            out.append({"literal": literal})
    return out


def _date(record: dict) -> dict | None:
    parts = []
    for p in date_parts(record)[:3]:
        try:
            parts.append(int(p))
        except (TypeError, ValueError):
            break
    if not parts:
        return None
    if len(parts) > 1 and not 1 <= parts[1] <= 12:
        parts = parts[:1]
    if len(parts) > 2 and not 1 <= parts[2] <= 31:
        parts = parts[:2]
    return {"date-parts": [parts]}


def work_to_csl(work: Work, key: str | None = None, note: str | None = None) -> dict:
    """One CSL-JSON item for a work; ``id`` and ``citation-key`` are ``key`` (else id is the DOI).

    Only variables with a value are present. ``page`` keeps Crossref's range (``274-280``);
    an article number without pages goes to ``number``. ``note`` carries a retraction or
    correction notice.
    """
    record = work.record or {}
    ctype = csl_type(work.type or record.get("type"))
    item: dict = {"id": key or work.doi, "type": ctype}
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
    short = _text(record.get("short-container-title"))
    if short and short != item.get("container-title"):
        item["container-title-short"] = short

    for role in ("author", "editor"):
        names = _names(record.get(role))
        if not names and role == "author" and not record.get("author"):
            names = [
                {"family": a.split(", ", 1)[0], "given": a.split(", ", 1)[1]} if ", " in a
                else {"literal": a}
                for a in work.authors
            ]
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
        v = _text(value)
        if v:
            item[var] = v
    number = _text(record.get("article-number"))
    if number and "page" not in item:
        item["number"] = number

    institution = _text([i.get("name") for i in record.get("institution") or []
                         if isinstance(i, dict)])
    if institution and ctype in ("thesis", "report") or (institution and "publisher" not in item):
        item["publisher"] = institution
    if ctype == "thesis":
        degree = _text(record.get("degree"))
        item["genre"] = degree or "Dissertation"
    if record.get("type") == "posted-content" and (record.get("subtype") or "preprint") == "preprint":
        item["genre"] = "Preprint"
    event = record.get("event") or {}
    if isinstance(event, dict) and _text(event.get("name")):
        item["event-title"] = _text(event.get("name"))
        if _text(event.get("location")):
            item["event-place"] = _text(event.get("location"))

    doi = "".join(_clean(record.get("DOI") or work.doi or "").split())
    if doi:
        item["DOI"] = doi
        item["URL"] = "https://doi.org/" + doi
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
) -> dict[str, str]:
    """Stream works to ``fp`` as a CSL-JSON array, one item per line; return DOI -> key.

    Keys (item ``id``) are the BibTeX keys, chosen as by ``bibtex.write_bibtex``.
    ``ascii=True`` escapes non-ASCII characters as ``\\uXXXX`` (still the same JSON).
    """
    assign = KeyAssigner(keys)
    notes = {normalize_doi(d): n for d, n in (notes or {}).items()}
    fp.write("[")
    first = True
    for work in works:
        key = assign(work)
        if key is None:
            continue
        item = work_to_csl(work, key, notes.get(normalize_doi(work.doi)))
        fp.write("\n" if first else ",\n")
        first = False
        fp.write(json.dumps(item, ensure_ascii=ascii))
    fp.write("\n]\n")
    return assign.assigned


# --------------------------------------------------------------------------------------
# Reading CSL-JSON (import)
# --------------------------------------------------------------------------------------


def read_csl_json(text: str) -> list[dict]:
    """The items of a CSL-JSON document: an array of items, one item, or ``{"items": [...]}``
    (what some tools write). Raises ``InputError`` for anything else."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg} (line {exc.lineno})") from None
    if isinstance(data, dict):
        data = data.get("items", [data])
    if not isinstance(data, list) or not all(isinstance(i, dict) for i in data):
        raise InputError("not CSL-JSON: expected an array of items")
    return data


_CSL_SMALLCAPS = re.compile(r'<span\s+style="font-variant:\s*small-caps;?">(.*?)</span>', re.S)
_CSL_NOCASE = re.compile(r'<span\s+class="nocase">(.*?)</span>', re.S)


def _csl_title(value) -> str | None:
    """A CSL rich-text title as Crossref markup (``<scp>`` for small caps)."""
    text = _text(value)
    if not text:
        return None
    text = _CSL_SMALLCAPS.sub(r"<scp>\1</scp>", text)
    return _CSL_NOCASE.sub(r"\1", text)


def _csl_names(names) -> list[dict]:
    out = []
    if not isinstance(names, list):
        return out
    for n in names:
        if not isinstance(n, dict):
            continue
        family = _text(n.get("family"))
        particle = _text(n.get("non-dropping-particle"))
        if family:
            person = {"family": f"{particle} {family}" if particle else family}
            given = " ".join(x for x in (_text(n.get("given")), _text(n.get("dropping-particle")))
                             if x)
            if given:
                person["given"] = given
            if _text(n.get("suffix")):
                person["suffix"] = _text(n.get("suffix"))
            out.append(person)
        elif _text(n.get("literal") or n.get("given")):
            out.append({"name": _text(n.get("literal") or n.get("given"))})
    return out


def _csl_date(value) -> list | None:
    if not isinstance(value, dict):
        return None
    parts = value.get("date-parts")
    if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
        out = []
        for p in parts[0][:3]:
            try:
                out.append(int(p))
            except (TypeError, ValueError):
                break
        if out:
            return out
    raw = value.get("raw") or value.get("literal")
    m = re.search(r"\b(1[5-9]\d\d|20\d\d)\b", str(raw or ""))
    return [int(m.group(1))] if m else None


def csl_to_record(item: dict) -> dict:
    """A CSL-JSON item in the Crossref shape the store keeps (``DOI`` may be missing).

    The item's ``citation-key`` (else its ``id``) is returned as ``"x-citation-key"`` for the
    importer to pin.
    """
    rec: dict = {}
    doi = _text(item.get("DOI"))
    if doi:
        rec["DOI"] = doi
    rec["type"] = _CROSSREF_TYPES.get(str(item.get("type") or ""), "other")
    title = _csl_title(item.get("title"))
    if title:
        rec["title"] = [title]
    container = _text(item.get("container-title"))
    if container:
        rec["container-title"] = [container]
    short = _text(item.get("container-title-short") or item.get("journalAbbreviation"))
    if short:
        rec["short-container-title"] = [short]
    for role in ("author", "editor"):
        names = _csl_names(item.get(role))
        if names:
            rec[role] = names
    issued = _csl_date(item.get("issued"))
    if issued:
        rec["issued"] = {"date-parts": [issued]}
    for var, field in (("volume", "volume"), ("issue", "issue"), ("page", "page"),
                       ("publisher", "publisher"), ("publisher-place", "publisher-location"),
                       ("edition", "edition-number"), ("language", "language"),
                       ("URL", "URL")):
        v = _text(item.get(var))
        if v:
            rec[field] = v
    if _text(item.get("number")) and "page" not in rec and rec["type"] == "journal-article":
        rec["article-number"] = _text(item.get("number"))
    for var in ("ISSN", "ISBN"):
        v = item.get(var)
        values = v if isinstance(v, list) else re.split(r"[,;]\s*|\s+", str(v or ""))
        values = [x for x in (_text(x) for x in values) if x]
        if values:
            rec[var] = values
    event = _text(item.get("event-title") or item.get("event"))
    if event:
        rec["event"] = {"name": event}
    if rec["type"] == "dissertation" and "publisher" in rec:
        rec["institution"] = [{"name": rec["publisher"]}]
    key = item.get("citation-key") or item.get("id")
    if isinstance(key, (str, int)) and str(key).strip():
        rec["x-citation-key"] = str(key).strip()
    return rec
