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
  inside a marked item, only the next marker (or a finished reference) starts another;
* a blank line ends an item; the e-mail signature delimiter (``--``) starts the signature,
  which is prose whatever it holds;
* the width the text was hard-wrapped at, if it was, is read from its line lengths; a
  line break that is no wrapping (the next word would have fitted, or the text is not
  wrapped at all) ends the item unless the item is visibly unfinished (ends with ``,``
  ``;`` ``-`` "and") or the next line can only carry on (``Epub``, ``doi:``, "May 31.",
  lower case after an unfinished reference);
* at a wrapping, the line continues the item unless a reference visibly ended there (its
  locator, a DOI, or a year after its title when authors open the next line) or begins
  under prose ("References:"); where the next word would have fitted, the break is the
  reader's, so no wrapping broke a URL there;
* a short line a wrapping cut off a reference ("Springer, Heidelberg (2002)") goes back
  to it; an item holding several references run together is cut after each reference's
  locator where the next one's authors (or its number) begin;
* the reader's closing or name right under the last reference ("Thanks,", "J.H.",
  "Dr. A. K. Singh", "Keep up the good work!") ends the list, never a reference's tail.

Joined lines get one space, except inside a DOI or URL and after a hyphen (``intra-`` /
``articular``), where the pieces are joined as they were. Each chunk is then called a
reference or prose by weighing what it contains (authors first, a year, a locator, a DOI,
bibliographic words) against the reader speaking ("I have", "thanks") and sentences
("showed that"); a list item, or a chunk between two references, needs less evidence
than a loose line. Then the list's shape decides what evidence alone cannot: an item
carrying the same marker as the reference next to it is the next reference, and a line at
either end of a list without markers with half of a loose reference's evidence is its
first or last one, as long as nothing of the reader's (speech, sentence words) is in it.
In a list set apart by blank lines, a block beside a reference block (or under a header)
with a year, made of parts and ending as references end, is one of its references; and
in such a list, if wrapped, a block is one reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Chunk", "split_text", "split_references", "looks_like_reference", "input_lines", "join_lines"]

REFERENCE, PROSE = "reference", "prose"

_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĖĘĚĞĪİĶĹĻĽŁŃŅŇŌŐŒŔŘŚŞŠŢŤŪŮŰŲŹŻŽ"
_LOW = "a-zß-öø-ÿāăąćčďđēėęěğīıķĺļľłńņňōőœŕřśşšţťūůűųźżž"
_PARTICLE = (r"(?i:van\s+der|van\s+den|van|von|de\s+la|de|der|den|del|della|da|di|du|le|la|dos|das|ter|ten|"
             r"ben|bin|ibn|al|el)")
