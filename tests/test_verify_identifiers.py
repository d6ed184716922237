"""verify beyond Crossref (issue 13): PubMed's retraction marks for works with a PMID, and
the published version of a stored preprint (Crossref's is-preprint-of, arXiv's DOI and
journal reference). Over real HTTP against the stand-in, which answers for PubMed
(esummary) and arXiv beside Crossref."""

from __future__ import annotations

import gzip
import json

import pytest
from click.testing import CliRunner
from conftest import SAMPLE, SHARED_DATA
from standin import Registry, StandIn

from refkeeper import _identifiers as identifiers
from refkeeper._crossref import CrossrefClient
from refkeeper._registries import ArxivClient, DoiClient, NcbiClient
from refkeeper._store import Store
from refkeeper.cli import cli
from refkeeper.verify import verify

MURAKAMI = "10.1007/s00776-007-1126-1"
PMID = "17530380"  # the seed work's PMID, as issue 13 gives it
NOTICE_PMID = "99000001"  # a retraction notice's PMID, made up for the stand-in
ARXIV_DOI = "10.48550/arxiv.2101.00001"  # a preprint in the stand-in's fixtures


def retracted_pubmed_record() -> dict:
    """The seed work as PubMed would list it once retracted: esummary's ``pubtype`` gains
    "Retracted Publication" and ``references`` the notice ("Retraction in")."""
    return {"pmid": PMID, "doi": MURAKAMI, "in_pmc": False, "summary": {
        "title": "Effect of periarticular and intraarticular lidocaine injections for "
                 "sacroiliac joint pain: prospective comparative study.",
        "authors": ["Murakami E", "Tanaka Y", "Aizawa T", "Ishizuka M", "Kokubun S"],
        "source": "J Orthop Sci", "pubdate": "2007 May", "volume": "12", "issue": "3",
        "pages": "274-80",
        "pubtype": ["Journal Article", "Comparative Study", "Retracted Publication"],
        "references": [{"refsource": "J Orthop Sci. 2030;35(1):1.", "reftype": "Retraction in",
                        "pmid": NOTICE_PMID, "note": ""}],
    }}


@pytest.fixture
def server():
    """A stand-in of its own (its registry is changed): the shipped sample of real Crossref
    records, PubMed knowing the seed work as retracted, arXiv knowing the fixture preprint's
    published version (the seed work's DOI)."""
    registry = Registry(pubmed=[retracted_pubmed_record()])
    entry = dict(registry.arxiv["2101.00001"], doi=MURAKAMI.upper(),
                 journal_ref="J Orthop Sci 12 (2007) 274-280")
    registry.add_arxiv(entry)
    with StandIn([SAMPLE], registry=registry) as s:
        yield s


@pytest.fixture
def store(tmp_path, server):
    s = Store(tmp_path / "refs.db")
    s.import_snapshot(SAMPLE)
    yield s
    s.close()


def clients(server):
    kw = {"backoff": 0.01, "timeout": 5}
    return dict(
        client=CrossrefClient(base_url=server.url, mailto="editor@example.org", **kw),
        handles=DoiClient(server.urls["doi_url"], **kw),
        ncbi=NcbiClient(server.urls["ncbi_url"], idconv_url=server.urls["idconv_url"],
                        email="editor@example.org", **kw),
        arxiv=ArxivClient(server.urls["arxiv_url"], **kw),
    )


def finding(report, doi):
    return next((f for f in report.findings if f.doi == doi), None)


def test_a_work_pubmed_marks_retracted_is_a_retraction_found_by_pubmed(server, store):
    identifiers.record(store, MURAKAMI, {"pmid": PMID})
    report = verify(store, all=True, **clients(server))
    f = finding(report, MURAKAMI)
    assert f is not None and f.outcome == "problem"
    assert f.kinds == ["retraction"] and f.new_kinds == ["retraction"]
    [notice] = f.notices
    assert notice["sources"] == ["pubmed"]
    assert notice["type"] == "Retracted Publication"
    assert notice["pmid"] == NOTICE_PMID
    assert store.work_problems([MURAKAMI])[MURAKAMI] == ["retraction"]


