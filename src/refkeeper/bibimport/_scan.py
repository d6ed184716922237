"""BibTeX text -> one block per entry, and one entry's text -> its type, key and fields.

pybtex reads a whole file as one stream: one unbalanced brace (``Thi\\{'ebaux``) and it
reads the next few hundred entries as the rest of that field, with only a warning. Here
the file is cut into entries first, line by line (so a file is streamed, never held
whole): an entry ends where its braces balance, and an ``@type{`` at the beginning of a
line while an entry is still open means that entry never closed. It is reported, with its
line and key, and reading goes on at the new entry: a syntax error costs one entry.

A ``%`` outside entries starts a comment to the end of its line (as in biber and btparse),
so a commented-out entry stays out; inside an entry ``%`` is text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["Block", "EntrySyntaxError", "parse_entry", "scan_blocks"]

_START = re.compile(r"@\s*([A-Za-z][\w-]*)\s*([{(])")
# An entry start at the beginning of a line: what ends an entry that never closed.
_LINE_START = re.compile(r"\s*@\s*[A-Za-z][\w-]*\s*[{(]")
_OUTSIDE = re.compile(r"[@%]")
_BRACES = re.compile(r"[{}]")
_PAREN = re.compile(r'[{}()"]')


@dataclass
class Block:
    """One entry's text (from its ``@`` to its closing delimiter), its first line, and why
    it is broken (``None`` when it closed as it should)."""

    text: str
    line: int
    broken: str | None = None


def scan_blocks(lines: Iterable[str]) -> Iterator[Block]:
    """The entries of BibTeX text given as lines (each with its line break), in order.

    A block that never closes (its braces do not balance before the next entry starting a
    line, or the end of the file) comes with ``broken`` saying so; so does an entry after
    which field text follows (``name = ...``), the sign of a ``}`` too many inside it.
    """
    pending: Block | None = None  # a closed entry, held until we know no field text follows
    parts: list[str] = []  # the open entry's text
    start = 0
    delim = ""
    depth = 0
    quoted = False
    for n, line in enumerate(lines, 1):
        pos = 0
        if parts and _LINE_START.match(line):
            text = "".join(parts)
            yield Block(text, start, "its braces do not balance (the entry never closes)")
            parts = []
        while pos < len(line):
            if not parts:
                m = _OUTSIDE.search(line, pos)
                stretch = line[pos : m.start() if m else len(line)]
                if pending is not None and "=" in stretch:
                    pending.broken = "a brace closes it early: field text follows it"
                if m is None:
                    break
                if m.group(0) == "%":
                    break  # a comment to the end of the line
                s = _START.match(line, m.start())
                if s is None:
                    pos = m.end()  # a lone "@" is text between entries
                    continue
                if pending is not None:
                    yield pending
                    pending = None
                start, delim, depth, quoted = n, s.group(2), 1, False
                parts = [line[m.start() : s.end()]]
                pos = s.end()
            end = _close(line, pos, delim, depth, quoted)
            if isinstance(end, tuple):
                depth, quoted = end
                parts.append(line[pos:])
                break
            parts.append(line[pos:end])
            pending = Block("".join(parts), start)
            parts = []
            pos = end
    if parts:
        if pending is not None:
            yield pending
        yield Block("".join(parts), start, "its braces do not balance (the entry never closes)")
    elif pending is not None:
        yield pending


def _close(line: str, pos: int, delim: str, depth: int, quoted: bool) -> int | tuple[int, bool]:
    """Where in ``line`` (from ``pos``) the open entry closes (just past its delimiter), or
    its (depth, quoted) state at the end of the line."""
    if delim == "{":
        for b in _BRACES.finditer(line, pos):
            depth += 1 if b.group(0) == "{" else -1
            if depth == 0:
                return b.end()
        return depth, quoted
    # "(" entries: a ")" inside a quoted or braced value is text
    for ch in _PAREN.finditer(line, pos):
        c = ch.group(0)
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif depth == 1 and c == '"':
            quoted = not quoted
        elif depth == 1 and not quoted and c == ")":
            return ch.end()
    return depth, quoted


class EntrySyntaxError(ValueError):
    """An entry that cannot be read; the message says why."""


_KEY = re.compile(r"\s*([^,\s{}()=\"#%]*)\s*")
_NAME = re.compile(r"\s*([^\s=,{}\"#%()]+)\s*=\s*")
_SEP = re.compile(r"\s*(?:,\s*)*")
_WORD = re.compile(r"[^\s,#{}\"()=]+")
_MONTH_MACROS = {m[:3]: m for m in (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December")}
_MONTH_MACROS = {k.lower(): v for k, v in _MONTH_MACROS.items()}


def parse_entry(text: str, macros: dict[str, str]) -> tuple[str, str | None, dict[str, str]]:
    """An entry's type (lower case), key and raw field values (names lower case, ``@string``
    macros and ``#`` concatenation applied, outer delimiters removed, LaTeX untouched).

    ``@string`` entries add to ``macros`` and come back with key ``None``, as do
    ``@comment`` and ``@preamble``. Raises ``EntrySyntaxError`` for an entry that does not
    read as ``@type{key, name = value, ...}``.
    """
    m = _START.match(text)
    if m is None:
        raise EntrySyntaxError("not an entry")
    etype = m.group(1).lower()
    close = "}" if m.group(2) == "{" else ")"
    body_end = len(text) - 1 if text.endswith(close) else len(text)
    if etype in ("comment", "preamble"):
        return etype, None, {}
    pos = m.end()
    key: str | None = None
    if etype != "string":
        k = _KEY.match(text, pos)
        after = k.end()
        if after < body_end and text[after] == "=":
            key = ""  # "@article{title = ...": no key at all; the first field follows
        else:
            key = k.group(1)
            pos = after
            if pos < body_end and text[pos] != ",":
                raise EntrySyntaxError(f"a ',' is expected after the key, not {text[pos]!r}")
    fields: dict[str, str] = {}
    while True:
        pos = _SEP.match(text, pos).end()
        if pos >= body_end:
            break
        nm = _NAME.match(text, pos)
        if nm is None:
            raise EntrySyntaxError(f"a field name and '=' are expected at {text[pos:pos + 30]!r}")
        name = nm.group(1).lower()
        value, pos = _value(text, nm.end(), body_end, macros)
        if etype == "string":
            macros[name] = value
        else:
            fields.setdefault(name, value)  # BibTeX keeps the first of a repeated field
    if etype == "string":
        return etype, None, {}
    return etype, key, fields


def _value(text: str, pos: int, end: int, macros: dict[str, str]) -> tuple[str, int]:
    """A field value (pieces joined with ``#``) starting at ``pos``: its text, and where it
    ends."""
    pieces: list[str] = []
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            raise EntrySyntaxError("a value is expected")
        c = text[pos]
        if c == "{":
            close = _group_end(text, pos, end)
            pieces.append(text[pos + 1 : close])
            pos = close + 1
        elif c == '"':
            close = _quote_end(text, pos, end)
            pieces.append(text[pos + 1 : close])
            pos = close + 1
        else:
            w = _WORD.match(text, pos)
            if w is None:
                raise EntrySyntaxError(f"a value is expected at {text[pos:pos + 30]!r}")
            word = w.group(0)
            if word.isdigit():
                pieces.append(word)
            else:
                pieces.append(macros.get(word.lower(), _MONTH_MACROS.get(word.lower(), "")))
            pos = w.end()
        while pos < end and text[pos].isspace():
            pos += 1
        if pos < end and text[pos] == "#":
            pos += 1
            continue
        return "".join(pieces), pos


def _group_end(text: str, pos: int, end: int) -> int:
    depth = 0
    for b in _BRACES.finditer(text, pos, end):
        depth += 1 if b.group(0) == "{" else -1
        if depth == 0:
            return b.start()
    raise EntrySyntaxError("a '{' is never closed")


_QUOTE_OR_BRACE = re.compile(r'[{}"]')


def _quote_end(text: str, pos: int, end: int) -> int:
    depth = 0
    for b in _QUOTE_OR_BRACE.finditer(text, pos + 1, end):
        c = b.group(0)
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                raise EntrySyntaxError("a '}' too many in a quoted value")
        elif depth == 0:
            return b.start()
    raise EntrySyntaxError('a \'"\' is never closed')
