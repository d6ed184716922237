"""Split a pasted reader comment or reference list into single references.

Readers paste references every way there is: numbered (``1.``, ``[1]``, ``(1)``),
bulleted, one per line, separated by blank lines, run together in one paragraph, or
wrapped by a mail client or a web form so that one reference spans several lines. And
they paste them inside a comment, between "please post the reference" and their
signature. ``split_text`` cuts such text into chunks, each either one whole reference
or a piece of prose; ``split_references`` keeps only the references.

The rules, in order:

* a list marker (``1.``, ``1)``, ``[1]``, ``(1)``, ``-``, ``*``, ``•``) starts a new item;
  numbers must count up, so a wrapped line that happens to start ``80. Epub`` is no item;
* a blank line ends an item;
* a line starting in lower case, with a digit or punctuation (``:274-80.``), or carrying
  on a DOI or URL, continues the item before it;
* a line starting the way references start (``Surname AB,``, ``Surname, A.``, ``Surname
  et al.``) under prose ("See references below:", a signature) starts a new item;
* after an item that is visibly unfinished (ends with ``,`` ``;`` ``:`` ``-`` "and") the
  line continues it; after a finished reference (it ends in its locator — volume, pages,
  a closing year — or a DOI) only its tail does (``Epub ...``, ``doi:``, ``PMID``, a URL,
  "May 31."), anything else starts a new item;
* an item holding several references run together is cut after each reference's
  locator where the next one's authors (or its number) begin.

Joined lines get one space, except inside a DOI or URL and after a hyphen (``intra-`` /
``articular``), where the pieces are joined as they were. Each chunk is then called a
reference or prose from what it contains (authors first, a year, a locator, a DOI); a
list item needs less evidence than a loose line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Chunk", "split_text", "split_references", "looks_like_reference"]

REFERENCE, PROSE = "reference", "prose"

_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĖĘĚĞĪİĶĹĻĽŁŃŅŇŌŐŒŔŘŚŞŠŢŤŪŮŰŲŹŻŽ"
_LOW = "a-zß-öø-ÿāăąćčďđēėęěğīıķĺļľłńņňōőœŕřśşšţťūůűųźżž"
_PARTICLE = r"(?i:van\s+der|van\s+den|van|von|de\s+la|de|der|den|del|della|da|di|du|le|la|dos|das|ter|ten)"
_SURNAME = (
    rf"(?:{_PARTICLE}\s+)*(?:[{_UP}][{_LOW}'’]*(?:[-'’][{_UP}]?[{_LOW}]+)*[{_LOW}]"
    rf"|[{_UP}]{{2,}}(?:-[{_UP}]{{2,}})?)"
)
# How references begin: "Berthelot JM," (Vancouver), "Berthelot, J. M.," / "Berthelot, J.-M."
# (APA, Harvard), "Borowsky CD, et al." and "Murakami et al." (short forms).
_AUTHOR_START = re.compile(
    rf"^(?:{_SURNAME})(?:\s+[{_UP}]{{1,3}}(?=[,.;:]|\s+et\s+al|\s*$)"
    rf"|,\s*[{_UP}]\.(?:\s?-?[{_UP}]\.)*"
    rf"|\s+et\s+al\b)"
)
_YEAR = re.compile(r"(?<![\d:–\-/.])(?:1[89]\d\d|20[0-4]\d)[a-z]?(?![\d\-–/])")
_APA_YEAR_END = re.compile(r"\(\s*(?:1[89]\d\d|20[0-4]\d)[a-z]?\s*\)\s*\.?\s*$")
_LOCATOR = re.compile(
    r"\d+\s*\(\s*[\w\s\-–]+\)\s*[:,]?\s*[A-Za-z]?\d+"  # 73(1):17   73(1), 17
    r"|;\s*\d+\s*[:(]"  # ;89:
    r"|:\s*[A-Za-z]?\d+\s*[-–]\s*[A-Za-z]?\d+"  # :2048-2056
    r"|\bpp?\.\s*\d+"  # pp. 17
    r"|\bvol\.?\s*\d+"  # vol. 73
    r"|,\s*\d+\s*[-–]\s*\d+\s*\.?\s*$",  # , 17-23.
    re.IGNORECASE,
)
_DOI = re.compile(r"\b10\.\d{4,9}/\S+|\bdoi\s*:|doi\.org/|\bPMID\s*:?\s*\d", re.IGNORECASE)
_TAIL = re.compile(
    r"^(?:doi\b|https?://|www\.|PMID|PMCID|Epub|\[|available\b|accessed\b|retrieved\b|erratum\b)",
    re.IGNORECASE,
)
_PROSE_WORDS = re.compile(
    r"\b(?:that|this|these|there|showed|shows|found|finds|suggests?|demonstrated?|which|because|"
    r"but|however|would|should|could|can|not)\b"
)
_MONTH = re.compile(r"^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?:\s|;|$)", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I’m|my|me|we|our|you|your|thank|thanks|please)\b", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•·▪◦‣–—])\s+(?=\S)")
_NUMBERED = re.compile(r"^\s*(?:\[(\d{1,3})\]|\((\d{1,3})\)|(\d{1,3})[.)])\s*(?=[^\W\d_]|[\"“‘'])")
# A place inside one paragraph where the next reference may begin: a space, optionally a
# number ("2."), then authors; ``_split_run_on`` checks that a whole reference ends there.
_RUN_ON = re.compile(
    rf"\s+(?=(?:[\[(]?\d{{1,3}}[.)\]]\s*)?(?:{_SURNAME})"
    rf"(?:\s+[{_UP}]{{1,3}}(?=[,.;:]|\s+et\s+al)|,\s*[{_UP}]\.|\s+et\s+al\b))"
)
_URL_END = re.compile(r"(?:https?://|\b10\.\d{4,9}/|\bdoi:\s?)\S*$", re.IGNORECASE)
_INLINE_MARKER = re.compile(r"^\s*(?:\[\d{1,3}\]|\(\d{1,3}\)|\d{1,3}[.)])\s*")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


@dataclass
class Chunk:
    """One piece of pasted text: a whole reference, or prose around the references.

    ``text`` has its lines joined and whitespace collapsed, list marker removed;
    ``line`` is the 1-based line of the input where it starts; ``marker`` the list
    marker it carried (``"1."``, ``"-"``), if any.
    """

    text: str
    kind: str
    line: int
    marker: str | None = None

    @property
    def is_reference(self) -> bool:
        return self.kind == REFERENCE


def split_references(text: str) -> list[str]:
    """The single references in ``text``, whole and in order (prose dropped)."""
    return [c.text for c in split_text(text) if c.is_reference]


def split_text(text: str) -> list[Chunk]:
    """Cut pasted text into references and prose, in order (see the module docstring)."""
    items = _items(_lines(text))
    chunks: list[Chunk] = []
    for item in items:
        joined = _join(item.lines)
        if not joined:
            continue
        for i, piece in enumerate(_split_run_on(joined)):
            marker = item.marker if i == 0 else None
            if i > 0:
                m = _INLINE_MARKER.match(piece)
                if m and _AUTHOR_START.match(piece[m.end():]):
                    marker = m.group(0).strip()
                    piece = piece[m.end():]
            listed = marker is not None or item.marker is not None
            kind = REFERENCE if looks_like_reference(piece, listed=listed) else PROSE
            chunks.append(Chunk(piece, kind, item.line, marker))
    return chunks


def looks_like_reference(text: str, listed: bool = False) -> bool:
    """Whether one chunk of text is a bibliographic reference rather than prose.

    A DOI or PMID decides it. Otherwise a loose line needs authors at its start and a
    year or locator, or a year and a locator; an item of a numbered or bulleted list
    needs only one of authors, year or locator. Without a locator, text in the first
    person ("I", "you", "thank") or reading like a sentence ("showed that") is prose.
    """
    text = text.strip()
    if not text:
        return False
    if _DOI.search(text):
        return True
    year = bool(_YEAR.search(text))
    locator = bool(_LOCATOR.search(text))
    authors = bool(_AUTHOR_START.match(text))
    if not locator and (_FIRST_PERSON.search(text) or len(_PROSE_WORDS.findall(text)) >= 2):
        return False  # "I ...", "Visser et al. (2013) showed that ...": a sentence, not a reference
    if listed:
        return year or locator or authors
    return (authors and (year or locator)) or (year and locator)


# -- internals ----------------------------------------------------------------------------


@dataclass
class _Item:
    line: int
    lines: list[str]
    marker: str | None = None


def _lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)
    text = re.sub(r"[\u00a0\u2007\u202f\t]", " ", text)
    return re.split(r"[\n\u2028\u2029\u0085\v\f]", text)


def _items(lines: list[str]) -> list[_Item]:
    items: list[_Item] = []
    cur: _Item | None = None
    last_number: int | None = None
    block_start = True
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            cur = None
            block_start = True
            continue
        marker, rest = _marker(raw, last_number, block_start)
        block_start = False
        if marker is not None:
            if marker[0].isdigit() or marker[0] in "[(":
                last_number = int(re.sub(r"\D", "", marker))
            cur = _Item(lineno, [rest], marker)
            items.append(cur)
            continue
        if cur is None or _starts_new(_join(cur.lines), line):
            cur = _Item(lineno, [line])
            items.append(cur)
        else:
            cur.lines.append(line)
    return items


def _marker(raw: str, last_number: int | None, block_start: bool) -> tuple[str | None, str]:
    m = _BULLET.match(raw)
    if m:
        return m.group(0).strip(), raw[m.end():].strip()
    m = _NUMBERED.match(raw)
    if m:
        n = int(next(g for g in m.groups() if g))
        # Numbers must count up: "80. Epub 2007" wrapped onto its own line is no item.
        if n == (last_number or 0) + 1 or (last_number is None and block_start):
            return m.group(0).strip(), raw[m.end():].strip()
    return None, raw.strip()


def _starts_new(cur: str, line: str) -> bool:
    """Whether ``line`` begins a new item rather than continuing ``cur``."""
    if _url_continues(cur, line):
        return False
    if not line[:1].isalpha() or line[:1].islower():
        return False  # ":274-80.", "(2007)", "intraarticular lidocaine ...": wrapped text
    if _AUTHOR_START.match(line) and not _AUTHOR_START.match(cur) and not looks_like_reference(cur):
        # A reference right under prose ("References:" or "Jerry Hesch" / "Berthelot JM,
        # ..."); under a reference's first line ("... Labat JJ, Le" / "Goff B,") it continues.
        return True
    if re.search(r"(?:[,;:&/\-–]|\band|\bin|\bet)\s*$", cur):
        return False  # the item is visibly unfinished
    if _finished_reference(cur):
        # After a whole reference only its tail (Epub, DOI, PMID, URL, "May 31.")
        # continues it; anything else is the next reference, or prose.
        return not (_TAIL.match(line) or _MONTH.match(line))
    return False


def _finished_reference(text: str) -> bool:
    """A reference that has reached its end: its locator, a trailing year, or a DOI."""
    if not looks_like_reference(text):
        return False
    if re.search(r"(?:10\.\d{4,9}/\S+|PMID:?\s*\d+|https?://\S+)\s*$", text, re.IGNORECASE):
        return True
    if _APA_YEAR_END.search(text):
        return False  # "Smith, J. (2010)." is only the start of an APA reference
    if not re.search(r"(?:\d[a-z]?\)?\.?|\])\s*$", text):
        return False
    return bool(_LOCATOR.search(text)) or bool(_YEAR.search(text[-40:]))


def _join(lines: list[str]) -> str:
    out = ""
    for line in lines:
        line = line.strip()
        if not out:
            out = line
        elif _url_continues(out, line):
            out += line  # a DOI or URL broken across lines
        elif (out.endswith("-") and not out.endswith((" -", "--")) and line[:1].isalnum()
              and not re.match(r"(?:and|or|to|und|et)\b", line)):
            out += line  # "intra-" / "articular" keeps its hyphen, loses the break
        else:
            out += " " + line
    return re.sub(r"\s+", " ", out).strip()


def _url_continues(cur: str, line: str) -> bool:
    """``cur`` ends inside a DOI or URL and ``line`` carries on with the rest of it."""
    if not _URL_END.search(cur) or _AUTHOR_START.match(line):
        return False
    first = line.split(None, 1)[0]
    if first.startswith("["):
        return False  # "[PubMed]", "[Google Scholar]" after the DOI
    return not first[:1].isupper() or bool(re.search(r"[/.\-_\d]", first.rstrip(".")))


def _split_run_on(text: str) -> list[str]:
    """Cut a paragraph of references run together at each reference's end."""
    pieces: list[str] = []
    start = 0
    for m in _RUN_ON.finditer(text):
        left = text[start : m.start()]
        if not (left.endswith((".", ";")) or _URL_END.search(left)):
            continue
        # Only where the left part is a whole reference ending in its locator and the
        # right part has a year of its own: "Eur Spine J. 2013" is a journal, not authors.
        if _finished_reference(left) and _YEAR.search(text[m.end():]):
            pieces.append(left.strip())
            start = m.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]
