"""Exports and the reply carry every identifier a work has: PMID, PMCID, arXiv ID (issue 13)."""

from __future__ import annotations

import io
import json

import pytest

from refkeeper import _identifiers as identifiers
from refkeeper import workflow
from refkeeper._store import Store
from refkeeper.bibimport import import_entries, read_bibliography
from refkeeper.export import export_store

MURAKAMI = "10.1007/s00776-007-1126-1"  # the seed work; PMID as issue 13 gives it


@pytest.fixture
def store(sample_store):
    identifiers.record(sample_store, MURAKAMI, {"pmid": "17530380", "pmcid": "PMC1234567"})
    return sample_store


def exported(store, fmt: str, dois=(MURAKAMI,), **kw) -> str:
    buf = io.StringIO()
    export_store(store, buf, fmt, list(dois) if dois is not None else None, **kw)
    return buf.getvalue()


def test_bibtex_writes_pmid_and_pmcid_as_biblatex_and_jabref_do(store):
    bib = exported(store, "bibtex")
    assert 'pmid = "17530380"' in bib
    assert 'pmcid = "PMC1234567"' in bib


def test_bibtex_writes_an_arxiv_id_as_eprint_with_its_archive_prefix(store):
    identifiers.record(store, MURAKAMI, {"arxiv": "arXiv:2101.00001v2"})
    bib = exported(store, "bibtex")
    assert 'eprint = "2101.00001"' in bib
    assert 'archivePrefix = "arXiv"' in bib


def test_csl_json_carries_pmid_and_pmcid(store):
    [item] = json.loads(exported(store, "csl-json"))
    assert item["PMID"] == "17530380"
    assert item["PMCID"] == "PMC1234567"
    assert item["DOI"] == MURAKAMI


def test_ris_carries_the_pmid_as_accession_number_and_the_pmcid_in_c2(store):
    lines = exported(store, "ris").splitlines()
    assert "AN  - 17530380" in lines
    assert "C2  - PMC1234567" in lines
    assert lines[-1].startswith("ER  -")


def test_vancouver_ends_with_the_pmid_as_nlm_does_and_apa_shows_none(store):
    text = exported(store, "text")
    assert text.rstrip().endswith(f"doi:{MURAKAMI}. PMID: 17530380; PMCID: PMC1234567.")
    assert "PMID" not in exported(store, "text", style="apa")


def test_markdown_links_the_pmid_to_pubmed(store):
    md = exported(store, "markdown")
    assert "(https://pubmed.ncbi.nlm.nih.gov/17530380/)" in md


def test_works_without_identifiers_export_as_before(store):
    other = next(w.doi for w in store.works() if w.doi != MURAKAMI)
    assert "pmid" not in exported(store, "bibtex", dois=[other])
    assert "PMID" not in exported(store, "csl-json", dois=[other])


def test_the_whole_store_exports_identifiers_read_in_bulk(store, monkeypatch):
    # One read of the identifiers for the whole export, never one per work.
    calls = []
    real = identifiers.identifiers_by_doi

    def counting(*a, **kw):
        calls.append(a)
        return real(*a, **kw)

    monkeypatch.setattr("refkeeper.export.identifiers_by_doi", counting)
    bib = exported(store, "bibtex", dois=None)
    assert bib.count("pmid = ") == 1
    assert len(calls) == 1


def test_the_reply_lists_the_pubmed_link_of_a_work_with_a_pmid(store):
    art = workflow.add_article(store, "Treatment of the sacroiliac joint", slug="sij")
    req = workflow.add_request(store, article=art.slug, reader="Jerry Hesch",
                               text="What backs the injection claim?")
    workflow.answer_request(store, req.id, [MURAKAMI])
    text = workflow.reply(store, req.id)
    assert "PubMed: https://pubmed.ncbi.nlm.nih.gov/17530380/" in text
    assert "PubMed Central: https://pmc.ncbi.nlm.nih.gov/articles/PMC1234567/" in text
    md = workflow.reply(store, req.id, fmt="markdown")
    assert "[PubMed](<https://pubmed.ncbi.nlm.nih.gov/17530380/>)" in md



@pytest.mark.parametrize("fmt,suffix", [("bibtex", "bib"), ("csl-json", "json"), ("ris", "ris")])
def test_identifiers_exported_are_read_back_by_the_importer(store, tmp_path, fmt, suffix):
    identifiers.record(store, MURAKAMI, {"arxiv": "2101.00001"})
    path = tmp_path / f"refs.{suffix}"
    path.write_text(exported(store, fmt), encoding="utf-8")
    fresh = Store(tmp_path / "fresh.db")
    entries, _ = read_bibliography(path)
    assert [r.status for r in import_entries(fresh, entries)] == ["added"]
    got = identifiers.identifiers_of(fresh, MURAKAMI)
    assert {k: got.get(k) for k in ("pmid", "pmcid", "arxiv")} == {
        "pmid": ["17530380"], "pmcid": ["1234567"], "arxiv": ["2101.00001"]}
    fresh.close()


def test_an_accession_number_of_another_database_is_not_taken_for_a_pmid(tmp_path):
    path = tmp_path / "wos.ris"
    path.write_text("TY  - JOUR\nTI  - A paper\nDO  - 10.1000/xyz\nDB  - Web of Science\n"
                    "AN  - 000245123400012\nER  - \n", encoding="utf-8")
    [entry], _ = read_bibliography(path)
    assert not any(k in entry.record for k in ("x-pmid", "x-pmcid", "x-arxiv"))
