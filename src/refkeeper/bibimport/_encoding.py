"""Which encoding a bibliography file is in, and how we know.

In order: a byte-order mark (UTF-8, UTF-16, UTF-32); an encoding the file declares in its
first lines (JabRef's ``% Encoding: windows-1252``, TeX's ``% !TEX encoding = ...``);
UTF-8 if every byte decodes as UTF-8; else what charset-normalizer detects, from the
bytes around the first that is not UTF-8. The file is read in chunks, never whole.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes

from refkeeper._errors import InputError

__all__ = ["Encoding", "detect_encoding"]

_BOMS = [  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
]
_DECLARED = re.compile(
    rb"^[ \t]*%[ \t]*(?:Encoding:|!TEX[ \t]+encoding[ \t]*=)[ \t]*([A-Za-z0-9_.:-]+)", re.I | re.M)
_CHUNK = 1 << 20
_SHOWN = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32", "utf-8": "UTF-8"}


@dataclass(frozen=True)
class Encoding:
    """The codec to read a file with and how it was chosen: ``"BOM"``, ``"declared"``,
    ``"UTF-8"`` (every byte is), ``"detected"``."""

    name: str
    how: str

    def __str__(self) -> str:
        name = _SHOWN.get(self.name, self.name)
        return name if self.how == "UTF-8" else f"{name}, {self.how}"


def _first_error(path: Path, name: str) -> int | None:
    """The offset of the first byte ``path`` cannot be decoded at in ``name``, or ``None``."""
    decoder = codecs.getincrementaldecoder(name)()
    offset = 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return offset + max(exc.start, 0)
            if not chunk:
                return None
            offset += len(chunk)


def detect_encoding(path: Path) -> Encoding:
    """How to decode ``path`` (see the module's docstring); ``InputError`` for a file
    whose byte-order mark lies. A file charset-normalizer
    cannot place is read as UTF-8 with replacement characters: ``"UTF-8 (undecodable
    bytes replaced)"``."""
    with path.open("rb") as fh:
        head = fh.read(8192)
    for bom, name in _BOMS:
        if head.startswith(bom):
            if _first_error(path, name) is not None:
                shown = _SHOWN[name]
                raise InputError(f"cannot read {path}: it starts with a {shown} byte-order mark, "
                                 f"but is not {shown}")
            return Encoding(name, "BOM")
    m = _DECLARED.search(head)
    if m:
        try:
            name = codecs.lookup(m.group(1).decode("ascii")).name
        except LookupError:
            name = ""
        if name and _first_error(path, name) is None:
            return Encoding(name, "declared")
    at = _first_error(path, "utf-8")
    if at is None:
        return Encoding("utf-8", "UTF-8")
    with path.open("rb") as fh:
        fh.seek(max(0, at - 4096))
        sample = fh.read(65536)
    best = from_bytes(sample).best()
    if best is not None and _first_error(path, best.encoding) is None:
        return Encoding(codecs.lookup(best.encoding).name, "detected")
    return Encoding("utf-8", "undecodable bytes replaced")