def test_pubmed_is_asked_once_per_batch_with_every_pmid_and_tool_and_email(server, store):
    dois = [w.doi for w in store.works() if w.doi != MURAKAMI][:30]
    identifiers.record_many(store, {d: {"pmid": str(1000 + i)} for i, d in enumerate(dois)})
    identifiers.record(store, MURAKAMI, {"pmid": PMID})
    server.reset()
    verify(store, all=True, batch_size=100, **clients(server))
    asked = [t for t, _ in server.history if t.startswith("/ncbi/entrez/eutils/esummary.fcgi")]
    pmids = {p for t in asked for p in t.split("id=")[1].split("&")[0].replace("%2C", ",").split(",")}
    assert PMID in pmids and len(pmids) == len(set(dois) | {MURAKAMI})
    assert len(asked) <= -(-store.db.execute("SELECT count(*) FROM works").fetchone()[0] // 100)
    assert all("tool=refkeeper" in t and "email=editor%40example.org" in t for t in asked)


def test_without_a_pmid_pubmed_is_not_asked(server, store):
    server.reset()
    report = verify(store, all=True, **clients(server))
    assert finding(report, MURAKAMI) is None
    assert not [t for t, _ in server.history if t.startswith("/ncbi")]


def test_pubmed_failing_costs_the_works_with_a_pmid_an_error_not_the_run(server, store):
    identifiers.record(store, MURAKAMI, {"pmid": PMID})
    kw = clients(server)
    kw["ncbi"] = NcbiClient("http://127.0.0.1:9", max_retries=0, timeout=1, deadline=2)
    report = verify(store, all=True, **kw)
    assert report.status == "finished"
    f = finding(report, MURAKAMI)
    assert f.outcome == "error" and "PubMed" in f.error
    assert report.counts["errors"] == 1


@pytest.fixture(scope="module")
def preprint_record() -> dict:
    """A real bioRxiv preprint record from the shared data whose Crossref record names its
    version of record (``relation`` ``is-preprint-of``)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("shared data not found")
    with gzip.open(SHARED_DATA / "crossref-works.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if '"is-preprint-of"' in line:
                rec = json.loads(line)
                if rec.get("type") == "posted-content":
                    return rec
    pytest.skip("no preprint with is-preprint-of in the shared data")


def test_a_preprint_whose_crossref_record_names_its_version_of_record_is_reported(
        server, store, preprint_record):
    doi = preprint_record["DOI"].lower()
    vor = preprint_record["relation"]["is-preprint-of"][0]["id"].lower()
    before = {k: v for k, v in preprint_record.items() if k != "relation"}
    store.add_records([before], "crossref")
    server.revise(preprint_record["DOI"], preprint_record)  # upstream now names it
    report = verify(store, all=True, **clients(server))
    f = finding(report, doi)
    assert f is not None and f.kinds == ["published-version"]
    [notice] = f.notices
    assert notice["doi"] == vor and notice["sources"] == ["relation"]
    assert notice["type"] == "is-preprint-of"


def test_an_arxiv_preprint_whose_published_version_arxiv_knows_is_reported(server, store):
    store.add_records([{"DOI": ARXIV_DOI, "type": "posted-content", "subtype": "preprint",
                        "title": ["Periarticular injection targets for the sacroiliac joint: "
                                  "an anatomical study"], "publisher": "arXiv"}], "datacite")
    identifiers.record(store, ARXIV_DOI, {"agency": "datacite", "arxiv": "2101.00001"})
    server.reset()
    report = verify(store, all=True, **clients(server))
    f = finding(report, ARXIV_DOI)
    assert f is not None and f.kinds == ["published-version"]
    [notice] = f.notices
    assert notice["doi"] == MURAKAMI and notice["sources"] == ["arxiv"]
    assert notice["label"] == "J Orthop Sci 12 (2007) 274-280"
    arxiv_asked = [t for t, _ in server.history if t.startswith("/arxiv/query")]
    assert len(arxiv_asked) == 1  # the batch's arXiv IDs in one id_list request
    # An arXiv DOI is the DOI system's to answer for, not Crossref's: never called dead.
    assert "not-found" not in f.kinds


def test_verify_on_the_command_line_reports_pubmeds_retraction_with_its_source(
        server, store, tmp_path):
    identifiers.record(store, MURAKAMI, {"pmid": PMID})
    store.close()
    env = {**server.environ, "REFKEEPER_DB": str(tmp_path / "refs.db"),
           "REFKEEPER_MAILTO": "editor@example.org"}
    result = CliRunner().invoke(cli, ["verify", "--all"], env=env)
    assert result.exit_code == 1, result.output
    assert "retraction" in result.output and "(pubmed)" in result.output, result.output
    assert f"notice PMID {NOTICE_PMID}" in result.output


# --- verify --bib: entries known by a PMID, PMCID or arXiv ID only ----------------------------

PMC_PMID, PMC_ID = "7000001", "PMC7000001"  # made up: PubMed Central knows it, without a DOI


def identified_bib(tmp_path):
    bib = tmp_path / "ids.bib"
    bib.write_text(f"""
@article{{pubmedonly,
  title = {{Effect of periarticular and intraarticular lidocaine injections for sacroiliac joint pain:
           prospective comparative study}},
  journal = {{J Orthop Sci}}, year = {{2007}}, volume = {{12}}, pages = {{274--280}}, pmid = {{{PMID}}}
}}
@article{{nosuchpmid, title = {{A paper PubMed never had}}, year = {{2001}}, pmid = {{99999999}}}}
@article{{pmconly, title = {{A paper PubMed Central knows without a DOI}}, year = {{2020}},
  pmcid = {{{PMC_ID}}}}}
@misc{{preprint,
  title = {{Periarticular injection targets for the sacroiliac joint: an anatomical study}},
  year = {{2021}}, eprint = {{2101.00001v2}}, archivePrefix = {{arXiv}}
}}
@misc{{nosucharxiv, title = {{A preprint arXiv never had}}, eprint = {{2101.99999}},
  archivePrefix = {{arXiv}}}}
@book{{plain, title = {{A book with no identifier at all}}, year = {{1999}}}}
""", encoding="utf-8")
    return bib


def test_a_bib_entry_known_only_by_its_pmid_or_arxiv_id_is_checked_through_its_registry(
        server, tmp_path):
    from refkeeper.verify import verify_bib

    server.registry.add_pubmed({"pmid": PMC_PMID, "pmcid": PMC_ID, "in_pmc": True, "summary": {
        "title": "A paper PubMed Central knows without a DOI.", "authors": ["Okafor A"],
        "pubdate": "2020", "pubtype": ["Journal Article"]}})
    server.reset()
    kw = clients(server)
    report = verify_bib(identified_bib(tmp_path), kw.pop("client"), **kw)
    by_key = {e.key: e for e in report.entries}
    # The PMID names the seed work's DOI (PubMed lists it); PubMed marks it retracted.
    e = by_key["pubmedonly"]
    assert e.doi == MURAKAMI and e.kinds == ["retraction"]
    assert [n["sources"] for n in e.notices] == [["pubmed"]] and e.notices[0]["pmid"] == NOTICE_PMID
    assert by_key["nosuchpmid"].kinds == ["not-found"] and by_key["nosuchpmid"].doi is None
    # A PMCID the converter knows, with no DOI: it exists, and PubMed has nothing against it.
    assert by_key["pmconly"].outcome == "ok" and by_key["pmconly"].identifiers["pmid"] == PMC_PMID
    # The arXiv ID names its DataCite DOI, which exists; arXiv knows the published version.
    e = by_key["preprint"]
    assert e.doi == ARXIV_DOI and e.kinds == ["published-version"]
    assert e.notices[0]["doi"] == MURAKAMI and "not-found" not in e.kinds
    assert by_key["nosucharxiv"].kinds == ["not-found"]
    assert by_key["plain"].outcome == "no-doi"
    # Each registry asked once for the whole file, at its own pace.
    paths = [t.split("?")[0] for t, _ in server.history]
    assert paths.count("/ncbi/entrez/eutils/esummary.fcgi") == 1 and paths.count("/idconv/") == 1
    assert paths.count("/arxiv/query") == 1
    assert report.registry_requests == 3
    # An arXiv DOI is the DOI system's to answer for: no Crossref request for it.
    assert not [t for t in paths if ARXIV_DOI in t.lower() and t.startswith("/works")]


def test_verify_bib_on_the_command_line_names_the_identifier_it_checked(server, tmp_path):
    env = {**server.environ, "REFKEEPER_DB": str(tmp_path / "untouched.db"),
           "REFKEEPER_MAILTO": "editor@example.org"}
    result = CliRunner().invoke(cli, ["verify", "--bib", str(identified_bib(tmp_path))], env=env)
    assert result.exit_code == 1, result.output
    assert f"RETRACTION  pubmedonly  {MURAKAMI}  (PMID {PMID})" in result.output
    assert "PMID 99999999 is not in PubMed" in result.output
    assert "arXiv 2101.99999 is not at arXiv" in result.output
    assert "(not checked): plain" in result.output
    assert not (tmp_path / "untouched.db").exists()


def test_without_pubmed_an_entry_with_a_pmid_and_an_arxiv_id_is_checked_by_its_arxiv_id(
        server, tmp_path):
    from refkeeper.verify import verify_bib

    bib = tmp_path / "both.bib"
    bib.write_text("@misc{both, title = {Periarticular injection targets for the sacroiliac joint},"
                   f" pmid = {{{PMID}}}, eprint = {{2101.00001}}, archivePrefix = {{arXiv}}}}\n",
                   encoding="utf-8")
    kw = clients(server)
    kw.pop("ncbi")
    [entry] = verify_bib(bib, kw.pop("client"), **kw).entries
    assert entry.doi == ARXIV_DOI and entry.kinds == ["published-version"]
