"""LaTeX in BibTeX fields -> Unicode text (and, for titles, Crossref-style markup).

``latex_to_text`` decodes accents and symbols with latexcodec, undoes escapes, removes
grouping braces and collapses whitespace. It is linear in the length of the field: a
30 MB abstract costs what 30 small ones do. latexcodec spends microseconds per character,
so only the words that can hold LaTeX (a backslash, brace, ``$``, ``~``, ``--``, quotes
written ``''``...) go through it; every other word is already its own decoding.
"""

from __future__ import annotations

import codecs
import re

import latexcodec  # noqa: F401  (registers the "ulatex" codec)

__all__ = ["latex_to_text"]

# Escapes that mean one literal character, and a bare "%" (text inside a field, never a
# comment there): replaced by a private-use placeholder per kind (U+E000...) before LaTeX
# decoding, so the characters cannot be re-read as LaTeX.
_LITERALS = [
    (r"\\textbackslash\s*(?:\{\})?", "\\"), (r"\\textbraceleft\s*(?:\{\})?", "{"),
    (r"\\textbraceright\s*(?:\{\})?", "}"), (r"\\textasciitilde\s*(?:\{\})?", "~"),
    (r"\\textasciicircum\s*(?:\{\})?", "^"), (r"\\textless\s*(?:\{\})?", "<"),
    (r"\\textgreater\s*(?:\{\})?", ">"), (r"\\\{", "{"), (r"\\\}", "}"), (r"\\\$", "$"),
    (r"\\&", "&"), (r"\\%", "%"), (r"\\#", "#"), (r"\\_", "_"), (r"%", "%"),
]
_LITERAL_RE = re.compile("|".join(f"({p})" for p, _ in _LITERALS))
_PH = 0xE000  # placeholders U+E000.. for the literals, U+E100.. for style tags
_STYLE_CMDS = {
    "textit": "i", "emph": "i", "textsl": "i", "mathit": "i", "textsubscript": "sub",
    "textsuperscript": "sup", "textsc": "scp", "texttt": None, "textbf": None, "textrm": None,
    "textnormal": None, "mbox": None, "text": None, "textup": None, "mathrm": None,
}
_STYLE_TAGS = ("i", "sub", "sup", "scp")
_STYLE_OR_BRACE = re.compile(r"\\(" + "|".join(_STYLE_CMDS) + r")\s*\{|[{}]")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Placeholders -> what they stand for, as text and as markup (tags dropped in text).
_PLAIN = {_PH + n: char for n, (_, char) in enumerate(_LITERALS)} | {
    _PH + 0x100 + n: "" for n in range(2 * len(_STYLE_TAGS))}
_MARKUP = {_PH + n: _ENTITIES.get(char, char) for n, (_, char) in enumerate(_LITERALS)} | {
    _PH + 0x100 + 2 * n + closing: f"<{'/' * closing}{tag}>"
    for n, tag in enumerate(_STYLE_TAGS) for closing in (0, 1)}

# What latexcodec reads as more than the character itself: commands, groups, math, the
# tie, comments, and the ligatures of its table (-- --- `` '' ?` !` ,,). A word without
# any of them decodes to itself.
_ACTIVE = re.compile(r"[\\{}$%#~]|--|``|''|[?!]`|,,")
_WORD = re.compile(r"\S+\s*")


def _placeholder_styles(s: str) -> str:
    """``\\textit{x}`` -> x between placeholder tags, through nested braces, in one pass:
    a stack of open groups; an unclosed command is closed at the end."""
    out: list[str] = []
    stack: list[str | None] = []  # per open group: "{" (a plain brace) or a style's tag
    pos = 0
    for m in _STYLE_OR_BRACE.finditer(s):
        out.append(s[pos : m.start()])
        pos = m.end()
        token = m.group(0)
        if m.group(1):
            tag = _STYLE_CMDS[m.group(1)]
            stack.append(tag)
            if tag:
                out.append(chr(_PH + 0x100 + 2 * _STYLE_TAGS.index(tag)))
        elif token == "{":
            stack.append("{")
            out.append(token)
        elif not stack:
            out.append(token)  # a stray "}"
        else:
            opened = stack.pop()
            if opened == "{":
                out.append(token)
            elif opened:
                out.append(chr(_PH + 0x101 + 2 * _STYLE_TAGS.index(opened)))
    out.append(s[pos:])
    for opened in reversed(stack):
        if opened and opened != "{":
            out.append(chr(_PH + 0x101 + 2 * _STYLE_TAGS.index(opened)))
    return "".join(out)


def _ulatex(s: str) -> str:
    try:
        return codecs.decode(s, "ulatex")
    except (UnicodeError, ValueError, KeyError, IndexError):
        return s


def _decode(s: str) -> str:
    """latexcodec's decoding of ``s``, run only on the stretches of words that need it.

    A stretch is a run of words holding LaTeX, plus the word after it (``\\c c`` is one
    character) and, while a ``$`` is open, every word up to the one that closes it. The
    whitespace after a stretch is decoded with it (a command eats the space after it).
    """
    out: list[str] = []
    stretch: list[str] = []
    follower = False  # the next word still belongs to the stretch
    dollars = 0
    start = len(s) - len(s.lstrip())
    out.append(s[:start])
    for m in _WORD.finditer(s, start):
        word = m.group(0)
        if _ACTIVE.search(word):
            stretch.append(word)
            dollars += word.count("$")
            follower = True
        elif stretch and (follower or dollars % 2):
            stretch.append(word)
            follower = False
        else:
            if stretch:
                out.append(_ulatex("".join(stretch)))
                stretch, dollars = [], 0
            out.append(word)
    if stretch:
        out.append(_ulatex("".join(stretch)))
    return "".join(out)


def latex_to_text(value: str, markup: bool = False) -> str:
    """A BibTeX field value as Unicode text: accents and symbols decoded, escapes undone,
    grouping braces removed, whitespace collapsed.

    With ``markup=True`` (titles) italics, sub/superscripts and small caps come back as
    Crossref-style tags (``<i>``, ``<sub>``, ``<sup>``, ``<scp>``) and ``& < >`` in the text
    are written as entities, so the tags are the only markup.
    """

    def keep(m: re.Match) -> str:
        return chr(_PH + m.lastindex - 1)

    s = _placeholder_styles(_LITERAL_RE.sub(keep, value))
    s = _decode(s)
    s = s.replace("{", "").replace("}", "").replace("~", " ")
    if markup:
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(s.translate(_MARKUP if markup else _PLAIN).split())
