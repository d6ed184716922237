"""BibTeX export of stored works, written with pybtex.

Everything that comes from Crossref is treated as untrusted text. This module does all
LaTeX escaping itself and hands pybtex's BibTeX writer values that are already final:

* pybtex 0.26's writer escapes ``% & _ #`` (and ``~``) through latexcodec but leaves
  ``\\ { } $ ^`` alone, and it would also escape ``doi``/``url``, which must stay verbatim
  (a DOI with ``_`` read back would come out as ``\\_``). So ``_Writer`` below switches the
  writer's encoding step off and only keeps its quoting, brace checking and layout.
* Text fields are escaped so that no character from Crossref can start a LaTeX command or
  change brace depth: ``{`` and ``}`` become ``\\textbraceleft{}``/``\\textbraceright{}``
  (BibTeX counts ``\\{`` as a brace, so ``\\{`` would unbalance the entry), ``\\`` becomes
  ``\\textbackslash{}`` and so on. Every brace in the output is one this module wrote.
* ``doi`` is written raw (it is a verbatim field in biblatex and is read back unchanged);
  ``url`` is ``https://doi.org/`` plus the DOI percent-encoded as a URI path.
* Titles: JATS/HTML/MathML markup becomes ``\\textit``, ``\\textsubscript``,
  ``\\textsuperscript``, ``\\textsc``; words whose capitals must survive a bibliography
  style's sentence-casing (DNA, mRNA, NF-κB, CO2, McDonald) are wrapped in braces.

Entries are written one at a time (a one-entry ``BibliographyData`` per work), so exporting
a large store never holds the whole file in memory.
"""

from __future__ import annotations

import codecs
import html
import io
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import quote

import latexcodec  # noqa: F401  (registers the "ulatex" codec used for rare symbols)
from pybtex.bibtex.exceptions import BibTeXError
from pybtex.database import BibliographyData, Entry, Person
from pybtex.database.output.bibtex import Writer

from refkeeper.errors import InputError
from refkeeper.models import Work, normalize_doi, record_year

__all__ = [
    "KeyAssigner",
    "bibtex_key",
    "check_key",
    "doi_url",
    "export_works",
    "entry_type",
    "latex_escape",
    "plain_title",
    "problem_note",
    "store_notes",
    "title_runs",
    "title_to_latex",
    "to_bibtex",
    "work_to_entry",
    "write_bibtex",
]

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

# --------------------------------------------------------------------------------------
# Entry types
# --------------------------------------------------------------------------------------

_ENTRY_TYPES = {
    "journal-article": "article",
    "proceedings-article": "inproceedings",
    "book-chapter": "incollection",
    "book-section": "incollection",
    "book-part": "incollection",
    "reference-entry": "incollection",
    "book": "book",
    "monograph": "book",
    "edited-book": "book",
    "reference-book": "book",
    "book-set": "book",
    "book-series": "book",
    "report": "techreport",
    "dissertation": "phdthesis",
    "posted-content": "misc",
    "dataset": "misc",
}


def entry_type(crossref_type: str | None, biblatex: bool = False) -> str:
    """The BibTeX entry type for a Crossref work type (``misc`` for anything unknown).

    ``posted-content`` (preprints) is ``@online`` when writing for biblatex, ``@misc`` for
    classic BibTeX, which has no such type.
    """
    if crossref_type == "posted-content" and biblatex:
        return "online"
    return _ENTRY_TYPES.get(crossref_type or "", "misc")


# --------------------------------------------------------------------------------------
# Escaping
# --------------------------------------------------------------------------------------

# ASCII characters that LaTeX or BibTeX would interpret. Every replacement has balanced
# braces, and none contains a capital letter, so sentence-casing cannot break it.
_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}

# Combining marks -> LaTeX accent commands. Symbol accents take the letter directly
# ({\'e}); letter accents need a group ({\c{c}}).
_SYMBOL_ACCENTS = {
    "\u0300": "`",
    "\u0301": "'",
    "\u0302": "^",
    "\u0303": "~",
    "\u0304": "=",
    "\u0307": ".",
    "\u0308": '"',
}
_LETTER_ACCENTS = {
    "\u0306": "u",
    "\u030a": "r",
    "\u030b": "H",
    "\u030c": "v",
    "\u0323": "d",
    "\u0327": "c",
    "\u0328": "k",
    "\u0331": "b",
}

# Letters that do not decompose into base + combining mark.
_SPECIAL_LETTERS = {
    "ø": r"{\o}",
    "Ø": r"{\O}",
    "ß": r"{\ss}",
    "æ": r"{\ae}",
    "Æ": r"{\AE}",
    "œ": r"{\oe}",
    "Œ": r"{\OE}",
    "ł": r"{\l}",
    "Ł": r"{\L}",
    "ı": r"{\i}",
    "ȷ": r"{\j}",
    "å": r"{\aa}",
    "Å": r"{\AA}",
}

# Transliteration for ASCII keys, for letters NFKD leaves alone.
_TRANSLIT = str.maketrans(
    {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
     "ı": "i", "ŋ": "ng"}
)

