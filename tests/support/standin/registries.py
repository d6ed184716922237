"""The registries beside Crossref that the stand-in also answers for, on the same server.

Each service lives under a path prefix of the stand-in's URL, so one server stands in for
all of them (``StandIn.urls`` gives each base URL):

- ``/works/{doi}/agency`` (Crossref's own route): who registered a DOI.
- ``/doi``: the DOI system. ``/doi/api/handles/{doi}`` is the handle API (HTTP 200 with
  ``responseCode`` 1, or 404 with ``responseCode`` 100 for a DOI that does not exist);
  ``/doi/{doi}`` answers content negotiation for
  ``Accept: application/vnd.citationstyles.csl+json`` (406 for other types), for Crossref
  DOIs (a CSL rendering of the record) and the other agencies' alike.
- ``/datacite/dois/{doi}``: DataCite's REST API (JSON:API, ``data.attributes``).
- ``/ncbi/entrez/eutils/esummary.fcgi``: PubMed summaries (``db=pubmed``, ``retmode=json``).
- ``/idconv/``: the PMC ID converter (``ids`` up to 200, ``format=json``; ``tool`` and
  ``email`` required as NCBI asks; 400 otherwise).
- ``/arxiv/query``: arXiv's API (``id_list``), Atom XML.

What they serve: the records of ``registry_fixtures.json`` (written for the tests, not
copies of real records), PMCID -> DOI mappings read from the citation strings of the
shared data (``pubmed_mappings``), and whatever a test or benchmark adds with
``StandIn.register``. A DOI exists for the handle API when Crossref's index or this
registry has it.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from xml.sax.saxutils import escape

FIXTURES = Path(__file__).resolve().parent / "registry_fixtures.json"
CSL_JSON = "application/vnd.citationstyles.csl+json"
ARXIV_PREFIX = "10.48550/arxiv."
IDCONV_MAX = 200


class Registry:
    """Non-Crossref DOIs (with their agency and CSL-JSON), arXiv entries, PubMed IDs."""

    def __init__(self, fixtures: Path | None = FIXTURES, pubmed: list[dict] | None = None) -> None:
        self.dois: dict[str, dict] = {}  # lower-cased DOI -> {"agency", "csl"}
        self.arxiv: dict[str, dict] = {}
        self.pubmed: list[dict] = []
        if fixtures is not None:
            data = json.loads(Path(fixtures).read_text(encoding="utf-8"))
            for d in data.get("dois", []):
                self.register(d["csl"]["DOI"], d["agency"], d["csl"])
            for a in data.get("arxiv", []):
                self.arxiv[a["id"]] = a
            self.pubmed.extend(data.get("pubmed", []))
        self.pubmed.extend(pubmed or [])
        self._by_pmid = {p["pmid"]: p for p in self.pubmed if p.get("pmid")}
        self._by_pmcid = {p["pmcid"].upper(): p for p in self.pubmed if p.get("pmcid")}

    def register(self, doi: str, agency: str, csl: dict | None = None) -> None:
        """Make ``doi`` a DOI of ``agency`` (its CSL-JSON record ``csl``, or a bare one)."""
        self.dois[doi.lower()] = {"agency": agency, "csl": csl or {"DOI": doi, "type": "dataset"}}

    def add_pubmed(self, entry: dict) -> None:
        """Serve a PubMed record (``{"pmid", "doi", "pmcid", "in_pmc", "summary"}``, the
        summary with ``pubtype`` and ``references`` as esummary lists them)."""
        self.pubmed.append(entry)
        if entry.get("pmid"):
            self._by_pmid[entry["pmid"]] = entry
        if entry.get("pmcid"):
            self._by_pmcid[entry["pmcid"].upper()] = entry

    def add_arxiv(self, entry: dict) -> None:
        """Serve an arXiv entry (as in the fixtures; ``doi`` and ``journal_ref`` when the
        paper has a published version)."""
        self.arxiv[entry["id"]] = entry

    def agency(self, doi: str) -> str | None:
        doi = doi.lower()
        if doi in self.dois:
            return self.dois[doi]["agency"]
        if doi.startswith(ARXIV_PREFIX) and self.arxiv_entry(doi[len(ARXIV_PREFIX):]):
            return "datacite"
        return None

    def csl(self, doi: str) -> dict | None:
        doi = doi.lower()
        if doi in self.dois:
            return self.dois[doi]["csl"]
        if doi.startswith(ARXIV_PREFIX):
            entry = self.arxiv_entry(doi[len(ARXIV_PREFIX):])
            if entry:
                return _arxiv_csl(entry)
        return None

    def arxiv_entry(self, arxiv_id: str) -> dict | None:
        bare = re.sub(r"v\d+$", "", arxiv_id)
        for key, entry in self.arxiv.items():
            if key.lower() == bare.lower():
                return entry
        return None

    def pubmed_for(self, asked: str) -> dict | None:
        asked = asked.strip()
        if asked.upper().startswith("PMC"):
            return self._by_pmcid.get(asked.upper())
        return self._by_pmid.get(asked)


def pubmed_mappings(data_dir: str | Path) -> list[dict]:
    """PMCID -> DOI pairs from the shared data's citation strings that write a PMCID beside
    their checked DOI (PLOS reference lists do: "PubMed Central PMCID: PMC3640091")."""
    path = Path(data_dir) / "citations.dev.jsonl.gz"
    out = []
    if not path.is_file():
        return out
    pattern = re.compile(r"\bPMCID:\s*(?:PMC)+(\d+)", re.IGNORECASE)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            m = pattern.search(row.get("text") or "")
            if m and row.get("doi"):
                out.append({"pmcid": f"PMC{m.group(1)}", "doi": row["doi"], "in_pmc": True,
                            "source": "citations.dev"})
    return out


# --- answers -----------------------------------------------------------------------------------


def handle(exists: bool, doi: str) -> tuple[int, dict]:
    """The handle API's answer (``/api/handles/{doi}``)."""
    if not exists:
        return 404, {"responseCode": 100, "handle": doi}
    return 200, {"responseCode": 1, "handle": doi, "values": [
        {"index": 1, "type": "URL", "data": {"format": "string", "value": f"https://example.org/{doi}"}},
    ]}