_SURNAME = (
    rf"(?:{_PARTICLE}(?:\s+|-(?=[{_UP}]))|(?i:d|l)['’](?=[{_UP}]))*(?:[{_UP}][{_LOW}'’]*(?:[-'’][{_UP}]?[{_LOW}]+|[{_UP}][{_LOW}]+)*[{_LOW}]"
    rf"|[{_UP}]{{2,}}(?:-[{_UP}]{{2,}})?)"
)
# How references begin: "Berthelot JM," (Vancouver), "Berthelot, J. M.," / "Berthelot, J.-M."
# (APA, Harvard), "Borowsky CD, et al." and "Murakami et al." (short forms), "Li H Durbin R
# 2009" (no punctuation at all), "R. Pemantle." / "B. Li, Y. Liu" (initials first),
# "Kahn, Ludwig W.:" (a given name written out), "WI Steudel, F Cortbus," (initials first,
# no full stops), "Southwick D (Forthcoming)".
_INITIALS = rf"[{_UP}]\.(?:\s?-?[{_UP}]\.){{0,3}}"
_AUTHOR_START = re.compile(
    # "In H. Bouma & D. G. Bouwhuis (Eds.)" names a book's editors, not a reference's authors
    rf"^(?!In\s)(?:(?:{_SURNAME})(?:\s+[{_UP}]{{1,3}}(?=\s?[,.;:]|\s+et\s+al|\s*$|\s+\((?:1[89]|20)\d\d"
    rf"|\s+\((?i:in\s+press|forthcoming|submitted|n\.\s?d\.)\))"
    rf"|,\s*[{_UP}]\.(?:\s?-?[{_UP}]\.)*"
    rf"|\s+et\s+al\b"
    rf"|\s+[{_UP}]{{1,3}}\s+(?:(?:{_SURNAME})\s+[{_UP}]{{1,3}}\b|(?:1[89]|20)\d\d\b)"
    rf"|,\s+[{_UP}][{_LOW}]+(?:\s+{_INITIALS})?\s?[.,:])"
    rf"|{_INITIALS}\s?(?:{_SURNAME})(?:\s+(?:{_SURNAME}))?(?=[,.:;]|\s+(?:and|&|et\s+al)\b|\s+{_INITIALS})"
    # "WI Steudel, F Cortbus, ...": initials first, without full stops
    rf"|[{_UP}]{{1,3}}\s(?:{_SURNAME}),\s+[{_UP}]{{1,3}}\s(?:{_SURNAME})\b)"
)
_YEAR = re.compile(r"(?<![\d:–\-/.])(?:1[89]\d\d|20[0-4]\d)[a-z]?(?![\d\-–/])")
_APA_YEAR_END = re.compile(r"\(\s*(?:1[89]\d\d|20[0-4]\d)[a-z]?\s*\)\s*\.?\s*$")
_DASH = r"\s*(?:[-–—]{1,2})\s*"
_LOCATOR = re.compile(
    rf"\d+\s*\(\s*[\w\s\-–]+\)\s*[:,]?\s*[A-Za-z]?\d+"  # 73(1):17   73(1), 17
    rf"|;\s*\d+\s*[:(]"  # ;89:
    rf"|\b\d{{1,4}}\s*:\s*[A-Za-z]?\d+(?!\s*[:.]\d)"  # 15:345   8:89   4:1--79
    rf"|:\s*[A-Za-z]?\d+{_DASH}[A-Za-z]?\d+"  # :2048-2056
    # pp. 17   pp 1746   P. 13 (a capital P alone is an initial: "Buss P 2005")
    rf"|(?-i:\bpp?\.?\s*\d+|\bPp?\.\s*\d+)"
    rf"|\bvol\.?\s*\d+"  # vol. 73
    rf"|\bS\.\s*\d+{_DASH}\d+"  # S. 138–149
    # 21, 37-71 (2002)
    rf"|\b\d+\s*,\s*[A-Za-z]?\d+(?:{_DASH}[A-Za-z]?\d+)?\s*\(\s*(?:1[89]|20)\d\d[a-z]?\s*\)"
    rf"|\b\d{{1,4}}\s+(?:[eE]\d{{3,}}|\d{{1,6}}\s+\d{{1,6}})\s*\.?\s*$"  # eLife 4 e06807, 18 3119 3132
    rf"|,\s*\d+{_DASH}\d+\s*\.?\s*$",  # , 17-23.
    re.IGNORECASE,
)
_DOI = re.compile(r"\b10\.\d{4,9}/\S+|\bdoi\s*:|doi\.org/|\bPMID\s*:?\s*\d", re.IGNORECASE)
_URL = re.compile(r"https?://\S+|\bwww\.\S+\.\w", re.IGNORECASE)
# "[PubMed]" / "[Google Scholar]" carry a reference on; "[54] SUITA, N., ..." (a reference
# keeping the number of the list it was copied from) is the next one.
_TAIL = re.compile(
    r"^(?:doi\b|https?://|www\.|PMID|PMCID|PubMed\b|Epub|\[(?!\d{1,3}\]\s)|available\b|accessed\b|retrieved\b|"
    r"erratum\b)",
    re.IGNORECASE,
)
# Words of what bibliographies are made of, rare in a reader's sentences.
_BIBLIO = re.compile(
    r"\bIn:|\b(?:Proc|Proceedings|Journal|Conference|Symposium|Congress|Press|Publishers?|"
    r"Verlag|Thesis|Dissertation|Report|Bulletin|Letters|Transactions|Annals|Suppl|Lecture Notes|"
    r"Springer|Elsevier|Wiley|Academic|Editors?|ed|eds|edn|Ed|Eds)\b|\b[A-Z][a-z]{0,6}\.\s+[A-Z][a-z]{0,8}\.",
)
# A reader's sentences: words of speech, rare in titles (lower case: a title's capitals are
# not sentences), the reader speaking ("I have", "my", "you"), exclamations.
_PROSE_WORDS = re.compile(
    r"\b(?:that|this|these|there|here|showed|shows|found|finds|suggests?|demonstrated?|which|because|"
    r"but|however|would|should|could|can|not|is|are|was|were|has|have|had|been|it|also|very|just|"
    r"so|too|really|about|what|if|all|any|some|at\s+least|does|did|do|"
    # a reader telling what a paper did: "later wrote", "the one everyone cites"
    r"says|said|wrote|writes|cites|cite|everyone|anyone|later|he|she|his|her|they|them|only|whole)\b"
)
_FIRST_PERSON = re.compile(
    r"\b(?:I(?:'|’)(?:m|ve|d|ll)|I\s+(?:am|was|have|had|think|found|would|will|can|could|do|did|"
    r"see|saw|use|used|teach|blog|write|work|agree|disagree|believe|read|mentioned|recommend|hope|"
    r"just|also|really|don't|feel|know|wonder|wanted|want|noticed|came)|my|me|we|our|us|you|your|"
    r"please|thanks|thank)\b"
    r"|(?:^|[.!?]\s+)(?:My|We|Our|You|Your|Please|Thanks|Thank|Hi|Hello|Dear|Sorry|Cheers|Regards|"
    r"Best|Kind|Many|Great|Interesting|Nice|Here|Check|See)\b"
)
# "Visser et al. (2013) showed that ...": a reference talked about, in a sentence.
_NARRATIVE = re.compile(
    r"\b(?:show|showed|shown|shows|found|finds|report|reported|reports|demonstrate|demonstrated|"
    r"conclude|concluded|suggest|suggested|argue|argued|argues|claim|claimed|claims|"
    r"note|noted|observe|observed|say|says|said|think|thinks|believe|mean|means)\s+that\b"
    # "(2013) showed", "(Smith et al.) found"; not "(Sardinia, Tyrrhenian Islands) are inhabited"
    r"|(?:\b(?:1[89]|20)\d\d[a-z]?|\bet\s+al\.?)\s*\)\s+(?:showed|found|reported|demonstrated|suggested|argued|claimed|concluded|noted|observed|"
    r"says|said|shows|finds|reports|argues|claims|did|does|is|was|were|are|had|has)\b"
)
# Month names only: "Mar" is a month, "Martin" an author, and so is "Mar JC" (a month is
# followed by a day, a year or punctuation).
_MONTH = re.compile(
    r"^(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?(?=\s*(?:[\d;,.)]|$))(?!,\s*[A-Z]\.)",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•·▪◦‣–—])\s+(?=\S)")
