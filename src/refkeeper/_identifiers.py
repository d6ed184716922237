"""Identifiers a work carries besides its DOI, and finding them in written text.

A work is stored under its DOI (``works.doi``); what else identifies it lives here, in
``work_identifiers`` (this module is the table's one owner): its PubMed ID (``pmid``), its
PubMed Central ID (``pmcid``, digits only), its arXiv ID (``arxiv``, without version), other
DOIs it is known under (``doi``: an alias, a JSTOR copy) and the DOI registration agency
that registered it (``agency``: crossref, datacite, medra...). One row per (doi, scheme,
value); a value may in principle name several stored works (a duplicate not merged yet),
so look-ups answer the oldest row.

Text: ``find_identifiers`` reads the identifiers a citation writes (``PMID: 17530380``,
``PMCID: PMC1234567``, PubMed and PMC URLs, ``arXiv:2101.00001v2``,
``arXiv:hep-th/9901001``, ``https://arxiv.org/abs/...``); ``arxiv_doi`` is the DataCite
DOI arXiv registers for every paper.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ._models import normalize_doi
from ._store import Store, now

PMID, PMCID, ARXIV, DOI, AGENCY = "pmid", "pmcid", "arxiv", "doi", "agency"
SCHEMES = (PMID, PMCID, ARXIV, DOI, AGENCY)
CROSSREF = "crossref"

# arXiv's DataCite prefix: every arXiv paper has the DOI 10.48550/arXiv.<id>.
ARXIV_PREFIX = "10.48550/arxiv."

# New-style arXiv IDs (since 2007: YYMM.NNNN, five digits since 2015) and old-style ones
# (archive[.SUBJECT]/YYMMNNN), each with an optional version.
_ARXIV_NEW = r"\d{4}\.\d{4,5}"
_ARXIV_OLD = r"[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7}"
_ARXIV_ID = rf"(?P<arxiv>{_ARXIV_NEW}|{_ARXIV_OLD})(?:v\d+)?"
_ARXIV = re.compile(
    rf"(?:\barXiv\s*:\s*|\barxiv\.org/(?:abs|pdf)/){_ARXIV_ID}(?![\d.])", re.IGNORECASE
)
# The PMID after its label or in a PubMed URL (old Entrez links carry it as list_uids).
_PMID = re.compile(
    r"(?:\bPMID\s*:?\s*|\bpubmed\.ncbi\.nlm\.nih\.gov/|\bncbi\.nlm\.nih\.gov/pubmed/"
    r"|[?&]list_uids=)(?P<pmid>\d{1,9})\b",
    re.IGNORECASE,
)
# PMCIDs as written, including the doubled prefix some JATS exports write ("PMCPMC3640091").
_PMCID = re.compile(
    r"(?:\bPMCID\s*:?\s*(?:PMC)*|\bncbi\.nlm\.nih\.gov/pmc/articles/PMC"
    r"|\bpmc\.ncbi\.nlm\.nih\.gov/articles/PMC|\bPMC(?=\d{5,9}\b))(?P<pmcid>\d{1,9})\b",
    re.IGNORECASE,
)


def normalize(scheme: str, value: str) -> str:
    """One spelling per identifier: digits for PMIDs and PMCIDs, arXiv IDs without their
    version (old-style archive names lower-cased), DOIs and agencies lower-cased."""
    value = value.strip()
    if scheme == PMID:
        return str(int(value)) if value.isdigit() else value
    if scheme == PMCID:
        digits = re.sub(r"(?i)^(pmc)+", "", value)
        return str(int(digits)) if digits.isdigit() else value
    if scheme == ARXIV:
        value = re.sub(r"(?i)^arxiv:\s*", "", value)
        value = re.sub(r"v\d+$", "", value)
        if "/" in value:
            archive, number = value.split("/", 1)
            value = f"{archive.lower()}/{number}" if "." not in archive else (
                f"{archive.split('.')[0].lower()}.{archive.split('.')[1].upper()}/{number}")
        return value
    if scheme in (DOI, AGENCY):
        return normalize_doi(value)
    raise ValueError(f"unknown identifier scheme {scheme!r}")


def arxiv_doi(arxiv_id: str) -> str:
    """The DataCite DOI arXiv registered for ``arxiv_id`` (version dropped), lower-cased."""
    return normalize_doi(ARXIV_PREFIX + normalize(ARXIV, arxiv_id))


def arxiv_of_doi(doi: str) -> str | None:
    """The arXiv ID an arXiv DOI (``10.48550/arXiv.2101.00001``) names, else None."""
    doi = normalize_doi(doi)
    if not doi.startswith(ARXIV_PREFIX):
        return None
    rest = doi[len(ARXIV_PREFIX):]
    return normalize(ARXIV, rest) if re.fullmatch(rf"{_ARXIV_NEW}|{_ARXIV_OLD}", rest, re.I) else None


def find_identifiers(text: str) -> list[tuple[str, str]]:
    """The PMIDs, PMCIDs and arXiv IDs written in ``text``, normalised, in the order
    written, each once: ``[("pmid", "17530380"), ("arxiv", "2101.00001")]``."""
    found: list[tuple[int, str, str]] = []
    for scheme, pattern in ((PMID, _PMID), (PMCID, _PMCID), (ARXIV, _ARXIV)):
        for m in pattern.finditer(text or ""):
            found.append((m.start(), scheme, normalize(scheme, m.group(scheme))))
    out: list[tuple[str, str]] = []
    for _, scheme, value in sorted(found):
        if (scheme, value) not in out and value not in ("0", ""):
            out.append((scheme, value))
    return out


def without_identifiers(text: str) -> str:
    """``text`` with every identifier ``find_identifiers`` reads taken out (what is left is
    checked against the record an identifier names)."""
    for pattern in (_PMID, _PMCID, _ARXIV):
        text = pattern.sub(" ", text)
    return text


# --- the table ----------------------------------------------------------------------------


def record(store: Store, doi: str, identifiers: Mapping[str, str | Iterable[str]]) -> None:
    """Remember that the work ``doi`` carries ``identifiers`` (scheme -> value or values);
    known ones are kept as they are. An ``agency`` replaces the one recorded before."""
    doi = normalize_doi(doi)
    rows = []
    for scheme, values in identifiers.items():
        if scheme not in SCHEMES:
            raise ValueError(f"unknown identifier scheme {scheme!r}")
        for value in [values] if isinstance(values, str) else list(values or []):
            if value:
                value = normalize(scheme, value)
                if not (scheme == DOI and value == doi):
                    rows.append((doi, scheme, value))
    if not rows:
        return
    stamp = now()
    with store.write() as db:
        if any(scheme == AGENCY for _, scheme, _ in rows):
            db.execute("DELETE FROM work_identifiers WHERE doi = ? AND scheme = ?", [doi, AGENCY])
        db.conn.executemany(
            "INSERT OR IGNORE INTO work_identifiers (doi, scheme, value, added_at) VALUES (?, ?, ?, ?)",
            [(*row, stamp) for row in rows],
        )


def record_many(store: Store, found: Mapping[str, Mapping[str, str | Iterable[str]]]) -> None:
    """``record`` for many works (doi -> identifiers) in one transaction."""
    with store.write():
        for doi, identifiers in found.items():
            record(store, doi, identifiers)


def identifiers_of(store: Store, doi: str) -> dict[str, list[str]]:
    """Every identifier recorded for the work ``doi``: scheme -> values, oldest first."""
    out: dict[str, list[str]] = {}
    for scheme, value in store.db.execute(
        "SELECT scheme, value FROM work_identifiers WHERE doi = ? ORDER BY rowid",
        [normalize_doi(doi)],
    ):
        out.setdefault(scheme, []).append(value)
    return out


def doi_for(store: Store, scheme: str, value: str) -> str | None:
    """The stored work's DOI that ``value`` (of ``scheme``) was recorded for, if any."""
    row = store.db.execute(
        "SELECT doi FROM work_identifiers WHERE scheme = ? AND value = ? ORDER BY rowid LIMIT 1",
        [scheme, normalize(scheme, value)],
    ).fetchone()
    return row[0] if row else None


