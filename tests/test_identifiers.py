"""Identifiers beyond Crossref (issue 13): DOIs of every agency, PMIDs, PMCIDs, arXiv IDs.

Over real HTTP against the stand-in, which answers for the DOI system (handle API and
content negotiation), Crossref's /agency route, DataCite, NCBI (ID converter, esummary)
and arXiv beside Crossref. Crossref's records are the shipped sample of real records; the
other registries' records are the stand-in's fixtures.
"""

from __future__ import annotations

import json

import pytest
import sqlite_utils
from click.testing import CliRunner
from conftest import SAMPLE, SHARED_DATA
from standin import Registry, StandIn, pubmed_mappings

from refkeeper import _identifiers as identifiers
from refkeeper import _store
from refkeeper._crossref import CrossrefClient
from refkeeper._registries import (
    IDCONV_BATCH,
    ArxivClient,
    DoiClient,
    NcbiClient,
    Registries,
    add_work,
)
from refkeeper._resolve import Resolver
from refkeeper._settings import Settings
from refkeeper._sources import IndexSource
from refkeeper._store import Store, migrations
from refkeeper.cli import cli

MURAKAMI = "10.1007/s00776-007-1126-1"
ZENODO, MEDRA = "10.5281/zenodo.4468102", "10.3280/pds2019-002004"
# A reader's reference as PubMed writes it (the seed scenario's reader), with its PMID.
PUBMED_STYLE = (
    "Murakami E, Tanaka Y, Aizawa T, Ishizuka M, Kokubun S. Effect of periarticular and "
    "intraarticular lidocaine injections for sacroiliac joint pain: prospective comparative "
    "study. J Orthop Sci. 2007 May;12(3):274-80. PMID: 17530380."
)


@pytest.fixture(scope="module")
def server():
    """The stand-in over the shipped sample of real Crossref records, with the registries'
    fixtures and the PMCID mappings the shared data's citation strings write."""
    mappings = pubmed_mappings(SHARED_DATA) if SHARED_DATA.is_dir() else []
    with StandIn([SAMPLE], registry=Registry(pubmed=mappings)) as s:
        yield s


@pytest.fixture
def stand(server):
    server.reset()
    yield server
    server.reset()


def settings_for(server, db=":memory:") -> Settings:
    return Settings(db=str(db), mailto="editor@example.org", **server.urls)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "refs.db")
    yield s
    s.close()


def resolver(server, store) -> Resolver:
    return settings_for(server).resolver(store)


def routes(server, prefix: str) -> list[str]:
    return [t for t, _ in server.history if t.startswith(prefix)]


# --- reading identifiers in text ------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    # Real strings of the dev citation set.
    ("Lichtman MA, Rowe JM. Hyperleukocytic leukemias. Blood. 1982;60(2):279–83. "
     "PubMed PMID: 7046844. Epub 1982/08/01. eng.", [("pmid", "7046844")]),
    ("Geng R, Yuan C, Chen Y. ... PLoS One. 2013;8(4):e62704. PubMed Central PMCID: PMCPMC3640091.",
     [("pmcid", "3640091")]),
    ("Sznurkowski JJ ... 2013;287(6):1211–8. PubMed Central PMCID: PMCPmc3655214.",
     [("pmcid", "3655214")]),
    ('<a href="http://www.ncbi.nlm.nih.gov/entrez/query.fcgi?cmd=Retrieve&db=pubmed&dopt=Abstract'
     '&list_uids=7119132&query_hl=99">[PUBMED]</a>', [("pmid", "7119132")]),
    ("JHEP 04 (2014) 030 [ arXiv:1401.0374 ] [ INSPIRE ].", [("arxiv", "1401.0374")]),
    ("Nonuniform hyperbolicity and nonuniform specification. Preprint arXiv:1102.1652",
     [("arxiv", "1102.1652")]),
    # A PMID inside a (wrong) DOI is part of the DOI, not a PMID written by the author.
    ("Acta Medica Okayama. 2005;59:1-9. DOI: 10.2016/0386-300X.PMID.15902993", []),
    # The forms the issue names.
    ("PMID: 17530380", [("pmid", "17530380")]),
    ("PMCID: PMC1234567", [("pmcid", "1234567")]),
    ("https://pubmed.ncbi.nlm.nih.gov/17530380/", [("pmid", "17530380")]),
    ("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC1234567/", [("pmcid", "1234567")]),
    ("https://pmc.ncbi.nlm.nih.gov/articles/PMC1234567/", [("pmcid", "1234567")]),
    ("arXiv:2101.00001v2", [("arxiv", "2101.00001")]),
    ("arXiv:hep-th/9901001", [("arxiv", "hep-th/9901001")]),
    ("arXiv: math.GT/0309136v1", [("arxiv", "math.GT/0309136")]),
    ("https://arxiv.org/abs/2101.00001v1 and https://arxiv.org/pdf/hep-th/9901001",
     [("arxiv", "2101.00001"), ("arxiv", "hep-th/9901001")]),
    ("Nature. 2007;447:799-816. 17 authors, pages 1234567.", []),
])
def test_identifiers_written_in_a_citation_are_found(text, expected):
    assert identifiers.find_identifiers(text) == expected


