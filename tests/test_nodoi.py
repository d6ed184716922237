"""Works without a DOI are first-class (issue 12 "Entries without a DOI are dropped"): a
book, a thesis, a report and an old article import, export, verify, link and show like any
other work, under an internal key that is never taken for a DOI."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SAMPLE
from deskclient import token
from standin import StandIn

from refkeeper import Store, is_internal_key, workflow
from refkeeper._crossref import CrossrefClient
from refkeeper._registries import DoiClient, NcbiClient
from refkeeper.bibimport import import_entries, parse_bibliography, read_bibliography
from refkeeper.cli import cli
from refkeeper.export import export_store
from refkeeper.verify import verify

LIBRARY = Path(__file__).parent / "fixtures" / "nodoi" / "library.bib"
KEYS = ["knuth1984", "thiebaux1998", "who2003", "snow1855"]
WHO_URL = "https://apps.who.int/iris/handle/10665/42682"
MURAKAMI = "10.1007/s00776-007-1126-1"


def _run(args, db, **kw):
    return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False, **kw)


def _imported(tmp_path) -> Path:
    db = tmp_path / "refs.db"
    result = _run(["import", "--offline", "--json", str(LIBRARY)], db)
    assert result.exit_code == 0, result.output
    return db


def _rows(output: str) -> dict[str, dict]:
    return {r["key"]: r for r in map(json.loads, output.splitlines())}


def test_a_book_a_thesis_a_report_and_an_old_article_without_dois_are_all_stored(tmp_path):
    db = tmp_path / "refs.db"
    result = _run(["import", "--offline", str(LIBRARY)], db)
    assert result.exit_code == 0, result.output  # a work stored without a DOI is no finding
    assert "4 entries from" in result.stderr and "4 added-without-doi" in result.stderr
    assert "not stored" not in result.stderr
    store = Store(db)
    works = list(store.works())
    assert len(works) == 4
    assert all(w.doi is None and is_internal_key(w.key) and w.key.startswith("rk:") for w in works)
    by_key = {store.get_key(w.key): w for w in works}
    assert sorted(by_key) == sorted(KEYS)  # the file's keys are pinned
    assert by_key["knuth1984"].record["ISBN"] == ["0-201-13447-0"]
    assert by_key["knuth1984"].publisher == "Addison-Wesley" and by_key["knuth1984"].type == "book"
    assert by_key["thiebaux1998"].authors == ["Thiébaux, Sylvie"]
    assert by_key["who2003"].record["URL"] == WHO_URL
    assert by_key["snow1855"].container == "Edinburgh Medical Journal"
    store.close()


def test_importing_the_same_file_again_changes_nothing(tmp_path):
    db = _imported(tmp_path)
    store = Store(db)
    before = store.db.execute("SELECT doi, bibtex_key, updated_at FROM works ORDER BY doi").fetchall()
    store.close()
    again = _run(["import", "--offline", "--json", str(LIBRARY)], db)
    assert again.exit_code == 0
    rows = _rows(again.stdout)
    assert {r["status"] for r in rows.values()} == {"unchanged"}
    assert all(r["doi"] is None and r["work"].startswith("rk:") for r in rows.values())
    store = Store(db)
    assert store.db.execute("SELECT doi, bibtex_key, updated_at FROM works ORDER BY doi").fetchall() == before
    store.close()


def test_the_same_entry_written_by_another_file_finds_the_same_work(tmp_path):
    db = _imported(tmp_path)
    other = tmp_path / "other.ris"
    # Snow's article as another tool writes it: other key, other spelling of the title.
    other.write_text("TY  - JOUR\nID  - Snow1856\nAU  - Snow, J.\n"
                     "TI  - On the Mode of Communication of Cholera.\n"
                     "T2  - Edinburgh medical journal\nPY  - 1856\nER  - \n", encoding="utf-8")
    result = _run(["import", "--offline", "--json", str(other)], db)
    [row] = _rows(result.stdout).values()
    first = _rows(_run(["import", "--offline", "--json", str(LIBRARY)], db).stdout)["snow1855"]
    assert row["work"] == first["work"]
    # the same work, whose key the first file pinned: a different key is a difference to show
    assert row["status"] == "differs" and ["key", "snow1855", "Snow1856"] in [
        [d["field"], d["stored"], d["file"]] for d in row["diff"]]


@pytest.mark.parametrize("fmt", ["bibtex", "csl-json", "ris"])
def test_every_export_carries_them_without_a_doi_and_reads_back_as_the_same_works(tmp_path, fmt):
    db = _imported(tmp_path)
    store = Store(db)
    buf = io.StringIO()
    export_store(store, buf, fmt)
    text = buf.getvalue()
    assert "doi.org" not in text and "rk:" not in text
    assert not re.search(r"(?im)^\s*(doi\s*=|DO  -)|\"DOI\"", text)
    assert WHO_URL in text  # the link it was imported with
    entries, problems = parse_bibliography(text, fmt)
    assert problems == [] and [e.key for e in entries] == KEYS
    results = list(import_entries(store, entries))
    assert [r.status for r in results] == ["unchanged"] * 4, [(r.entry.key, r.diff) for r in results]
    assert store.count_works() == 4
    store.close()


def test_bibtexparser_reads_the_bibtex_export_as_four_entries_without_a_doi(tmp_path):
    bibtexparser = pytest.importorskip("bibtexparser")
    db = _imported(tmp_path)
    text = _run(["export"], db).stdout
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks
    entries = {e.key: e for e in library.entries}
    assert sorted(entries) == sorted(KEYS)
    assert {e.entry_type for e in entries.values()} == {"book", "phdthesis", "techreport", "article"}
    assert not any("doi" in e.fields_dict for e in entries.values())
    assert entries["knuth1984"].fields_dict["isbn"].value == "0-201-13447-0"
    assert entries["who2003"].fields_dict["url"].value == WHO_URL
    assert "url" not in entries["snow1855"].fields_dict


def test_a_work_key_given_to_export_and_show_names_the_work(tmp_path):
    db = _imported(tmp_path)
    key = _rows(_run(["import", "--offline", "--json", str(LIBRARY)], db).stdout)["knuth1984"]["work"]
    shown = _run(["show", key], db)
    assert shown.exit_code == 0
    assert f"no DOI (stored as {key})" in shown.stdout and "0-201-13447-0" in shown.stdout
    assert _run(["export", key], db).stdout.startswith("@book{knuth1984,")
    assert _run(["show", "rk:0000000000000000"], db).exit_code != 0


@pytest.fixture
def registries():
    with StandIn([SAMPLE]) as server:
        yield server


def test_verify_calls_none_of_them_dead_and_asks_no_registry_about_them(tmp_path, registries):
    db = _imported(tmp_path)
    store = Store(db)
    store.import_snapshot(SAMPLE)  # works with DOIs beside them
    registries.reset()
    kw = {"backoff": 0.01, "timeout": 5}
    report = verify(store, all=True,
                    client=CrossrefClient(base_url=registries.url, mailto="e@example.org", **kw),
                    handles=DoiClient(registries.urls["doi_url"], **kw),
                    ncbi=NcbiClient(registries.urls["ncbi_url"], idconv_url=registries.urls["idconv_url"],
                                    email="e@example.org", **kw))
    assert report.status == "finished" and report.without_doi == 4
    no_doi = {w.key for w in store.works() if w.doi is None}
    assert not [f for f in report.findings if f.doi in no_doi]
    assert not any("rk%3A" in t or "rk:" in t for t, _ in registries.history)
    assert all(store.recorded_problems(k) == [] for k in no_doi)  # checked, and fine
    store.close()
    out = _run(["verify", "--all"], db, env={**registries.environ})
    assert "4 without a DOI: no DOI to check" in out.stdout


def test_a_claim_links_to_a_work_without_a_doi_from_the_command_line(tmp_path):
    db = _imported(tmp_path)
    store = Store(db)
    art = workflow.add_article(store, "Cholera and water", slug="cholera")
    claim = workflow.add_claim(store, art.id, "Cholera spreads through water.")
    snow = next(w for w in store.works() if w.title.startswith("On the mode"))
    store.close()
    result = _run(["link", str(claim.id), snow.key, "--stance", "supports"], db)
    assert result.exit_code == 0, result.output
    assert snow.key in result.stdout
    shown = _run(["claim", "show", str(claim.id)], db).stdout
    assert snow.key in shown and "no DOI" in shown
    store = Store(db)
    [lk] = workflow.links(store, claim.id)
    assert lk.doi == snow.key and lk.stance == "supports"
    assert [h.action for h in workflow.history(store, doi=snow.key)] == ["link.add"]
    assert _run(["history", "--doi", snow.key], db).exit_code == 0
    # the claim's export carries the work, without a DOI
    bib = _run(["export", "--claim", str(claim.id)], db).stdout
    assert bib.startswith("@article{snow1855,") and "doi" not in bib
    store.close()


def test_the_desk_shows_a_work_without_a_doi_and_links_a_claim_to_it(client, db):
    store = Store(db)
    entries, _ = read_bibliography(LIBRARY)
    [result] = import_entries(store, entries[:1])  # the book
    store.close()
    key = result.work
    page = client.get(f"/works/{key}")
    assert page.status_code == 200
    assert "The TeXbook" in page.text and "no DOI" in page.text and "0-201-13447-0" in page.text
    assert "doi.org/rk" not in page.text
    works = client.get("/works", params={"q": "TeXbook Knuth"}).text
    assert f'href="/works/{key}"' in works.replace("%3A", ":") and "no DOI" in works
    form = {"doi": key, "stance": "supports", "csrf_token": token(client)}
    posted = client.post("/claims/1/links", data=form, follow_redirects=True)
    assert posted.status_code == 200 and "The TeXbook" in posted.text
    assert f"Linked {key}" in posted.text


# --- PubMed-only works --------------------------------------------------------------------

# A PubMed record written for these tests: an article of 1965 that PubMed lists without a
# DOI and that is not in PMC (so the ID converter knows nothing of it).
OLD_PMID = "5432101"
OLD_ARTICLE = {"pmid": OLD_PMID, "in_pmc": False, "summary": {
    "title": "Manipulation in the treatment of sacroiliac strain.",
    "authors": ["Hartley AB", "Morrow CD"], "source": "Lancet",
    "fulljournalname": "Lancet (London, England)", "pubdate": "1965 Mar 6",
    "volume": "1", "issue": "7384", "pages": "501-3", "pubtype": ["Journal Article"]}}
OLD_CITATION = ("Hartley AB, Morrow CD. Manipulation in the treatment of sacroiliac strain. "
                "Lancet. 1965 Mar 6;1(7384):501-3. PMID: 5432101.")


def _env(server) -> dict:
    return {**server.environ, "REFKEEPER_MAILTO": "editor@example.org"}  # NCBI asks for an email


@pytest.fixture
def pubmed():
    from standin import Registry

    with StandIn([SAMPLE], registry=Registry(pubmed=[OLD_ARTICLE])) as server:
        yield server


def test_a_pmid_citation_whose_id_converter_answer_has_no_doi_gives_a_pmid_work(tmp_path, pubmed):
    from refkeeper import Settings

    db = tmp_path / "refs.db"
    store = Store(db)
    settings = Settings(db=str(db), mailto="editor@example.org", **pubmed.urls)
    res = settings.resolver(store).resolve(OLD_CITATION)
    assert (res.status, res.doi, res.key, res.method) == ("matched", None, f"pmid:{OLD_PMID}", "pmid")
    assert res.to_json()["doi"] is None and res.to_json()["work"] == f"pmid:{OLD_PMID}"
    asked = [t for t, _ in pubmed.history]
    assert any(t.startswith("/idconv") for t in asked) and any("esummary" in t for t in asked)
    work = store.get_work(f"pmid:{OLD_PMID}")
    assert work.doi is None and work.title == "Manipulation in the treatment of sacroiliac strain"
    assert work.container == "Lancet (London, England)" and work.pages == "501-503" and work.year == 1965
    # offline, the same citation finds it again, never as a DOI
    from refkeeper import IndexSource, Resolver

    again = Resolver(source=IndexSource(store), store=store, refresh=True).resolve(OLD_CITATION)
    assert (again.status, again.doi, again.key) == ("matched", None, f"pmid:{OLD_PMID}")
    # without its PMID the citation is searched for, and a work without a DOI is no candidate
    plain = Resolver(source=IndexSource(store), store=store, refresh=True).resolve(
        OLD_CITATION.replace(" PMID: 5432101.", ""))
    assert plain.doi is None and plain.status == "unmatched" and "work" not in plain.to_json()
    store.close()


def test_the_resolve_command_keeps_doi_null_for_a_pubmed_only_work(tmp_path, pubmed):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "refs.db"), "resolve", "--json", "-"],
                                input=OLD_CITATION + "\n", env=_env(pubmed))
    [line] = map(json.loads, result.stdout.splitlines())
    assert line["status"] == "matched" and line["doi"] is None and line["work"] == f"pmid:{OLD_PMID}"
    assert [c["doi"] for c in line["candidates"]] == [None]


def test_a_pubmed_only_work_is_checked_against_pubmed_and_shown_with_its_pubmed_link(tmp_path, pubmed):
    db = tmp_path / "refs.db"
    assert _run(["add", f"PMID:{OLD_PMID}"], db, env=_env(pubmed)).exit_code == 0
    shown = _run(["show", f"pmid:{OLD_PMID}"], db).stdout
    assert f"no DOI (stored as pmid:{OLD_PMID})" in shown
    assert f"https://pubmed.ncbi.nlm.nih.gov/{OLD_PMID}/" in shown
    pubmed.reset()
    out = _run(["verify", "--all", "--json"], db, env=_env(pubmed))
    report = json.loads(out.stdout)
    assert out.exit_code == 0 and report["without_doi"] == 1 and report["findings"] == []
    asked = [t for t, _ in pubmed.history]
    assert any("esummary" in t and OLD_PMID in t for t in asked)  # PubMed's retraction marks
    assert not any(t.startswith(("/works", "/doi")) for t in asked)


def test_a_reader_citing_a_pubmed_only_work_gets_its_pubmed_link_not_a_doi(tmp_path, pubmed):
    from refkeeper import Settings

    store = Store(tmp_path / "refs.db")
    resolver = Settings(db=str(store.path), mailto="editor@example.org", **pubmed.urls).resolver(store)
    art = workflow.add_article(store, "Manual therapy for low back pain", slug="manual")
    claim = workflow.add_claim(store, art.id, "Manipulation eases sacroiliac strain.")
    pasted = workflow.add_request_from_comment(
        store, art.id, "Ann Reader", "Where does this come from? I found:\n\n" + OLD_CITATION,
        resolver, claim=claim.id)
    [ref] = pasted.references
    assert ref.doi == f"pmid:{OLD_PMID}" and ref.status == "matched"
    workflow.link(store, claim.id, ref.doi, "supports")
    workflow.answer_request(store, pasted.request.id, [ref.doi])
    text = workflow.reply(store, pasted.request.id)
    assert "Manipulation in the treatment of sacroiliac strain" in text
    assert f"PubMed: https://pubmed.ncbi.nlm.nih.gov/{OLD_PMID}/" in text
    assert "doi" not in text.lower() and "pmid:" not in text
    store.close()


def test_a_database_written_before_works_without_a_doi_takes_them_with_no_migration(tmp_path):
    # The key of a work without a DOI fits the ``works.doi`` column as it is (internal keys
    # never start "10."): a refs.db written before (DOI works, a claim linked to one) opens
    # without a schema change and takes them, its works with a DOI untouched.
    import sqlite_utils

    from refkeeper._store import migrations

    db = tmp_path / "refs.db"
    store = Store(db)
    store.import_snapshot(SAMPLE)
    art = workflow.add_article(store, "Sacroiliac joint pain", slug="sij")
    claim = workflow.add_claim(store, art.id, "Injections help.")
    workflow.link(store, claim.id, MURAKAMI, "supports")
    before = io.StringIO()
    export_store(store, before, "bibtex")
    store.close()
    assert not migrations.pending(sqlite_utils.Database(db))  # nothing for this change to add

    assert _run(["import", "--offline", str(LIBRARY)], db).exit_code == 0
    store = Store(db)
    assert sum(1 for w in store.works() if w.doi is None) == 4
    after = io.StringIO()
    export_store(store, after, "bibtex", [w.key for w in store.works() if w.doi])
    assert after.getvalue() == before.getvalue()  # the works with a DOI are as they were
    [lk] = workflow.links(store, claim.id)
    assert lk.doi == MURAKAMI
    store.close()


def test_a_work_whose_title_an_update_changed_is_found_again_by_its_new_title(tmp_path):
    db = _imported(tmp_path)
    changed = tmp_path / "changed.bib"
    changed.write_text(LIBRARY.read_text(encoding="utf-8").replace(
        "Supply restoration in power distribution systems",
        "Supply restoration in power distribution systems: a planning approach"), encoding="utf-8")
    first = _rows(_run(["import", "--offline", "--json", "--update", str(changed)], db).stdout)
    assert first["thiebaux1998"]["status"] == "updated"
    again = _rows(_run(["import", "--offline", "--json", str(changed)], db).stdout)
    assert again["thiebaux1998"]["status"] == "unchanged"
    assert again["thiebaux1998"]["work"] == first["thiebaux1998"]["work"]
    store = Store(db)
    assert store.count_works() == 4
    store.close()


# --- resolved later: merged into the DOI work ----------------------------------------------

MURAKAMI_ENTRY = r"""@article{murakami2007,
  author = {Murakami, E. and Tanaka, Y. and Aizawa, T. and Ishizuka, M. and Kokubun, S.},
  title = {Effect of periarticular and intraarticular lidocaine injections for sacroiliac
           joint pain: prospective comparative study},
  journal = {Journal of Orthopaedic Science}, year = 2007%s
}
"""


def test_a_work_without_a_doi_resolved_later_is_merged_into_the_doi_work(tmp_path, sample_standin):
    from refkeeper import Settings

    db = tmp_path / "refs.db"
    path = tmp_path / "murakami.bib"
    path.write_text(MURAKAMI_ENTRY % "", encoding="utf-8")
    # imported with nothing to resolve against: stored without a DOI, and linked
    assert _run(["import", "--offline", str(path)], db).exit_code == 0
    store = Store(db)
    [work] = store.works()
    assert work.doi is None
    art = workflow.add_article(store, "Sacroiliac joint pain", slug="sij")
    claim = workflow.add_claim(store, art.id, "Injections help.")
    workflow.link(store, claim.id, work.key, "supports")
    resolver = Settings(db=str(db), crossref_url=sample_standin.url, mailto="e@example.org").resolver(store)
    done = workflow.resolve_work(store, work.key, resolver, actor="anna")
    assert done.merged_into == MURAKAMI and done.resolution.doi == MURAKAMI
    assert not store.is_stored(work.key) and store.get_work(work.key).key == MURAKAMI
    assert store.merged_into(work.key) == MURAKAMI
    assert [h.action for h in workflow.history(store, doi=MURAKAMI)][-1] == "merge"
    [lk] = workflow.links(store, claim.id)
    assert lk.doi == MURAKAMI and lk.stance == "supports"
    assert store.get_key(MURAKAMI) == "murakami2007"
    store.close()


def test_re_importing_an_entry_that_now_carries_a_doi_merges_its_work_without_one(tmp_path):
    db = tmp_path / "refs.db"
    path = tmp_path / "murakami.bib"
    path.write_text(MURAKAMI_ENTRY % "", encoding="utf-8")
    assert _run(["import", "--offline", str(path)], db).exit_code == 0
    store = Store(db)
    [work] = store.works()
    art = workflow.add_article(store, "Sacroiliac joint pain", slug="sij")
    claim = workflow.add_claim(store, art.id, "Injections help.")
    workflow.link(store, claim.id, work.key, "supports")
    store.close()
    path.write_text(MURAKAMI_ENTRY % f",\n  doi = {{{MURAKAMI}}}", encoding="utf-8")
    rows = _rows(_run(["import", "--offline", "--json", str(path)], db).stdout)
    assert rows["murakami2007"]["doi"] == MURAKAMI
    assert any(work.key in n for n in rows["murakami2007"]["notes"])
    store = Store(db)
    assert [w.key for w in store.works()] == [MURAKAMI]
    [lk] = workflow.links(store, claim.id)
    assert lk.doi == MURAKAMI
    assert store.get_key(MURAKAMI) == "murakami2007"
    store.close()


def test_works_resolve_on_the_command_line_merges_a_work_once_its_doi_is_found(tmp_path, sample_standin):
    db = tmp_path / "refs.db"
    path = tmp_path / "murakami.bib"
    path.write_text(MURAKAMI_ENTRY % "", encoding="utf-8")
    key = _rows(_run(["import", "--offline", "--json", str(path)], db).stdout)["murakami2007"]["work"]
    # offline there is nothing to resolve against: the work stays, exit 1
    offline = _run(["works", "resolve", "--offline", key], db)
    assert offline.exit_code == 1 and "no DOI matched" in offline.stdout
    env = {"REFKEEPER_CROSSREF_URL": sample_standin.url}
    online = _run(["works", "resolve", "--json", key], db, env=env)
    assert online.exit_code == 0, online.output
    out = json.loads(online.stdout)
    assert out["merged_into"] == MURAKAMI and out["doi"] == MURAKAMI and out["work"] == key
    assert _run(["export", key], db).stdout.startswith("@article{murakami2007,")
    assert f"doi = \"{MURAKAMI}\"" in _run(["export", key], db).stdout
