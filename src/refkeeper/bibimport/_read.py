"""A bibliography file or text -> entries: the format named, or told from the file."""

from __future__ import annotations

import re
from pathlib import Path

from refkeeper._errors import InputError, UsageError
from refkeeper.bibimport._bibtex import read_bibtex
from refkeeper.bibimport._csl import read_csl_json
from refkeeper.bibimport._entry import ImportEntry
from refkeeper.bibimport._ris import read_ris

__all__ = ["READERS", "parse_bibliography", "read_bibliography"]

# format -> reader: text in, (entries, problems) out
READERS = {"bibtex": read_bibtex, "ris": read_ris, "csl-json": read_csl_json}


def _sniff(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".bib", ".bibtex"):
        return "bibtex"
    if suffix in (".ris",):
        return "ris"
    if suffix in (".json", ".csljson"):
        return "csl-json"
    head = text.lstrip("\ufeff \t\r\n")[:200]
    if head.startswith(("[", "{")):
        return "csl-json"
    if re.match(r"(?:\d+\.\s*\n)?TY  -", head):
        return "ris"
    if "@" in text[:10000]:
        return "bibtex"
    raise InputError(f"{path}: cannot tell the format; name it .bib, .ris or .json")


def parse_bibliography(text: str, fmt: str) -> tuple[list[ImportEntry], list[str]]:
    """Entries and parse problems of a bibliography ``text`` in ``fmt``
    ("bibtex", "ris" or "csl-json")."""
    if fmt not in READERS:
        raise UsageError(f"unknown bibliography format {fmt!r}")
    return READERS[fmt](text)


def read_bibliography(path: str | Path, fmt: str | None = None) -> tuple[list[ImportEntry], list[str]]:
    """Entries and parse problems of a bibliography file (format from ``fmt``, else from the
    file name, else from the content). Raises ``InputError`` if it cannot be read at all."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"no such file: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {p}: {exc}") from None
    return parse_bibliography(text, fmt or _sniff(p, text))
