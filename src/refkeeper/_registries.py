"""Registries beyond Crossref: the DOI system, NCBI (PubMed, PMC) and arXiv.

Each client is a ``PacedClient`` (``_crossref``): the same pacing, retries, deadline and
errors as the Crossref client, held to the pace its service documents:

- ``DoiClient``: the DOI system at ``https://doi.org``. ``exists`` asks the handle API
  (``/api/handles/{doi}``: responseCode 1 found, 100 not found) whether a DOI exists at
  all, whoever registered it; ``csl`` asks for the record by content negotiation
  (``Accept: application/vnd.citationstyles.csl+json``), which Crossref, DataCite, mEDRA
  and others answer. doi.org publishes no limit; DataCite, which answers most of what
  Crossref does not, allows 3,000 requests in 5 minutes: that pace, 10/s.
- ``NcbiClient``: the PMC ID converter (PMID/PMCID/DOI, up to 200 IDs a request) and
  E-utilities ``esummary`` (PubMed records). NCBI asks for at most 3 requests/s without
  an API key, 10 with one, and for ``tool`` and ``email`` on every request.
- ``ArxivClient``: arXiv's API (``query?id_list=``, Atom XML read with the standard
  library), at most one request every 3 seconds as arXiv asks.

``Registries`` puts them together for the resolver, ``add`` and ``verify``: a DOI's
record from whichever agency registered it, and the DOI a PMID, PMCID or arXiv ID names.
"""

from __future__ import annotations

import re
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import requests

from ._crossref import (
    DEADLINE,
    LIST,
    SINGLE,
    CrossrefClient,
    PacedClient,
    RateLimiter,
    items,
    shape_error,
)
from ._errors import CrossrefError, InputError
from ._identifiers import (
    AGENCY,
    ARXIV,
    CROSSREF,
    DOI,
    PMCID,
    PMID,
    arxiv_doi,
    arxiv_of_doi,
    doi_for,
    find_identifiers,
    identical_dois,
    kept_doi,
    normalize,
)
from ._identifiers import record as record_identifiers
from ._models import KEY_FIELD, Work, doi_of_key, normalize_doi, parse_doi, record_key, work_key_for
from ._store import Store

DEFAULT_DOI_URL = "https://doi.org"
DEFAULT_DATACITE_URL = "https://api.datacite.org"
DEFAULT_NCBI_URL = "https://eutils.ncbi.nlm.nih.gov"
DEFAULT_IDCONV_URL = "https://pmc.ncbi.nlm.nih.gov/tools/idconv/api/v1/articles"
DEFAULT_ARXIV_URL = "http://export.arxiv.org/api"

CSL_JSON = "application/vnd.citationstyles.csl+json"
TOOL = "refkeeper"

# Documented paces: (requests per second, requests at once).
DOI_PACE = (10.0, 3)  # DataCite: 3,000 requests per 5 minutes
NCBI_PACE, NCBI_KEY_PACE = (3.0, 3), (10.0, 3)  # E-utilities usage policy
ARXIV_PACE = (1 / 3, 1)  # arXiv API terms: no more than one request every three seconds
IDCONV_BATCH = 200  # the ID converter's limit of IDs per request
# IDs per arXiv ``id_list`` request: arXiv returns at most 2,000 results a call and asks
# for small slices; 100 keeps a feed small and one verify batch one request.
ARXIV_BATCH = 100


def _limiter(pace: tuple[float, int]) -> RateLimiter:
    return RateLimiter({SINGLE: pace[0]}, pace[1])


def _quote(doi: str) -> str:
    return urllib.parse.quote(doi, safe="/")


# --- the DOI system -------------------------------------------------------------------------


