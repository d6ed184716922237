"""Crossref's title markup as styled runs, and the plain text of titles.

Crossref titles carry JATS, HTML and MathML tags (``<i>``, ``<sub>``, ``<scp>``,
``<mml:msub>``...), entities, markup escaped once too often, and now and then TeX a
publisher deposited (``$\\hbox{GeO}_{2}$``). ``title_runs`` parses all of it, forgivingly, into
styled runs (a string, or ``(style, runs)`` with style ``"it"``, ``"sub"``, ``"sup"``,
``"sc"``, ``"tt"``); BibTeX (``latex.title_to_latex``), CSL-JSON and the reference styles
each render those runs, so markup is interpreted in this one place only.
``plain_title`` is the same title as plain text.

Also here, because everything else builds on them: ``clean_text``, which every export
applies to text from Crossref (NFC, control and format characters removed), ``squeeze``
(the same on one line), and the ASCII-folded words of a title (``ascii_words``), with
which titles are compared and citation keys made.
"""

from __future__ import annotations

import codecs
import functools
import html
import re
import unicodedata
from dataclasses import dataclass, field

import latexcodec  # noqa: F401  (registers the "ulatex" codec used to decode deposited TeX)

__all__ = [
    "NON_ALNUM",
    "TRANSLIT",
    "ascii_fold",
    "ascii_words",
    "clean_text",
    "plain_title",
    "squeeze",
    "title_runs",
]


# --------------------------------------------------------------------------------------
# Cleaning text from Crossref
# --------------------------------------------------------------------------------------

_CTRL_WS = re.compile(r"[\t\n\r\v\f\u0085\u2028\u2029]")
_SPACES = re.compile(r"\s+")


def clean_text(s: str, keep_newlines: bool = False) -> str:
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


def squeeze(s: str) -> str:
    """``clean_text`` on one line: every run of whitespace one space, none at either end."""
    return " ".join(clean_text(s).split())


# --------------------------------------------------------------------------------------
# Markup -> styled runs (or plain text)
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
    return _normalise_space(_runs(_parse_markup(clean_text(title, keep_newlines=True))))


def _plain(runs: list) -> str:
    return "".join(r if isinstance(r, str) else _plain(r[1]) for r in runs)


@functools.lru_cache(maxsize=256)
def plain_title(title: str) -> str:
    """A Crossref title with its markup removed and whitespace collapsed.

    Cached (a few recent titles): an export asks it of each title more than once in a row
    (the citation key, the entry, its notes), and parsing markup is not free."""
    return _SPACES.sub(" ", _plain(title_runs(title))).strip()


# --------------------------------------------------------------------------------------
# ASCII words of a title (comparing titles, citation keys)
# --------------------------------------------------------------------------------------

# Transliteration for ASCII keys, for letters NFKD leaves alone.
TRANSLIT = str.maketrans(
    {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
     "ı": "i", "ŋ": "ng"}
)
_NON_WORD = re.compile(r"[\W_]+")
NON_ALNUM = re.compile(r"[^a-z0-9]")


def ascii_fold(s: str) -> str:
    """A title or name as plain, case-folded ASCII (accents stripped, ß -> ss, ø -> o)."""
    s = plain_title(s).casefold().translate(TRANSLIT)
    if s.isascii():
        return s  # nothing to decompose: most titles and names
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c)).translate(TRANSLIT)


def ascii_words(s: str) -> list[str]:
    """The words of ``ascii_fold(s)``, letters and digits only."""
    return [w for w in (NON_ALNUM.sub("", t) for t in _NON_WORD.split(ascii_fold(s))) if w]