def agencies(store: Store, dois: Iterable[str]) -> dict[str, str]:
    """The recorded registration agency of each of ``dois`` that has one."""
    dois = [normalize_doi(d) for d in dois]
    out: dict[str, str] = {}
    for i in range(0, len(dois), 500):
        chunk = dois[i:i + 500]
        out.update(store.db.execute(
            f"SELECT doi, value FROM work_identifiers WHERE scheme = 'agency'"
            f" AND doi IN ({','.join('?' * len(chunk))})", chunk).fetchall())
    return out


# What an export or a reply prints besides the DOI (agencies and alias DOIs are not).
PRINTED = (PMID, PMCID, ARXIV)


def identifiers_by_doi(store: Store, dois: Iterable[str] | None = None,
                       schemes: Iterable[str] = PRINTED) -> dict[str, dict[str, str]]:
    """The first recorded value of each of ``schemes`` for many works at once (all works
    when ``dois`` is None): DOI -> {scheme: value}; works with none are absent. One query
    per 500 DOIs (one in all for every work), so an export of 20,000 works asks once."""
    schemes = [s for s in schemes if s in SCHEMES]
    if not schemes:
        return {}
    marks = ",".join("?" * len(schemes))
    out: dict[str, dict[str, str]] = {}

    def take(rows) -> None:
        for doi, scheme, value in rows:
            out.setdefault(doi, {}).setdefault(scheme, value)

    if dois is None:
        take(store.db.execute(
            f"SELECT doi, scheme, value FROM work_identifiers WHERE scheme IN ({marks})"
            " ORDER BY rowid", schemes))
        return out
    wanted = list(dict.fromkeys(normalize_doi(d) for d in dois))
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        take(store.db.execute(
            f"SELECT doi, scheme, value FROM work_identifiers WHERE scheme IN ({marks})"
            f" AND doi IN ({','.join('?' * len(chunk))}) ORDER BY rowid", [*schemes, *chunk]))
    return out