class DoiClient(PacedClient):
    """The DOI system (doi.org or a stand-in): does a DOI exist, and its CSL-JSON record."""

    service = "the DOI system"
    learn_limits = False

    def __init__(self, base_url: str = DEFAULT_DOI_URL, *, mailto: str | None = None,
                 timeout: float = 20.0, max_retries: int = 5, backoff: float = 0.5,
                 deadline: float = DEADLINE) -> None:
        super().__init__(base_url or DEFAULT_DOI_URL, _limiter(DOI_PACE), timeout=timeout,
                         max_retries=max_retries, backoff=backoff, deadline=deadline,
                         contact=mailto)

    def exists(self, doi: str) -> bool:
        """Whether the DOI system knows ``doi`` (the handle API's responseCode 1 or 200),
        or not (100); a ``CrossrefError`` when it cannot say."""
        doi = parse_doi(doi)
        data = self.fetch("/api/handles/" + _quote(doi), kind=SINGLE, not_found=(),
                          answers=(404,))
        code = data.get("responseCode") if isinstance(data, dict) else None
        if code in (1, 200):  # 200: the handle exists, without the values asked for
            return True
        if code == 100:
            return False
        raise shape_error("a handle lookup", f"{doi}: responseCode {code!r}")

    def csl(self, doi: str) -> dict | None:
        """The CSL-JSON record of ``doi`` by content negotiation; None when no agency has
        it (404, or 406: the agency offers no CSL-JSON)."""
        doi = parse_doi(doi)
        data = self.fetch("/" + _quote(doi), kind=SINGLE, headers={"Accept": CSL_JSON},
                          not_found=(404, 406))
        if data is None:
            return None
        if not isinstance(data, dict):
            raise shape_error("a DOI record", f"a JSON {type(data).__name__}, not an object")
        return data


def csl_record(doi: str, item: dict) -> dict:
    """A CSL-JSON item in the Crossref shape the store keeps, under ``doi``."""
    from .bibimport import csl_to_record  # the project's one CSL reader; loaded on use

    _, rec = csl_to_record(item)
    rec["DOI"] = item.get("DOI") or doi
    if item.get("publisher") and "publisher" not in rec:
        rec["publisher"] = item["publisher"]
    return rec


# --- DataCite -------------------------------------------------------------------------------


class DataciteClient(PacedClient):
    """DataCite's REST API (``/dois/{doi}``): its own DOIs' metadata, asked when content
    negotiation has nothing. DataCite allows 3,000 requests in 5 minutes: 10/s."""

    service = "DataCite"
    learn_limits = False

    def __init__(self, base_url: str = DEFAULT_DATACITE_URL, *, timeout: float = 20.0,
                 max_retries: int = 5, backoff: float = 0.5, deadline: float = DEADLINE) -> None:
        super().__init__(base_url or DEFAULT_DATACITE_URL, _limiter(DOI_PACE), timeout=timeout,
                         max_retries=max_retries, backoff=backoff, deadline=deadline)

    def work(self, doi: str) -> dict | None:
        """``doi``'s DataCite record in the Crossref shape, or None when DataCite lacks it."""
        doi = parse_doi(doi)
        data = self.fetch("/dois/" + _quote(doi), kind=SINGLE)
        attrs = ((data or {}).get("data") or {}).get("attributes") if isinstance(data, dict) else None
        if data is None:
            return None
        if not isinstance(attrs, dict):
            raise shape_error("a DataCite record", "no data.attributes object")
        return datacite_record(doi, attrs)


def datacite_record(doi: str, attrs: dict) -> dict:
    """DataCite attributes (titles, creators, publicationYear, types) in the Crossref shape."""
    rec: dict = {"DOI": attrs.get("doi") or doi}
    titles = [t.get("title") for t in attrs.get("titles") or [] if isinstance(t, dict) and t.get("title")]
    if titles:
        rec["title"] = titles[:1]
    people = []
    for c in attrs.get("creators") or []:
        if not isinstance(c, dict):
            continue
        if c.get("familyName"):
            person = {"family": c["familyName"]}
            if c.get("givenName"):
                person["given"] = c["givenName"]
            people.append(person)
        elif c.get("name"):
            people.append({"name": c["name"]})
    if people:
        rec["author"] = people
    if str(attrs.get("publicationYear") or "").isdigit():
        rec["issued"] = {"date-parts": [[int(attrs["publicationYear"])]]}
    if attrs.get("publisher"):
        publisher = attrs["publisher"]
        rec["publisher"] = publisher.get("name") if isinstance(publisher, dict) else publisher
    general = ((attrs.get("types") or {}).get("resourceTypeGeneral") or "").lower()
    rec["type"] = {"dataset": "dataset", "software": "software", "preprint": "posted-content",
                   "journalarticle": "journal-article", "book": "book"}.get(general, "other")
    return rec