def crossref_csl(record: dict) -> dict:
    """A Crossref record rendered as CSL-JSON, as Crossref's content negotiation does."""
    csl = {"DOI": record.get("DOI"), "type": "article-journal"
           if record.get("type") == "journal-article" else record.get("type") or "article"}
    for src, dst in (("title", "title"), ("container-title", "container-title")):
        v = record.get(src)
        if v:
            csl[dst] = v[0] if isinstance(v, list) else v
    for key in ("volume", "issue", "page", "publisher"):
        if record.get(key):
            csl[key] = record[key]
    if record.get("author"):
        csl["author"] = [{k: a[k] for k in ("family", "given", "name") if a.get(k)} for a in record["author"]]
    for key in ("issued", "published", "published-print", "created"):
        if (record.get(key) or {}).get("date-parts"):
            csl["issued"] = record[key]
            break
    return csl


def datacite(doi: str, agency_record: dict) -> dict:
    """DataCite's JSON:API answer for one of its DOIs (``/dois/{doi}``)."""
    csl = agency_record["csl"]
    year = ((csl.get("issued") or {}).get("date-parts") or [[None]])[0][0]
    creators = [{"name": f"{a.get('family')}, {a.get('given')}", "nameType": "Personal",
                 "givenName": a.get("given"), "familyName": a.get("family")}
                for a in csl.get("author") or []]
    return {"data": {"id": doi.lower(), "type": "dois", "attributes": {
        "doi": doi.lower(), "prefix": doi.split("/")[0], "suffix": doi.split("/", 1)[1],
        "titles": [{"title": csl.get("title")}], "creators": creators,
        "publisher": csl.get("publisher"), "publicationYear": year,
        "types": {"resourceTypeGeneral": "Dataset" if csl.get("type") == "dataset" else "Text",
                  "citeproc": csl.get("type")},
        "url": csl.get("URL"), "state": "findable",
    }}}


def idconv(registry: Registry, ids: list[str]) -> dict:
    """The PMC ID converter's JSON for ``ids`` (only articles in PMC carry a PMCID)."""
    records = []
    for asked in ids:
        p = registry.pubmed_for(asked)
        if p is None or not p.get("in_pmc", False) and not p.get("pmcid"):
            # Not in PMC: the converter has nothing to say about it.
            records.append({"requested-id": asked, "status": "error",
                            "errmsg": "Identifier not found in PMC"})
            continue
        rec = {"requested-id": asked}
        for k in ("pmcid", "pmid", "doi"):
            if p.get(k):
                rec[k] = p[k]
        records.append(rec)
    return {"status": "ok", "responseDate": "2026-01-01 00:00:00",
            "request": f"ids={','.join(ids)};format=json", "records": records}