def dois_with(store: Store, scheme: str, dois: Iterable[str]) -> dict[str, str]:
    """DOI -> the first recorded value of ``scheme`` for those of ``dois`` that have one."""
    return {d: ids[scheme] for d, ids in identifiers_by_doi(store, dois, (scheme,)).items()}


def pubmed_url(pmid: str) -> str:
    """The PubMed page of a PMID."""
    return f"https://pubmed.ncbi.nlm.nih.gov/{normalize(PMID, pmid)}/"


def pmc_url(pmcid: str) -> str:
    """The PubMed Central page of a PMCID."""
    return f"https://pmc.ncbi.nlm.nih.gov/articles/PMC{normalize(PMCID, pmcid)}/"


def arxiv_url(arxiv_id: str) -> str:
    """The arXiv abstract page of an arXiv ID."""
    return f"https://arxiv.org/abs/{normalize(ARXIV, arxiv_id)}"


# --- one work under several keys ----------------------------------------------------------


def kept_doi(store: Store, doi: str) -> str:
    """The key a work named ``doi`` is stored under: ``doi`` itself when it is a stored
    work; the work it was merged into; else the stored work that carries it as an alias
    DOI (recorded by a merge or learnt from a registry); else ``doi`` (not stored). The
    one look-up every path that stores a work by DOI goes through, so that an alias never
    becomes a second work."""
    doi = normalize_doi(doi)
    if store.is_stored(doi):
        return doi
    into = store.merged_into(doi)
    if into is not None:
        return into
    for (owner,) in store.db.execute(
            "SELECT doi FROM work_identifiers WHERE scheme = ? AND value = ? ORDER BY rowid", [DOI, doi]):
        if store.is_stored(owner):
            return owner
    return doi


def move_work(store: Store, old: str, new: str, *, alias: bool) -> dict[str, list[str]]:
    """Give the work ``new`` every identifier recorded for ``old`` (its agency excepted:
    ``new`` has its own registration) and, with ``alias``, ``old`` itself as an alias DOI
    of ``new``. Returns the identifiers moved, scheme -> values."""
    old, new = normalize_doi(old), normalize_doi(new)
    moved: dict[str, list[str]] = {}
    with store.write() as db:
        for scheme, value in db.execute(
                "SELECT scheme, value FROM work_identifiers WHERE doi = ? AND scheme != ? ORDER BY rowid",
                [old, AGENCY]).fetchall():
            if not (scheme == DOI and value == new):
                moved.setdefault(scheme, []).append(value)
        db.execute("UPDATE OR IGNORE work_identifiers SET doi = ? WHERE doi = ? AND scheme != ?",
                   [new, old, AGENCY])
        # What is left under ``old``: its agency, and values ``new`` already had.
        db.execute("DELETE FROM work_identifiers WHERE doi = ?", [old])
        # ``new`` is never its own alias.
        db.execute("DELETE FROM work_identifiers WHERE doi = ? AND scheme = ? AND value = ?", [new, DOI, new])
        if alias:
            record(store, new, {DOI: old})
    return moved


def identical_dois(record: dict) -> list[str]:
    """The DOIs a Crossref record says it is identical to (``relation`` ``is-identical-to``):
    the same work registered twice, recorded as its alias DOIs when it is stored."""
    out = []
    for rel in ((record or {}).get("relation") or {}).get("is-identical-to") or []:
        if isinstance(rel, dict) and str(rel.get("id-type") or "doi").lower() == "doi" and rel.get("id"):
            doi = normalize_doi(str(rel["id"]))
            if doi.startswith("10.") and doi != normalize_doi(str(record.get("DOI") or "")):
                out.append(doi)
    return list(dict.fromkeys(out))


def shared_identifiers(store: Store, schemes: Iterable[str] = PRINTED) -> list[tuple[str, str, list[str]]]:
    """(scheme, value, keys) for each identifier recorded for two or more stored works."""
    schemes = [s for s in schemes if s in SCHEMES]
    out = []
    for scheme, value, keys in store.db.execute(
            f"SELECT scheme, value, group_concat(doi, char(10)) FROM work_identifiers"
            f" WHERE scheme IN ({','.join('?' * len(schemes))}) GROUP BY scheme, value"
            " HAVING count(DISTINCT doi) > 1 ORDER BY scheme, value", schemes):
        stored = [k for k in dict.fromkeys(keys.split("\n")) if store.is_stored(k)]
        if len(stored) > 1:
            out.append((scheme, value, stored))
    return out
