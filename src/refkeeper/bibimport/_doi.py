"""The one reading of a DOI written in a bibliography file, for every format.

Only real DOI syntax (``10.NNNN/...``) is a DOI: a placeholder (``DO  - DOI``), a handle or
a page number is not. A DOI taken from a publisher's URL loses what the URL adds after it
(``/pdf``, ``/full``, ``/abstract``, ``/epdf``, ``.pdf``, ``/meta``...).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from refkeeper._models import extract_dois

__all__ = ["clean_doi"]

_URL = re.compile(r"^\s*(?:https?://|www\.|dx\.doi|doi\.org)", re.I)
# What landing and full-text URLs add after the DOI, removed one at a time from the end.
_URL_TAIL = re.compile(
    r"(?:/(?:e?pdf(?:ft|plus|direct)?|full(?:text)?|abstract|meta|html|epub|summary|figures|"
    r"references|citedby|suppl(?:info)?|issuetoc|download|view)|\.pdf|\.html?|[?#].*)$", re.I)
_TEX_ESCAPE = re.compile(r"\\([_&%#$])")


def clean_doi(raw: str | None) -> str | None:
    """The DOI in ``raw`` (a DOI field, a ``doi:`` form, a doi.org or publisher URL)
    without prefix, URL tail or trailing punctuation; ``None`` when it holds no DOI."""
    if not raw:
        return None
    text = _TEX_ESCAPE.sub(r"\1", raw.replace("{", "").replace("}", "")).strip()
    if "%" in text:
        text = unquote(text)
    found = extract_dois(text)
    if not found:
        return None
    doi = found[0]
    if _URL.match(text):
        while True:
            shorter = _URL_TAIL.sub("", doi)
            if shorter == doi or not extract_dois(shorter) or extract_dois(shorter)[0] != shorter:
                break
            doi = shorter
    return doi  # case as written: the store compares DOIs lower-cased