_CTRL_WS = re.compile(r"[\t\n\r\v\f\u0085\u2028\u2029]")
_SPACES = re.compile(r"\s+")


def _clean(s: str, keep_newlines: bool = False) -> str:
    """NFC, control and format characters removed, line breaks made spaces (or ``\n``)."""
    if s.isprintable():
        # The common case, checked in C: no control, format, private-use or line-break
        # character, so only normalisation is left (and none for ASCII).
        return s if s.isascii() else unicodedata.normalize("NFC", s)
    s = unicodedata.normalize("NFC", _CTRL_WS.sub("\n" if keep_newlines else " ", s))
    return "".join(
        ch for ch in s
        if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    )


def _ascii_char(ch: str) -> str:
    """One non-ASCII character as ASCII LaTeX: an accent command, a symbol, or the base
    letter with its accents stripped; ``?`` when nothing sensible exists."""
    if ch in _SPECIAL_LETTERS:
        return _SPECIAL_LETTERS[ch]
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if marks and base.isascii() and base.isalpha():
        out = base
        known = False
        for mark in marks:
            if mark in _SYMBOL_ACCENTS:
                out = f"\\{_SYMBOL_ACCENTS[mark]}{out}" if len(out) == 1 else (
                    f"\\{_SYMBOL_ACCENTS[mark]}{{{out}}}"
                )
                known = True
            elif mark in _LETTER_ACCENTS:
                out = f"\\{_LETTER_ACCENTS[mark]}{{{out}}}"
                known = True
        if known:
            return "{" + out + "}"
        return base
    try:
        latex = codecs.encode(ch, "ulatex+ascii")
    except (UnicodeError, KeyError, ValueError):
        latex = ""
    if latex and latex.isascii():
        if latex[0] in "\\$":
            return "{" + latex + "}"
        if latex == "~" or all(c in "-`'" for c in latex):
            return latex
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
    )
    if stripped.isascii() and stripped.strip():
        return "".join(_SPECIALS.get(c, c) for c in stripped)
    if len(stripped) == 1 and stripped != ch:
        return _ascii_char(stripped)  # an accented letter of another script: ά -> α
    return "?"


def latex_escape(s: str, ascii: bool = False) -> str:
    """Plain text as inert LaTeX: every special character escaped, whitespace collapsed.

    With ``ascii=True`` non-ASCII characters become LaTeX accent commands and symbols.
    """
    s = _SPACES.sub(" ", _clean(s)).strip()
    return _escape_chars(s, ascii)


_SPECIALS_TABLE = str.maketrans(_SPECIALS)


def _escape_chars(s: str, ascii: bool) -> str:
    if not ascii or s.isascii():
        return s.translate(_SPECIALS_TABLE)  # one pass in C
    out = []
    for ch in s:
        if ch in _SPECIALS:
            out.append(_SPECIALS[ch])
        elif ascii and not ch.isascii():
            out.append(_ascii_char(ch))
        else:
            out.append(ch)
    return "".join(out)


# --------------------------------------------------------------------------------------
# Titles: markup -> styled runs -> LaTeX (or plain text)
# --------------------------------------------------------------------------------------

_ITALIC = {"i", "em", "emph", "italic", "var", "cite"}
_SUB = {"sub", "inf"}
_SUP = {"sup"}
_SMALLCAPS = {"scp", "sc", "smallcaps", "small-caps"}
_MONO = {"tt", "monospace", "code", "kbd", "samp"}
_TRANSPARENT = {
    "b", "strong", "bold", "u", "underline", "p", "span", "font", "div", "title", "article-title",
    "named-content", "styled-content", "inline-formula", "disp-formula", "formula",
    "alternatives", "roman", "sans-serif", "a", "abbr", "acronym", "q", "s", "strike",
    "overline", "label", "big", "small", "ext-link", "email", "uri", "chem-struct",
}
_DROPPED = {
    "annotation", "annotation-xml", "inline-graphic", "graphic", "img", "xref", "fn",
    "script", "style", "object", "mprescripts", "none",
}
_VOID = {"br", "hr", "img", "inline-graphic", "graphic", "mprescripts", "none", "mspace",
         "malignmark", "maligngroup", "wbr"}
_TEX = {"tex", "tex-math"}
_MATHML = {
    "math", "mi", "mo", "mn", "ms", "mtext", "mrow", "mstyle", "mspace", "msub", "msup",
    "msubsup", "mmultiscripts", "mprescripts", "none", "mfrac", "msqrt", "mroot", "mover",
    "munder", "munderover", "semantics", "annotation", "annotation-xml", "mfenced",
    "mpadded", "mphantom", "menclose", "mtable", "mtr", "mtd", "merror", "maction", "mglyph",
    "mlabeledtr", "malignmark", "maligngroup",
}
_KNOWN = (_ITALIC | _SUB | _SUP | _SMALLCAPS | _MONO | _TRANSPARENT | _DROPPED | _VOID | _TEX
          | _MATHML)