def esummary(registry: Registry, pmids: list[str]) -> dict:
    """E-utilities' esummary JSON for PubMed (``db=pubmed&retmode=json``)."""
    result: dict = {"uids": []}
    for pmid in pmids:
        p = registry.pubmed_for(pmid)
        if p is None or not p.get("summary"):
            result[pmid] = {"uid": pmid, "error": "cannot get document summary"}
            continue
        s = p["summary"]
        ids = [{"idtype": "pubmed", "idtypen": 1, "value": pmid}]
        if p.get("doi"):
            ids.append({"idtype": "doi", "idtypen": 3, "value": p["doi"]})
        if p.get("pmcid"):
            ids.append({"idtype": "pmc", "idtypen": 8, "value": p["pmcid"]})
        result["uids"].append(pmid)
        result[pmid] = {
            "uid": pmid, "pubdate": s.get("pubdate"), "source": s.get("source"),
            "authors": [{"name": n, "authtype": "Author", "clusterid": ""} for n in s.get("authors", [])],
            "title": s.get("title"), "volume": s.get("volume"), "issue": s.get("issue"),
            "pages": s.get("pages"), "fulljournalname": s.get("fulljournalname"),
            "pubtype": s.get("pubtype", []), "articleids": ids,
            # Links to notices: [{"refsource", "reftype": "Retraction in", "pmid", "note"}].
            "references": s.get("references", []),
        }
    return {"header": {"type": "esummary", "version": "0.3"}, "result": result}


def arxiv_feed(registry: Registry, id_list: list[str]) -> str:
    """arXiv's Atom feed for ``id_list`` (an unknown well-formed ID: no entry; a malformed
    one: an entry titled Error, as arXiv answers)."""
    entries = []
    for asked in id_list:
        entry = registry.arxiv_entry(asked)
        if entry is None:
            if not re.fullmatch(r"\d{4}\.\d{4,5}(v\d+)?|[a-z\-]+(\.[A-Z]{2})?/\d{7}(v\d+)?", asked):
                entries.append(
                    "<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_"
                    f"{escape(asked)}</id><title>Error</title>"
                    f"<summary>incorrect id format for {escape(asked)}</summary></entry>")
            continue
        version = re.search(r"v(\d+)$", asked)
        v = version.group(1) if version else entry.get("version", 1)
        authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in entry["authors"])
        extra = ""
        if entry.get("doi"):
            extra += f"<arxiv:doi>{escape(entry['doi'])}</arxiv:doi>"
        if entry.get("journal_ref"):
            extra += f"<arxiv:journal_ref>{escape(entry['journal_ref'])}</arxiv:journal_ref>"
        entries.append(
            f"<entry><id>http://arxiv.org/abs/{escape(entry['id'])}v{v}</id>"
            f"<updated>{entry['updated']}</updated><published>{entry['published']}</published>"
            f"<title>{escape(entry['title'])}</title><summary>(abstract not served)</summary>"
            f"{authors}{extra}"
            f"<link href=\"http://arxiv.org/abs/{escape(entry['id'])}v{v}\" rel=\"alternate\""
            " type=\"text/html\"/>"
            f"<arxiv:primary_category term=\"{entry['category']}\" scheme=\"http://arxiv.org/schemas/atom\"/>"
            "</entry>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom">'
        f"<title>arXiv Query: id_list={escape(','.join(id_list))}</title>"
        f"<opensearch:totalResults>{sum(e.startswith('<entry><id>http://arxiv.org/abs') for e in entries)}"
        "</opensearch:totalResults>"
        + "".join(entries) + "</feed>"
    )


def _arxiv_csl(entry: dict) -> dict:
    year, month, day = (int(x) for x in entry["published"][:10].split("-"))
    people = []
    for name in entry["authors"]:
        given, _, family = name.rpartition(" ")
        people.append({"family": family, "given": given})
    return {"type": "article", "DOI": f"10.48550/arXiv.{entry['id']}", "title": entry["title"],
            "author": people, "issued": {"date-parts": [[year, month, day]]}, "publisher": "arXiv"}