# "2) , 1992. The genus ...", "5. ? The earliest ...": a string whose authors are missing
# is still item 2 (a number counting up is what tells an item from a wrapped line).
_NUMBERED = re.compile(
    r"^\s*(?:\[(\d{1,3})\]|\((\d{1,3})\)|(\d{1,3})[.)])(?:\s*(?=[^\W\d_]|[\"“‘'\[(—–])|\s+(?=\S))"
)
# A place inside one paragraph where the next reference may begin: a space, optionally a
# number ("2."), then authors; ``_split_run_on`` checks that a whole reference ends there.
_RUN_ON = re.compile(
    rf"\s+(?=(?:[\[(]?\d{{1,3}}[.)\]]\s*)?(?:{_SURNAME})"
    rf"(?:\s+[{_UP}]{{1,3}}(?=[,.;:]|\s+et\s+al)|,\s*[{_UP}]\.|\s+et\s+al\b))"
)
# Authors as only author lists write them: "Hassa PO,", "Escueta, M.,", "Murakami et al".
_NAMES_START = re.compile(
    rf"^(?!In\s)(?:{_SURNAME})(?:\s+[{_UP}]{{1,3}}(?=[,.;:]|\s+et\s+al)|,\s*[{_UP}]\.|\s+et\s+al\b)"
)
# "M. Hosseini, J. Peters, and ...", "S. Bhatt, F. Chung": initials before the surname.
_INITIALS_FIRST = re.compile(rf"^{_INITIALS}\s?(?:{_SURNAME}),\s+{_INITIALS}\s?(?:{_SURNAME})\b")
_URL_END = re.compile(r"(?:https?://|\b10\.\d{4,9}/|\bdoi:\s?)\S*$", re.IGNORECASE)
_INLINE_MARKER = re.compile(r"^\s*(?:\[\d{1,3}\]|\(\d{1,3}\)|\d{1,3}[.)])\s*")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


@dataclass
class Chunk:
    """One piece of pasted text: a whole reference, or prose around the references.

    ``text`` has its lines joined and whitespace collapsed, list marker removed;
    ``line`` and ``end_line`` are the 1-based lines of the input where it starts and
    ends; ``marker`` the list marker it carried (``"1."``, ``"-"``), if any.
    """

    text: str
    kind: str
    line: int
    marker: str | None = None
    end_line: int | None = None

    @property
    def is_reference(self) -> bool:
        return self.kind == REFERENCE


def split_references(text: str) -> list[str]:
    """The single references in ``text``, whole and in order (prose dropped)."""
    return [c.text for c in split_text(text) if c.is_reference]


def split_text(text: str) -> list[Chunk]:
    """Cut pasted text into references and prose, in order (see the module docstring)."""
    lines = _lines(text)
    items = _items(lines)
    chunks: list[Chunk] = []
    signature: list[bool] = []
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
            ref = not item.prose and looks_like_reference(piece, listed=listed)
            chunks.append(Chunk(piece, REFERENCE if ref else PROSE, item.line, marker, item.end))
            signature.append(item.prose)
    # In a list, what sits between two references is one too, if it has anything of a
    # reference (a reader does not put a sentence of theirs between two of them).
    for i in range(1, len(chunks) - 1):
        c = chunks[i]
        if (not c.is_reference and not signature[i] and chunks[i - 1].is_reference
                and chunks[i + 1].is_reference and looks_like_reference(c.text, listed=True)):
            c.kind = REFERENCE
    # An item carrying the same marker as the reference next to it ("[8]" after "[7]", a
    # "-" after a "-") is the next one of that list, however little it has of a reference
    # ("LEP collaboration, A. Rosca, Fermiophobic Higgs bosons at LEP, hep-ex/0212038"),
    # unless the reader speaks in it or it is a bare name ("- Anne", "— J. Hesch, DC").
    # In a list without markers, a line at either end of the references that has half of
    # what a loose reference needs (authors and a year, a locator, a URL) and nothing of
    # the reader's is the list's first or last reference, not the prose around it.
    before = [c.is_reference for c in chunks]
    for i, c in enumerate(chunks):
        if c.is_reference or signature[i]:
            continue
        if _block_of_list(c, i, chunks, before, lines):
            c.kind = REFERENCE
            continue
        neighbours = [chunks[j] for j in (i - 1, i + 1) if 0 <= j < len(chunks) and before[j]]
        if not _could_be_listed_reference(c.text):
            # A title asking a question ("Natural attenuation: what does the subsurface have
            # in store? Biodegradation 13: 53-64.") has many of a sentence's words; with a
            # year and a locator, and the same marker as the reference next to it, it is one.
            if (c.marker is not None and _YEAR.search(c.text) and _LOCATOR.search(c.text)
                    and not (_FIRST_PERSON.search(c.text) or _NARRATIVE.search(c.text))
                    and any(_same_list(*sorted((c, n), key=lambda x: x.line)) for n in neighbours)):
                c.kind = REFERENCE
            continue
        if c.marker is not None:
            if any(_same_list(*sorted((c, n), key=lambda x: x.line)) for n in neighbours):
                c.kind = REFERENCE
        elif (any(n.marker is None for n in neighbours) and len(c.text.split()) >= 5
              and _could_be_listed_reference(c.text, sentence_words=1)
              and _reference_score(c.text) >= _LOOSE / 2):
            c.kind = REFERENCE
    return _one_per_block(chunks, lines)