_TAG = re.compile(r"<(/?)([A-Za-z][\w.:-]*)((?:\s[^<>]*?)?)(/?)>")
_ESCAPED_TAG = re.compile(r"&lt;(/?([A-Za-z][\w.:-]*)(?:\s[^<>&]*?)?/?)&gt;")


@dataclass
class _Node:
    name: str
    attrs: str = ""
    children: list = field(default_factory=list)  # of _Node | str


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1].lower()


def _is_known(name: str) -> bool:
    return name.lower().startswith("mml:") or _local(name) in _KNOWN


def _parse_markup(s: str) -> _Node:
    """A forgiving parse of Crossref's title markup into a tree.

    Only tags this module knows are markup; anything else in angle brackets (Crossref has
    titles like ``Analysis of the Movie <Konggi-Inhyung>``) stays text. Unclosed tags are
    closed at the end, stray closing tags are ignored, entities are decoded in text.
    """
    # Markup escaped once too often ("&lt;scp&gt;risk&lt;/scp&gt;") is still markup.
    s = _ESCAPED_TAG.sub(lambda m: f"<{m.group(1)}>" if _is_known(m.group(2)) else m.group(0), s)
    root = _Node("#root")
    stack = [root]
    tokens: list[tuple[str, str, str, str] | str] = []
    pos = 0
    for m in _TAG.finditer(s):
        if not _is_known(m.group(2)):
            continue
        if m.start() > pos:
            tokens.append(s[pos : m.start()])
        tokens.append((m.group(1), _local(m.group(2)), m.group(3) or "", m.group(4)))
        pos = m.end()
    if pos < len(s):
        tokens.append(s[pos:])

    for i, tok in enumerate(tokens):
        if isinstance(tok, str):
            text = tok
            prev = tokens[i - 1] if i > 0 else None
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            # Pretty-printed XML (Wiley) puts a line break and indentation around tags.
            # That whitespace is padding inside an element, or before a sub/superscript.
            if isinstance(prev, tuple) and not prev[0] and not prev[3]:
                text = re.sub(r"^\s*\n\s*", "", text)
            if isinstance(prev, tuple) and prev[0]:
                text = re.sub(r"^\s*\n\s*(?=[-‐‑,.;:)\]])", "", text)
            if isinstance(nxt, tuple) and (nxt[0] or nxt[1] in _SUB | _SUP):
                text = re.sub(r"\s*\n\s*$", "", text)
            if text:
                stack[-1].children.append(html.unescape(text))
            continue
        closing, name, attrs, selfclosing = tok
        if closing:
            for depth in range(len(stack) - 1, 0, -1):
                if stack[depth].name == name:
                    del stack[depth:]
                    break
            continue
        node = _Node(name, attrs)
        stack[-1].children.append(node)
        if not selfclosing and name not in _VOID:
            stack.append(node)
    return root


def _text_of(node: _Node | str) -> str:
    if isinstance(node, str):
        return node
    return "".join(_text_of(c) for c in node.children)


def _elements(node: _Node) -> list[_Node | str]:
    """Children of a MathML element that count as arguments (whitespace text dropped)."""
    return [c for c in node.children if not (isinstance(c, str) and not c.strip())]


def _styled(style: str, runs: list) -> list:
    return [(style, runs)] if runs else []


def _runs(node: _Node | str, math: bool = False) -> list:
    if isinstance(node, str):
        text = node.strip() if math else node
        return [text] if text else []
    name = node.name
    if name in _DROPPED:
        return []
    if name in ("br", "hr", "mspace"):
        return [" "]
    if name in _TEX:
        return _tex_runs(_text_of(node))
    math = math or name in _MATHML
    kids = _elements(node) if math else node.children
    if name in ("msub", "msup", "msubsup", "munder", "mover", "munderover") and kids:
        out = _runs(kids[0], True)
        if name in ("msub", "msubsup") and len(kids) > 1:
            out += _styled("sub", _runs(kids[1], True))
        if name == "msup" and len(kids) > 1:
            out += _styled("sup", _runs(kids[1], True))
        if name == "msubsup" and len(kids) > 2:
            out += _styled("sup", _runs(kids[2], True))
        if name in ("munder", "mover", "munderover"):
            for k in kids[1:]:
                out += _runs(k, True)
        return out
    if name == "mmultiscripts" and kids:
        post, pre, target = [], [], None
        target = post
        for k in kids[1:]:
            if isinstance(k, _Node) and k.name == "mprescripts":
                target = pre
                continue
            target.append(k)
        out = []
        for j in range(0, len(pre), 2):
            out += _styled("sub", _runs(pre[j], True))
            if j + 1 < len(pre):
                out += _styled("sup", _runs(pre[j + 1], True))
        out += _runs(kids[0], True)
        for j in range(0, len(post), 2):
            out += _styled("sub", _runs(post[j], True))
            if j + 1 < len(post):
                out += _styled("sup", _runs(post[j + 1], True))
        return out
    if name == "mfrac" and len(kids) >= 2:
        return _runs(kids[0], True) + ["/"] + _runs(kids[1], True)
    if name in ("msqrt", "mroot") and kids:
        return ["√("] + _runs(kids[0], True) + [")"]
    if name == "mfenced":
        opening = re.search(r'open="([^"]*)"', node.attrs)
        closing = re.search(r'close="([^"]*)"', node.attrs)
        out = [opening.group(1) if opening else "("]
        for j, k in enumerate(kids):
            if j:
                out.append(",")
            out += _runs(k, True)
        return out + [closing.group(1) if closing else ")"]
    inner = []
    for j, c in enumerate(kids):
        runs = _runs(c, math)
        if not math and isinstance(c, _Node) and c.name == "math" and runs:
            # Inline formulas often come without spaces around them ("the<math>N=88</math>
            # nucleus"); a formula touching a letter gets one.
            if j and isinstance(kids[j - 1], str) and kids[j - 1][-1:].isalnum():
                runs = [" ", *runs]
            if j + 1 < len(kids) and isinstance(kids[j + 1], str) and kids[j + 1][:1].isalnum():
                runs = [*runs, " "]
        inner += runs
    if name == "mo" and inner in (["="], ["<"], [">"], ["≤"], ["≥"], ["→"], ["±"]):
        return [" ", *inner, " "]
    if name in _ITALIC:
        return _styled("it", inner)
    if name in _SUB:
        return _styled("sub", inner)
    if name in _SUP:
        return _styled("sup", inner)
    if name in _SMALLCAPS:
        return _styled("sc", inner)
    if name in _MONO:
        return _styled("tt", inner)
    return inner


