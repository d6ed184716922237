"""Citation keys: readable, stable, ASCII, the same in every format.

``bibtex_key`` makes ``familyYEARword`` keys (``murakami2007effect``), ``KeyAssigner``
hands them out for one export while keeping keys stored earlier (BibTeX keys, CSL-JSON
``id``, RIS ``ID`` all come from it), and ``check_key`` vets a key a user chose.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

from refkeeper._errors import InputError
from refkeeper._models import Work, normalize_doi, record_year
from refkeeper.export._fields import work_container, work_title
from refkeeper.export._markup import NON_ALNUM, TRANSLIT, ascii_fold, ascii_words

__all__ = ["KEY_PATTERN", "KeyAssigner", "bibtex_key", "check_key", "keyed"]


# Kept here, not shared with matching: changing this list changes keys of new exports.
_KEY_STOPWORDS = frozenset(
    """a an and are as at be by for from in into is it of on or the to with without via
    et al der die das und von zu den des le la les du de en y el los las
    about after against among between but can do does during how its not our over
    than that their these this those through toward towards under upon was we what when
    where which who whom why will""".split()
)
_KEY_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:.+/-]*$")


def _first_content_word(s: str | None) -> str:
    for w in ascii_words(s or ""):
        if len(w) > 1 and w not in _KEY_STOPWORDS and not w.isdigit():
            return w[:20]
    return ""


def _name_part(person: dict) -> str:
    if person.get("family"):
        return NON_ALNUM.sub("", ascii_fold(person["family"]))[:20]
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
        name = (NON_ALNUM.sub("", ascii_fold(first.split(",")[0])) if "," in first
                else _first_content_word(first))[:20]
    name = re.sub(r"[^a-z]", "", name)  # letters only, so the year stands out
    if not name:
        name = re.sub(r"[^a-z]", "", _first_content_word(work_container(work))) or "anon"
    year = work.year or record_year(record)
    word = _first_content_word(work_title(work) or "")
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
        doi = normalize_doi(work.key) if work.key else ""  # the work key: a DOI or internal
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


def keyed(
    works: Iterable[Work], assign: KeyAssigner, notes: dict[str, str] | None = None,
    identifiers: dict[str, dict[str, str]] | None = None,
) -> Iterator[tuple[Work, str, str | None, dict[str, str]]]:
    """The works a keyed format writes, each DOI once: (work, its key, its note, its other
    identifiers), the note from ``notes`` (DOI -> note, DOIs in any case), the identifiers
    from ``identifiers`` (DOI -> {"pmid", "pmcid", "arxiv"}: ``_identifiers.identifiers_by_doi``).
    What every keyed writer loops over."""
    notes = {normalize_doi(d): n for d, n in (notes or {}).items()}
    identifiers = identifiers or {}
    for work in works:
        key = assign(work)
        if key is not None:
            doi = normalize_doi(work.key or "")
            yield work, key, notes.get(doi), identifiers.get(doi) or {}


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
    folded = unicodedata.normalize("NFKD", key.translate(TRANSLIT))
    return re.sub(r"[^A-Za-z0-9_:.+/-]", "", folded).lstrip("_:.+/-")