def _one_per_block(chunks: list[Chunk], lines: list[str]) -> list[Chunk]:
    """In a wrapped list whose references are set apart by blank lines, a block is one
    reference: where the wrapping may have made the break (the next word would not have
    fitted), two references read in one block ("... ed. V. R. Benjamins, P." /
    "Casanovas, J. Breuker, ...", "... (pp. 1--10)." / "IEEE.") are one. A list is taken
    for one set apart by blank lines when at least two other blocks hold exactly one
    reference each."""
    width = _wrap_width(lines)
    if width is None:
        return chunks
    block_of, block = [], 0
    for n, line in enumerate(lines):
        if not line.strip() and (n == 0 or lines[n - 1].strip()):
            block += 1
        block_of.append(block)
    by_block: dict[int, list[int]] = {}
    for i, c in enumerate(chunks):
        by_block.setdefault(block_of[c.line - 1], []).append(i)
    single = [b for b, ix in by_block.items() if len(ix) == 1 and chunks[ix[0]].is_reference
              and chunks[ix[0]].marker is None]
    merged: dict[int, Chunk | None] = {}
    for b, ix in by_block.items():
        group = [chunks[i] for i in ix]
        if (len(group) < 2 or len([x for x in single if x != b]) < 2
                or not all(c.is_reference and c.marker is None for c in group)
                or any(c.line != (p.end_line or p.line) + 1 for p, c in zip(group, group[1:], strict=False))
                or any(_hard_break(lines[c.line - 2], lines[c.line - 1].strip(), width) for c in group[1:])):
            continue
        first, last = group[0], group[-1]
        end = last.end_line or last.line
        merged[ix[0]] = Chunk(_join(lines[first.line - 1 : end]), REFERENCE, first.line, None, end)
        for i in ix[1:]:
            merged[i] = None
    if not merged:
        return chunks
    out = [merged.get(i, c) for i, c in enumerate(chunks)]
    return [c for c in out if c is not None]


def _block_of_list(c: Chunk, i: int, chunks: list[Chunk], before: list[bool], lines: list[str]) -> bool:
    """``c`` is the first or last reference of a list whose references are set apart by
    blank lines: a block of its own next to a reference that is a block of its own (or
    right under a header), with a year, ending as references end (a number, a name, a
    publisher) and not as a reader's sentence does (a lower-case word: "... is affected."),
    and made of parts (authors. title. journal), not one run-on sentence. A title that asks a
    question ("At what spatial scales are ... relevant?") has no more evidence than that,
    but the list's shape tells it from the reader's prose."""
    def blank(n: int) -> bool:  # line n (1-based) is blank or outside the text
        return n < 1 or n > len(lines) or not lines[n - 1].strip()

    def alone(x: Chunk) -> bool:
        return blank(x.line - 1) and blank((x.end_line or x.line) + 1)

    text = c.text
    words = text.split()
    if (c.marker is not None or len(words) < 5 or not _YEAR.search(text)
            or _reference_score(text) < _LISTED or len(_PROSE_WORDS.findall(text)) > len(words) // 8
            or re.search(rf"(?:^|\s)[{_LOW}][\w'’-]*[.!?]?[\"”’)]*$", text) or _closes(text)
            or _FIRST_PERSON.search(text) or _NARRATIVE.search(text)
            # a reference is made of parts (authors. title. journal, year); a sentence
            # ("The Lancet retracted the 1998 Wakefield paper in 2010.") runs on to its end
            or len(re.findall(r"[.,;:)](?=\s)", text)) < 2):
        return False
    under_header = (i > 0 and not chunks[i - 1].is_reference and (chunks[i - 1].end_line or 0) == c.line - 1
                    and (chunks[i - 1].text.endswith(":") or len(chunks[i - 1].text.split()) <= 3))
    if not (blank((c.end_line or c.line) + 1) and (blank(c.line - 1) or under_header)):
        return False
    return any(0 <= j < len(chunks) and before[j] and alone(chunks[j])
               for j in (i - 1, i + 1))


def _same_list(first: Chunk, second: Chunk) -> bool:
    """``second`` is the item right after ``first`` in one list: the same bullet, or the
    next number written the same way."""
    a, b = first.marker, second.marker
    if a is None or b is None:
        return False
    if not a[0].isdigit() and a[0] not in "[(":
        return a == b
    na, nb = re.sub(r"\d+", "#", a), re.sub(r"\d+", "#", b)
    return na == nb and int(re.sub(r"\D", "", b)) == int(re.sub(r"\D", "", a)) + 1


