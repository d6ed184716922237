"""One work, several identifiers (issue 13): merging a work stored twice into one, and
never storing a second work for a key already known."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest
import sqlite_utils
from click.testing import CliRunner
from conftest import migrations_before

from refkeeper import _identifiers as identifiers
from refkeeper import workflow as wf
from refkeeper._errors import NotFoundError, UsageError
from refkeeper._resolve import Resolver
from refkeeper._sources import IndexSource
from refkeeper._store import Store, pack_record
from refkeeper.bibimport import import_entries, read_bibliography
from refkeeper.cli import cli
from refkeeper.export import export_store

VISSER = "10.1007/s00586-013-2833-2"
# The same article stored a second time under another DOI, as a copy in an archive is.
COPY = "10.5555/sij-trial-archive-copy"
TABLES = ["works", "links", "request_works", "request_references", "citations", "history",
          "work_identifiers", "work_keys", "index_state"]


def copy_of(store: Store, doi: str, new: str) -> dict:
    record = dict(store.get_work(doi).record)
    record.pop("score", None)
    return {**record, "DOI": new}


@pytest.fixture
def twice(sample_store):
    """The sample store with the Visser trial stored twice, and everything an editor does
    with both: claims linked to one, the other or both, a request answered and a reader's
    reference matched to the copy, identifiers and a citation key on the copy."""
    store = sample_store
    store.add_records([copy_of(store, VISSER, COPY)], "import")
    store.pin_key(COPY, "visser2013trial")
    identifiers.record(store, COPY, {"pmid": "23400545", "agency": "crossref"})
    art = wf.add_article(store, "Treatment of the sacroiliac joint", actor="ed")
    only_copy = wf.add_claim(store, art.id, "Manual therapy worked for 72% of patients", actor="ed")
    both = wf.add_claim(store, art.id, "Physiotherapy worked for 20% of patients", actor="ed")
    removed = wf.add_claim(store, art.id, "Injection is another option", actor="ed")
    wf.link(store, only_copy.id, COPY, "supports", actor="ed")
    wf.link(store, both.id, VISSER, "supports", actor="ed")
    wf.link(store, both.id, COPY, "contests", asserted_by="reader", asserted_by_name="Ann", actor="ed")
    wf.link(store, removed.id, COPY, "mentions", actor="ed")
    wf.unlink(store, removed.id, COPY, reason="not about injections", actor="ed")
    req = wf.add_request(store, art.id, "Ann", text="Sources?", claim=only_copy.id, actor="ed")
    resolver = Resolver(source=IndexSource(store), store=store)
    wf.add_reader_references(store, req.id, f"The trial, doi:{COPY}", resolver, actor="ed")
    wf.answer_request(store, req.id, [COPY], stance="supports", actor="ed")
    return store, {"only_copy": only_copy.id, "both": both.id, "removed": removed.id, "request": req.id}


def dump(store: Store) -> dict[str, list]:
    return {t: sorted(store.db.execute(f"SELECT * FROM [{t}]").fetchall(), key=repr) for t in TABLES}


def test_a_merge_moves_every_row_that_named_the_dropped_work_to_the_kept_one(twice):
    store, ids = twice
    works_before = store.count_works()
    result = wf.merge_works(store, keep=VISSER, drop=f"https://doi.org/{COPY.upper()}", actor="ed",
                            reason="archive copy of the trial")

    assert (result.keep, result.drop, result.alias) == (VISSER, COPY, True)
    assert wf.links(store, doi=COPY, include_removed=True) == []
    only_copy = wf.links(store, ids["only_copy"])
    assert [(lk.doi, lk.stance) for lk in only_copy] == [(VISSER, "supports")]
    assert only_copy[0].id in result.links_moved
    # The claim linked to both keeps the kept work's link; the reader's other stance is
    # removed on the record, and said.
    both = wf.links(store, ids["both"], include_removed=True)
    assert [(lk.doi, lk.stance, lk.live) for lk in both] == [(VISSER, "supports", True),
                                                             (VISSER, "contests", False)]
    assert "merged" in both[1].removed_reason
    assert result.links_removed == [both[1].id]
    assert result.stances_dropped == [{"claim": ids["both"], "link": both[1].id, "dropped": "contests",
                                       "kept_link": both[0].id, "kept": "supports"}]
    # A removed link follows too: the claim's past names the work it is now.
    assert [(lk.doi, lk.live) for lk in wf.links(store, ids["removed"], include_removed=True)] == [
        (VISSER, False)]

    assert [r.doi for r in wf.reader_references(store, ids["request"])] == [VISSER]
    assert wf.get_request(store, ids["request"]).status == "answered"
    assert [(d, s) for d, s in _answer_works(store, ids["request"])] == [(VISSER, "supports")]

    # Identifiers move; the dropped DOI is an alias of the kept work; the copy's agency stays behind.
    known = identifiers.identifiers_of(store, VISSER)
    assert known["pmid"] == ["23400545"] and known["doi"] == [COPY]
    assert identifiers.identifiers_of(store, COPY) == {}
    assert store.get_key(VISSER) == "visser2013trial" and result.key_moved

    # The dropped work is out of every listing and of the index; asked by its DOI, the
    # store answers with the kept work.
    assert store.count_works() == works_before - 1
    assert COPY not in {w.doi for w in store.works()}
    assert store.get_work(COPY).doi == VISSER
    title = store.get_work(VISSER).title
    assert [w.doi for w in store.candidates(title, 10)].count(COPY) == 0
    assert VISSER in [w.doi for w in store.candidates(title, 10)]


def _answer_works(store: Store, request_id: int) -> list[tuple[str, str | None]]:
    from refkeeper.workflow._requests import answer_works

    return answer_works(store, wf.get_request(store, request_id))


def test_the_kept_works_history_shows_the_merge_and_what_was_recorded_under_the_dropped_doi(twice):
    store, ids = twice
    added_under_copy = [e.id for e in wf.history(store, doi=COPY)]
    assert added_under_copy
    wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed", reason="archive copy")
    entries = wf.history(store, doi=VISSER)
    assert set(added_under_copy) <= {e.id for e in entries}
    merge = [e for e in entries if e.action == "merge"]
    assert len(merge) == 1 and merge[0].actor == "ed"
    assert merge[0].details["before"]["drop"]["key"] == COPY
    assert merge[0].details["before"]["drop"]["bibtex_key"] == "visser2013trial"
    assert merge[0].details["after"]["identifiers"]["doi"] == [COPY]
    assert merge[0].details["reason"] == "archive copy"
    # The removed duplicate link is in its claim's history, with the stance it had.
    removal = [e for e in wf.history(store, claim=ids["both"]) if e.action == "link.remove"]
    assert removal[0].details["stance_dropped"]["dropped"] == "contests"
    # Asked by the dropped DOI, the history is the kept work's.
    assert [e.id for e in wf.history(store, doi=COPY)] == [e.id for e in entries]


def test_an_export_after_a_merge_has_one_entry_for_the_work(twice):
    store, _ = twice
    wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed")
    out = io.StringIO()
    n = export_store(store, out, "bibtex")
    text = out.getvalue()
    assert n == store.count_works()
    assert text.count("visser2013trial") == 1
    assert COPY not in text.lower()
    assert text.count(f'doi = "{VISSER}"') == 1



def test_an_export_naming_both_the_kept_and_the_dropped_doi_writes_the_work_once(twice):
    store, _ = twice
    wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed")
    out = io.StringIO()
    assert export_store(store, out, "bibtex", dois=[VISSER, COPY, VISSER]) == 1
    assert out.getvalue().count(f'doi = "{VISSER}"') == 1

def test_a_cached_answer_never_names_the_dropped_work_again(twice):
    store, _ = twice
    resolver = Resolver(source=IndexSource(store), store=store)
    assert resolver.resolve(f"The trial, doi:{COPY}").doi == COPY  # cached before the merge
    wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed")
    cached = resolver.resolve(f"The trial, doi:{COPY}")
    assert (cached.cached, cached.status, cached.doi) == (True, "matched", VISSER)
    # A citation never seen before that writes the dropped DOI lands on the kept work.
    fresh = resolver.resolve(f"Visser et al. 2013, https://doi.org/{COPY}")
    assert (fresh.cached, fresh.status, fresh.doi) == (False, "matched", VISSER)
    assert fresh.best.doi == VISSER


def test_adding_linking_or_importing_the_dropped_doi_lands_on_the_kept_work(twice, tmp_path):
    store, ids = twice
    wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed")
    before = store.count_works()
    assert wf.fetch_work(store, COPY, None).doi == VISSER
    # A record for the dropped DOI (a later fetch) does not bring the copy back.
    store.add_records([copy_of(store, VISSER, COPY)], "crossref")
    assert store.count_works() == before and COPY not in {w.doi for w in store.works()}
    lk = wf.link(store, ids["removed"], COPY, "mentions", actor="ed")
    assert lk.doi == VISSER
    # A reader's pasted list that writes the dropped DOI.
    resolver = Resolver(source=IndexSource(store), store=store)
    pasted = wf.add_reader_references(store, ids["request"], f"Visser 2013 trial. https://doi.org/{COPY}",
                                      resolver, actor="ed")
    assert [r.doi for r in pasted.references] == [VISSER]
    assert wf.unlink(store, ids["removed"], COPY, actor="ed").doi == VISSER
    store.pin_key(COPY, "visser2013")
    assert store.get_key(VISSER) == store.get_key(COPY) == "visser2013"
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{copy2013,\n  title = {Sacroiliac joint trial},\n"
                   f"  doi = {{{COPY}}},\n  year = {{2013}}\n}}\n", encoding="utf-8")
    results = list(import_entries(store, read_bibliography(bib)[0]))
    assert [r.doi for r in results] == [VISSER]
    assert store.count_works() == before


def test_add_of_a_dropped_doi_on_the_command_line_names_the_kept_work(twice, standin_clean):
    store, _ = twice
    wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed")
    store.close()
    env = {**standin_clean.environ, "REFKEEPER_DB": store.path}
    out = CliRunner().invoke(cli, ["add", "--json", COPY], env=env)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["doi"] == VISSER
    assert Store(store.path).count_works() == store.count_works()


def test_a_merge_that_fails_half_way_leaves_nothing_changed(twice):
    store, _ = twice
    # A real constraint, met after links, requests and identifiers have moved: the store
    # refuses to mark the work merged.
    store.db.execute("CREATE TRIGGER refuse_merge BEFORE UPDATE OF merged_into ON works"
                     " BEGIN SELECT RAISE(ABORT, 'merging refused'); END")
    before = dump(store)
    with pytest.raises(sqlite3.IntegrityError, match="merging refused"):
        wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed")
    assert dump(store) == before
    title = store.get_work(COPY).title
    assert COPY in [w.doi for w in store.candidates(title, 10)]  # still in the index


def test_merging_a_work_into_itself_an_unknown_or_an_already_merged_work_is_refused(twice):
    store, _ = twice
    with pytest.raises(UsageError, match="into itself"):
        wf.merge_works(store, keep=VISSER, drop=f"doi:{VISSER.upper()}", actor="ed")
    with pytest.raises(NotFoundError, match="10.5555/nothing"):
        wf.merge_works(store, keep=VISSER, drop="10.5555/nothing", actor="ed")
    wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed")
    with pytest.raises(UsageError, match=f"already merged into {VISSER}"):
        wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed")


def test_a_key_that_is_not_a_doi_is_merged_without_becoming_an_alias(sample_store):
    store = sample_store
    internal = "pmid:23400545"
    store.add_records([copy_of(store, VISSER, internal)], "ncbi")
    identifiers.record(store, internal, {"pmid": "23400545"})
    result = wf.merge_works(store, keep=VISSER, drop=internal, actor="ed")
    assert result.alias is False
    assert identifiers.identifiers_of(store, VISSER) == {"pmid": ["23400545"]}
    assert store.get_work(internal).doi == VISSER


def test_duplicates_are_pairs_sharing_an_identifier_or_title_year_and_first_author(sample_store):
    store = sample_store
    store.add_records([copy_of(store, VISSER, COPY)], "import")
    dups = wf.duplicate_works(store)
    assert [(d.keys, d.evidence) for d in dups] == [
        (tuple(sorted((VISSER, COPY))), ["same title, year and first author"])]
    identifiers.record(store, VISSER, {"pmid": "23400545"})
    identifiers.record(store, COPY, {"pmid": "23400545"})
    assert wf.duplicate_works(store)[0].evidence == ["same pmid 23400545",
                                                     "same title, year and first author"]
    wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed")
    assert wf.duplicate_works(store) == []


def test_a_column_that_recurs_under_one_title_in_another_issue_is_not_a_duplicate(sample_store):
    store = sample_store
    record = copy_of(store, VISSER, COPY)
    store.add_records([{**record, "issue": str(int(record.get("issue") or 1) + 1)}], "import")
    assert wf.duplicate_works(store) == []


def test_a_preprint_and_its_version_of_record_are_not_duplicates(sample_store):
    store = sample_store
    preprint = "10.48550/arxiv.1301.00001"
    record = copy_of(store, VISSER, preprint)
    record["relation"] = {"is-preprint-of": [{"id": VISSER, "id-type": "doi", "asserted-by": "subject"}]}
    store.add_records([record], "datacite")
    identifiers.record(store, preprint, {"arxiv": "1301.00001"})
    identifiers.record(store, VISSER, {"arxiv": "1301.00001"})
    assert wf.duplicate_works(store) == []


def test_works_duplicates_and_works_merge_on_the_command_line(twice):
    store, _ = twice
    store.close()
    env = {"REFKEEPER_DB": store.path}
    runner = CliRunner()
    out = runner.invoke(cli, ["works", "duplicates", "--json"], env=env)
    assert out.exit_code == 1, out.output
    assert json.loads(out.output)[0]["keys"] == sorted([VISSER, COPY])
    out = runner.invoke(cli, ["works", "merge", VISSER, COPY, "--reason", "copy", "--by", "ed"], env=env)
    assert out.exit_code == 0, out.output
    assert f"merged {COPY} into {VISSER}" in out.output
    assert "stance dropped" in out.output and "contests (kept supports)" in out.output
    for args in (["works", "merge", VISSER, VISSER], ["works", "merge", VISSER, "10.5555/none"],
                 ["works", "merge", VISSER, COPY]):
        out = runner.invoke(cli, args, env=env)
        assert out.exit_code == 2, out.output
        assert len(out.output.strip().splitlines()) == 1 and "Traceback" not in out.output
    out = runner.invoke(cli, ["works", "duplicates"], env=env)
    assert (out.exit_code, out.output.strip()) == (0, "no duplicates found")


def test_a_database_of_the_previous_schema_is_upgraded_with_its_works_unmerged(tmp_path, sample_store):
    path = tmp_path / "old.db"
    old = migrations_before("m013")
    db = sqlite_utils.Database(path)
    old.apply(db)
    record = copy_of(sample_store, VISSER, VISSER)
    db["works"].insert({"doi": VISSER, "title": "t", "record": pack_record(record), "source": "seed"})
    db.conn.commit()
    db.close()
    store = Store(path)
    assert "merged_into" in store.db["works"].columns_dict
    assert [w.doi for w in store.works()] == [VISSER] and store.count_works() == 1
    assert store.merged_into(VISSER) is None and store.is_stored(VISSER)
    store.close()


def test_an_editor_merges_a_duplicate_from_the_works_page_of_the_desk(client, db):
    from deskclient import token

    tok = token(client)
    r = client.post("/works", data={"csrf_token": tok, "doi": VISSER}, follow_redirects=False)
    assert r.status_code == 303, r.text
    store = Store(db)
    store.add_records([copy_of(store, VISSER, COPY)], "import")
    wf.link(store, 1, COPY, "contests", actor="setup")
    store.close()
    page = client.get(f"/works/{VISSER}").text
    assert 'action="/works/merge"' in page and f'name="keep" value="{VISSER}"' in page
    # Without the page's token the form is refused, and nothing is merged.
    r = client.post("/works/merge", data={"keep": VISSER, "drop": COPY}, follow_redirects=False)
    assert r.status_code == 403
    assert Store(db).is_stored(COPY)
    r = client.post("/works/merge", data={"csrf_token": tok, "keep": VISSER, "drop": COPY,
                                          "reason": "archive copy"}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/works/{VISSER}")
    page = client.get(r.headers["location"]).text
    assert f"{COPY} is merged into {VISSER}: 1 link(s)" in page
    store = Store(db)
    assert [(lk.doi, lk.stance) for lk in wf.links(store, 1)] == [(VISSER, "contests")]
    merge = [e for e in wf.history(store, doi=VISSER) if e.action == "merge"]
    assert merge[0].actor == "anna" and merge[0].details["reason"] == "archive copy"
    store.close()
    # A second merge of the same DOI is refused with one line on the page.
    r = client.post("/works/merge", data={"csrf_token": tok, "keep": VISSER, "drop": COPY})
    assert f"{COPY} was already merged into {VISSER}" in r.text


def test_what_verification_found_under_the_dropped_doi_stays_and_shows_in_the_kept_works_history(twice):
    from refkeeper import verify
    from refkeeper.verify._checks import Check
    from refkeeper.verify._runs import close_run, commit_batch, open_run

    store, _ = twice
    run_id, _ = open_run(store, None, True, 100, resume=False)
    commit_batch(store, run_id, [Check(doi=COPY, outcome="problem", kinds=["not-found"]),
                                 Check(doi=VISSER, outcome="ok")], requests=2)
    close_run(store, run_id, "finished", None)
    wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed")
    h = verify.history(store, COPY)
    assert h.doi == VISSER
    assert sorted((c["doi"], c["outcome"]) for c in h.checks) == [(VISSER, "ok"), (COPY, "problem")]
    # The dropped DOI's verdict is not the kept work's: it is not carried over.
    assert store.recorded_problems(VISSER) == []


MURAKAMI = "10.1007/s00776-007-1126-1"


def test_a_doi_crossref_answers_as_an_alias_is_recorded_and_never_becomes_a_second_work(
        sample_standin, tmp_path):
    alias = "10.5555/murakami-alias"
    sample_standin.reset()
    sample_standin.alias(alias, MURAKAMI)
    try:
        db = str(tmp_path / "refs.db")
        env = {**sample_standin.environ, "REFKEEPER_DB": db}
        runner = CliRunner()
        out = runner.invoke(cli, ["add", "--json", alias], env=env)
        assert out.exit_code == 0, out.output
        assert json.loads(out.output)["doi"] == MURAKAMI
        store = Store(db)
        assert identifiers.identifiers_of(store, MURAKAMI)["doi"] == [alias]
        asked = sample_standin.stats["requests"]
        out = runner.invoke(cli, ["add", "--json", alias], env=env)
        assert json.loads(out.output)["doi"] == MURAKAMI
        assert sample_standin.stats["requests"] == asked  # known: not asked again
        bib = tmp_path / "refs.bib"
        bib.write_text(f"@article{{m2007,\n  title = {{Lidocaine injections}},\n  doi = {{{alias}}}\n}}\n",
                       encoding="utf-8")
        assert [r.doi for r in import_entries(store, read_bibliography(bib)[0])] == [MURAKAMI]
        assert [w.doi for w in store.works()] == [MURAKAMI]
        store.close()
    finally:
        sample_standin.reset()


def test_a_record_identical_to_another_doi_makes_that_doi_its_alias(sample_standin, tmp_path):
    from standin.revisions import with_relation

    from refkeeper import Registries, Settings, add_work

    twin = "10.5555/murakami-registered-twice"
    sample_standin.reset()
    settings = Settings.from_environ({**sample_standin.environ, "REFKEEPER_DB": str(tmp_path / "refs.db")})
    store = settings.store()
    client = settings.client()
    record = client.work(MURAKAMI)
    sample_standin.revise(MURAKAMI, with_relation(record, "is-identical-to", twin, "subject"))
    try:
        registries: Registries = settings.registries(client)
        assert add_work(store, registries, MURAKAMI).doi == MURAKAMI
        assert identifiers.kept_doi(store, twin) == MURAKAMI
        assert add_work(store, registries, twin.upper()).doi == MURAKAMI
        assert store.count_works() == 1
    finally:
        sample_standin.reset()
        store.close()


def test_a_request_answered_with_both_works_keeps_one_and_says_which_stance_went(sample_store):
    store = sample_store
    store.add_records([copy_of(store, VISSER, COPY)], "import")
    art = wf.add_article(store, "Treatment of the sacroiliac joint", actor="ed")
    req = wf.add_request(store, art.id, "Ann", text="Sources?", actor="ed")
    wf.answer_request(store, req.id, [VISSER], stance="supports", actor="ed")
    wf.answer_request(store, req.id, [COPY], stance="mentions", actor="ed")
    result = wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed")
    assert _answer_works(store, req.id) == [(VISSER, "supports")]
    assert result.stances_dropped == [{"request": req.id, "dropped": "mentions", "kept": "supports"}]
    merge = [e for e in wf.history(store, doi=VISSER) if e.action == "merge"][0]
    assert merge.details["moved"]["stances_dropped"] == result.stances_dropped


def test_the_history_command_says_what_was_merged(twice):
    store, _ = twice
    wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed", reason="archive copy")
    store.close()
    out = CliRunner().invoke(cli, ["history", "--doi", COPY], env={"REFKEEPER_DB": store.path})
    assert out.exit_code == 0, out.output
    assert f"merged {COPY} into {VISSER} — archive copy" in out.output
    assert "link.add" in out.output  # what was recorded under the dropped DOI


def test_add_of_a_pmid_recorded_for_a_stored_work_names_that_work_without_asking(sample_standin, tmp_path):
    from refkeeper import Settings, add_work

    sample_standin.reset()
    settings = Settings.from_environ({**sample_standin.environ, "REFKEEPER_DB": str(tmp_path / "refs.db")})
    store = settings.store()
    registries = settings.registries(settings.client())
    assert add_work(store, registries, VISSER).doi == VISSER
    store.add_records([copy_of(store, VISSER, COPY)], "import")
    identifiers.record(store, COPY, {"pmid": "23400545"})
    wf.merge_works(store, keep=VISSER, drop=COPY, actor="ed")
    asked = sample_standin.stats["requests"]
    assert add_work(store, registries, "PMID: 23400545").doi == VISSER
    assert sample_standin.stats["requests"] == asked
    assert store.count_works() == 1
    store.close()


def test_offline_a_citation_that_writes_an_alias_doi_matches_the_work_it_is_an_alias_of(sample_store):
    store = sample_store
    alias = "10.5555/visser-jstor-copy"
    identifiers.record(store, VISSER, {"doi": alias})
    before = store.count_works()
    res = Resolver(source=IndexSource(store), store=store).resolve(
        f"Visser LH et al. Eur Spine J 2013. doi:{alias}")
    assert (res.status, res.doi) == ("matched", VISSER)
    assert store.count_works() == before