_TEX_STYLE_CMDS = re.compile(
    r"\\(?:(?:hbox|mbox|mathrm|rm|mathit|it|bf|mathbf|text|textrm|textit|textbf|mathsf"
    r"|mathcal|operatorname|displaystyle|textstyle|left|right)(?![A-Za-z])|[,;! ])\s*"
)
_TEX_SCRIPT = re.compile(r"([_^])\s*(\{([^{}]*)\}|\\[A-Za-z]+|[^\s{}])")


def _tex_plain(s: str) -> str:
    def command(m: re.Match) -> str:
        decoded = ""
        for form in (f"${m.group(0)}$", m.group(0)):  # math symbols decode in math mode
            try:
                decoded = codecs.decode(form, "ulatex").strip()
            except (UnicodeError, ValueError, KeyError):
                continue
            if "\\" not in decoded and "$" not in decoded:
                return decoded
        return ""

    s = re.sub(r"\\[A-Za-z]+", command, s)
    s = re.sub(r"\\(.?)", r"\1", s)  # \% -> %, a stray backslash goes
    return s.replace("{", "").replace("}", "")


def _tex_runs(tex: str) -> list:
    """TeX that a publisher deposited (``$\\hbox{GeO}_{2}$``) as runs; never passed on raw."""
    s = _TEX_STYLE_CMDS.sub("", tex.replace("$", ""))
    out: list = []
    pos = 0
    for m in _TEX_SCRIPT.finditer(s):
        if m.start() > pos:
            out.append(_tex_plain(s[pos : m.start()]))
        arg = m.group(3) if m.group(3) is not None else m.group(2)
        out += _styled("sub" if m.group(1) == "_" else "sup", [_tex_plain(arg)])
        pos = m.end()
    if pos < len(s):
        out.append(_tex_plain(s[pos:]))
    return [r for r in out if r]


def _title_runs(title: str) -> list:
    runs = _runs(_parse_markup(_clean(title, keep_newlines=True)))
    return _normalise_space(runs)


def _normalise_space(runs: list) -> list:
    out: list = []
    for r in runs:
        if isinstance(r, str):
            r = _SPACES.sub(" ", r)
            if out and isinstance(out[-1], str):
                out[-1] = _SPACES.sub(" ", out[-1] + r)
            else:
                out.append(r)
        else:
            out.append((r[0], _normalise_space(r[1])))
    return out


def title_runs(title: str) -> list:
    """A Crossref title as styled runs, markup parsed and whitespace normalised.

    A run is either a string or ``(style, runs)`` with style one of ``"it"``, ``"sub"``,
    ``"sup"``, ``"sc"``, ``"tt"``. Every output format (BibTeX, CSL-JSON, the reference
    styles) renders these runs, so markup is interpreted in one place only.
    """
    return _title_runs(title)


def _plain(runs: list) -> str:
    return "".join(r if isinstance(r, str) else _plain(r[1]) for r in runs)


def plain_title(title: str) -> str:
    """A Crossref title with its markup removed and whitespace collapsed."""
    return _SPACES.sub(" ", _plain(_title_runs(title))).strip()


def _needs_protection(word: str, touches_script: bool) -> bool:
    letters = [c for c in word if c.isalpha()]
    if not letters:
        return False
    if any(c.isupper() for c in letters[1:]):
        return True  # DNA, mRNA, NF-κB, McDonald, iPhone
    has_upper = letters[0].isupper()
    if has_upper and (any(c.isdigit() for c in word) or touches_script):
        return True  # B12, 3D, Zn<sup>2+</sup>
    return False