def _could_be_listed_reference(text: str, sentence_words: int = 2) -> bool:
    """Nothing speaks against ``text`` being a reference: no reader speaking, no sentence
    about a paper (at most one of the words sentences are made of), not a header, not a
    bare name (a reference has five words or a number)."""
    words = text.split()
    return (not _FIRST_PERSON.search(text) and not _NARRATIVE.search(text) and not text.endswith(":")
            and len(_PROSE_WORDS.findall(text)) <= max(sentence_words, len(words) // 10)
            and (len(words) >= 5 or bool(re.search(r"\d", text))) and _reference_score(text) >= -1.0)


def looks_like_reference(text: str, listed: bool = False) -> bool:
    """Whether one chunk of text is a bibliographic reference rather than prose.

    Evidence is weighed: a DOI or PMID decides it; authors at the start, a locator
    (``73(1):17-23``, ``18, 192-203``, ``eLife 4 e06807``) and a URL count most, a year,
    "et al." and the words bibliographies are made of (``In:``, ``Proc``, ``Press``) less.
    Against them count the reader speaking ("I have", "you", "thanks", "!") and the
    words of sentences ("is", "that", "would"). A loose line needs more evidence than an
    item of a numbered or bulleted list, where a short mention is enough. A bare name
    ("J. Hesch, DC") is no reference, whatever its punctuation.
    """
    return _reference_score(text) >= (_LISTED if listed else _LOOSE)


_LOOSE, _LISTED = 3.0, 1.0


def _reference_score(text: str) -> float:
    text = text.strip()
    if not text:
        return -9.0
    if _DOI.search(text):
        return 9.0
    words = text.split()
    year = bool(_YEAR.search(text))
    locator = bool(_LOCATOR.search(text))
    authors = bool(_AUTHOR_START.match(text))
    if authors and len(words) <= 5 and not year and not locator and not re.search(r"\bet\s+al\b", text):
        authors = False  # a name on its own: a signature, not a reference
    score = 2.0 * authors + 1.0 * year + 2.0 * locator + 2.0 * bool(_URL.search(text))
    score += min(2, len(_BIBLIO.findall(text)) + (not authors and bool(re.search(r"\bet\s+al\b", text))))
    speaking = len(_FIRST_PERSON.findall(text))
    sentence = len(_PROSE_WORDS.findall(text))
    score -= 2.0 * speaking + 0.75 * max(0, sentence - 1) + 3.0 * bool(_NARRATIVE.search(text))
    score -= 1.0 * bool(re.search(r"[!?]\s+[A-Z]", text) or text.endswith("!"))
    if authors and locator and not _NARRATIVE.search(text):
        # An author list and a locator are a reference's skeleton: a title asking "what
        # have we learned?" does not make it the reader's prose.
        score = max(score, _LOOSE)
    return score


# -- internals ----------------------------------------------------------------------------


@dataclass
class _Item:
    line: int
    lines: list[str]
    marker: str | None = None
    prose: bool = False
    end: int = 0
    hard: bool = True  # the line break before it was in the text as written

    def __post_init__(self) -> None:
        self.end = self.end or self.line


def input_lines(text: str) -> list[str]:
    """The lines of pasted text as ``Chunk.line`` numbers them (line N is item N - 1)."""
    return _lines(text)


def join_lines(lines: list[str]) -> str:
    """Lines of one reference as one string, the way ``split_text`` joins them: its list
    marker dropped, a DOI or URL or a hyphenated word broken across lines made whole."""
    lines = [ln for ln in lines if ln.strip()]
    if lines:
        m = _BULLET.match(lines[0]) or _INLINE_MARKER.match(lines[0])
        if m:
            lines = [lines[0][m.end():], *lines[1:]]
    return _join(lines)


def _lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)
    text = re.sub(r"[\u00a0\u2007\u202f\t]", " ", text)
    return re.split(r"[\n\u2028\u2029\u0085\v\f]", text)


