"""Untrusted Crossref text as inert LaTeX: escaping, ASCII accents, styled titles.

No character from Crossref may start a LaTeX command or change brace depth:
``latex_escape`` escapes ``{`` and ``}`` as ``\\textbraceleft{}``/``\\textbraceright{}``
(BibTeX counts ``\\{`` as a brace, so ``\\{`` would unbalance an entry), ``\\`` as
``\\textbackslash{}`` and so on, and with ``ascii=True`` writes non-ASCII characters as
LaTeX accent commands and symbols (``{\\'e}``, ``{\\c{c}}``, ``{\\o}``).

``title_to_latex`` renders a title's styled runs (``title_runs``) as ``\\textit``,
``\\textsubscript``, ``\\textsuperscript``, ``\\textsc``, ``\\texttt``, and wraps in braces
the words whose capitals must survive a bibliography style's sentence-casing (DNA, mRNA,
NF-κB, CO2, McDonald). Every brace in the output is one this module wrote.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

import latexcodec  # noqa: F401  (registers the "ulatex" codec used for rare symbols)

from refkeeper.export._markup import squeeze, title_runs

__all__ = ["escape_chars", "latex_escape", "title_to_latex"]


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
    # text symbols that latexcodec writes as math (µ as $\mu$, read back as Greek mu) or not
    # at all
    "µ": r"{\textmu}",
    "½": r"{\textonehalf}",
    "¼": r"{\textonequarter}",
    "¾": r"{\textthreequarters}",
    "‰": r"{\textperthousand}",
    "°": r"{\textdegree}",
}
# A letter followed by combining marks is one character to write: q̂ is {\^q}, not q and "?".
_CLUSTER = re.compile(r".[\u0300-\u036f]*", re.S)


def _ascii_char(ch: str) -> str:
    """One non-ASCII character as ASCII LaTeX: an accent command, a symbol, or the base
    letter with its accents stripped; ``?`` when nothing sensible exists."""
    if ch in _SPECIAL_LETTERS:
        return _SPECIAL_LETTERS[ch]
    script = unicodedata.decomposition(ch) if len(ch) == 1 else ""
    if script.startswith(("<sub>", "<super>")):
        # Cu₂O, x²: math scripts, so they read back as the same characters
        inner = escape_chars(chr(int(script.split()[1], 16)), ascii=True)
        return "{$" + ("_" if script.startswith("<sub>") else "^") + "{" + inner + "}$}"
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
    return escape_chars(squeeze(s), ascii)


_SPECIALS_TABLE = str.maketrans(_SPECIALS)
# Two hyphens are an en dash to TeX, two quotes a double quote: text that has them (a
# journal "Otolaryngology--Head") keeps them apart with an empty group.
_LIGATURE = re.compile(r"(?<=-)(?=-)|(?<=`)(?=`)|(?<=')(?=')")


def escape_chars(s: str, ascii: bool) -> str:
    """Every LaTeX special character of ``s`` escaped (and with ``ascii``, every non-ASCII
    one written as ASCII LaTeX); whitespace left as it is."""
    if not ascii or s.isascii():
        out_text = s.translate(_SPECIALS_TABLE)  # one pass in C
        if "--" in out_text or "``" in out_text or "''" in out_text:
            out_text = _LIGATURE.sub("{}", out_text)
        return out_text
    out: list[str] = []
    for m in _CLUSTER.finditer(s):
        ch = m.group(0)
        if ch in _SPECIALS:
            out.append(_SPECIALS[ch])
        elif ascii and not ch.isascii():
            latex = _ascii_char(ch)
            if latex[:1] in "-`'" and ((out and out[-1][-1:] == latex[0])
                                       or s[m.end() : m.end() + 1] == latex[0]):
                latex = "{" + latex + "}"  # "-" then "–" is not "---" (an em dash)
            out.append(latex)
        else:
            if ch in "-`'" and out and out[-1][-1:] == ch:
                out.append("{}")
            out.append(ch)
    return "".join(out)


# --------------------------------------------------------------------------------------
# Styled runs -> LaTeX, capitals protected
# --------------------------------------------------------------------------------------


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
                out.append(escape_chars(part, ascii))
                continue
            # Brace only the word itself, not the punctuation around it: ({DNA}).
            m = _WORD_CORE.fullmatch(part)
            lead, core, trail = m.groups() if m else ("", part, "")
            if touches and j == 0:
                lead, core = "", lead + core
            if touches and j == last:
                core, trail = core + trail, ""
            out.append(
                escape_chars(lead, ascii)
                + "{" + escape_chars(core, ascii) + "}"
                + escape_chars(trail, ascii)
            )
    return "".join(out)


def title_to_latex(title: str, ascii: bool = False) -> str:
    """A Crossref title (with JATS/HTML/MathML markup) as safe LaTeX with protected capitals."""
    return _runs_to_latex(title_runs(title), ascii).strip()