_SPACE_RUNS = re.compile(r"( +)")
_NON_WORD = re.compile(r"[\W_]+")
_AND = re.compile(r"(?i)(?<!\S)and(?!\S)")
_PAGE_RANGE = re.compile(r"\s*([^\s\-‐‑‒–—]+)\s*(?:-{1,2}|[‐‑‒–—])\s*([^\s\-‐‑‒–—]+)\s*")
_WORD_CORE = re.compile(r"([^\w]*)(.*?\w)([^\w]*)", re.S)

_STYLE_CMDS = {
    "it": r"\textit",
    "sub": r"\textsubscript",
    "sup": r"\textsuperscript",
    "sc": r"\textsc",
    "tt": r"\texttt",
}


def _runs_to_latex(runs: list, ascii: bool) -> str:
    out = []
    for i, r in enumerate(runs):
        if not isinstance(r, str):
            inner = _runs_to_latex(r[1], ascii)
            if inner.strip():
                out.append(f"{_STYLE_CMDS[r[0]]}{{{inner}}}")
            continue
        prev_script = i > 0 and not isinstance(runs[i - 1], str) and runs[i - 1][0] in (
            "sub", "sup")
        next_script = i + 1 < len(runs) and not isinstance(runs[i + 1], str) and runs[
            i + 1][0] in ("sub", "sup")
        parts = _SPACE_RUNS.split(r)
        last = len(parts) - 1
        for j, part in enumerate(parts):
            if not part or part.isspace():
                out.append(part)
                continue
            touches = (j == 0 and prev_script) or (j == last and next_script)
            if not _needs_protection(part, touches):
                out.append(_escape_chars(part, ascii))
                continue
            # Brace only the word itself, not the punctuation around it: ({DNA}).
            m = _WORD_CORE.fullmatch(part)
            lead, core, trail = m.groups() if m else ("", part, "")
            if touches and j == 0:
                lead, core = "", lead + core
            if touches and j == last:
                core, trail = core + trail, ""
            out.append(
                _escape_chars(lead, ascii)
                + "{" + _escape_chars(core, ascii) + "}"
                + _escape_chars(trail, ascii)
            )
    return "".join(out)


def title_to_latex(title: str, ascii: bool = False) -> str:
    """A Crossref title (with JATS/HTML/MathML markup) as safe LaTeX with protected capitals."""
    return _runs_to_latex(_title_runs(title), ascii).strip()


# --------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------

# Kept here, not shared with matching: changing this list changes keys of new exports.
_KEY_STOPWORDS = frozenset(
    """a an and are as at be by for from in into is it of on or the to with without via
    et al der die das und von zu den des le la les du de en y el los las
    about after against among between but can do does during how its not our over
    than that their these this those through toward towards under upon was we what when
    where which who whom why will""".split()
)
_KEY_CHARS = re.compile(r"[^a-z0-9]")
_KEY_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:.+/-]*$")


def _ascii_fold(s: str) -> str:
    s = plain_title(s).casefold().translate(_TRANSLIT)
    if s.isascii():
        return s  # nothing to decompose: most titles and names
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c)).translate(_TRANSLIT)


def _ascii_words(s: str) -> list[str]:
    return [w for w in (_KEY_CHARS.sub("", t) for t in _NON_WORD.split(_ascii_fold(s))) if w]


def _first_content_word(s: str | None) -> str:
    for w in _ascii_words(s or ""):
        if len(w) > 1 and w not in _KEY_STOPWORDS and not w.isdigit():
            return w[:20]
    return ""


def _name_part(person: dict) -> str:
    if person.get("family"):
        return _KEY_CHARS.sub("", _ascii_fold(person["family"]))[:20]
    return _first_content_word(person.get("name") or person.get("literal") or "")


def _key_base(work: Work) -> str:
    record = work.record or {}
    name = ""
    for role in ("author", "editor"):
        people = record.get(role) or []
        if people:
            name = _name_part(people[0])
            break
    if not name and not record.get("author") and work.authors:
        first = work.authors[0]
        name = (_KEY_CHARS.sub("", _ascii_fold(first.split(",")[0])) if "," in first
                else _first_content_word(first))[:20]
    name = re.sub(r"[^a-z]", "", name)  # letters only, so the year stands out
    if not name:
        name = re.sub(r"[^a-z]", "", _first_content_word(_container(work))) or "anon"
    year = work.year or record_year(record)
    word = _first_content_word(_title(work) or "")
    return f"{name}{year if year else 'nd'}{word}"


def _suffixes():
    """a, b, ..., z, aa, ab, ... (bijective base 26)."""
    n = 1
    while True:
        s, k = "", n
        while k:
            k, r = divmod(k - 1, 26)
            s = chr(97 + r) + s
        yield s
        n += 1