def _items(lines: list[str]) -> list[_Item]:
    items: list[_Item] = []
    cur: _Item | None = None
    last_number: int | None = None
    block_start = True
    width = _wrap_width(lines)
    signature = False
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            cur = None
            block_start = True
            continue
        if line in ("--", "-- ", "—", "__"):
            # The e-mail signature delimiter: what follows is the sender's signature.
            signature = True
            cur = _Item(lineno, [line], prose=True)
            items.append(cur)
            continue
        hard = lineno >= 2 and _hard_break(lines[lineno - 2], line, width)
        # "* ... Part" / "1. Review of current status ...": a line the wrapping made (or one
        # under a hanging indent) inside a marked item starts a numbered list only by
        # carrying on a count already begun.
        hanging = cur is not None and _hanging(lines, cur, raw)
        marker, rest = _marker(raw, last_number, block_start,
                               wrapped=cur is not None and cur.marker is not None and (not hard or hanging))
        block_start = False
        if marker is not None:
            if marker[0].isdigit() or marker[0] in "[(":
                last_number = int(re.sub(r"\D", "", marker))
            cur = _Item(lineno, [rest], marker, prose=signature)
            items.append(cur)
            continue
        # Inside a numbered or bulleted item the next marker starts the next item, so a
        # break the text was written with is no evidence of a new one there.
        listed = cur is not None and cur.marker is not None
        # Inside a marked item, a line the wrapping made (its first word did not fit on the
        # line above), or one indented under the marker as a hanging indent, carries the
        # item on even after its locator: "... pp. 26-33)." / "IEEE Computer Society.".
        # Only the reader speaking again ends it there.
        signs_off = _signs_off(line)
        # (A bare name does not stop a wrapping: "Elsevier." may be all it left on a line.)
        wrapped_on = listed and (not hard or hanging) and not (_FIRST_PERSON.search(line) or _closes(line))
        if wrapped_on and _BARE_NAME.match(line) and (_TITLED_NAME.match(line)
                                                       or _finished_reference(_join(cur.lines))):
            # "... 21:281-289." / "J.H.": the reader's name, not a tail; "Dr. A. K. Singh"
            # (a title, or initials before a surname) under anything.
            wrapped_on = False
        if cur is not None and wrapped_on:
            cur.lines.append(line)
            cur.end = lineno
        elif cur is None or (listed and hard and not hanging and signs_off) or _starts_new(
                _join(cur.lines), line, hard and not listed, listed,
                fits=(width is not None and hard and len(lines[lineno - 2].rstrip()) <= width)
                or (len(lines[lineno - 2].rstrip()) > _NO_WRAP and len(lines[lineno - 2].split()) > 1)):
            # A sign-off or a bare name right under a list, where the reader wrote it on a
            # line of its own ("Thanks,", "Dr. A. K. Singh"), ends the list's last item.
            cur = _Item(lineno, [line], prose=signature, hard=hard)
            items.append(cur)
        else:
            cur.lines.append(line)
            cur.end = lineno
    return _merge_tails(items)


# How readers sign off under a comment, and the bare name they sign with ("Jerry Hesch",
# "Dr. A. K. Singh", "Maria Lopez, PT, DPT", "J.H."): never a reference's tail.
_SIGN_OFF = re.compile(
    r"^(?:thanks|thank\s+you|many\s+thanks|cheers|(?:best|kind|warm|warmest)(?:\s+regards|\s+wishes)?|"
    r"regards|yours|sincerely|greetings|all\s+the\s+best|sent\s+from|hope\s+this\s+helps|let\s+me|please|"
    r"feel\s+free|(?-i:I)(?=\s|'|’))\b",
    re.IGNORECASE,
)
_NAME = (
    rf"(?:(?:Dr|Prof|Mr|Mrs|Ms)\.?\s+)?(?:[{_UP}]\.\s?)*[{_UP}][{_LOW}'’-]+(?:\s+[{_UP}][{_LOW}'’-]+)?"
    rf"(?:,\s*[{_UP}][{_UP}a-z]{{1,4}})*\.?"
)
_TITLED_NAME = re.compile(rf"^(?:(?:Dr|Prof|Mr|Mrs|Ms)\.?\s|(?:[{_UP}]\.\s?)+[{_UP}][{_LOW}])")
_BARE_NAME = re.compile(rf"^(?:{_NAME}|(?:[{_UP}]\.\s?){{1,3}})$")


def _closes(line: str) -> bool:
    """``line`` opens the reader's closing: "Thanks,", "Best regards,", "Keep it up!"."""
    line = line.strip()
    return bool((_SIGN_OFF.match(line) and len(line.split()) <= 8) or line.endswith("!"))


def _signs_off(line: str) -> bool:
    """``line`` is the reader signing off or signing: a sign-off opening a short line, a
    bare name, or an exclamation ("Keep up the good work!")."""
    line = line.strip()
    return _closes(line) or bool(_BARE_NAME.match(line))


def _indent(raw: str) -> int:
    return len(raw) - len(raw.lstrip())


def _hanging(lines: list[str], item: _Item, raw: str) -> bool:
    """``raw`` is indented deeper than the marker line of ``item``: a hanging indent."""
    return _indent(raw) > _indent(lines[item.line - 1]) and _indent(raw) > 0


def _merge_tails(items: list[_Item]) -> list[_Item]:
    """Give a reference back the tail a wrapping cut off it.

    A line right under a reference (a list item, or one the wrapping ran on into) that
    is no reference on its own but has something of one ("Springer, Heidelberg (2002)",
    "ACM, New York (2006)") is the end of the reference above it, not a reference.
    """
    out: list[_Item] = []
    for item in items:
        prev = out[-1] if out else None
        if (prev is not None and item.marker is None and not item.prose and not prev.prose
                and item.line == prev.end + 1 and (prev.marker is not None or not item.hard)):
            text, above = _join(item.lines), _join(prev.lines)
            score = _reference_score(text)
            if (0 < score < _LOOSE and not _FIRST_PERSON.search(text) and not _signs_off(text)
                    and looks_like_reference(above, listed=prev.marker is not None)):
                prev.lines.extend(item.lines)
                prev.end = item.end
                continue
        out.append(item)
    return out