# --- NCBI -----------------------------------------------------------------------------------


class NcbiClient(PacedClient):
    """NCBI's PMC ID converter and E-utilities, at NCBI's pace (3/s, 10/s with a key)."""

    service = "NCBI"
    learn_limits = False

    def __init__(self, base_url: str = DEFAULT_NCBI_URL, *, idconv_url: str = DEFAULT_IDCONV_URL,
                 api_key: str | None = None, email: str | None = None, timeout: float = 20.0,
                 max_retries: int = 5, backoff: float = 0.5, deadline: float = DEADLINE) -> None:
        super().__init__(base_url or DEFAULT_NCBI_URL,
                         _limiter(NCBI_KEY_PACE if api_key else NCBI_PACE), timeout=timeout,
                         max_retries=max_retries, backoff=backoff, deadline=deadline,
                         contact=email)
        self.api_key = api_key or None
        self.email = email or None
        # The converter lives on another host under the same policy: one limiter for both.
        self.idconv = _IdConverter(idconv_url or DEFAULT_IDCONV_URL, self)

    def params(self, params: dict) -> dict:
        params["tool"] = TOOL
        if self.email:
            params["email"] = self.email
        if self.api_key:
            params["api_key"] = self.api_key
        return params

    def convert(self, ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """What the ID converter knows of each PMID or PMCID (``"17530380"``,
        ``"PMC1234567"``): requested ID -> {"pmid", "pmcid", "doi"} (the ones it has).
        IDs it does not know are absent. Sent in batches of ``IDCONV_BATCH``."""
        ids = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
        out: dict[str, dict[str, str]] = {}
        for i in range(0, len(ids), IDCONV_BATCH):
            batch = ids[i:i + IDCONV_BATCH]
            data = self.idconv.fetch("/", {"ids": ",".join(batch), "format": "json"}, SINGLE)
            records = (data or {}).get("records") if isinstance(data, dict) else None
            if not isinstance(records, list):
                raise shape_error("an ID conversion", "no records list")
            for rec in records:
                if not isinstance(rec, dict) or rec.get("status") == "error":
                    continue
                found = {k: str(rec[k]) for k in ("pmid", "pmcid", "doi") if rec.get(k)}
                asked = str(rec.get("requested-id") or "")
                key = asked if asked in batch else next(
                    (b for b in batch if b.upper() in (found.get("pmid"), found.get("pmcid", "").upper())),
                    None)
                if key and found:
                    out[key] = found
        return out

    def summaries(self, pmids: Iterable[str]) -> dict[str, dict]:
        """PubMed's document summaries (``esummary``, JSON) by PMID; unknown PMIDs absent."""
        pmids = list(dict.fromkeys(normalize(PMID, p) for p in pmids))
        out: dict[str, dict] = {}
        for i in range(0, len(pmids), IDCONV_BATCH):
            batch = pmids[i:i + IDCONV_BATCH]
            data = self.fetch("/entrez/eutils/esummary.fcgi",
                              {"db": "pubmed", "id": ",".join(batch), "retmode": "json"}, SINGLE)
            result = data.get("result") if isinstance(data, dict) else None
            if not isinstance(result, dict):
                raise shape_error("a PubMed summary", "no result object")
            for uid in result.get("uids") or []:
                summary = result.get(str(uid))
                if isinstance(summary, dict) and not summary.get("error"):
                    out[str(uid)] = summary
        return out


class _IdConverter(PacedClient):
    """The PMC ID converter's host, paced by its ``NcbiClient``'s limiter."""

    service = "the PMC ID converter"
    learn_limits = False

    def __init__(self, base_url: str, ncbi: NcbiClient) -> None:
        super().__init__(base_url, ncbi.limiter, timeout=ncbi.timeout,
                         max_retries=ncbi.max_retries, backoff=ncbi.backoff,
                         deadline=ncbi.deadline, contact=ncbi.email)
        self.ncbi = ncbi

    def params(self, params: dict) -> dict:
        return self.ncbi.params(params)


def article_ids(summary: dict) -> dict[str, str]:
    """The identifiers a PubMed summary lists: {"pmid", "pmcid", "doi"} where present."""
    out = {}
    for entry in summary.get("articleids") or []:
        if not isinstance(entry, dict) or not entry.get("value"):
            continue
        kind, value = entry.get("idtype"), str(entry["value"])
        if kind == "pubmed":
            out[PMID] = value
        elif kind in ("pmc", "pmcid") and re.search(r"\d", value):
            out[PMCID] = re.sub(r"(?i)^pmc-id:\s*|;.*$", "", value).strip()
        elif kind == "doi":
            out["doi"] = value
    return out


def pubmed_record(summary: dict) -> dict:
    """A PubMed summary in the Crossref shape (no ``DOI`` when PubMed lists none)."""
    rec: dict = {"type": "journal-article"}
    ids = article_ids(summary)
    if ids.get("doi"):
        rec["DOI"] = ids["doi"]
    if summary.get("title"):
        rec["title"] = [str(summary["title"]).rstrip(".")]
    authors = []
    for a in summary.get("authors") or []:
        name = str(a.get("name") or "") if isinstance(a, dict) else ""
        if not name or (isinstance(a, dict) and a.get("authtype") not in (None, "", "Author")):
            continue
        # PubMed writes "Murakami E": family name, then initials.
        family, _, initials = name.rpartition(" ")
        authors.append({"family": family, "given": initials} if family else {"family": name})
    if authors:
        authors[0]["sequence"] = "first"
        rec["author"] = authors
    if summary.get("fulljournalname"):
        rec["container-title"] = [summary["fulljournalname"]]
    if summary.get("source"):
        rec["short-container-title"] = [summary["source"]]
    m = re.match(r"(\d{4})", str(summary.get("pubdate") or summary.get("epubdate") or ""))
    if m:
        rec["issued"] = {"date-parts": [[int(m.group(1))]]}
    for key in ("volume", "issue"):
        if summary.get(key):
            rec[key] = str(summary[key])
    if summary.get("pages"):
        rec["page"] = _expand_pages(str(summary["pages"]))
    return rec


def _expand_pages(pages: str) -> str:
    """PubMed abbreviates page ranges ("274-80"); Crossref writes them whole ("274-280")."""
    m = re.fullmatch(r"(\d+)-(\d+)", pages)
    if m and len(m.group(2)) < len(m.group(1)):
        first, last = m.groups()
        return f"{first}-{first[: len(first) - len(last)]}{last}"
    return pages


# --- arXiv ----------------------------------------------------------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV_NS = "{http://arxiv.org/schemas/atom}"


class ArxivClient(PacedClient):
    """arXiv's API, one request every 3 seconds."""

    service = "arXiv"
    learn_limits = False

    def __init__(self, base_url: str = DEFAULT_ARXIV_URL, *, timeout: float = 30.0,
                 max_retries: int = 3, backoff: float = 3.0, deadline: float = DEADLINE) -> None:
        super().__init__(base_url or DEFAULT_ARXIV_URL, _limiter(ARXIV_PACE), timeout=timeout,
                         max_retries=max_retries, backoff=backoff, deadline=deadline)

    def entry(self, arxiv_id: str) -> dict | None:
        """The paper ``arxiv_id`` names, in the Crossref shape under its arXiv DOI, with
        ``x-arxiv`` (its ID) and, when arXiv knows them, ``x-published-doi`` (the version
        of record) and ``x-journal-ref``; None when arXiv has no such paper."""
        arxiv_id = normalize(ARXIV, arxiv_id)
        return self.entries([arxiv_id]).get(arxiv_id)

    def entries(self, arxiv_ids: Iterable[str]) -> dict[str, dict]:
        """``entry`` for many papers, ``ARXIV_BATCH`` IDs a request (``id_list`` takes a
        comma-separated list): arXiv ID -> record; papers arXiv does not have are absent."""
        ids = list(dict.fromkeys(normalize(ARXIV, i) for i in arxiv_ids if i))
        out: dict[str, dict] = {}
        for i in range(0, len(ids), ARXIV_BATCH):
            batch = ids[i:i + ARXIV_BATCH]
            entries = self.fetch("/query", {"id_list": ",".join(batch),
                                            "max_results": str(len(batch))}, SINGLE,
                                 parse=_atom_entries)
            for entry in entries or []:
                if entry.get("x-arxiv") in batch:
                    out[entry["x-arxiv"]] = entry
        return out


def _atom_entries(resp: requests.Response) -> list[dict]:
    """The entries of an arXiv Atom feed as Crossref-shaped records (ValueError if the
    body is not such a feed: the call is retried like unreadable JSON)."""
    try:
        root = ET.fromstring(resp.content)
    except ET.ParseError as exc:
        raise ValueError(f"not an Atom feed: {exc}") from None
    if root.tag != ATOM + "feed":
        raise ValueError("not an Atom feed")
    out = []
    for e in root.iter(ATOM + "entry"):
        link = (e.findtext(ATOM + "id") or "").strip()
        m = re.search(r"arxiv\.org/abs/(.+)$", link)
        if not m:  # arXiv answers a bad ID with an entry whose id is an error URL
            continue
        arxiv_id = normalize(ARXIV, m.group(1))
        rec: dict = {
            "DOI": arxiv_doi(arxiv_id),
            "type": "posted-content",
            "subtype": "preprint",
            "publisher": "arXiv",
            "institution": [{"name": "arXiv"}],
            "x-arxiv": arxiv_id,
        }
        title = " ".join((e.findtext(ATOM + "title") or "").split())
        if title:
            rec["title"] = [title]
        authors = []
        for a in e.findall(ATOM + "author"):
            name = " ".join((a.findtext(ATOM + "name") or "").split())
            if name:
                given, _, family = name.rpartition(" ")
                authors.append({"given": given, "family": family} if given else {"family": name})
        if authors:
            authors[0]["sequence"] = "first"
            rec["author"] = authors
        published = (e.findtext(ATOM + "published") or "")[:10]
        if re.fullmatch(r"\d{4}-\d\d-\d\d", published):
            rec["issued"] = {"date-parts": [[int(x) for x in published.split("-")]]}
        doi = (e.findtext(ARXIV_NS + "doi") or "").strip()
        if doi:
            rec["x-published-doi"] = normalize_doi(doi)
        ref = " ".join((e.findtext(ARXIV_NS + "journal_ref") or "").split())
        if ref:
            rec["x-journal-ref"] = ref
        out.append(rec)
    return out


# --- versions of record that name a preprint ----------------------------------------------------

# Bytes of ``relation.object:`` filters per request: with the path, ``select`` and ``rows``
# the request line stays well under Crossref's 4,096 bytes (its front end answers 414 past it).
RELATION_FILTER_BYTES = 3000
# What the answer needs: the version of record's DOI and its relations.
_RELATION_SELECT = "DOI,relation"


def relation_chunks(preprints: Iterable[str]) -> list[list[str]]:
    """``preprints`` (normalised, each once; DOIs with a comma, which would split the
    filter, left out) in chunks whose ``relation.object:`` filters fit one request."""
    chunks: list[list[str]] = []
    size = 0
    for doi in dict.fromkeys(normalize_doi(d) for d in preprints if d and "," not in d):
        cost = len(urllib.parse.quote_plus(f",relation.object:{doi}"))
        if not chunks or size + cost > RELATION_FILTER_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(doi)
        size += cost
    return chunks


def versions_of_record(client: CrossrefClient, preprints: list[str]) -> dict[str, list[str]]:
    """The works Crossref lists as having one of ``preprints`` (a chunk of
    ``relation_chunks``) as their preprint — their ``relation`` ``has-preprint`` names it:
    preprint DOI -> versions of record's DOIs; preprints no work names are absent.

    One request: Crossref's documented dot filters ask for many preprints at once
    (``filter=relation.type:has-preprint,relation.object:A,relation.object:B``: a repeated
    filter is any of its values, and the dot filters describe one relation).
    """
    asked = {normalize_doi(d) for d in preprints}
    if not asked:
        return {}
    params = {"filter": ",".join(["relation.type:has-preprint",
                                  *(f"relation.object:{d}" for d in sorted(asked))]),
              "rows": "1000", "select": _RELATION_SELECT}
    data = client.get("/works", params, kind=LIST)
    out: dict[str, list[str]] = {}
    for item in [] if data is None else items(data, "a relation filter"):
        vor = normalize_doi(item.get("DOI") or "")
        rels = item.get("relation") if isinstance(item.get("relation"), dict) else {}
        for r in rels.get("has-preprint") or []:
            obj = normalize_doi(r.get("id") or "") if isinstance(r, dict) else ""
            if vor and obj in asked and vor != obj and vor not in out.get(obj, []):
                out.setdefault(obj, []).append(vor)
    return out


# --- together ----------------------------------------------------------------------------------


@dataclass
class Found:
    """A work found in a registry: its Crossref-shaped record, the agency that registered
    its DOI (None when unknown) and the other identifiers learnt on the way."""

    record: dict
    agency: str | None = None
    identifiers: dict[str, str] = field(default_factory=dict)

    @property
    def doi(self) -> str | None:
        """The DOI of the work found; None for a PubMed-only work (its record holds its
        ``pmid:`` key instead)."""
        return doi_of_key(self.key)

    @property
    def key(self) -> str:
        """The work key the found work is stored under: its DOI, else ``pmid:<n>``."""
        return record_key(self.record)

    def all_identifiers(self) -> dict[str, str]:
        """``identifiers`` with the agency, as ``_identifiers.record`` takes them."""
        return {**self.identifiers, **({AGENCY: self.agency} if self.agency else {})}


class Registries:
    """Every registry the resolver, ``add`` and ``verify`` may ask, built from explicit
    clients (``Settings.registries()`` makes them from the settings). A client left out
    (None) is never asked: its identifiers are then not followed."""

    def __init__(self, *, crossref: CrossrefClient, doi: DoiClient | None = None,
                 ncbi: NcbiClient | None = None, arxiv: ArxivClient | None = None,
                 datacite: DataciteClient | None = None) -> None:
        self.crossref = crossref
        self.doi = doi
        self.datacite = datacite
        self.ncbi = ncbi
        self.arxiv = arxiv

    def work(self, doi: str) -> Found | None:
        """The record of ``doi`` from whichever agency registered it: Crossref first; when
        Crossref does not have it, its ``/agency`` route names the agency and DOI content
        negotiation gives the record; arXiv DOIs are read from arXiv's API. None when no
        registry knows ``doi``."""
        doi = parse_doi(doi)
        arxiv_id = arxiv_of_doi(doi)
        if arxiv_id and self.arxiv is not None:
            rec = self.arxiv.entry(arxiv_id)
            if rec is not None:
                return Found(rec, "datacite", {ARXIV: arxiv_id})
        rec = self.crossref.work(doi)
        if rec is not None:
            return Found(rec, CROSSREF)
        return self.elsewhere(doi)

    def elsewhere(self, doi: str) -> Found | None:
        """``doi``'s record from another agency than Crossref (Crossref answered 404)."""
        if self.doi is None and self.datacite is None:
            return None
        agency = self.crossref.agency(doi)
        if agency is None:
            # Crossref's /agency asks the DOI system: no agency means no such DOI. (verify
            # still asks the handle API itself before it calls a DOI dead.)
            return None
        item = self.doi.csl(doi) if self.doi is not None else None
        if item is not None:
            return Found(csl_record(doi, item), agency if agency != CROSSREF else None)
        if agency == "datacite" and self.datacite is not None:
            # Content negotiation had nothing (or was not given): DataCite's own API.
            rec = self.datacite.work(doi)
            if rec is not None:
                return Found(rec, agency)
        return None

    def by_identifier(self, scheme: str, value: str) -> list[Found]:
        """The works a PMID, PMCID or arXiv ID names, the version to prefer first (for an
        arXiv preprint with a published version: that version, then the preprint). Empty
        when the registries do not know it or no client for it was given."""
        value = normalize(scheme, value)
        if scheme == ARXIV:
            return self._arxiv(value)
        if scheme in (PMID, PMCID):
            return self._pubmed(scheme, value)
        return []

    def _arxiv(self, arxiv_id: str) -> list[Found]:
        if self.arxiv is None:
            return []
        rec = self.arxiv.entry(arxiv_id)
        if rec is None:
            return []
        out = []
        published = rec.get("x-published-doi")
        if published:
            try:
                found = self.work(published)
            except CrossrefError:
                found = None
            if found is not None:
                found.identifiers[ARXIV] = arxiv_id
                out.append(found)
        out.append(Found(rec, "datacite", {ARXIV: arxiv_id}))
        return out

    def _pubmed(self, scheme: str, value: str) -> list[Found]:
        if self.ncbi is None:
            return []
        asked = value if scheme == PMID else f"PMC{value}"
        ids = self.ncbi.convert([asked]).get(asked, {})
        pmid = ids.get(PMID) or (value if scheme == PMID else None)
        doi = ids.get("doi")
        summary = None
        if pmid and not doi:
            # The converter knows only articles in PMC; PubMed itself lists DOIs of others.
            summary = self.ncbi.summaries([pmid]).get(normalize(PMID, pmid))
            if summary is not None:
                ids = {**article_ids(summary), **ids}
                doi = ids.get("doi")
        learnt = {k: normalize(k, v) for k, v in ids.items() if k in (PMID, PMCID) and v}
        if not doi:
            # A PubMed-only work: PubMed's own metadata, stored under its PMID ("pmid:N").
            if summary is None or not pmid:
                return []
            record = pubmed_record(summary)
            record.pop("DOI", None)
            record[KEY_FIELD] = work_key_for(record, pmid=pmid)
            return [Found(record, None, learnt)]
        found = self.work(doi)
        if found is None:
            return []
        found.identifiers.update(learnt)
        return [found]


def dois_for_identifiers(registries: Registries,
                         wanted: Iterable[Mapping[str, str | None]]) -> list[str | None]:
    """The DOI each of ``wanted`` names by its PMID, PMCID or arXiv ID (keys ``pmid``,
    ``pmcid``, ``arxiv``, or as a read record carries them, ``x-pmid``...), in order; None
    where none is known. For works without a DOI in hand (an imported entry), before any
    search: the PMC ID converter (200 IDs a request) and, for PMIDs it does not know,
    PubMed's summaries give PubMed's DOI; an arXiv ID arXiv has (100 a request) gives its
    DataCite DOI (``10.48550/arXiv.<id>``: the preprint as cited). A PMID or PMCID wins over
    an arXiv ID. A registry that is not given, or fails, names nothing (the caller falls
    back to searching)."""
    rows = []
    for ids in wanted:
        row = {}
        for scheme in (PMID, PMCID, ARXIV):
            value = ids.get(scheme) or ids.get(f"x-{scheme}")
            if value:
                try:
                    row[scheme] = normalize(scheme, str(value))
                except ValueError:
                    continue
        rows.append(row)
    named: dict[tuple[str, str], str] = {}
    if registries.ncbi is not None:
        asked = {(PMID, r[PMID]): r[PMID] for r in rows if PMID in r}
        asked.update({(PMCID, r[PMCID]): f"PMC{r[PMCID]}" for r in rows if PMCID in r})
        try:
            converted = registries.ncbi.convert(asked.values()) if asked else {}
            for key, sent in asked.items():
                if converted.get(sent, {}).get("doi"):
                    named[key] = normalize_doi(converted[sent]["doi"])
            # The converter knows only articles in PMC; PubMed lists the DOIs of others.
            rest = [v for (scheme, v) in asked if scheme == PMID and (PMID, v) not in named]
            for pmid, summary in (registries.ncbi.summaries(rest) if rest else {}).items():
                doi = article_ids(summary).get("doi")
                if doi:
                    named[(PMID, pmid)] = normalize_doi(doi)
        except CrossrefError:
            pass  # NCBI failing: those entries are searched for instead
    if registries.arxiv is not None:
        ids = [r[ARXIV] for r in rows if ARXIV in r]
        try:
            known = registries.arxiv.entries(ids) if ids else {}
        except CrossrefError:
            known = {}
        named.update({(ARXIV, i): arxiv_doi(i) for i in known})
    return [next((named[(s, r[s])] for s in (PMID, PMCID, ARXIV) if (s, r.get(s)) in named), None)
            for r in rows]


def add_work(store: Store, registries: Registries, written: str) -> Work | None:
    """Fetch the work ``written`` names — a DOI of any agency, or a PMID, PMCID or arXiv ID
    as a citation writes it (``PMID: 17530380``, ``arXiv:2101.00001``) — and store it with
    its agency and the identifiers learnt; None when no registry knows it. An
    ``InputError`` when ``written`` is neither a DOI nor such an identifier."""
    try:
        doi = parse_doi(written)
    except InputError:
        named = find_identifiers(written) or _bare_identifier(written)
        if not named:
            raise
        # An identifier recorded for a stored work names that work: nothing to fetch. (An
        # arXiv ID names its preprint, which a version of record may carry too.)
        scheme, value = named[0]
        known = arxiv_doi(value) if scheme == ARXIV else doi_for(store, scheme, value)
        if known is not None and store.is_stored(kept_doi(store, known)):
            return store.get_work(kept_doi(store, known))
        found = registries.by_identifier(*named[0])
        found_one = found[-1] if found and named[0][0] == ARXIV else (found[0] if found else None)
        # ``add arXiv:...`` stores the preprint asked for; its version of record is a work
        # of its own (``add`` that DOI), and the link between them is for verify to report.
    else:
        # A DOI known as another stored work's (merged into it, or its alias) is that work.
        kept = kept_doi(store, doi)
        if kept != doi:
            return store.get_work(kept)
        found_one = registries.work(doi)
        if found_one is not None and found_one.doi != doi:
            # Asked for an alias, Crossref answers with the record of the DOI it now
            # redirects to: the one asked is an alias of that work, and recorded so.
            found_one.identifiers.setdefault(DOI, doi)
    if found_one is None:
        return None
    kept = kept_doi(store, found_one.key)
    if kept != found_one.key:
        if found_one.identifiers:
            record_identifiers(store, kept, {k: v for k, v in found_one.identifiers.items() if k != AGENCY})
        return store.get_work(kept)
    source = "crossref" if found_one.agency == CROSSREF else (found_one.agency or "doi")
    with store.write():
        work = store.add_work(found_one.record, source)
        record_identifiers(store, work.key, found_one.all_identifiers())
        aliases = [d for d in identical_dois(found_one.record) if not store.is_stored(d)]
        if aliases:
            record_identifiers(store, work.key, {DOI: aliases})
    return work


def _bare_identifier(text: str) -> list[tuple[str, str]]:
    """``PMC1234567`` or an arXiv ID given alone (``add`` takes them without a label)."""
    text = text.strip()
    if re.fullmatch(r"(?i)PMC\d+", text):
        return [(PMCID, normalize(PMCID, text))]
    if re.fullmatch(r"\d{4}\.\d{4,5}(v\d+)?|[a-z\-]+(\.[A-Z]{2})?/\d{7}(v\d+)?", text):
        return [(ARXIV, normalize(ARXIV, text))]
    return []