def test_an_arxiv_id_has_its_datacite_doi():
    assert identifiers.arxiv_doi("arXiv:2101.00001v2") == "10.48550/arxiv.2101.00001"
    assert identifiers.arxiv_doi("hep-th/9901001v3") == "10.48550/arxiv.hep-th/9901001"
    assert identifiers.arxiv_of_doi("10.48550/arXiv.2101.00001") == "2101.00001"
    assert identifiers.arxiv_of_doi(MURAKAMI) is None


# --- settings ---------------------------------------------------------------------------------


def test_each_registry_url_is_a_setting_read_at_the_edge():
    s = Settings.from_environ({
        "REFKEEPER_DOI_URL": "http://doi.test", "REFKEEPER_DATACITE_URL": "http://dc.test",
        "REFKEEPER_NCBI_URL": "http://ncbi.test", "REFKEEPER_NCBI_IDCONV_URL": "http://idconv.test",
        "REFKEEPER_ARXIV_URL": "http://arxiv.test", "REFKEEPER_NCBI_API_KEY": "k3y",
    })
    assert (s.doi_url, s.datacite_url, s.ncbi_url, s.idconv_url, s.arxiv_url) == (
        "http://doi.test", "http://dc.test", "http://ncbi.test", "http://idconv.test", "http://arxiv.test")
    assert "k3y" not in repr(s)  # a key is not printed with the settings
    reg = s.registries()
    assert reg.ncbi.api_key == "k3y" and reg.ncbi.limiter.rate("single") == 10  # NCBI: 10/s with a key
    defaults = Settings.from_environ({})
    assert defaults.doi_url == "https://doi.org"
    assert defaults.ncbi_url == "https://eutils.ncbi.nlm.nih.gov"
    assert defaults.idconv_url == "https://pmc.ncbi.nlm.nih.gov/tools/idconv/api/v1/articles"
    assert defaults.arxiv_url == "http://export.arxiv.org/api"
    assert defaults.registries().ncbi.limiter.rate("single") == 3  # 3/s without a key
    assert defaults.registries().arxiv.limiter.rate("single") == pytest.approx(1 / 3)


# --- clients ----------------------------------------------------------------------------------


def test_the_handle_api_tells_a_doi_that_exists_from_one_that_does_not(stand):
    doi = DoiClient(stand.urls["doi_url"])
    assert doi.exists(MURAKAMI) and doi.exists(ZENODO) and doi.exists(MEDRA)
    assert doi.exists("10.48550/arXiv.2101.00001")
    assert not doi.exists("10.5281/zenodo.0000001")


def test_content_negotiation_gives_a_csl_record_of_any_agency(stand):
    doi = DoiClient(stand.urls["doi_url"])
    assert doi.csl(MEDRA)["publisher"] == "FrancoAngeli"
    assert doi.csl(MURAKAMI)["title"].startswith("Effect of periarticular")
    assert doi.csl("10.5281/zenodo.0000001") is None