class KeyAssigner:
    """Hands out one citation key per DOI for an export, keeping keys chosen earlier.

    ``keys`` maps DOIs to stored keys (``Store.bibtex_keys()``): a work with a stored key
    keeps it, and a new key never collides, case-insensitively, with any stored key, even of
    works not in this export. Calling the assigner with a work returns its key, or ``None``
    when that DOI was already handed one in this export (write each DOI once). ``assigned``
    is DOI -> key for everything handed out, to store with ``Store.set_bibtex_keys``.
    Every format (BibTeX, CSL-JSON ``id``, RIS ``ID``) uses it, so a work has the same key
    in all of them.
    """

    def __init__(self, keys: dict[str, str] | None = None) -> None:
        self.keys = {normalize_doi(d): k for d, k in (keys or {}).items()}
        self.taken = {_sanitise_key(k).lower() for k in self.keys.values()}
        self.used: set[str] = set()
        self.assigned: dict[str, str] = {}

    def __call__(self, work: Work) -> str | None:
        doi = normalize_doi(work.doi) if work.doi else ""
        if doi and doi in self.assigned:
            return None
        key = _sanitise_key(self.keys[doi]) if doi in self.keys else ""
        if not key or key.lower() in self.used:
            key = bibtex_key(work, self.taken)
        self.taken.add(key.lower())
        self.used.add(key.lower())
        if doi:
            self.assigned[doi] = key
        return key


KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_:.+/-]{0,99}")


def check_key(key: str) -> str:
    """A user's own citation key, checked; raises ``InputError`` when it would not survive
    BibTeX, biber, Pandoc and the stored-key rules: ASCII letters and digits, then also
    ``_ : . + / -``; 100 characters at most."""
    key = key.strip()
    if not KEY_PATTERN.fullmatch(key):
        raise InputError(
            f"not a usable citation key: {key!r} (ASCII letters and digits, then also _ : . + / -)"
        )
    return key


def bibtex_key(work: Work, taken: set[str]) -> str:
    """A readable, stable, ASCII key ``familyYEARword`` (``murakami2007effect``).

    The name is the first author's family name (an organisation's first significant word),
    else the first editor's, else the container's first significant word, else ``anon``;
    the year is ``nd`` when unknown; the word is the title's first word that is not a stop
    word. When the key is in ``taken`` a suffix ``a``, ``b``, ... ``z``, ``aa`` ... is added.
    ``taken`` is only read; generated keys are lower-case, so pass lower-cased keys.
    """
    base = _key_base(work)
    if base not in taken:
        return base
    for suffix in _suffixes():
        if base + suffix not in taken:
            return base + suffix
    raise AssertionError("unreachable")


def _sanitise_key(key: str) -> str:
    key = key.strip()
    if _KEY_OK.match(key):
        return key
    folded = unicodedata.normalize("NFKD", key.translate(_TRANSLIT))
    return re.sub(r"[^A-Za-z0-9_:.+/-]", "", folded).lstrip("_:.+/-")


# --------------------------------------------------------------------------------------
# Entries
# --------------------------------------------------------------------------------------


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

# Kinds that re-verification records in ``works.problems`` and that change how a work may
# be cited, with the words an export prints. Other kinds (a DOI that no longer resolves,
# metadata drift) are for the editor, not for the reader of a bibliography.
PROBLEM_NOTES = {
    "retraction": "Retracted",
    "partial-retraction": "Partially retracted",
    "withdrawal": "Withdrawn",
    "removal": "Removed",
    "expression-of-concern": "Expression of concern",
    "correction": "Corrected",
    "erratum": "Corrected",
    "corrigendum": "Corrected",
}


def problem_note(problems) -> str | None:
    """The export note for a work's recorded problems (``works.problems``: a JSON list of
    kinds, or the list itself): ``"Retracted"``, ``"Corrected"``, ``"Retracted; Corrected"``;
    None when nothing a reader must know was recorded (or the work was never checked)."""
    if isinstance(problems, str):
        try:
            problems = json.loads(problems)
        except ValueError:
            return None
    if not isinstance(problems, list):
        return None
    kinds = []
    for p in problems:
        kind = p.get("kind") if isinstance(p, dict) else p
        if isinstance(kind, str):
            kinds.append(kind.strip().lower().replace("_", "-").replace(" ", "-"))
    words: list[str] = []
    for kind in PROBLEM_NOTES:  # most serious first, each word once
        if kind in kinds and PROBLEM_NOTES[kind] not in words:
            words.append(PROBLEM_NOTES[kind])
    return "; ".join(words) or None


def _protect_and(part: str) -> str:
    if "and" in part.lower():
        part = _AND.sub(lambda m: "{" + m.group(0) + "}", part)
    return "{" + part + "}" if "," in part else part


def _person(person: dict, ascii: bool) -> Person | None:
    family = _SPACES.sub(" ", _clean(person.get("family") or "")).strip()
    if family:
        given = _SPACES.sub(" ", _clean(person.get("given") or "")).strip()
        suffix = _SPACES.sub(" ", _clean(person.get("suffix") or "")).strip()
        if not given:
            # Without a comma BibTeX would read "Smith Jones" as first name Smith, and
            # "Doe, Jr." as first name Jr.: keep the family name (and suffix) in one group.
            whole = f"{family} {suffix}" if suffix else family
            if " " in whole:
                return Person(last="{" + _escape_chars(whole, ascii) + "}")
        return Person(
            last=_protect_and(_escape_chars(family, ascii)),
            first=_protect_and(_escape_chars(given, ascii)) if given else "",
            lineage=_protect_and(_escape_chars(suffix, ascii)) if suffix else "",
        )
    whole = person.get("name") or person.get("literal") or person.get("given") or ""
    whole = latex_escape(whole, ascii)
    if not whole:
        return None
    # An organisation: one "last name" in braces, so BibTeX neither splits nor abbreviates it.
    return Person(last="{" + whole + "}")