def _wrap_width(lines: list[str]) -> int | None:
    """The column a mail client or web form hard-wrapped the text at, if it was.

    In wrapped text every line that runs on into the next is nearly full (within a
    word's length of the width) and none is longer; in text pasted one line per
    paragraph or reference, line lengths are all over the place. Only widths between
    30 and 110 columns are considered: longer lines are nobody's wrapping.
    """
    # Lines of one word (a long URL) may stick out of any wrapping: they do not count.
    lengths = [len(x.rstrip()) if len(x.split()) > 1 else 0 for x in lines]
    nonblank = [bool(x.strip()) for x in lines]
    runs_on = [n for n, nxt in zip(lengths[:-1], nonblank[1:], strict=True) if n and nxt]
    if len(runs_on) < 2:
        return None
    best, best_near, best_over = None, 0, 0
    # The width is the length of some line (the last line of a paragraph may be the
    # longest); most lines that run on end within a word's length of it.
    for w in sorted({n for n in lengths if 30 <= n <= 110}):
        near = sum(1 for n in runs_on if w - 10 <= n <= w)
        over = sum(1 for n in lengths if n > w)
        if over <= max(1.0, 0.2 * len(runs_on)) and near >= best_near:
            best, best_near, best_over = w, near, over
    # A short list has few lines that run on, half of them a reference's last line; three
    # near the width and none longer are wrapping enough.
    if best is None or best_near < 2 or (best_near < 0.4 * len(runs_on) and (best_near < 3 or best_over)):
        return None
    # No line a wrapping ran on is longer than its width: one a column or two longer than
    # the width most lines end near says the width is that much larger (a line taken as
    # longer than the width would make its break look like one the text was written with).
    return max([best] + [n for n in runs_on if best < n <= best + 4])


def _hard_break(prev_raw: str, line: str, width: int | None) -> bool:
    """Whether the break after ``prev_raw`` was in the text as written, not made by a
    wrapping: the text was not wrapped, the line is longer than the wrap width, or the
    next line's first word would have fitted on it."""
    n = len(prev_raw.rstrip())
    if not n:
        return True
    if width is None or n > width:
        return True
    return n + 1 + len(line.split(None, 1)[0]) <= width


def _marker(raw: str, last_number: int | None, block_start: bool,
            wrapped: bool = False) -> tuple[str | None, str]:
    m = _BULLET.match(raw)
    if m:
        return m.group(0).strip(), raw[m.end():].strip()
    m = _NUMBERED.match(raw)
    if m:
        n = int(next(g for g in m.groups() if g))
        # Numbers must count up: "80. Epub 2007" wrapped onto its own line is no item.
        if last_number is None and wrapped:
            return None, raw.strip()
        if n == (last_number or 0) + 1 or (last_number is None and block_start):
            return m.group(0).strip(), raw[m.end():].strip()
    return None, raw.strip()


# Lines longer than this are nobody's wrapping: the reader wrote the line whole (unless it
# is one word, a long URL, which sticks out of any wrapping).
_NO_WRAP = 110


