"""Reading CSL-JSON (citeproc-js, Pandoc, Zotero) into plain entries in the Crossref shape."""

from __future__ import annotations

import json
import re

from refkeeper._errors import InputError
from refkeeper.bibimport._dates import parse_date
from refkeeper.bibimport._doi import clean_doi
from refkeeper.bibimport._entry import ImportEntry, identifier_fields, numbered
from refkeeper.export import crossref_type, one_line

__all__ = ["csl_to_record", "read_csl_json"]

_CSL_SMALLCAPS = re.compile(r'<span\s+style="font-variant:\s*small-caps;?">(.*?)</span>', re.S)
_CSL_NOCASE = re.compile(r'<span\s+class="nocase">(.*?)</span>', re.S)


def _items(text: str) -> list[dict]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg} (line {exc.lineno})") from None
    except RecursionError:
        # json nests by recursion: a document nested deeper than Python's recursion
        # limit is no bibliography, and must not end in a traceback.
        raise InputError("not CSL-JSON: nested too deeply") from None
    if isinstance(data, dict):
        data = data.get("items", [data])
    if not isinstance(data, list) or not all(isinstance(i, dict) for i in data):
        raise InputError("not CSL-JSON: expected an array of items")
    return data


def _title(value) -> str | None:
    """A CSL rich-text title as Crossref markup (``<scp>`` for small caps)."""
    text = one_line(value)
    if not text:
        return None
    text = _CSL_SMALLCAPS.sub(r"<scp>\1</scp>", text)
    return _CSL_NOCASE.sub(r"\1", text)


def _names(names) -> list[dict]:
    out = []
    if not isinstance(names, list):
        return out
    for n in names:
        if not isinstance(n, dict):
            continue
        family = one_line(n.get("family"))
        particle = one_line(n.get("non-dropping-particle"))
        if family:
            person = {"family": f"{particle} {family}" if particle else family}
            given = " ".join(x for x in (one_line(n.get("given")),
                                         one_line(n.get("dropping-particle"))) if x)
            if given:
                person["given"] = given
            if one_line(n.get("suffix")):
                person["suffix"] = one_line(n.get("suffix"))
            out.append(person)
        elif one_line(n.get("literal") or n.get("given")):
            out.append({"name": one_line(n.get("literal") or n.get("given"))})
    return out


def _parts(value) -> list[int]:
    out: list[int] = []
    for p in value[:3] if isinstance(value, list) else []:
        try:
            out.append(int(p))
        except (TypeError, ValueError):
            break
    return out


def _iso(parts: list[int]) -> list[int]:
    """CSL's years before 1 AD as ISO 8601 and the store count them: CSL's -380 (380 BC,
    no year 0) is -379 (0 is 1 BC)."""
    return [parts[0] + 1, *parts[1:]] if parts and parts[0] < 0 else parts


def _date(value) -> list[list[int]] | None:
    """``date-parts``: one date, or two for a range (``[0]`` or an empty end: an open
    end, kept as ``[0]``; negative years as ISO 8601 counts them); else ``raw`` or
    ``literal`` as ISO 8601 writes dates (``2019-03/2019-05``), else the year in it."""
    if not isinstance(value, dict):
        return None
    parts = value.get("date-parts")
    if isinstance(parts, list) and parts:
        start = _iso(_parts(parts[0]))
        if start:
            if len(parts) < 2:
                return [start]
            end = _parts(parts[1])
            if not end or end[0] == 0:
                return [start, [0]]
            end = _iso(end)
            return [start, end] if end != start else [start]
    raw = str(value.get("raw") or value.get("literal") or "")
    found, _ = parse_date(raw) if re.match(r"\s*-?\d{4}", raw) else (None, None)
    if found:
        return found
    m = re.search(r"\b(1[5-9]\d\d|20\d\d)\b", raw)
    return [[int(m.group(1))]] if m else None


def csl_to_record(item: dict) -> tuple[str | None, dict]:
    """A CSL-JSON item's key (``citation-key``, else ``id``) and the item in the Crossref
    shape the store keeps (``DOI`` may be missing)."""
    rec: dict = {}
    doi = clean_doi(one_line(item.get("DOI"))) or (
        clean_doi(one_line(item.get("URL"))) if "10." in str(item.get("URL") or "") else None)
    if doi:
        rec["DOI"] = doi
    rec["type"] = crossref_type("csl", str(item.get("type") or ""))
    title = _title(item.get("title"))
    if title:
        rec["title"] = [title]
    container = one_line(item.get("container-title"))
    if container:
        rec["container-title"] = [container]
    short = one_line(item.get("container-title-short") or item.get("journalAbbreviation"))
    if short:
        rec["short-container-title"] = [short]
    for role in ("author", "editor"):
        names = _names(item.get(role))
        if names:
            rec[role] = names
    issued = _date(item.get("issued"))
    if issued:
        rec["issued"] = {"date-parts": issued}
    for var, field in (("volume", "volume"), ("issue", "issue"), ("page", "page"),
                       ("publisher", "publisher"), ("publisher-place", "publisher-location"),
                       ("edition", "edition-number"), ("language", "language"),
                       ("URL", "URL")):
        v = one_line(item.get(var))
        if v:
            rec[field] = v
    if one_line(item.get("number")) and "page" not in rec and rec["type"] == "journal-article":
        rec["article-number"] = one_line(item.get("number"))
    for var in ("ISSN", "ISBN"):
        v = item.get(var)
        values = v if isinstance(v, list) else re.split(r"[,;]\s*|\s+", str(v or ""))
        values = [x for x in (one_line(x) for x in values) if x]
        if values:
            rec[var] = values
    event = one_line(item.get("event-title") or item.get("event"))
    if event:
        rec["event"] = {"name": event}
    if rec["type"] == "dissertation" and "publisher" in rec:
        rec["institution"] = [{"name": rec["publisher"]}]
    # CSL's PMID and PMCID; an arXiv ID has no variable: Zotero writes it as number.
    number = one_line(item.get("number")) or ""
    rec.update(identifier_fields(one_line(item.get("PMID")), one_line(item.get("PMCID")),
                                 number if number.lower().startswith("arxiv:") else None))
    key = item.get("citation-key") or item.get("id")
    key = str(key).strip() if isinstance(key, (str, int)) and str(key).strip() else None
    return key, rec


def read_csl_json(text: str) -> tuple[list[ImportEntry], list[str]]:
    """The entries of a CSL-JSON document: an array of items, one item, or
    ``{"items": [...]}`` (what some tools write). Raises ``InputError`` for anything else."""
    items = _items(text)
    problems = [f"item {n}: DOI {one_line(item.get('DOI'))[:80]!r} is not a DOI; not read"
                for n, item in enumerate(items, 1)
                if one_line(item.get("DOI")) and not clean_doi(one_line(item.get("DOI")))]
    return numbered(csl_to_record(item) for item in items), problems