def test_crossref_names_the_agency_of_a_doi(stand):
    crossref = CrossrefClient(base_url=stand.url, mailto="editor@example.org")
    assert crossref.agency(MURAKAMI) == "crossref"
    assert crossref.agency(ZENODO) == "datacite"
    assert crossref.agency(MEDRA) == "medra"
    assert crossref.agency("10.5281/zenodo.0000001") is None


def test_the_id_converter_is_asked_in_batches_of_200_with_tool_and_email(stand):
    ncbi = NcbiClient(stand.urls["ncbi_url"], idconv_url=stand.urls["idconv_url"],
                      email="editor@example.org")
    asked = ["PMC3640091"] + [str(10_000_000 + i) for i in range(2 * IDCONV_BATCH)]
    found = ncbi.convert(asked)
    assert found["PMC3640091"]["doi"] == "10.1371/journal.pone.0062704"  # from a real PLOS reference
    sent = routes(stand, "/idconv")
    assert len(sent) == 3
    assert all("tool=refkeeper" in t and "email=editor%40example.org" in t for t in sent)
    # NCBI announces no limits in headers: the client keeps NCBI's documented pace.
    assert ncbi.limiter.rate("single") == 3


def test_pubmed_summaries_give_a_crossref_shaped_record(stand):
    from refkeeper._registries import pubmed_record

    ncbi = NcbiClient(stand.urls["ncbi_url"], idconv_url=stand.urls["idconv_url"], email="e@example.org")
    summary = ncbi.summaries(["17530380"])["17530380"]
    rec = pubmed_record(summary)
    assert rec["DOI"] == MURAKAMI and rec["page"] == "274-280" and rec["volume"] == "12"
    assert rec["author"][0] == {"family": "Murakami", "given": "E", "sequence": "first"}
    assert rec["issued"] == {"date-parts": [[2007]]}


def test_arxiv_entries_are_read_from_atom_under_their_datacite_doi(stand):
    arxiv = ArxivClient(stand.urls["arxiv_url"])
    rec = arxiv.entry("arXiv:2101.00001v2")
    assert rec["DOI"] == "10.48550/arxiv.2101.00001" and rec["x-arxiv"] == "2101.00001"
    assert rec["author"][0]["family"] == "Watanabe" and rec["issued"]["date-parts"] == [[2021, 1, 1]]
    assert rec["type"] == "posted-content"
    assert arxiv.entry("2101.99999") is None


def test_a_registry_failing_for_good_is_an_error_naming_it(stand):
    from refkeeper._errors import CrossrefError

    stand.storm(30, status=503)
    doi = DoiClient(stand.urls["doi_url"], backoff=0.01, max_retries=1)
    with pytest.raises(CrossrefError, match="the DOI system"):
        doi.exists(ZENODO)


# --- resolving --------------------------------------------------------------------------------


def test_a_readers_pubmed_citation_resolves_through_its_pmid(stand, store):
    res = resolver(stand, store).resolve(PUBMED_STYLE)
    assert (res.status, res.doi, res.method) == ("matched", MURAKAMI, "pmid")
    assert res.best.evidence.agree[0] == "pmid" and "title" in res.best.evidence.agree
    # PubMed named the DOI (the work is not in PMC, so the ID converter had nothing).
    assert routes(stand, "/ncbi/entrez/eutils/esummary.fcgi")
    assert identifiers.identifiers_of(store, MURAKAMI) == {"pmid": ["17530380"], "agency": ["crossref"]}
    # Offline, the recorded PMID finds the stored work again.
    offline = Resolver(source=IndexSource(store), store=store, refresh=True)
    again = offline.resolve("PMID: 17530380")
    assert (again.status, again.doi, again.method) == ("matched", MURAKAMI, "pmid")