def _starts_new(cur: str, line: str, hard: bool = False, listed: bool = False, fits: bool = False) -> bool:
    """Whether ``line`` begins a new item rather than continuing ``cur``.

    ``hard`` says the line break was in the text as written (see ``_hard_break``): then
    the line is a new item unless ``cur`` is visibly unfinished or the line can only be
    a continuation (a reference's tail, lower-case or punctuation where no reference
    starts). Otherwise the break may be a wrapping and the line continues ``cur``
    unless a reference visibly ends there or begins under prose. ``listed`` says ``cur``
    began with a list marker: then the next marker, not an author's name, starts the
    next item. ``fits`` says the break is certainly the reader's: the text is wrapped and
    the line's first word would have fitted on the line above, or the line above is longer
    than any wrapping. No wrapping broke a URL there ("... 10.1029/2002WR001944" / "M-B
    Pontoppidan, W Himaman, ..."), and authors after a comma ending such a line ("...
    Nuovo Cimento, 23, 115 1962," / "Engelman JA, ...") begin the next reference.
    """
    if not fits and _url_continues(cur, line):
        return False
    unfinished = bool(re.search(r"(?:[,;:&/\-–]|\band|\bin|\bet)\s*$", _EMPTY_DOI.sub("", cur)))
    # A parenthesis or quotation still open: "(ACC/AHA/NASPE Committee to Update the 1998"
    # / "Pacemaker Guidelines). Circulation ...".
    still_open = cur.count("(") > cur.count(")") or cur.count("“") > cur.count("”")
    # "References:", "... recommends this. Sources:": the last sentence leads into a list.
    lead_in = cur.endswith(":") and not looks_like_reference(re.split(r"(?<=[.!?])\s+", cur)[-1], listed=True)
    if (not unfinished or _URL_END.search(cur)) and (
            _closes(line) or (_BARE_NAME.match(line) and (hard or _TITLED_NAME.match(line)
                                                          or _finished_reference(cur)))):
        return True  # the reader's closing or name right under the last reference
    if hard:
        # "References" on a line of its own is a header, whatever the next line begins with.
        if lead_in or re.fullmatch(rf"[{_UP}][\w ]{{0,30}}", cur) and len(cur.split()) <= 3:
            return True
        # (A URL ending in "/" is no unfinished reference: ".../p/monav/" / "Nieto, JJ, ...".)
        written_whole = fits and _AUTHOR_START.match(line) and len(cur) > _NO_WRAP
        if ((unfinished and not _URL_END.search(cur) and not written_whole) or _TAIL.match(line)
                or _MONTH.match(line)):
            return False
        m = _INLINE_MARKER.match(line)
        if m and _AUTHOR_START.match(line[m.end():]):
            return True  # "[21] KUSUNOKI, Y., ...": a reference keeping its own list's number
        if (not line[:1].isalpha() or line[:1].islower()) and not _AUTHOR_START.match(line):
            # A reader's sentence the text ended a line after ("... recommends this." /
            # "ben-Avraham, D. ...") is over; so is a whole reference.
            over = cur.endswith((".", "!", "?")) and not looks_like_reference(cur)
            return over or _finished_reference(cur)
        return True
    if (not line[:1].isalpha() or line[:1].islower()) and not _AUTHOR_START.match(line):
        return False  # ":274-80.", "(2007)", "intraarticular lidocaine ...": wrapped text
    if (unfinished or still_open) and not lead_in:
        return False  # the item is visibly unfinished: "... Bayani N," / "Coppe JP, ..."
    if (not listed and _AUTHOR_START.match(line) and not _AUTHOR_START.match(cur)
            and not looks_like_reference(cur)):
        # A reference right under prose ("References:" or "Jerry Hesch" / "Berthelot JM,
        # ..."); under a reference's first line ("... Labat JJ, Le" / "Goff B,") it continues.
        return True
    # ("EMBO J. 29:2888" is a journal: a surname in capitals is followed by a comma.)
    if (not listed and (_NAMES_START.match(line) and not re.match(rf"[{_UP}]+\s", line)
                        or _INITIALS_FIRST.match(line))
            and _AUTHOR_START.match(cur) and (_YEAR.search(cur) or _LOCATOR.search(cur))
            and looks_like_reference(cur)):
        # Authors with their initials under a reference that has its own authors and year:
        # the next reference ("... Med., 2015(in press)" / "Schunemann HJ, Fretheim A,"),
        # not the rest of an author list, which comes before the year.
        return True
    # At a break a wrapping may have made (the next word would not have fitted), a year
    # ending the line ("... In: Proceedings of the 2018" / "Cybernetics & Informatics ...")
    # is as often inside a reference as at its end: only authors opening the next line
    # say a new reference begins there. A locator or a DOI ending the line is an end.
    if _finished_reference(cur, by_year=bool(_AUTHOR_START.match(line))):
        # After a whole reference only its tail (Epub, DOI, PMID, URL, "May 31.")
        # continues it; anything else is the next reference, or prose.
        # "New York: ACM." / "Amsterdam: Benjamins.": a place and a publisher end one.
        return not (_TAIL.match(line) or _MONTH.match(line) or _PLACE.match(line))
    return False


def _finished_reference(text: str, by_year: bool = True) -> bool:
    """A reference that has reached its end: its locator, a trailing year (unless
    ``by_year`` is false), or a DOI."""
    # "... S0743731510000341 .": a full stop set off by a space ends it all the same
    text = re.sub(r"\s+([.,;])\s*$", r"\1", _EMPTY_DOI.sub("", text))
    if not looks_like_reference(text):
        return False
    if re.search(r"(?:10\.\d{4,9}/\S+|PMID:?\s*\d+|https?://\S+)\s*$", text, re.IGNORECASE):
        return True
    if not re.search(r"(?:\d[a-z]?\)?\.?|\])\s*$", text):
        return False
    if _LOCATOR.search(text[-30:]):
        return True
    m = _YEAR_END.search(text)
    if not m or not by_year:
        return False
    # A year right after the authors ("Smith, J. (2010).", "Li H Durbin R 2009") only
    # starts a reference; after a title ("... Routledge, 2003.") it ends one.
    before = text[: m.start()]
    title_words = [w for w in re.findall(r"\b[a-z][a-z'’-]+\b", before)
                   if w not in ("and", "et", "al", "van", "von", "der", "den", "de", "del", "da", "di", "du",
                                "le", "la", "dos", "ter")]
    # A title in title case has no lower-case words, but runs of words that no comma or
    # initial separates, as names in an author list always are.
    run = longest = 0
    for w in before.split():
        name_break = w.endswith((",", ";")) or re.fullmatch(rf"[{_UP}]{{1,3}}\.?|(?:[{_UP}]\.-?)+|and|&", w)
        run = 0 if name_break else run + 1
        longest = max(longest, run)
    return len(title_words) >= 3 or longest >= 4


_PLACE = re.compile(rf"^[{_UP}][{_LOW}]+(?:[ -][{_UP}][{_LOW}]+)?(?:,?\s*[{_UP}]{{2}})?:\s*[{_UP}]")
# A DOI label left empty at the end of a reference ("... 2005; 29:564-70. doi:", "(doi: ."):
# nothing follows it, so it neither continues into the next line nor keeps it.
_EMPTY_DOI = re.compile(r"[\s(]*(?:PubMed\s+)?(?:doi|DOI)\s*:?\s*\.?\s*$")
_YEAR_END = re.compile(
    r"(?:1[89]\d\d|20[0-4]\d)[a-z]?\s*\)?(?:,?\s+[A-Z][a-z]{2,8}\.?(?:\s+\d{1,2})?)?\s*\.?\s*$"
)


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
