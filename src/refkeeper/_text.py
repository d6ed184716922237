"""Text normalisation shared by matching, indexing and the stand-in."""

from __future__ import annotations

import html
import re
import unicodedata

_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# Words too common in references to say anything about which work is meant.
STOPWORDS = frozenset(
    """a an and are as at be by for from in into is it of on or the to with without via
    et al eds ed vol pp no doi org http https www dx
    der die das und von zu den des le la les et du de en y el los las""".split()
)


def strip_markup(s: str) -> str:
    """Drop JATS/HTML tags and decode entities (Crossref titles carry <i>, <sub>, &amp;)."""
    return html.unescape(_TAG.sub("", s))


def fold(s: str) -> str:
    """Lower-case, strip accents and markup: 'Ménard <i>et al</i>' -> 'menard et al'."""
    if "<" in s or "&" in s:
        s = strip_markup(s)
    if s.isascii():  # the common case, and ten times faster than normalising
        return s.lower()
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return s.casefold().replace("ß", "ss")


def words(s: str) -> list[str]:
    """Folded word tokens (letters and digits), punctuation dropped."""
    return _WORD.findall(fold(s))


def content_words(s: str) -> list[str]:
    """Folded tokens without stop words and single letters (initials)."""
    return [w for w in words(s) if len(w) > 1 and w not in STOPWORDS]


def dehyphenate(s: str) -> str:
    """Join words broken across lines by PDF extraction: 'macu- lopathy' -> 'maculopathy'."""
    return re.sub(r"(\w)- (\w)", r"\1\2", s)
