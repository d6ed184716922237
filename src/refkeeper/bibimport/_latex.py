"""LaTeX in BibTeX fields -> Unicode text (and, for titles, Crossref-style markup).

``latex_to_text`` reads a field in one pass over its tokens, with an explicit stack of
open groups (no recursion: a field of 5,000 unclosed ``\\emph{`` costs what 5,000 words
do). What it knows:

* accents, as a base letter plus a combining mark, composed (NFC) where Unicode has the
  character and left combined where it has none (``\\^q`` -> q̂);
* text symbols (``\\textmu`` µ, ``\\texttimes`` ×, ``\\ss`` ß, ``\\,`` a thin space...) and
  math (``$\\Lambda \\sim$`` Λ ∼, ``Cu$_2$O`` Cu₂O, ``$x^{2+}$`` x²⁺): Greek letters and
  operators become their characters; sub- and superscripts their Unicode forms, or
  ``<sub>``/``<sup>`` tags (markup) when Unicode has none;
* style commands (``\\textit``, ``\\emph``, ``\\textsc``, ``\\textsubscript``...) as
  ``<i>``, ``<scp>``, ``<sub>``, ``<sup>`` tags with ``markup=True``, dropped otherwise;
* grouping braces removed, ``~`` a space, ``--`` –, ``---`` —, ``\\noopsort{..}`` dropped.

A command it does not know is asked of latexcodec (once per command); if latexcodec does
not know it either, the command is dropped and its argument kept as text: TeX source never
comes through as text. A field without ``\\ { } $ ~ -- `` ''`` is its own decoding, and
most fields are: they are only whitespace-collapsed.
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata

import latexcodec  # noqa: F401  (registers the "ulatex" codec, asked for rare commands)

__all__ = ["latex_to_text"]

_ACCENTS = {  # accent command -> combining mark
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
    ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "d": "\u0323",
    "b": "\u0331", "k": "\u0328", "r": "\u030a", "t": "\u0361",
}
_SPACING = {
    "\u0301": "´", "\u0300": "`", "\u0302": "^", "\u0308": "¨", "\u0303": "~", "\u0304": "¯",
    "\u0307": "˙", "\u0306": "˘", "\u030c": "ˇ", "\u030b": "˝", "\u0327": "¸", "\u0328": "˛",
    "\u030a": "˚",
}
_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "varpi": "ϖ", "rho": "ρ",
    "varrho": "ϱ", "sigma": "σ", "varsigma": "ς", "tau": "τ", "upsilon": "υ", "phi": "ϕ",
    "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ",
    "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Upsilon": "Υ",
    "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
_TEXT_SYMBOLS = {
    "i": "ı", "j": "ȷ", "o": "ø", "O": "Ø", "ss": "ß", "ae": "æ", "AE": "Æ", "oe": "œ",
    "OE": "Œ", "l": "ł", "L": "Ł", "aa": "å", "AA": "Å", "dh": "ð", "DH": "Ð", "th": "þ",
    "TH": "Þ", "ng": "ŋ", "NG": "Ŋ", "textmu": "µ", "textmugreek": "μ", "micro": "µ",
    "texttimes": "×", "textdiv": "÷", "textpm": "±", "textdegree": "°", "degree": "°",
    "textcelsius": "℃", "textohm": "Ω", "textendash": "–", "textemdash": "—", "ldots": "…",
    "dots": "…", "textellipsis": "…", "textquoteleft": "‘", "textquoteright": "’",
    "textquotedblleft": "“", "textquotedblright": "”", "textquotesingle": "'",
    "textquotedbl": '"', "guillemotleft": "«", "guillemotright": "»", "textbullet": "•",
    "textperiodcentered": "·", "textregistered": "®", "textcopyright": "©", "copyright": "©",
    "texttrademark": "™", "S": "§", "textsection": "§", "P": "¶", "textparagraph": "¶",
    "dag": "†", "textdagger": "†", "ddag": "‡", "textdaggerdbl": "‡", "pounds": "£",
    "textsterling": "£", "euro": "€", "texteuro": "€", "textyen": "¥", "textperthousand": "‰",
    "textonehalf": "½", "textonequarter": "¼", "textthreequarters": "¾", "textbar": "|",
    "textbackslash": "\\", "textbraceleft": "{", "textbraceright": "}", "textasciitilde": "~",
    "textasciicircum": "^", "textless": "<", "textgreater": ">", "textunderscore": "_",
    "textdollar": "$", "textexclamdown": "¡", "textquestiondown": "¿", "textminus": "−",
    "LaTeX": "LaTeX", "TeX": "TeX", "BibTeX": "BibTeX", "textvisiblespace": "␣",
    "quad": "\u2003", "qquad": "\u2003\u2003", "enspace": "\u2002", "thinspace": "\u2009",
    "space": " ", "newline": " ", "linebreak": " ", "par": " ", "hfill": " ", "noindent": "",
    "relax": "", "protect": "", "left": "", "right": "", "big": "", "Big": "", "displaystyle": "",
    "nobreak": "", "ensuremath": "", "em": "", "it": "", "bf": "", "sc": "", "rm": "", "tt": "",
    "sl": "", "sf": "", "normalfont": "", "itshape": "", "bfseries": "", "scshape": "",
    "upshape": "", "mdseries": "", "small": "", "footnotesize": "", "large": "",
}
_MATH = _GREEK | {
    "sim": "∼", "approx": "≈", "simeq": "≃", "cong": "≅", "equiv": "≡", "propto": "∝",
    "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "lesssim": "≲", "gtrsim": "≳", "ne": "≠",
    "neq": "≠", "ll": "≪", "gg": "≫", "pm": "±", "mp": "∓", "times": "×", "div": "÷",
    "cdot": "⋅", "ast": "∗", "star": "⋆", "circ": "∘", "bullet": "∙", "infty": "∞",
    "partial": "∂", "nabla": "∇", "sum": "∑", "prod": "∏", "int": "∫", "oint": "∮",
    "sqrt": "√", "surd": "√", "prime": "′", "to": "→", "rightarrow": "→", "leftarrow": "←",
    "leftrightarrow": "↔", "Rightarrow": "⇒", "Leftarrow": "⇐", "Leftrightarrow": "⇔",
    "longrightarrow": "⟶", "uparrow": "↑", "downarrow": "↓", "mapsto": "↦", "in": "∈",
    "notin": "∉", "ni": "∋", "subset": "⊂", "supset": "⊃", "subseteq": "⊆", "supseteq": "⊇",
    "cup": "∪", "cap": "∩", "emptyset": "∅", "varnothing": "∅", "forall": "∀", "exists": "∃",
    "neg": "¬", "lnot": "¬", "wedge": "∧", "land": "∧", "vee": "∨", "lor": "∨", "oplus": "⊕",
    "otimes": "⊗", "perp": "⊥", "parallel": "∥", "mid": "∣", "angle": "∠", "langle": "⟨",
    "rangle": "⟩", "hbar": "ℏ", "ell": "ℓ", "Re": "ℜ", "Im": "ℑ", "aleph": "ℵ", "cdots": "⋯",
    "vdots": "⋮", "ddots": "⋱", "backslash": "\\", "lbrace": "{", "rbrace": "}", "vert": "|",
    "Vert": "‖", "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "dagger": "†",
    "ddagger": "‡", "odot": "⊙", "triangle": "△", "Box": "□", "diamond": "⋄", "heartsuit": "♡",
    "log": "log", "ln": "ln", "exp": "exp", "sin": "sin", "cos": "cos", "tan": "tan",
    "max": "max", "min": "min", "lim": "lim", "det": "det",
}
_SYMBOLS = _TEXT_SYMBOLS | _MATH
_CONTROL_SYMBOLS = {
    ",": "\u2009", ";": "\u205f", ":": "\u205f", ">": "\u205f", "!": "", "-": "", "/": "",
    "@": "", " ": " ", "\\": " ", "\n": " ", "\t": " ", "&": "&", "%": "%", "$": "$", "#": "#",
    "_": "_", "{": "{", "}": "}", "|": "‖",
}
_STYLES = {
    "textit": "i", "emph": "i", "textsl": "i", "mathit": "i", "textsubscript": "sub",
    "textsuperscript": "sup", "textsc": "scp", "texttt": None, "textbf": None, "textrm": None,
    "textnormal": None, "mbox": None, "text": None, "textup": None, "mathrm": None,
    "mathbf": None, "mathsf": None, "mathtt": None, "mathcal": None, "mathbb": None,
    "mathfrak": None, "boldsymbol": None, "bm": None, "operatorname": None, "textmd": None,
    "textsf": None, "hbox": None, "fbox": None, "underline": None, "uline": None,
    "url": None, "nolinkurl": None, "NoCaseChange": None, "MakeUppercase": None,
}
# commands whose argument is not text: sort keys, cross-references
_DROPPED = {"noopsort", "sortnoop", "SortNoop", "noop", "label", "ref", "cite", "citep",
            "citet", "index", "footnote", "hspace", "vspace", "phantom", "hphantom",
            "vphantom", "kern", "hskip", "vskip"}

_SUP = str.maketrans("0123456789+-−=()niahjlrswxyeiopk", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱᵃʰʲˡʳˢʷˣʸᵉⁱᵒᵖᵏ")
_SUP_OK = set("0123456789+-−=()niahjlrswxyeiopk ")
_SUB = str.maketrans("0123456789+-−=()aeoxhklmnpstijruv", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼᵣᵤᵥ")
_SUB_OK = set("0123456789+-−=()aeoxhklmnpstijruv ")

_ACTIVE = re.compile(r"[\\{}$~]|--|``|''")
_TOKEN = re.compile(
    r"\\([A-Za-z]+)[ \t\r\n]*"  # 1: a control word (eats the spaces after it)
    r"|\\(.)"  # 2: a control symbol
    r"|([{}])"  # 3: a brace
    r"|(\$\$?)"  # 4: math shift
    r"|(---?|``|''|`|~)"  # 5: ligatures and the tie
    r"|([\^_])"  # 6: scripts (in math)
    r"|([^\\{}$`'~^_-]+|.)",  # 7: text
    re.S,
)
_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_LIGATURES = {"--": "–", "---": "—", "``": "“", "''": "”", "`": "‘", "~": " "}
_SPACES = re.compile(r"[ \t\r\n]+")


@functools.lru_cache(maxsize=4096)
def _latexcodec(command: str) -> str:
    """What latexcodec makes of ``\\command``, or "" when it leaves TeX source."""
    try:
        text = codecs.decode("\\" + command, "ulatex")
    except (UnicodeError, ValueError, KeyError, IndexError):
        return ""
    return "" if "\\" in text or text == command else text


def _script(kind: str, text: str, markup: bool) -> str:
    """``text`` raised or lowered: Unicode super/subscripts when all of it has them."""
    plain = _SPACES.sub("", text)
    if not plain:
        return ""
    ok, table = (_SUP_OK, _SUP) if kind == "sup" else (_SUB_OK, _SUB)
    if "<" not in plain and "&" not in plain and set(plain) <= ok:
        return plain.translate(table)
    return f"<{kind}>{plain}</{kind}>" if markup else plain


class _Frame:
    """An open group: what it holds so far, what its content becomes when it closes, and
    the operation waiting for its next character (an accent or a script without braces)."""

    __slots__ = ("kind", "out", "pending", "math")

    def __init__(self, kind: str, math: bool) -> None:
        self.kind = kind  # "group", "i"/"sub"/"sup"/"scp", "plain", "drop", "accent:<mark>",
        # "script:sub"/"script:sup", "frac", "frac2"
        self.out: list[str] = []
        self.pending: str | None = None
        self.math = math


def _apply(op: str, text: str, markup: bool) -> str:
    if op.startswith("accent:"):
        if not text:
            return _SPACING.get(op[7:], "")  # \"{} is the accent alone: ¨
        base = {"ı": "i", "ȷ": "j"}.get(text[0], text[0])  # \'{\i}: í, as TeX sets it
        return base + op[7:] + text[1:]
    if op.startswith("script:"):
        return _script(op[7:], text, markup)
    return text


def latex_to_text(value: str, markup: bool = False) -> str:
    """A BibTeX field value as Unicode text: accents, symbols and math decoded, escapes
    undone, grouping braces removed, whitespace collapsed (see the module's docstring).

    With ``markup=True`` (titles) italics, sub/superscripts and small caps come back as
    Crossref-style tags (``<i>``, ``<sub>``, ``<sup>``, ``<scp>``) and ``& < >`` in the text
    are written as entities, so the tags are the only markup.
    """
    if not _ACTIVE.search(value):
        text = _SPACES.sub(" ", value).strip()
        return text.translate(_ENTITIES) if markup else text
    stack = [_Frame("group", False)]
    expect_arg: str | None = None  # a command's group argument comes next: its frame kind

    def emit(text: str) -> None:
        frame = stack[-1]
        if frame.math and "-" in text:
            text = text.replace("-", "−")  # a hyphen in math is typeset as a minus sign
        if markup:
            text = text.translate(_ENTITIES)
        if frame.pending is not None and text.strip():
            lead = len(text) - len(text.lstrip())
            first, rest = text[lead], text[lead + 1 :]
            frame.out.append(text[:lead] + _apply(frame.pending, first, markup))
            frame.pending = None
            text = rest
        frame.out.append(text)

    for m in _TOKEN.finditer(value):
        word, sym, brace, dollar, lig, script, text = m.groups()
        if expect_arg is not None and brace != "{":
            kind, expect_arg = expect_arg, None
            if kind.startswith(("accent:", "script:")):
                stack[-1].pending = kind  # "\'e", "x^2": the next character is the argument
        if text is not None:
            emit(text)
        elif word is not None:
            if word in _ACCENTS and len(word) == 1:
                expect_arg = "accent:" + _ACCENTS[word]
            elif word in _STYLES:
                tag = _STYLES[word]
                expect_arg = tag if (tag and markup) else "plain"
            elif word in _DROPPED or word == "href":  # \href{url}{text}: the text is kept
                expect_arg = "drop"
                expect_arg = "drop"
            elif word in ("frac", "tfrac", "dfrac"):
                expect_arg = "frac"
            elif word == "sqrt":
                emit("√")
                expect_arg = "plain"
            elif word in _SYMBOLS:
                emit(_SYMBOLS[word])
                if word in _MATH and m.group(0)[-1:].isspace():
                    emit(" ")  # "$\Lambda \sim$": Λ ∼, as typeset; text symbols eat it (\ss e: ße)
            else:
                emit(_latexcodec(word))
                expect_arg = "plain"
        elif sym is not None:
            if sym in _ACCENTS:
                expect_arg = "accent:" + _ACCENTS[sym]
            else:
                emit(_CONTROL_SYMBOLS.get(sym, sym))
        elif brace == "{":
            kind = expect_arg or "group"
            expect_arg = None
            stack.append(_Frame(kind, stack[-1].math))
        elif brace == "}":
            if len(stack) == 1:
                continue  # a stray "}"
            _close(stack, markup)
        elif dollar is not None:
            stack[-1].math = not stack[-1].math
        elif lig is not None:
            emit(_LIGATURES[lig])
        elif script is not None:
            if stack[-1].math:
                expect_arg = "script:" + ("sup" if script == "^" else "sub")
            else:
                emit(script)
    while len(stack) > 1:  # groups that never close are closed at the end
        _close(stack, markup)
    out = "".join(stack[0].out)
    if not out.isascii():
        out = unicodedata.normalize("NFC", out)
    return _SPACES.sub(" ", out).strip()


def _close(stack: list[_Frame], markup: bool) -> None:
    frame = stack.pop()
    parent = stack[-1]
    content = "".join(frame.out)
    kind = frame.kind
    if kind == "drop":
        return
    if kind in ("i", "sub", "sup", "scp"):
        text = f"<{kind}>{content}</{kind}>" if content.strip() else content
    elif kind == "frac":
        text = content
    elif kind.startswith(("accent:", "script:")):
        text = _apply(kind, content, markup)
    else:
        text = content
    if parent.pending is not None and text.strip():
        text = _apply(parent.pending, text, markup)
        parent.pending = None
    parent.out.append(text)
    if kind == "frac":
        parent.out.append("/")  # the denominator's group follows
