"""A preprint and its version of record, both ways (issue 13): ``verify`` reports a stored
preprint's published version when a version of record names it (``relation``
``has-preprint``), asked of Crossref with its documented dot filters in one request per
batch. Over real HTTP against the stand-in serving the dev index, which holds a real pair:
the bioRxiv preprint 10.1101/014852, whose own record names no published version, and the
Ecology and Evolution article 10.1002/ece3.2314, whose record lists it under
``has-preprint``."""

from __future__ import annotations

import gzip
import json
from urllib.parse import quote_plus

import pytest
import requests
from conftest import SHARED_DATA

from refkeeper._crossref import CrossrefClient
from refkeeper._registries import relation_chunks, versions_of_record
from refkeeper._store import Store
from refkeeper.verify import verify

# citeproc-py (CSL 1.0.1) warns about the 1.0.2 variable citation-key that exports write.
pytestmark = pytest.mark.filterwarnings("ignore:The following arguments for Reference are unsupported")

PREPRINT = "10.1101/014852"
VERSION_OF_RECORD = "10.1002/ece3.2314"


def shared_records(*dois: str) -> list[dict]:
    wanted = set(dois)
    out = []
    with gzip.open(SHARED_DATA / "crossref-works.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec["DOI"].lower() in wanted:
                out.append(rec)
    return out


@pytest.fixture(scope="module")
def pair(dev_index_files) -> dict[str, dict]:
    recs = {r["DOI"].lower(): r for r in shared_records(PREPRINT, VERSION_OF_RECORD)}
    if set(recs) != {PREPRINT, VERSION_OF_RECORD}:
        pytest.skip("the preprint pair is not in the shared data")
    return recs


@pytest.fixture
def client(standin_clean):
    return CrossrefClient(base_url=standin_clean.url, mailto="editor@example.org",
                          backoff=0.01, timeout=10)


def test_the_pair_in_the_shared_data_names_the_preprint_only_from_the_version_of_record(pair):
    assert "is-preprint-of" not in (pair[PREPRINT].get("relation") or {})
    assert pair[PREPRINT]["type"] == "posted-content"
    named = [r["id"].lower() for r in pair[VERSION_OF_RECORD]["relation"]["has-preprint"]]
    assert PREPRINT in named


def test_the_stand_in_answers_crossrefs_relation_dot_filters(standin_clean, pair):
    url = standin_clean.url + "/works"
    both = requests.get(url, params={"filter": f"relation.type:has-preprint,relation.object:{PREPRINT}"},
                        timeout=10).json()["message"]
    assert [i["DOI"].lower() for i in both["items"]] == [VERSION_OF_RECORD]
    # The dot filters describe one relation: the pair's relation is not "cites".
    none = requests.get(url, params={"filter": f"relation.type:cites,relation.object:{PREPRINT}"},
                        timeout=10).json()["message"]
    assert none["items"] == []
    # A repeated filter is any of its values.
    any_of = requests.get(url, params={"filter": "relation.type:has-preprint,relation.object:10.9999/none,"
                                                 f"relation.object:{PREPRINT.upper()}"}, timeout=10)
    assert [i["DOI"].lower() for i in any_of.json()["message"]["items"]] == [VERSION_OF_RECORD]


def test_versions_of_record_finds_the_work_that_names_a_preprint(client, pair):
    found = versions_of_record(client, [PREPRINT, "10.1101/000000"])
    assert found == {PREPRINT: [VERSION_OF_RECORD]}


def test_relation_chunks_keep_each_request_under_crossrefs_request_line(client):
    dois = [f"10.1101/2020.06.{i:02d}.{100000 + i}" for i in range(300)]
    chunks = relation_chunks(dois)
    assert [d for c in chunks for d in c] == dois and len(chunks) > 1
    for chunk in chunks:
        target = "/works?filter=" + quote_plus(",".join(
            ["relation.type:has-preprint", *(f"relation.object:{d}" for d in chunk)]))
        assert len(target) < 4000


@pytest.fixture
def store(tmp_path, pair):
    s = Store(tmp_path / "refs.db")
    s.add_records([pair[PREPRINT]], "crossref")
    yield s
    s.close()


def test_verify_reports_a_preprint_whose_version_of_record_names_it(standin_clean, client, store):
    report = verify(store, client, all=True)
    [f] = [f for f in report.findings if f.doi == PREPRINT]
    assert f.kinds == ["published-version"]
    [notice] = f.notices
    assert notice["doi"] == VERSION_OF_RECORD
    assert notice["type"] == "has-preprint" and notice["sources"] == ["relation"]
    asked = [t for t, _ in standin_clean.history if "relation.object" in t]
    assert len(asked) == 1


def test_a_batch_without_preprints_costs_no_relation_request(standin_clean, client, tmp_path, pair):
    s = Store(tmp_path / "other.db")
    s.add_records([pair[VERSION_OF_RECORD]], "crossref")
    verify(s, client, all=True)
    s.close()
    assert not [t for t, _ in standin_clean.history if "relation.type" in t]


def test_a_preprint_that_names_its_version_itself_is_not_asked_again(standin_clean, client, store, pair):
    rec = dict(pair[PREPRINT], relation={"is-preprint-of": [
        {"id-type": "doi", "id": VERSION_OF_RECORD, "asserted-by": "subject"}]})
    standin_clean.revise(PREPRINT, rec)
    report = verify(store, client, all=True)
    [f] = [f for f in report.findings if f.doi == PREPRINT]
    assert [n["type"] for n in f.notices] == ["is-preprint-of"]
    assert not [t for t, _ in standin_clean.history if "relation.object" in t]


# --- exports that prefer the version of record -----------------------------------------------

def bibtex_entries(text: str) -> dict:
    """The entries as bibtexparser (not the exporter's pybtex) reads them."""
    bibtexparser = pytest.importorskip("bibtexparser")
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    return {e.key: {k.lower(): f.value for k, f in e.fields_dict.items()} for e in library.entries}


def export(store, fmt="bibtex", dois=None, **kw) -> str:
    from io import StringIO

    from refkeeper.export import export_store

    buf = StringIO()
    export_store(store, buf, fmt, dois, **kw)
    return buf.getvalue()


def csl_items(text: str) -> list[dict]:
    """CSL-JSON as citeproc-py reads it (an independent reader of the format)."""
    items = json.loads(text)
    citeproc = pytest.importorskip("citeproc.source.json")
    source = citeproc.CiteProcJSON(items)
    assert len(source) == len(items)
    return items


@pytest.fixture
def verified(standin_clean, client, store):
    """The preprint stored and verified: verify found the version of record naming it."""
    verify(store, client, all=True)
    return store


def registries_for(server):
    from refkeeper._registries import Registries

    return Registries(crossref=CrossrefClient(base_url=server.url, backoff=0.01, timeout=10))


def test_online_the_version_of_record_is_fetched_stored_and_written_instead(standin_clean, verified):
    assert verified.get_work(VERSION_OF_RECORD) is None
    text = export(verified, prefer_published=True, registries=registries_for(standin_clean))
    [entry] = bibtex_entries(text).values()
    assert entry["doi"].lower() == VERSION_OF_RECORD
    assert f"preprint https://doi.org/{PREPRINT}" in entry["note"]
    assert verified.get_work(VERSION_OF_RECORD) is not None  # stored for next time
    [item] = csl_items(export(verified, "csl-json", prefer_published=True))
    assert item["DOI"].lower() == VERSION_OF_RECORD and PREPRINT in item["note"]


def test_offline_the_preprint_is_written_with_a_note_that_its_version_is_not_available(verified):
    [entry] = bibtex_entries(export(verified, prefer_published=True)).values()
    assert entry["doi"].lower() == PREPRINT
    assert f"published as https://doi.org/{VERSION_OF_RECORD} (not available here)" in entry["note"]
    [item] = csl_items(export(verified, "csl-json", [PREPRINT], prefer_published=True))
    assert item["DOI"].lower() == PREPRINT and "not available here" in item["note"]


def test_a_preprint_and_its_stored_version_of_record_are_one_entry(verified, pair):
    verified.add_records([pair[VERSION_OF_RECORD]], "crossref")
    for dois in (None, [PREPRINT, VERSION_OF_RECORD], [VERSION_OF_RECORD, PREPRINT]):
        entries = bibtex_entries(export(verified, dois=dois, prefer_published=True))
        assert [e["doi"].lower() for e in entries.values()] == [VERSION_OF_RECORD]
    # Without the option nothing changes: both works, as stored.
    plain = bibtex_entries(export(verified))
    assert sorted(e["doi"].lower() for e in plain.values()) == sorted([PREPRINT, VERSION_OF_RECORD])


def test_a_preprint_whose_own_record_names_its_version_is_replaced_without_a_verify_run(
        tmp_path, pair):
    s = Store(tmp_path / "named.db")
    s.add_records([dict(pair[PREPRINT], relation={"is-preprint-of": [
        {"id-type": "doi", "id": VERSION_OF_RECORD.upper(), "asserted-by": "subject"}]}),
        pair[VERSION_OF_RECORD]], "crossref")
    [item] = csl_items(export(s, "csl-json", [PREPRINT], prefer_published=True))
    assert item["DOI"].lower() == VERSION_OF_RECORD
    s.close()


def test_export_prefer_published_on_the_command_line(standin_clean, verified, tmp_path):
    from click.testing import CliRunner

    from refkeeper.cli import cli

    verified.close()
    env = {**standin_clean.environ, "REFKEEPER_DB": str(tmp_path / "refs.db")}
    offline = CliRunner().invoke(cli, ["export", "--prefer-published", "--offline"], env=env)
    assert offline.exit_code == 0, offline.output
    assert PREPRINT in offline.stdout.lower() and "not available here" in offline.stdout
    online = CliRunner().invoke(cli, ["export", "--prefer-published", "--format", "csl-json"], env=env)
    assert online.exit_code == 0, online.output
    [item] = csl_items(online.stdout)
    assert item["DOI"].lower() == VERSION_OF_RECORD
    misuse = CliRunner().invoke(cli, ["export", "--offline"], env=env)
    assert misuse.exit_code == 2
