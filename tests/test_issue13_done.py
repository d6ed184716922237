"""Issue 13's "done when", end to end through the command line over real HTTP to the
stand-in: a .bib holding Crossref, DataCite and mEDRA DOIs, PMIDs and arXiv IDs imports to
one work per real work, exports with every identifier (read back by independent parsers),
`verify` on it reports no false dead DOI, and a reader's PubMed-style citation resolves
through its PMID."""

from __future__ import annotations

import json

import bibtexparser
import pytest
from click.testing import CliRunner
from conftest import SAMPLE
from standin import Registry, StandIn

from refkeeper.cli import cli

MURAKAMI = "10.1007/s00776-007-1126-1"  # Crossref; its PMID (in the stand-in's PubMed) 17530380
ZENODO = "10.5281/zenodo.4468102"       # DataCite (the stand-in's fixtures)
MEDRA = "10.3280/pds2019-002004"        # mEDRA
ARXIV = "2101.00001"                    # its DataCite DOI 10.48550/arxiv.2101.00001
# A PubMed record written for this test: indexed without a DOI, not in PMC.
OLD_PMID = "5432109"
OLD = {"pmid": OLD_PMID, "in_pmc": False, "summary": {
    "title": "Sacroiliac strain treated by manipulation: a follow-up.",
    "authors": ["Hartley AB", "Morrow CD"], "source": "Lancet",
    "fulljournalname": "Lancet (London, England)", "pubdate": "1966 Jan 8",
    "volume": "1", "issue": "7428", "pages": "61-3", "pubtype": ["Journal Article"]}}

# The same Murakami paper twice (once by DOI, once only by its PMID in another style), a
# dataset and an article of two other agencies, an arXiv preprint, a PubMed-only article.
LIBRARY = f"""
@article{{murakami2007,
  title = {{Effect of periarticular and intraarticular lidocaine injections for sacroiliac
           joint pain: prospective comparative study}},
  author = {{Murakami, Eiichi and Tanaka, Yasuhiro}}, journal = {{J Orthop Sci}},
  year = {{2007}}, volume = {{12}}, pages = {{274--280}}, doi = {{https://doi.org/{MURAKAMI}}}
}}
@article{{murakami-pubmed,
  title = {{Effect of periarticular and intraarticular lidocaine injections for sacroiliac joint
           pain: prospective comparative study}},
  author = {{Murakami, E and Tanaka, Y}}, journal = {{J Orthop Sci}}, year = {{2007}},
  pmid = {{17530380}}
}}
@misc{{zenodo-dataset, title = {{Sacroiliac joint injection outcomes}}, year = {{2021}}, doi = {{{ZENODO}}}}}
@article{{medra-review, title = {{Il dolore sacroiliaco nella pratica clinica}}, year = {{2019}},
  doi = {{10.3280/PDS2019-002004}}}}
@misc{{watanabe-preprint,
  title = {{Periarticular injection targets for the sacroiliac joint: an anatomical study}},
  author = {{Watanabe, Kenji}}, year = {{2021}}, eprint = {{arXiv:{ARXIV}v2}}, archivePrefix = {{arXiv}}
}}
@article{{hartley1966, title = {{Sacroiliac strain treated by manipulation: a follow-up}},
  author = {{Hartley, A. B. and Morrow, C. D.}}, journal = {{Lancet}}, year = {{1966}},
  pmid = {{{OLD_PMID}}}
}}
"""


@pytest.fixture(scope="module")
def server():
    with StandIn([SAMPLE], registry=Registry(pubmed=[OLD])) as s:
        yield s


@pytest.fixture
def env(server) -> dict:
    return {**server.environ, "REFKEEPER_MAILTO": "editor@example.org"}


def run(env, db, *args, input=None):
    return CliRunner().invoke(cli, ["--db", str(db), *args], env=env, input=input, catch_exceptions=False)


@pytest.fixture
def imported(tmp_path, env):
    lib = tmp_path / "library.bib"
    lib.write_text(LIBRARY, encoding="utf-8")
    db = tmp_path / "refs.db"
    result = run(env, db, "import", "--json", str(lib))
    assert result.exit_code in (0, 1), result.output
    return db, [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_the_library_imports_to_one_work_per_real_work(imported, env):
    db, rows = imported
    by_key = {r["key"]: r for r in rows}
    assert by_key["murakami2007"]["doi"] == by_key["murakami-pubmed"]["doi"] == MURAKAMI
    assert by_key["zenodo-dataset"]["doi"] == ZENODO
    assert by_key["medra-review"]["doi"] == MEDRA
    assert by_key["watanabe-preprint"]["doi"] == f"10.48550/arxiv.{ARXIV}"
    assert by_key["hartley1966"]["doi"] is None
    # Five real works: the two Murakami entries are one work.
    csl = json.loads(run(env, db, "export", "--format", "csl-json").output)
    assert len(csl) == 5
    assert sorted(str(item.get("DOI", "")).lower() for item in csl) == sorted(
        ["", MURAKAMI, ZENODO, MEDRA, f"10.48550/arxiv.{ARXIV}"])


def test_the_exports_carry_every_identifier(imported, env):
    db, _ = imported
    library = bibtexparser.parse_string(run(env, db, "export", "--format", "bibtex").output)
    assert not library.failed_blocks and len(library.entries) == 5
    fields = [{k: f.value for k, f in e.fields_dict.items()} for e in library.entries]
    entries = {e.get("doi", "").lower() or e.get("pmid"): e for e in fields}
    assert entries[MURAKAMI]["pmid"] == "17530380"
    assert entries[f"10.48550/arxiv.{ARXIV}"]["eprint"].startswith(ARXIV)
    assert entries[OLD_PMID]["pmid"] == OLD_PMID and "doi" not in entries[OLD_PMID]
    csl = {str(i.get("DOI", "")).lower() or i.get("PMID"): i
           for i in json.loads(run(env, db, "export", "--format", "csl-json").output)}
    assert csl[MURAKAMI]["PMID"] == "17530380" and csl[OLD_PMID]["PMID"] == OLD_PMID
    ris = run(env, db, "export", "--format", "ris").output
    dois = {line[6:].strip().lower() for line in ris.splitlines() if line.startswith("DO  - ")}
    assert {MURAKAMI, ZENODO, MEDRA, f"10.48550/arxiv.{ARXIV}"} == dois
    assert ris.count("ER  -") == 5


def test_verify_reports_no_false_dead_doi(imported, env):
    db, _ = imported
    result = run(env, db, "verify", "--all", "--json")
    report = json.loads(result.output)
    dead = [f for f in report.get("findings", []) if "not-found" in (f.get("kinds") or [f.get("kind")])]
    assert dead == [], dead
    # Every work was checked; none is a problem (a record the file wrote differently from
    # Crossref's is "changed", which is a finding of its own, not a dead DOI).
    assert report["counts"]["checked"] == 5
    assert (report["counts"]["problems"], report["counts"]["errors"]) == (0, 0), result.output


def test_a_readers_pubmed_style_citation_resolves_through_its_pmid(tmp_path, env):
    citation = ("Murakami E, Tanaka Y, Aizawa T, Ishizuka M, Kokubun S. Effect of periarticular and "
                "intraarticular lidocaine injections for sacroiliac joint pain. J Orthop Sci. "
                "2007;12(3):274-80. PMID: 17530380.")
    result = run(env, tmp_path / "refs.db", "resolve", "--json", "-", input=citation + "\n")
    line = json.loads(result.output.splitlines()[0])
    assert (line["status"], line["doi"]) == ("matched", MURAKAMI)