def test_a_pmid_naming_another_work_than_the_text_is_not_matched_through_it(stand, store):
    text = PUBMED_STYLE.replace("Murakami E, Tanaka Y, Aizawa T, Ishizuka M, Kokubun S. Effect of "
                                "periarticular and intraarticular lidocaine injections for sacroiliac "
                                "joint pain: prospective comparative study. J Orthop Sci. 2007 May",
                                "Smith J, Jones K. Statins in heart failure: a trial. Lancet. 1999 Jan")
    res = resolver(stand, store).resolve(text)
    assert res.doi != MURAKAMI
    assert any("PMID 17530380 does not fit" in n for n in res.notes)


def test_an_arxiv_citation_resolves_to_its_datacite_doi_with_arxivs_metadata(stand, store):
    text = ("Watanabe K, Fernandes M. Periarticular injection targets for the sacroiliac joint: "
            "an anatomical study. arXiv:2101.00001v2 (2021).")
    res = resolver(stand, store).resolve(text)
    assert (res.status, res.doi, res.method) == ("matched", "10.48550/arxiv.2101.00001", "arxiv")
    assert store.get_work(res.doi).title.startswith("Periarticular injection targets")
    assert identifiers.identifiers_of(store, res.doi) == {"arxiv": ["2101.00001"], "agency": ["datacite"]}
    assert routes(stand, "/arxiv/query")


def test_a_datacite_doi_written_in_a_citation_is_matched_through_content_negotiation(stand, store):
    text = ("Okafor A, Lindqvist H. Sacroiliac joint injection outcomes: pooled patient-level "
            f"dataset. Zenodo; 2021. doi:{ZENODO}")
    res = resolver(stand, store).resolve(text)
    assert (res.status, res.doi, res.method) == ("matched", ZENODO, "doi")
    assert identifiers.agencies(store, [ZENODO]) == {ZENODO: "datacite"}
    assert routes(stand, f"/works/{ZENODO}/agency") and routes(stand, f"/doi/{ZENODO}")


def test_a_pmcid_whose_work_no_registry_has_falls_back_to_search_without_false_match(stand, store):
    # A real PLOS reference; its DOI's record is not among the served Crossref records.
    text = ("Geng R, Yuan C, Chen Y. Exploring differentially expressed genes by RNA-Seq in cashmere "
            "goat (Capra hircus) skin during hair follicle development and cycling. PLoS One. "
            "2013;8(4):e62704. PubMed Central PMCID: PMCPMC3640091.")
    res = resolver(stand, store).resolve(text)
    assert res.status == "unmatched"
    assert routes(stand, "/idconv")


# --- add --------------------------------------------------------------------------------------


def test_add_stores_works_of_any_agency_and_by_pmid_or_arxiv_id(stand, tmp_path):
    db = tmp_path / "refs.db"
    env = {**stand.environ, "REFKEEPER_MAILTO": "editor@example.org"}
    out = CliRunner().invoke(cli, ["--db", str(db), "add", "--json", ZENODO, MEDRA, "PMID: 17530380",
                                   "arXiv:hep-th/9901001", "10.5281/zenodo.0000001"], env=env)
    assert out.exit_code == 1, out.output  # the last one exists nowhere
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert [x["status"] for x in lines] == ["added", "added", "added", "added", "not-found"]
    assert [x["doi"] for x in lines[:4]] == [ZENODO, MEDRA, MURAKAMI, "10.48550/arxiv.hep-th/9901001"]
    store = Store(db)
    assert identifiers.agencies(store, [ZENODO, MEDRA, MURAKAMI]) == {
        ZENODO: "datacite", MEDRA: "medra", MURAKAMI: "crossref"}
    assert identifiers.identifiers_of(store, MURAKAMI)["pmid"] == ["17530380"]
    assert store.get_work(MEDRA).container == "Psicologia della salute"
    store.close()
    shown = CliRunner().invoke(cli, ["--db", str(db), "show", MURAKAMI], env=env)
    assert "PMID      17530380  https://pubmed.ncbi.nlm.nih.gov/17530380/" in shown.stdout
    assert "agency    crossref" in shown.stdout