def _persons(work: Work, role: str, ascii: bool) -> list[Person]:
    record = work.record or {}
    if record.get(role):
        people = [_person(p, ascii) for p in record[role] if isinstance(p, dict)]
        return [p for p in people if p is not None]
    if role != "author" or not work.authors or "author" in record:
        return []
    out = []
    for name in work.authors:
        if ", " in name:
            family, given = name.split(", ", 1)
            out.append(_person({"family": family, "given": given}, ascii))
        else:
            out.append(_person({"name": name}, ascii))
    return [p for p in out if p is not None]


def _pages(pages: str) -> str:
    parts = []
    for part in pages.split(","):
        m = _PAGE_RANGE.fullmatch(part)
        parts.append(f"{m.group(1)}--{m.group(2)}" if m else part.strip())
    return ", ".join(p for p in parts if p)


def _date_parts(record: dict) -> list:
    for key in ("issued", "published", "published-print", "published-online", "created"):
        parts = (record.get(key) or {}).get("date-parts") or []
        if parts and parts[0] and parts[0][0]:
            return parts[0]
    return []


def _month(record: dict) -> str | None:
    parts = _date_parts(record)
    if len(parts) > 1:
        try:
            month = int(parts[1])
        except (TypeError, ValueError):
            return None
        if 1 <= month <= 12:
            return MONTHS[month - 1]
    return None


date_parts = _date_parts


def _braces_balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


_CONTAINER_FIELD = {
    "article": "journal",
    "inproceedings": "booktitle",
    "incollection": "booktitle",
    "book": "series",
    "techreport": "series",
    "phdthesis": None,
}


def work_to_entry(
    work: Work,
    key: str | None = None,
    note: str | None = None,
    ascii: bool = False,
    biblatex: bool = False,
) -> Entry:
    """A pybtex ``Entry`` for a work, every value already escaped LaTeX.

    Write it with this module's writer (``write_bibtex``/``to_bibtex``): pybtex's own writer
    would escape the escapes again. ``doi`` is the record's DOI as is, ``url`` its doi.org
    link; ``month`` is a BibTeX month macro name (``mar``).
    """
    record = work.record or {}
    etype = entry_type(work.type or record.get("type"), biblatex)
    fields: dict[str, str] = {}

    def put(name: str, value, *, text: bool = True) -> None:
        value = _first(value)
        if value:
            value = latex_escape(value, ascii) if text else value
            if value:
                fields[name] = value

    title = _title(work)
    if title:
        latex_title = title_to_latex(title, ascii)
        if latex_title:
            fields["title"] = latex_title

    container = _container(work)
    container_field = _CONTAINER_FIELD.get(etype, "howpublished")
    if etype == "inproceedings" and not container:
        container = (record.get("event") or {}).get("name")
    if container_field and container:
        # Journal names keep their capitals; protect the whole name only where a style
        # might case-change it (booktitle, series, howpublished are printed as given).
        # Crossref writes entities and markup in container titles too ("Neurology &amp;
        # Psychiatry"): decode them like titles, then escape.
        put(container_field, plain_title(container))

    year = work.year or record_year(record)
    if year:
        fields["year"] = str(year)
    month = _month(record)
    if month:
        fields["month"] = month
    put("volume", work.volume or record.get("volume"))
    if etype in ("article", "misc", "online", "techreport"):
        put("number", work.issue or record.get("issue"))
    pages = work.pages or _first(record.get("page")) or _first(record.get("article-number"))
    if pages:
        pages = _pages(_SPACES.sub(" ", _clean(pages)))
        put("pages", pages)

    publisher = work.publisher or record.get("publisher")
    institution = _first([i.get("name") for i in record.get("institution") or []
                          if isinstance(i, dict)])
    if etype == "techreport":
        put("institution", institution or publisher)
    elif etype == "phdthesis":
        put("school", institution or publisher)
    else:
        if etype in ("misc", "online") and institution and "howpublished" not in fields:
            put("howpublished", institution)
        put("publisher", publisher)

    isbn = _first(record.get("ISBN")) or _first(
        [i.get("value") for i in record.get("isbn-type") or [] if isinstance(i, dict)]
    )
    put("issn", record.get("ISSN"))
    put("isbn", isbn)

    doi = _SPACES.sub("", _clean(record.get("DOI") or work.doi or ""))
    if doi and _braces_balanced(doi):
        fields["doi"] = doi
    if doi:
        fields["url"] = doi_url(doi)
    if note:
        put("note", note)

    persons: dict[str, list[Person]] = {}
    authors = _persons(work, "author", ascii)
    if authors:
        persons["author"] = authors
    if etype in ("book", "incollection", "inproceedings"):
        editors = _persons(work, "editor", ascii)
        if editors:
            persons["editor"] = editors

    entry = Entry(etype, fields=fields, persons=persons)
    entry.key = key
    return entry


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


