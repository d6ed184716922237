"""Formatted references to paste: Vancouver and APA, as plain text, Markdown or HTML.

What an editor posts in reply to a reader::

    >>> from refkeeper.export import format_reference, format_list
    >>> format_reference(work)                       # Vancouver, plain text
    'Murakami E, Tanaka Y, ... J Orthop Sci. 2007 May;12(3):274-80. doi:10.1007/s00776-007-1126-1'
    >>> format_reference(work, style="apa", fmt="markdown")
    'Murakami, E., Tanaka, Y., ... *Journal of Orthopaedic Science*, *12*(3), 274–280. [https://...'
    >>> format_list(works, style="vancouver", fmt="html")   # '<ol>\\n<li>...</li>\\n</ol>'

Every reference carries its DOI as a link (``doi:10.…`` in Vancouver, ``https://doi.org/10.…``
in APA, as APA 7 asks). A ``note`` ("Retracted", from ``export.problem_note``) is printed in
brackets right after the title, where Citing Medicine and APA put retraction notices.

The styles follow Citing Medicine (NLM/ICMJE, "Vancouver": first six authors then et al.,
initials without periods, NLM journal abbreviation when Crossref has one, elided page
ranges) and APA 7 (up to 20 authors, italic journal and volume, en-dash page ranges,
sentence-ending periods). Titles keep their italics, sub- and superscripts: Unicode
sub/superscript digits in text where possible, ``*…*`` and ``<sub>`` in Markdown, tags in HTML.
All text is escaped for the output format: a title can't inject HTML or Markdown.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable
from typing import TextIO

from refkeeper._errors import UsageError
from refkeeper._identifiers import pmc_url, pubmed_url
from refkeeper._models import Work, first_text, normalize_doi
from refkeeper._text import fold
from refkeeper.export._fields import (
    DateRange,
    date_range,
    doi_url,
    int_date_parts,
    one_line,
    work_container,
    work_doi,
    work_institution,
    work_people,
    work_title,
)
from refkeeper.export._markup import plain_title, title_runs
from refkeeper.export._types import type_names

__all__ = ["REFERENCE_FORMATS", "STYLES", "format_list", "format_reference", "write_references"]

STYLES = ("vancouver", "apa")
REFERENCE_FORMATS = ("text", "markdown", "html")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# --------------------------------------------------------------------------------------
# Runs: str | (style, runs) | ("a", runs, url); styles "it", "sub", "sup", "sc", "tt", "b"
# --------------------------------------------------------------------------------------


def _text_of(runs: list) -> str:
    return "".join(r if isinstance(r, str) else _text_of(r[1]) for r in runs)


class _Ref:
    """Builds a reference as runs, taking care of the punctuation between its parts."""

    def __init__(self) -> None:
        self.runs: list = []

    def tail(self) -> str:
        return _text_of(self.runs).rstrip()

    def add(self, *runs) -> _Ref:
        self.runs.extend(r for r in runs if r)
        return self

    def stop(self, mark: str = ".") -> _Ref:
        """End the sentence with ``mark`` unless it already ends in terminal punctuation."""
        tail = self.tail()
        if tail and tail[-1] not in ".?!":
            self.runs.append(mark)
        return self

    def space(self) -> _Ref:
        if self.runs and not self.tail().endswith((" ", "(", "[")) and _text_of(self.runs):
            self.runs.append(" ")
        return self


def _title_runs_of(title: str | None) -> list:
    if not title:
        return []
    runs = title_runs(title)
    # trim surrounding whitespace of the whole title
    while runs and isinstance(runs[0], str) and not runs[0].strip():
        runs.pop(0)
    if runs and isinstance(runs[0], str):
        runs[0] = runs[0].lstrip()
    if runs and isinstance(runs[-1], str):
        runs[-1] = runs[-1].rstrip()
    return [r for r in runs if r]


# --------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------


def _initials(given: str, apa: bool) -> str:
    """'Jean-Marie' -> 'JM' (Vancouver) or 'J.-M.' (APA); 'J. R. R.' -> 'JRR' / 'J. R. R.'."""
    out = []
    for token in given.replace(".", ". ").split():
        token = token.strip(".,")
        if not token:
            continue
        if token.isupper() and len(token) <= 3 and token.isalpha() and len(token) > 1:
            # "JM" deposited as initials
            parts = [[c] for c in token]
        else:
            parts = [[p[:1]] for p in token.split("-") if p]
            if len(parts) > 1 and apa:
                out.append("-".join(f"{p[0].upper()}." for p in parts))
                continue
        letters = [p[0] for p in parts if p[0].isalpha()]
        if not letters or (token[:1].islower() and len(token) > 1):
            continue  # a particle like "de" in a given name
        out.extend(f"{c.upper()}." if apa else c.upper() for c in letters)
    return " ".join(out) if apa else "".join(out)


def _people(work: Work, role: str) -> list[dict]:
    out = []
    for p in work_people(work, role):
        family = one_line(p.get("family"))
        if family:
            out.append({"family": family, "given": one_line(p.get("given")) or "",
                        "suffix": one_line(p.get("suffix")) or ""})
        else:
            name = one_line(p.get("name") or p.get("literal") or p.get("given"))
            name = name.rstrip(".,;: ") if name else name  # "... Trials Group." in a list
            if name:
                out.append({"literal": name})
    return out


def _vancouver_name(p: dict) -> str:
    if "literal" in p:
        return p["literal"]
    name = p["family"]
    initials = _initials(p["given"], apa=False)
    if initials:
        name += " " + initials
    if p["suffix"]:
        name += " " + p["suffix"].replace(".", "")
    return name


def _apa_name(p: dict, inverted: bool = True) -> str:
    if "literal" in p:
        return p["literal"]
    initials = _initials(p["given"], apa=True)
    if not inverted:
        return f"{initials} {p['family']}".strip()
    name = p["family"] + (f", {initials}" if initials else "")
    if p["suffix"]:
        suffix = p["suffix"]
        name += ", " + (suffix + "." if suffix in ("Jr", "Sr") else suffix)
    return name


def _vancouver_names(people: list[dict]) -> str:
    names = [_vancouver_name(p) for p in people[:6]]
    if len(people) > 6:
        names.append("et al")
    return ", ".join(names)


def _apa_names(people: list[dict], inverted: bool = True) -> str:
    names = [_apa_name(p, inverted) for p in people]
    if len(names) > 20:
        return ", ".join(names[:19]) + ", … " + names[-1]
    if len(names) == 1:
        return names[0]
    if len(names) == 2 and not inverted:
        return f"{names[0]} & {names[1]}"
    return ", ".join(names[:-1]) + ", & " + names[-1]


# --------------------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------------------


def _year(year: int) -> str:
    # the record counts years as ISO 8601 does (0 is 1 BC); references print eras
    return f"{1 - year} BCE" if year <= 0 else str(year)


def _date_text(date: DateRange | None, year: int | None) -> tuple[str | None, str | None]:
    """The year as references print it (``1988–1992``, ``2019–``, ``380 BCE``), and the
    year with its month as NLM writes an article's date (``2004 Feb``, ``2004 Feb-May``,
    ``2019 Nov-2020 Feb``)."""
    if date is None:
        return (str(year) if year else None), (str(year) if year else None)
    start, end = date.start, date.end
    text = _year(start[0])
    if end is not None and (not end or end[0] != start[0]):
        text += "–" + (_year(end[0]) if end else "")
    if len(start) < 2:
        return text, text
    with_month = f"{_year(start[0])} {_MONTHS[start[1] - 1]}"
    if end and len(end) > 1 and end[:2] != start[:2]:
        with_month += "-" + (_MONTHS[end[1] - 1] if end[0] == start[0]
                             else f"{_year(end[0])} {_MONTHS[end[1] - 1]}")
    elif end is not None and text != _year(start[0]):
        with_month = f"{with_month}–" + (_year(end[0]) if end else "")
    return text, with_month


def _fields(work: Work) -> dict:
    record = work.record or {}
    parts = int_date_parts(record)[:2]
    year = work.year or (parts[0] if parts else None)
    month = parts[1] if len(parts) > 1 and 1 <= parts[1] <= 12 else None
    year_text, article_date = _date_text(date_range(record), year)
    container = work_container(work)
    institution = one_line(work_institution(work))
    event = record.get("event") if isinstance(record.get("event"), dict) else {}
    doi = work_doi(work)
    return {
        "kind": type_names(work.type or record.get("type")).family,
        "title": _title_runs_of(work_title(work)),
        "container": plain_title(container) if container else None,
        "short": plain_title(first_text(record.get("short-container-title")) or "") or None,
        "year": year,
        "month": month,
        "year_text": year_text,
        "article_date": article_date,
        "volume": one_line(work.volume or record.get("volume")),
        "issue": one_line(work.issue or record.get("issue")),
        "pages": one_line(work.pages or record.get("page")),
        "number": one_line(record.get("article-number")),
        "publisher": one_line(work.publisher or record.get("publisher")),
        "place": one_line(record.get("publisher-location")),
        "institution": institution,
        "event": one_line(event.get("name")) if event else None,
        "edition": one_line(record.get("edition-number")),
        "authors": _people(work, "author"),
        "editors": _people(work, "editor"),
        "doi": doi or None,
    }


_RANGE = re.compile(r"^\s*([A-Za-z]*)(\d+)\s*(?:-{1,2}|[‐‑‒–—])\s*([A-Za-z]*)(\d+)\s*$")


def _vancouver_pages(pages: str) -> str:
    """'274-280' -> '274-80', '1425-1437' -> '1425-37' (Citing Medicine elides)."""
    m = _RANGE.match(pages)
    if not m:
        return re.sub(r"\s*[‐‑‒–—]\s*", "-", pages)
    p1, first, p2, last = m.groups()
    if (p1, first) == (p2, last):
        return p1 + first  # "117-117" is one page
    if p1 == p2 and len(first) == len(last) and int(last) > int(first):
        i = 0
        while i < len(first) - 1 and first[i] == last[i]:
            i += 1
        last = last[i:]
    return f"{p1}{first}-{p2}{last}"


def _apa_pages(pages: str) -> str:
    m = _RANGE.match(pages)
    if m and m.group(1, 2) == m.group(3, 4):
        return m.group(1) + m.group(2)
    if m:
        return f"{m.group(1)}{m.group(2)}–{m.group(3)}{m.group(4)}"
    return re.sub(r"\s*(?:-{1,2}|[‐‑‒—])\s*", "–", pages)


def _ordinal(edition: str) -> str:
    if not edition.isdigit():
        return edition
    n = int(edition)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _label(text: str) -> tuple:
    """A bracketed label the style itself writes ("[Preprint]"): not user text, so Markdown
    gets it unescaped (it is never followed by "(" and cannot form a link)."""
    return ("raw", [f"[{text}]"])


def _note_runs(note: str | None) -> list:
    return [" ", ("b", [_label(note)])] if note else []


# --------------------------------------------------------------------------------------
# Vancouver (Citing Medicine)
# --------------------------------------------------------------------------------------


def _vancouver(work: Work, note: str | None, ids: dict[str, str] | None = None) -> list:
    f = _fields(work)
    kind = f["kind"]
    if not f["title"] and f["container"] and kind not in ("article", "chapter", "paper"):
        f["title"], f["container"] = [f["container"]], None  # a journal issue, a series
    out = _Ref()
    if f["authors"]:
        out.add(_vancouver_names(f["authors"])).stop()
    elif f["editors"] and kind in ("book", "other"):
        label = "editor" if len(f["editors"]) == 1 else "editors"
        out.add(_vancouver_names(f["editors"]), f", {label}").stop()
    if f["title"]:
        out.space().add(*f["title"])
    medium = {"thesis": "dissertation", "preprint": "Preprint", "dataset": "dataset"}.get(kind)
    if medium:
        out.space().add(_label(medium))
    out.add(*_note_runs(note))
    if f["title"] or medium or note:
        out.stop()

    date = (f["article_date"] if kind == "article" else f["year_text"]) or "[date unknown]"

    def publication() -> None:
        place_pub = f["institution"] if kind == "thesis" and f["institution"] else f["publisher"]
        if place_pub:
            out.space().add(f"{f['place']}: " if f["place"] else "", place_pub, "; ", date).stop()
        else:
            out.space().add(date).stop()

    if kind == "article":
        journal = (f["short"] or f["container"] or "").replace(".", "").strip()
        if journal:
            out.space().add(journal).stop()
        loc = ""
        if f["volume"]:
            loc += f["volume"]
        if f["issue"]:
            loc += f"({f['issue']})"
        pages = f["pages"] or f["number"]
        if pages:
            loc += ":" + _vancouver_pages(pages)
        out.space().add(date + (";" + loc if loc else "")).stop()
    elif kind in ("chapter", "paper"):
        if f["container"] or f["editors"]:
            out.space().add("In: ")
            if f["editors"]:
                label = "editor" if len(f["editors"]) == 1 else "editors"
                out.add(_vancouver_names(f["editors"]), f", {label}").stop().space()
            if f["container"]:
                out.add(f["container"]).stop()
        publication()
        if f["pages"]:
            out.space().add("p. " + _vancouver_pages(f["pages"])).stop()
    elif kind in ("book", "report", "thesis"):
        if f["edition"]:
            out.space().add(f"{_ordinal(f['edition'])} ed").stop()
        publication()
    elif kind in ("preprint", "dataset"):
        source = f["container"] or f["institution"] or f["publisher"]
        out.space().add(f"{source}; {date}" if source else date).stop()
    else:
        if f["container"]:
            out.space().add(f["container"]).stop()
        publication()
    if f["doi"]:
        out.space().add(("a", [f"doi:{f['doi']}"], doi_url(f["doi"])))
    ids = ids or {}
    if ids.get("pmid") or ids.get("pmcid"):
        # As NLM (PubMed's own citations) ends a reference: "PMID: 17530380; PMCID: PMC1234567."
        if f["doi"]:
            out.stop()
        pubmed = []
        if ids.get("pmid"):
            pubmed.append(("a", [f"PMID: {ids['pmid']}"], pubmed_url(ids["pmid"])))
        if ids.get("pmcid"):
            pubmed += (["; "] if pubmed else []) + [
                ("a", [f"PMCID: PMC{ids['pmcid']}"], pmc_url(ids["pmcid"]))]
        out.space().add(*pubmed).stop()
    return out.runs


# --------------------------------------------------------------------------------------
# APA 7
# --------------------------------------------------------------------------------------


def _apa(work: Work, note: str | None, ids: dict[str, str] | None = None) -> list:
    # APA 7 gives a DOI or URL, never database numbers: ``ids`` are not shown.
    f = _fields(work)
    kind = f["kind"]
    if not f["title"] and f["container"] and kind not in ("article", "chapter", "paper"):
        f["title"], f["container"] = [f["container"]], None  # a journal issue, a series
    italic_title = kind in ("book", "report", "thesis", "preprint", "dataset")
    title = [("it", f["title"])] if italic_title and f["title"] else list(f["title"])
    bracket = {
        "thesis": "Doctoral dissertation" + (f", {f['institution']}" if f["institution"] else ""),
        "preprint": "Preprint",
        "dataset": "Data set",
    }.get(kind)
    extra = []
    if kind == "book" and f["edition"]:
        extra.append(f" ({_ordinal(f['edition'])} ed.)")
    if kind == "report" and f["number"]:
        extra.append(f" (Report No. {f['number']})")
    if bracket:
        extra += [" ", _label(bracket)]

    out = _Ref()
    date = f"({f['year_text']})" if f["year_text"] else "(n.d.)"
    author_org = None
    if f["authors"]:
        out.add(_apa_names(f["authors"])).stop().space().add(date).stop()
        if len(f["authors"]) == 1 and "literal" in f["authors"][0]:
            author_org = f["authors"][0]["literal"]
        if title:
            out.space().add(*title, *extra, *_note_runs(note)).stop()
    elif f["editors"] and kind == "book":
        label = "(Ed.)" if len(f["editors"]) == 1 else "(Eds.)"
        out.add(_apa_names(f["editors"]), " ", label).stop().space().add(date).stop()
        if title:
            out.space().add(*title, *extra, *_note_runs(note)).stop()
    else:
        # No author: the title moves to the author's place.
        if title:
            out.add(*title, *extra, *_note_runs(note)).stop()
        out.space().add(date).stop()

    if kind == "article":
        if f["container"]:
            out.space().add(("it", [f["container"]]))
            if f["volume"]:
                out.add(", ", ("it", [f["volume"]]))
            if f["issue"]:
                out.add(f"({f['issue']})")
            if f["pages"]:
                out.add(", ", _apa_pages(f["pages"]))
            elif f["number"]:
                out.add(f", Article {f['number']}")
            out.stop()
    elif kind in ("chapter", "paper"):
        if f["container"] or f["editors"]:
            out.space().add("In ")
            if f["editors"]:
                label = "(Ed.)" if len(f["editors"]) == 1 else "(Eds.)"
                out.add(_apa_names(f["editors"], inverted=False), f" {label}")
                if f["container"]:
                    out.add(", ")
            if f["container"]:
                out.add(("it", [f["container"]]))
            if f["pages"]:
                out.add(f" (pp. {_apa_pages(f['pages'])})")
            out.stop()
        if f["publisher"]:
            out.space().add(f["publisher"]).stop()
    elif kind == "thesis":
        pass  # the institution is in the bracket
    elif kind in ("preprint", "dataset"):
        source = f["container"] or f["institution"] or f["publisher"]
        if source and source != author_org:
            out.space().add(source).stop()
    else:
        if kind == "other" and f["container"]:
            out.space().add(("it", [f["container"]])).stop()
        publisher = f["institution"] if kind == "report" and f["institution"] else f["publisher"]
        if publisher and publisher != author_org:
            out.space().add(publisher).stop()
    if f["doi"]:
        url = doi_url(f["doi"])
        out.space().add(("a", [url], url))
    return out.runs


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------

_SUB = str.maketrans("0123456789+-=()aeoxhklmnpstijruv", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼᵣᵤᵥ")
_SUP = str.maketrans("0123456789+-=()ni", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ")
_SUB_OK = set("0123456789+-=()aeoxhklmnpstijruv")
_SUP_OK = set("0123456789+-=()ni")


def _script(text: str, style: str) -> str | None:
    """Unicode sub/superscript for ``text`` when every character has one, else None."""
    text = text.replace("−", "-").replace("–", "-").replace(" ", "")
    ok = _SUB_OK if style == "sub" else _SUP_OK
    if text and all(c in ok for c in text):
        return text.translate(_SUB if style == "sub" else _SUP)
    return None


def _render_text(runs: list) -> str:
    out = []
    for r in runs:
        if isinstance(r, str):
            out.append(r)
            continue
        inner = _render_text(r[1])
        if r[0] in ("sub", "sup"):
            out.append(_script(inner, r[0]) or inner)
        else:
            out.append(inner)
    return "".join(out)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>~|#])")
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")


def _md_escape(s: str) -> str:
    return _MD_ENTITY.sub("&amp;", _MD_SPECIAL.sub(r"\\\1", s))


def _md_wrap(marker: str, inner: str) -> str:
    """``*inner*`` with surrounding spaces kept outside the markers (CommonMark flanking)."""
    stripped = inner.strip()
    if not stripped:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()):]
    return f"{lead}{marker}{stripped}{marker}{trail}"


def _render_markdown(runs: list) -> str:
    out = []
    for r in runs:
        if isinstance(r, str):
            out.append(_md_escape(r))
            continue
        style = r[0]
        if style in ("sub", "sup"):
            plain = _render_text(r[1])
            uni = _script(plain, style)
            out.append(uni if uni else f"<{style}>{_render_markdown(r[1])}</{style}>")
        elif style == "a":
            url = r[2].replace("(", "%28").replace(")", "%29")
            out.append(f"[{_render_markdown(r[1])}]({url})")
        elif style == "it":
            out.append(_md_wrap("*", _render_markdown(r[1])))
        elif style == "b":
            out.append(_md_wrap("**", _render_markdown(r[1])))
        elif style == "raw":
            out.append(_render_text(r[1]))
        else:
            out.append(_render_markdown(r[1]))
    return "".join(out)


_HTML_TAGS = {
    "it": ("<i>", "</i>"),
    "sub": ("<sub>", "</sub>"),
    "sup": ("<sup>", "</sup>"),
    "sc": ('<span style="font-variant:small-caps">', "</span>"),
    "tt": ("<code>", "</code>"),
    "b": ("<strong>", "</strong>"),
}


def _render_html(runs: list) -> str:
    out = []
    for r in runs:
        if isinstance(r, str):
            out.append(html.escape(r, quote=False))
        elif r[0] == "a":
            out.append(f'<a href="{html.escape(r[2], quote=True)}">{_render_html(r[1])}</a>')
        else:
            opening, closing = _HTML_TAGS.get(r[0], ("", ""))
            out.append(f"{opening}{_render_html(r[1])}{closing}")
    return "".join(out)


_RENDER = {"text": _render_text, "markdown": _render_markdown, "html": _render_html}
_STYLE = {"vancouver": _vancouver, "apa": _apa}


def _check(style: str, fmt: str) -> None:
    if style not in _STYLE:
        raise UsageError(f"unknown style {style!r} (choose from {', '.join(STYLES)})")
    if fmt not in _RENDER:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(REFERENCE_FORMATS)})")


def format_reference(
    work: Work, style: str = "vancouver", fmt: str = "text", *, note: str | None = None,
    ids: dict[str, str] | None = None,
) -> str:
    """One reference to ``work`` in ``style`` ("vancouver" or "apa") as ``fmt`` ("text",
    "markdown" or "html"), with its DOI as a link; one line, no list number.

    ``note`` (e.g. ``export.problem_note(problems)`` -> "Retracted") is shown in brackets
    after the title. ``ids`` (``pmid``, ``pmcid``: ``_identifiers.identifiers_by_doi``) end a
    Vancouver reference as NLM does (``PMID: 17530380.``); APA does not show them.
    Raises ``UsageError`` for an unknown style or format.
    """
    _check(style, fmt)
    runs = _STYLE[style](work, note, ids)
    text = _RENDER[fmt](runs)
    return " ".join(text.split())


def _apa_sort_key(work: Work) -> tuple:
    people = _people(work, "author") or _people(work, "editor")
    if people:
        p = people[0]
        name = p.get("literal") or f"{p['family']} {p['given']}"
    else:
        name = plain_title(work_title(work) or "")
    return (fold(name), work.year or 0, fold(plain_title(work_title(work) or "")), work.key)


def _unique(works: Iterable[Work]) -> Iterable[Work]:
    seen: set[str] = set()
    for w in works:
        doi = normalize_doi(w.key) if w.key else ""
        if doi and doi in seen:
            continue
        seen.add(doi)
        yield w


def write_references(
    works: Iterable[Work],
    fp: TextIO,
    style: str = "vancouver",
    fmt: str = "text",
    *,
    notes: dict[str, str] | None = None,
    identifiers: dict[str, dict[str, str]] | None = None,
) -> int:
    """Write a reference list to ``fp``; return how many references it holds.

    Vancouver is numbered in the order given (the order of citation) and streamed; APA is
    sorted by first author, year and title (APA lists are alphabetical), so it holds the
    formatted references in memory. Text: one reference per line (Vancouver numbered
    ``1. ``); Markdown: a numbered list (Vancouver) or paragraphs (APA); HTML: an ``<ol>``
    (Vancouver) or ``<p>`` paragraphs in a ``<div>`` (APA). A DOI listed twice is listed once.
    """
    _check(style, fmt)
    notes = {normalize_doi(d): n for d, n in (notes or {}).items()}
    identifiers = identifiers or {}

    def one(w: Work) -> str:
        doi = normalize_doi(w.key or "")
        return format_reference(w, style, fmt, note=notes.get(doi), ids=identifiers.get(doi))

    refs: Iterable[str]
    if style == "apa":
        # Sort (key, text) pairs, not works: a work holds its whole Crossref record.
        refs = [ref for _, ref in sorted((_apa_sort_key(w), one(w)) for w in _unique(works))]
    else:
        refs = (one(w) for w in _unique(works))
    n = 0
    if fmt == "html":
        fp.write("<ol>\n" if style == "vancouver" else '<div class="references">\n')
    for ref in refs:
        n += 1
        if fmt == "html":
            fp.write(f"<li>{ref}</li>\n" if style == "vancouver" else f"<p>{ref}</p>\n")
        elif style == "vancouver":
            fp.write(f"{n}. {ref}\n")
        elif fmt == "markdown":
            fp.write(("\n" if n > 1 else "") + ref + "\n")
        else:
            fp.write(ref + "\n")
    if fmt == "html":
        fp.write("</ol>\n" if style == "vancouver" else "</div>\n")
    return n


def format_list(
    works: Iterable[Work],
    style: str = "vancouver",
    fmt: str = "text",
    *,
    notes: dict[str, str] | None = None,
    identifiers: dict[str, dict[str, str]] | None = None,
) -> str:
    """A whole reference list as one string (see ``write_references`` for the layout).

    ``notes`` maps DOIs to notes such as "Retracted" (``export.problem_note``),
    ``identifiers`` DOIs to their PMID and PMCID (shown by Vancouver).
    """
    buf = io.StringIO()
    write_references(works, buf, style, fmt, notes=notes, identifiers=identifiers)
    return buf.getvalue()
