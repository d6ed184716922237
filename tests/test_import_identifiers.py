"""Importing entries that carry a PMID, PMCID or arXiv ID but no DOI (issue 13): online, the
registry names the DOI (the PMC ID converter, PubMed, arXiv) before any search; offline
they are left to the resolver. Over real HTTP against the stand-in, whose PubMed knows the
seed work's PMID and whose arXiv knows the fixture preprint."""

from __future__ import annotations

import pytest
from conftest import SAMPLE
from standin import Registry, StandIn

from refkeeper import _identifiers as identifiers
from refkeeper import import_entries
from refkeeper._crossref import CrossrefClient
from refkeeper._registries import ArxivClient, NcbiClient, Registries, dois_for_identifiers
from refkeeper._settings import Settings
from refkeeper._store import Store
from refkeeper.bibimport import read_bibliography

MURAKAMI = "10.1007/s00776-007-1126-1"
PMID = "17530380"  # the seed work's PMID, as issue 13 gives it (in the stand-in's PubMed)
PMCID = "PMC7000001"  # made up for this test: the ID converter maps it to a DOI below
PMC_DOI = "10.5555/pmc-only.2020.1"
ARXIV = "2101.00001"

BIB = f"""
@article{{murakami2007,
  title = {{Effect of periarticular and intraarticular lidocaine injections for sacroiliac
           joint pain: prospective comparative study}},
  author = {{Murakami, E. and Tanaka, Y.}},
  journal = {{J Orthop Sci}}, year = {{2007}}, volume = {{12}}, pages = {{274--280}},
  pmid = {{{PMID}}}
}}
@misc{{watanabe2021,
  title = {{Periarticular injection targets for the sacroiliac joint: an anatomical study}},
  author = {{Watanabe, Kenji and Fernandes, Maria}}, year = {{2021}},
  eprint = {{{ARXIV}v2}}, archivePrefix = {{arXiv}}
}}
@article{{pmconly,
  title = {{A study only PubMed Central knows by its PMCID}}, author = {{Okafor, A.}},
  journal = {{Test Journal}}, year = {{2020}}, pmcid = {{{PMCID}}}
}}
@article{{nothing,
  title = {{An entry with neither a DOI nor any other identifier}}, author = {{Nobody, A.}},
  year = {{1999}}
}}
"""


@pytest.fixture(scope="module")
def server():
    registry = Registry(pubmed=[{"pmcid": PMCID, "pmid": "7000001", "doi": PMC_DOI, "in_pmc": True}])
    with StandIn([SAMPLE], registry=registry) as s:
        yield s


@pytest.fixture
def bib(tmp_path):
    path = tmp_path / "library.bib"
    path.write_text(BIB, encoding="utf-8")
    return path


def registries(server) -> Registries:
    kw = {"backoff": 0.01, "timeout": 5}
    return Registries(crossref=CrossrefClient(base_url=server.url, **kw),
                      ncbi=NcbiClient(server.urls["ncbi_url"], idconv_url=server.urls["idconv_url"],
                                      email="editor@example.org", **kw),
                      arxiv=ArxivClient(server.urls["arxiv_url"], **kw))


def test_each_identifier_names_its_doi_and_unknown_ones_name_none(server):
    got = dois_for_identifiers(registries(server), [
        {"pmid": PMID}, {"x-pmcid": PMCID}, {"arxiv": f"arXiv:{ARXIV}v2"}, {"pmid": "99999999"},
        {"arxiv": "2101.99999"}, {}, {"pmid": PMID, "arxiv": ARXIV},
    ])
    assert got == [MURAKAMI, PMC_DOI, f"10.48550/arxiv.{ARXIV}", None, None, None, MURAKAMI]


def test_the_registries_are_asked_in_batches_not_per_entry(server):
    server.reset()
    dois_for_identifiers(registries(server), [{"pmid": PMID}, {"pmcid": PMCID}, {"pmid": "99999999"},
                                              {"arxiv": ARXIV}, {"arxiv": "hep-th/9901001"}])
    paths = [t.split("?")[0] for t, _ in server.history]
    assert paths.count("/idconv/") == 1  # PMIDs and PMCIDs together
    assert paths.count("/ncbi/entrez/eutils/esummary.fcgi") == 1  # the PMIDs the converter lacked
    assert paths.count("/arxiv/query") == 1


def test_without_the_registries_nothing_is_named(server):
    reg = Registries(crossref=CrossrefClient(base_url=server.url))
    assert dois_for_identifiers(reg, [{"pmid": PMID}, {"arxiv": ARXIV}]) == [None, None]


def test_an_online_import_stores_entries_under_the_doi_their_identifier_names(server, bib, tmp_path):
    store = Store(tmp_path / "refs.db")
    settings = Settings(db=str(tmp_path / "refs.db"), mailto="editor@example.org", **server.urls)
    entries, _ = read_bibliography(bib, "bibtex")
    results = {r.entry.key: r for r in import_entries(store, entries, settings.resolver(store))}
    assert results["murakami2007"].doi == MURAKAMI
    assert results["watanabe2021"].doi == f"10.48550/arxiv.{ARXIV}"
    assert results["pmconly"].doi == PMC_DOI
    assert results["nothing"].doi is None  # left to the resolver, which found nothing
    assert results["pmconly"].status == "added" and store.get_work(PMC_DOI) is not None
    # The identifier the file gave is kept with the work.
    assert identifiers.identifiers_of(store, MURAKAMI).get("pmid") == [PMID]
    assert identifiers.identifiers_of(store, f"10.48550/arxiv.{ARXIV}").get("arxiv") == [ARXIV]
    store.close()


def test_an_offline_import_leaves_identified_entries_to_the_resolver(server, bib, tmp_path):
    store = Store(tmp_path / "refs.db")
    settings = Settings(db=str(tmp_path / "refs.db"), **server.urls)
    server.reset()
    entries, _ = read_bibliography(bib, "bibtex")
    results = {r.entry.key: r for r in import_entries(store, entries,
                                                      settings.resolver(store, offline=True))}
    assert results["pmconly"].doi is None and results["watanabe2021"].doi is None
    assert not server.history  # offline: no registry asked
    store.close()