_BRACES = re.compile(r"[{}]")


class _Writer(Writer):
    """pybtex's BibTeX writer without its LaTeX encoding step (values arrive escaped).

    Keeps pybtex's quoting, brace check and layout; writes ``month`` as a bare macro.
    """

    def __init__(self) -> None:
        super().__init__(encoding="UTF-8")

    def _encode(self, text: str) -> str:
        return text

    def check_braces(self, s: str) -> None:
        """pybtex's check, stricter (a ``}`` before its ``{`` fails too) and fast: only the
        braces are visited, and most values have none."""
        if "{" not in s and "}" not in s:
            return
        depth = 0
        for brace in _BRACES.findall(s):
            depth += 1 if brace == "{" else -1
            if depth < 0:
                break
        if depth != 0:
            raise BibTeXError(f"String has unmatched braces: {s}")

    def _write_field(self, stream, type, value):
        if type.lower() == "month" and value in MONTHS:
            stream.write(f",\n    {type} = {value}")
        else:
            super()._write_field(stream, type, value)


def write_bibtex(
    works: Iterable[Work],
    fp: TextIO,
    keys: dict[str, str] | None = None,
    ascii: bool = False,
    *,
    notes: dict[str, str] | None = None,
    biblatex: bool = False,
) -> dict[str, str]:
    """Stream works to ``fp`` as BibTeX, one entry at a time; return DOI -> key used.

    ``keys`` maps (lower-cased) DOIs to keys chosen earlier, which are kept so a work keeps
    its key across exports; new keys avoid every key in ``keys``. ``notes`` maps DOIs to a
    ``note`` field (retraction notices). A DOI seen twice is written once. ``ascii=True``
    writes pure ASCII with LaTeX accent commands instead of UTF-8.
    """
    assign = KeyAssigner(keys)
    notes = {normalize_doi(d): n for d, n in (notes or {}).items()}
    writer = _Writer()
    first = True
    for work in works:
        key = assign(work)
        if key is None:
            continue
        doi = normalize_doi(work.doi) if work.doi else ""
        entry = work_to_entry(work, key, note=notes.get(doi), ascii=ascii, biblatex=biblatex)
        if not first:
            fp.write("\n")
        first = False
        writer.write_stream(BibliographyData(entries={key: entry}), fp)
    return assign.assigned


def to_bibtex(
    works: Iterable[Work],
    keys: dict[str, str] | None = None,
    ascii: bool = False,
    *,
    notes: dict[str, str] | None = None,
    biblatex: bool = False,
) -> str:
    """The BibTeX of ``works`` as one string (see ``write_bibtex``)."""
    buf = io.StringIO()
    write_bibtex(works, buf, keys, ascii, notes=notes, biblatex=biblatex)
    return buf.getvalue()


# --------------------------------------------------------------------------------------
# Every format, from the store
# --------------------------------------------------------------------------------------

FORMATS = ("bibtex", "csl-json", "ris", "text", "markdown", "html")
KEYED_FORMATS = ("bibtex", "csl-json", "ris")


def export_works(
    works: Iterable[Work],
    fp: TextIO,
    fmt: str = "bibtex",
    *,
    keys: dict[str, str] | None = None,
    notes: dict[str, str] | None = None,
    style: str = "vancouver",
    ascii: bool = False,
) -> tuple[int, dict[str, str]]:
    """Stream ``works`` to ``fp`` in ``fmt`` (one of ``FORMATS``); return the number of
    entries written and DOI -> key for the keyed formats (bibtex, csl-json, ris).

    ``keys`` are the stored keys (``Store.bibtex_keys()``), ``notes`` DOI -> note
    (``problem_note``); ``style`` ("vancouver"/"apa") is for the reference-list formats;
    ``ascii`` is for bibtex (LaTeX escapes) and csl-json (``\\u`` escapes).
    """
    # Imported here: csl, ris and styles build on this module.
    from refkeeper import csl, ris, styles

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if ascii and fmt not in ("bibtex", "csl-json"):
        raise InputError("--ascii applies to bibtex and csl-json only")
    if fmt == "bibtex":
        used = write_bibtex(works, fp, keys, ascii, notes=notes)
    elif fmt == "csl-json":
        used = csl.write_csl_json(works, fp, keys, notes=notes, ascii=ascii)
    elif fmt == "ris":
        used = ris.write_ris(works, fp, keys, notes=notes)
    else:
        return styles.write_references(works, fp, style, fmt, notes=notes), {}
    return len(used), used


def store_notes(store, dois: Iterable[str] | None = None) -> dict[str, str]:
    """DOI -> export note for the stored works whose recorded problems a reader must see."""
    notes = {}
    for doi, problems in store.work_problems(dois).items():
        note = problem_note(problems)
        if note:
            notes[doi] = note
    return notes