def test_add_work_says_none_for_an_identifier_nobody_knows(stand, store):
    reg = settings_for(stand).registries()
    assert add_work(store, reg, "PMID: 99999999") is None
    assert add_work(store, reg, "arXiv:2101.99999") is None


def test_without_the_other_registries_only_crossref_is_asked(stand, store):
    reg = Registries(crossref=CrossrefClient(base_url=stand.url))
    assert reg.work(ZENODO) is None and reg.by_identifier("pmid", "17530380") == []


# --- the schema -------------------------------------------------------------------------------


def test_a_database_of_the_previous_version_gains_the_identifiers_table(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    with monkeypatch.context() as m:
        old = sqlite_utils.Migrations("refkeeper")
        before_identifiers = True
        for mig in migrations.pending(sqlite_utils.Database(memory=True)):
            before_identifiers = before_identifiers and mig.name != "m007_identifiers"
            # Today's store writes the offline index's keys with every work and reads the
            # merged mark, so the simulated older version keeps those migrations (tested in
            # test_offline_scale.py and test_merge.py).
            if before_identifiers or mig.name in ("m009_index_keys_and_generation", "m013_merged_works"):
                old(name=mig.name)(mig.fn)
        m.setattr(_store, "migrations", old)
        _store._known_schema.cache_clear()
        before = Store(path)
        before.import_snapshot(SAMPLE)
        assert "work_identifiers" not in before.db.table_names()
        works = before.db.execute("SELECT count(*) FROM works").fetchone()[0]
        before.close()
    _store._known_schema.cache_clear()
    after = Store(path)
    assert "work_identifiers" in after.db.table_names()
    assert after.db.execute("SELECT count(*) FROM works").fetchone()[0] == works
    identifiers.record(after, MURAKAMI, {"pmid": "17530380", "agency": "crossref"})
    assert identifiers.doi_for(after, "pmid", "17530380") == MURAKAMI
    after.close()


def test_resolve_json_keeps_its_contract_for_an_answer_through_a_pmid(stand, tmp_path):
    env = {**stand.environ, "REFKEEPER_MAILTO": "editor@example.org"}
    out = CliRunner().invoke(cli, ["--db", str(tmp_path / "refs.db"), "resolve", "--json", "-"],
                             input=PUBMED_STYLE + "\n", env=env)
    assert out.exit_code == 0, out.output
    answer = json.loads(out.stdout)
    assert set(answer) == {"input", "status", "doi", "score", "candidates", "error"}
    assert (answer["status"], answer["doi"]) == ("matched", MURAKAMI)


def closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_other_registries_being_down_costs_their_route_not_the_citation(stand, store):
    down = closed_port_url()
    settings = Settings(crossref_url=stand.url, doi_url=down, ncbi_url=down, idconv_url=down,
                        arxiv_url=down, mailto="editor@example.org")
    res = settings.resolver(store).resolve(
        "Okafor A. Sacroiliac joint injection outcomes. Zenodo; 2021. "
        "doi:10.5281/zenodo.4468102. PMID: 17530380")
    assert res.status == "unmatched" and res.error is None
    assert any("PMID 17530380" in n and "unreachable" in n for n in res.notes)


def test_datacites_own_api_gives_the_record_when_content_negotiation_is_not_there(stand):
    from refkeeper._registries import DataciteClient

    reg = Registries(crossref=CrossrefClient(base_url=stand.url),
                     datacite=DataciteClient(stand.urls["datacite_url"]))
    found = reg.work(ZENODO)
    assert found.agency == "datacite" and found.record["publisher"] == "Zenodo"
    assert found.record["author"][0] == {"family": "Okafor", "given": "Adaeze"}
    assert found.record["issued"] == {"date-parts": [[2021]]} and found.record["type"] == "dataset"
    assert routes(stand, f"/datacite/dois/{ZENODO}")
    assert reg.work(MEDRA) is None  # mEDRA's DOIs are not DataCite's to describe
