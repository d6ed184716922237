"""The editor's workflow in the library: articles, claims, links, requests, history, schema."""

from __future__ import annotations

import json
import re
import sqlite3
import textwrap

import pytest
import sqlite_utils
from conftest import READER_REFERENCES, ROOT, SAMPLE
from sqlite_utils import Migrations

from refkeeper import _store
from refkeeper import workflow as wf
from refkeeper._errors import InputError, NotFoundError, UsageError
from refkeeper._resolve import Resolver
from refkeeper._sources import IndexSource
from refkeeper._store import Store, migrations
from refkeeper.workflow import propose_claims, sentences

VISSER = "10.1007/s00586-013-2833-2"
MURAKAMI = "10.1007/s00776-007-1126-1"
ARTICLE_TEXT = (ROOT / "examples" / "sij-article.txt").read_text(encoding="utf-8")
COMMENT = (ROOT / "examples" / "reader-comment.txt").read_text(encoding="utf-8")
WORKFLOW_TABLES = {"articles", "claims", "links", "requests", "request_works", "request_references",
                   "history"}


@pytest.fixture
def desk(sample_store):
    """The sample store with the seed article, two claims and the editor's link to the trial."""
    art = wf.add_article(sample_store, "Treatment of the sacroiliac joint in patients with leg pain",
                         url="https://example.org/sij", text=ARTICLE_TEXT, actor="ed")
    manual = wf.add_claim(sample_store, art.id, "Manual therapy worked for 72% of patients, physiotherapy "
                          "for 20% (p = 0.003)", location="paragraph 1", actor="ed")
    option = wf.add_claim(sample_store, art.id, "Injection into the joint is another option to consider",
                          location="paragraph 2", actor="ed")
    wf.link(sample_store, manual.id, VISSER, "supports", actor="ed")
    return sample_store, art, manual, option


def offline(store):
    return Resolver(source=IndexSource(store), store=store)


def table_counts(store) -> dict[str, int]:
    return {t: store.db[t].count for t in sorted(WORKFLOW_TABLES)}


# -- schema ---------------------------------------------------------------------------------


def test_the_schema_has_readable_tables_with_foreign_keys(tmp_path):
    store = Store(tmp_path / "refs.db")
    assert WORKFLOW_TABLES <= set(store.db.table_names())
    fks = {(fk.table, fk.column): fk.other_table
           for t in WORKFLOW_TABLES for fk in store.db[t].foreign_keys}
    assert fks[("claims", "article_id")] == "articles"
    assert fks[("links", "claim_id")] == "claims"
    assert fks[("links", "doi")] == "works"
    assert fks[("requests", "article_id")] == "articles"
    assert fks[("requests", "claim_id")] == "claims"
    assert fks[("request_works", "request_id")] == "requests"
    assert fks[("request_works", "doi")] == "works"
    assert fks[("request_references", "doi")] == "works"
    assert fks[("history", "link_id")] == "links"
    # The columns the verification issue reads.
    link_columns = set(store.db["links"].columns_dict)
    assert {"id", "claim_id", "doi", "stance", "confirmed", "removed_at"} <= link_columns
    assert {"id", "article_id", "claim_id", "status"} <= set(store.db["requests"].columns_dict)


# Tables and columns today's code writes with every work (the offline index's keys and
# generation, the merged mark): an "old version" simulated with today's code needs them;
# test_offline_scale.py and test_merge.py test their own upgrade from a database the
# previous schema wrote.
WRITTEN_WITH_WORKS = ("m009_index_keys_and_generation", "m013_merged_works")


def knowing_only(monkeypatch, last: str):
    """Make refkeeper the version whose newest migration was ``last``."""
    old = Migrations("refkeeper")
    done = False
    for m in migrations.pending(sqlite_utils.Database(memory=True)):
        if not done or m.name in WRITTEN_WITH_WORKS:
            old(name=m.name)(m.fn)
        done = done or m.name == last
    monkeypatch.setattr(_store, "migrations", old)
    _store._known_schema.cache_clear()


def test_an_existing_database_is_upgraded_without_loss(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    # Write to it with the store code of the version before the workflow: works, a cached
    # answer, a problem.
    with monkeypatch.context() as m:
        knowing_only(m, "m002_work_problems")
        old = Store(path)
        assert "links" not in old.db.table_names()
        old.import_snapshot(SAMPLE)
        answers = [offline(old).resolve(t) for t in READER_REFERENCES]
        assert [a.status for a in answers] == ["unmatched", "matched", "unmatched"]
        old.db.execute("UPDATE works SET problems = '[\"correction\"]', checked_at = '2024-01-01'"
                       " WHERE doi = ?", [VISSER])
        before = {t: list(old.db.query(f"SELECT * FROM {t} ORDER BY rowid")) for t in ("works", "citations")}
        old.close()
    _store._known_schema.cache_clear()

    store = Store(path)
    assert WORKFLOW_TABLES <= set(store.db.table_names())
    for table, rows in before.items():
        assert list(store.db.query(f"SELECT * FROM {table} ORDER BY rowid")) == rows
    assert store.search("periarticular intraarticular lidocaine", limit=1)[0].doi == MURAKAMI
    assert store.cached_resolution(READER_REFERENCES[1]).doi == MURAKAMI
    # ... and the old works take links at once, with their recorded problem.
    art = wf.add_article(store, "Old article")
    claim = wf.add_claim(store, art.id, "A claim")
    wf.link(store, claim.id, VISSER, "supports")
    assert wf.claim_report(store, claim.id).flags
    store.close()


def test_history_rows_and_links_cannot_be_deleted_or_rewritten(desk):
    store, *_ = desk
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        with store.db.atomic():
            store.db.execute("UPDATE history SET actor = 'someone else'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        with store.db.atomic():
            store.db.execute("DELETE FROM history")
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        with store.db.atomic():
            store.db.execute("DELETE FROM links")
    assert store.db["links"].count == 1


def test_reimporting_works_keeps_the_links_to_them(desk, tmp_path):
    store, _, manual, _ = desk
    store.import_snapshot(SAMPLE)  # an upsert, never a delete-and-insert under the foreign keys
    assert [lk.doi for lk in wf.links(store, manual.id)] == [VISSER]


# -- articles and claims -----------------------------------------------------------------------


def test_articles_are_found_by_id_or_slug(desk):
    store, art, *_ = desk
    assert art.slug == "treatment-of-the-sacroiliac-joint-in-patients-with-leg-pain"
    assert wf.get_article(store, art.slug) == wf.get_article(store, str(art.id)) == art
    again = wf.add_article(store, art.title)
    assert again.slug == art.slug + "-2"
    with pytest.raises(NotFoundError, match="no article 'nope'"):
        wf.get_article(store, "nope")
    with pytest.raises(UsageError, match="already used"):
        wf.add_article(store, "Another", slug=art.slug)
    with pytest.raises(UsageError, match="title"):
        wf.add_article(store, "  ")


def test_claims_are_proposed_from_the_article_and_kept_or_dropped(desk):
    store, art, *_ = desk
    proposals = wf.propose(store, art.id)
    texts = [p.text for p in proposals]
    assert any("higher success rate than physiotherapy (p = 0.003)" in t for t in texts)
    assert any("another therapeutic option to be considered" in t for t in texts)
    assert not any(t.startswith("The authors conducted this study") for t in texts)
    by_text = {p.text: p for p in proposals}
    comparison = next(p for t, p in by_text.items() if "higher success rate" in t)
    assert {"p-value", "comparison"} <= set(comparison.reasons)
    before = len(wf.claims(store, art.id))
    kept = wf.keep_proposed(store, art.id, [comparison.number])
    assert [c.origin for c in kept] == ["proposed"]
    assert kept[0].quote == comparison.text and kept[0].location == comparison.location
    assert wf.keep_proposed(store, art.id, [comparison.number]) == []  # not twice
    assert len(wf.claims(store, art.id)) == before + 1
    with pytest.raises(UsageError, match="no proposal 99"):
        wf.keep_proposed(store, art.id, [99])


def test_sentences_keep_abbreviations_and_p_values_whole():
    para = "Murakami et al. found more relief vs. intra-articular injection (p = 0.01). It was small. Done"
    assert sentences(para) == [
        "Murakami et al. found more relief vs. intra-articular injection (p = 0.01).", "It was small.", "Done"
    ]
    assert propose_claims("No numbers here. Nothing to see.") == []


# -- links -------------------------------------------------------------------------------------


def test_an_editors_link_is_confirmed_and_carries_its_provenance(desk):
    store, _, manual, _ = desk
    (lk,) = wf.links(store, manual.id)
    assert (lk.stance, lk.asserted_by, lk.confirmed, lk.confirmed_by, lk.created_by) == (
        "supports", "editor", True, "ed", "ed")


def test_a_readers_link_is_confirmed_by_the_editor_linking_it_again(desk):
    store, _, _, option = desk
    lk = wf.link(store, option.id, MURAKAMI, "contests", asserted_by="reader", asserted_by_name="Jerry Hesch")
    assert not lk.confirmed
    lk2 = wf.link(store, option.id, MURAKAMI, "contests", note="periarticular did better", actor="ed")
    assert lk2.id == lk.id and lk2.confirmed and lk2.confirmed_by == "ed" and lk2.asserted_by == "reader"
    actions = [h.action for h in wf.history(store, claim=option.id)]
    assert actions[-3:] == ["link.add", "link.confirm", "link.note"]
    note = wf.history(store, claim=option.id)[-1]
    assert note.details == {"before": None, "after": "periarticular did better"}


def test_a_different_stance_is_refused_until_unlinked(desk):
    store, _, manual, _ = desk
    with pytest.raises(UsageError, match="already has .* as 'supports'.*unlink it first"):
        wf.link(store, manual.id, VISSER, "contests")
    removed = wf.unlink(store, manual.id, VISSER, reason="misread the table", actor="ed")
    assert removed.removed_at and removed.removed_by == "ed"
    new = wf.link(store, manual.id, VISSER, "mentions")
    assert new.id != removed.id
    assert [lk.stance for lk in wf.links(store, manual.id)] == ["mentions"]
    assert [lk.stance for lk in wf.links(store, manual.id, include_removed=True)] == ["supports", "mentions"]
    # The removed link stays visible in the history, as it was.
    gone = [h for h in wf.history(store, claim=manual.id) if h.action == "link.remove"]
    assert gone[0].details["link"]["stance"] == "supports"
    assert gone[0].details["reason"] == "misread the table"
    assert gone[0].actor == "ed"


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((999, VISSER, "supports"), NotFoundError, "no claim 999"),
        (("abc", VISSER, "supports"), UsageError, "claim id must be a number"),
        ((1, "10.9999/not-stored", "supports"), NotFoundError, "not in"),
        ((1, "not a doi", "supports"), InputError, "not a DOI"),
        ((1, MURAKAMI, "refutes"), UsageError, "stance must be one of supports, contests, mentions"),
    ],
)
def test_bad_links_are_refused_and_nothing_is_written(desk, args, error, message):
    store = desk[0]
    before = table_counts(store)
    with pytest.raises(error, match=message):
        wf.link(store, *args)
    assert table_counts(store) == before


def test_unlinking_what_is_not_linked_is_an_error(desk):
    store, _, _, option = desk
    with pytest.raises(NotFoundError, match="no live link"):
        wf.unlink(store, option.id, VISSER)


def test_a_claim_whose_only_support_has_a_problem_is_flagged(desk):
    store, _, manual, _ = desk
    assert wf.claim_report(store, manual.id).flags == []
    with store.db.atomic():
        store.db.execute("UPDATE works SET problems = ? WHERE doi = ?",
                         [json.dumps([{"kind": "retraction"}]), VISSER])
    rep = wf.claim_report(store, manual.id)
    assert rep.flags == [f"its only support has a problem recorded: {VISSER} (retraction)"]
    assert rep.links[0].problems == ["retraction"]
    # A second, sound supporting work lifts the flag; a contesting one does not count.
    wf.link(store, manual.id, MURAKAMI, "contests")
    assert wf.claim_report(store, manual.id).flags
    wf.unlink(store, manual.id, MURAKAMI)
    with store.db.atomic():
        store.db.execute("UPDATE works SET problems = '[]' WHERE doi = ?", [MURAKAMI])
    wf.link(store, manual.id, MURAKAMI, "supports")
    assert wf.claim_report(store, manual.id).flags == []


# -- requests ----------------------------------------------------------------------------------


def test_a_pasted_comment_becomes_a_request_with_its_references(desk):
    store, art, _, option = desk
    pasted = wf.add_request_from_comment(store, art.slug, "Jerry Hesch", COMMENT, offline(store),
                                         claim=option.id, stance="contests", actor="ed")
    req = pasted.request
    assert (req.status, req.reader, req.claim_id) == ("open", "Jerry Hesch", option.id)
    assert req.text.startswith("Jerry Hesch\n\nPlease post the reference.")
    assert "Berthelot" not in req.text
    refs = wf.reader_references(store, req.id)
    assert [r.text for r in refs] == READER_REFERENCES
    assert [(r.status, r.doi) for r in refs] == [("unmatched", None), ("matched", MURAKAMI),
                                                  ("unmatched", None)]
    # The matched one is linked as the reader's assertion, unconfirmed.
    (lk,) = pasted.links
    assert (lk.claim_id, lk.doi, lk.stance, lk.asserted_by, lk.asserted_by_name, lk.confirmed,
            lk.request_id) == (option.id, MURAKAMI, "contests", "reader", "Jerry Hesch", False, req.id)
    # Never an invented DOI: nothing but Murakami's is stored against the request.
    dois = {r[0] for r in store.db.execute("SELECT doi FROM request_references WHERE doi IS NOT NULL")}
    assert dois == {MURAKAMI}


def test_pasting_more_references_later_appends_them(desk):
    store, art, manual, _ = desk
    req = wf.add_request(store, art.id, "reader2", text="Source?", claim=manual.id)
    wf.add_reader_references(store, req.id, READER_REFERENCES[0], offline(store))
    out = wf.add_reader_references(store, req.id, "\n".join(READER_REFERENCES[1:]), offline(store),
                                   stance="supports")
    assert [r.position for r in out.references] == [2, 3]
    assert [lk.doi for lk in out.links] == [MURAKAMI]
    with pytest.raises(InputError, match="no references"):
        wf.add_reader_references(store, req.id, "thanks!", offline(store))


def test_a_request_without_a_claim_cannot_link_its_references(desk):
    store, art, *_ = desk
    before = table_counts(store)
    with pytest.raises(UsageError, match="needs the claim"):
        wf.add_request_from_comment(store, art.id, "r", COMMENT, offline(store), stance="contests")
    with pytest.raises(NotFoundError, match="no claim 42"):
        wf.add_request_from_comment(store, art.id, "r", COMMENT, offline(store), claim=42)
    with pytest.raises(UsageError, match="stance must be"):
        wf.add_request_from_comment(store, art.id, "r", COMMENT, offline(store), claim=1, stance="x")
    assert table_counts(store) == before


def test_the_queue_shows_what_is_known_and_reuse_answers_in_one_step(desk):
    store, art, manual, _ = desk
    first = wf.add_request(store, art.id, "Ann", text="Where is this from?", claim=manual.id,
                           received_at="2024-01-01T00:00:00+00:00")
    second = wf.add_request(store, art.id, "Bob", text="Source please", claim=manual.id,
                            received_at="2024-02-01T00:00:00+00:00")
    early = wf.add_request(store, art.id, "Cy", claim=manual.id, received_at="2023-12-31")
    assert early.received_at == "2023-12-31T00:00:00+00:00"
    wf.decline_request(store, early.id, "duplicate of a request by email")
    with pytest.raises(UsageError, match="not an ISO date"):
        wf.add_request(store, art.id, "Dee", received_at="last Tuesday")
    q = wf.queue(store)
    assert [r.request.id for r in q] == [first.id, second.id]  # open ones, oldest first
    assert q[0].known.dois() == [VISSER]
    rep = wf.answer_request(store, first.id, reuse=True, note="The trial itself:", actor="ed")
    assert rep.request.status == "answered" and rep.request.closed_by == "ed"
    assert [(w.doi, s) for w, s in rep.answer] == [(VISSER, "supports")]
    # The next request on the claim sees the earlier answer too.
    known = wf.known_for(store, second.id)
    assert known.earlier == [(first.id, VISSER, "supports")]
    assert [r.request.id for r in wf.queue(store)] == [second.id]


def test_answering_needs_stored_works_and_an_open_request(desk):
    store, art, manual, _ = desk
    req = wf.add_request(store, art.id, "Ann", claim=manual.id)
    before = table_counts(store)
    with pytest.raises(NotFoundError):
        wf.answer_request(store, req.id, dois=["10.9999/unknown"])
    with pytest.raises(UsageError, match="nothing to answer"):
        wf.answer_request(store, req.id)
    with pytest.raises(NotFoundError, match="no request 77"):
        wf.answer_request(store, 77, dois=[VISSER])
    assert table_counts(store) == before
    with pytest.raises(UsageError, match="say why"):
        wf.decline_request(store, req.id, " ")
    declined = wf.decline_request(store, req.id, "asks for medical advice", actor="ed")
    assert (declined.status, declined.reason) == ("declined", "asks for medical advice")
    with pytest.raises(UsageError, match="declined"):
        wf.answer_request(store, req.id, dois=[VISSER])
    with pytest.raises(UsageError, match="already declined"):
        wf.decline_request(store, req.id, "again")
    assert [h.action for h in wf.history(store, request=req.id)] == ["request.add", "request.decline"]


def test_answering_again_adds_works_and_keeps_what_was_given(desk):
    store, art, manual, _ = desk
    req = wf.add_request(store, art.id, "Ann", claim=manual.id)
    wf.answer_request(store, req.id, dois=[VISSER])
    rep = wf.answer_request(store, req.id, dois=[f"https://doi.org/{MURAKAMI.upper()}", VISSER],
                            stance="mentions")
    assert [(w.doi, s) for w, s in rep.answer] == [(VISSER, "supports"), (MURAKAMI, "mentions")]
    assert [h.action for h in wf.history(store, request=req.id)] == ["request.add", "request.answer",
                                                                      "request.answer"]


def test_the_reply_groups_references_by_stance_with_doi_links(desk):
    store, art, _, option = desk
    pasted = wf.add_request_from_comment(store, art.id, "Jerry Hesch", COMMENT, offline(store),
                                         claim=option.id, stance="contests")
    wf.link(store, option.id, VISSER, "supports")
    with pytest.raises(UsageError, match="answer it first"):
        wf.reply(store, pasted.request.id)
    wf.answer_request(store, pasted.request.id, dois=[VISSER, MURAKAMI])
    text = wf.reply(store, pasted.request.id)
    assert text.index("Supporting:") < text.index("Visser LH") < text.index("Contesting:") < text.index(
        "Murakami E")
    assert f"doi:{VISSER}" in text and f"doi:{MURAKAMI}" in text
    # The reader's unmatched references are listed as written, without a DOI.
    tail = text[text.index("Not yet matched to a DOI"):]
    assert READER_REFERENCES[0] in tail and READER_REFERENCES[2] in tail and "10." not in tail
    md = wf.reply(store, pasted.request.id, style="apa", fmt="markdown", include_unresolved=False)
    assert "**Contesting**" in md and f"(https://doi.org/{MURAKAMI})" in md
    assert "Not yet matched" not in md
    # A problem recorded against a work is said in the reply.
    with store.db.atomic():
        store.db.execute("UPDATE works SET problems = '[\"retraction\"]' WHERE doi = ?", [VISSER])
    assert "Retracted" in wf.reply(store, pasted.request.id)


HOSTILE = "<script>alert(1)</script> [me](javascript:alert(1))"


def test_a_markdown_reply_shows_what_people_typed_as_text_never_as_markup(sample_store):
    from markdown_it import MarkdownIt

    store = sample_store
    art = wf.add_article(store, f"Pain {HOSTILE}")
    claim = wf.add_claim(store, art.id, f"*Injections* work {HOSTILE}")
    req = wf.add_request(store, art.id, HOSTILE, claim=claim.id)
    pasted = f"{READER_REFERENCES[0]}\n\n{READER_REFERENCES[1]}"
    wf.add_reader_references(store, req.id, pasted, offline(store))
    wf.answer_request(store, req.id, dois=[MURAKAMI], stance="contests", note=f"# See {HOSTILE}")
    md = wf.reply(store, req.id, style="apa", fmt="markdown")
    # A lax renderer: raw HTML on, and any link scheme accepted (markdown-it refuses
    # javascript: by default, which would hide an unescaped link).
    renderer = MarkdownIt("commonmark", {"html": True})
    renderer.validateLink = lambda url: True
    html = renderer.render(md)
    assert "<script" not in html
    assert "javascript:" not in " ".join(
        t.attrGet("href") or "" for tok in renderer.parse(md) for t in [tok, *(tok.children or [])])
    assert "<h1" not in html and "<em>Injections" not in html
    # ... and each field still reads as the person wrote it.
    text = html.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    assert f"{HOSTILE}: the references for “Pain {HOSTILE}”, on “*Injections* work {HOSTILE}”" in text
    assert f"# See {HOSTILE}" in text
    assert f"(https://doi.org/{MURAKAMI})" in md  # the works keep their DOI links


# -- export ------------------------------------------------------------------------------------


def test_works_for_an_article_claim_request_or_stance(desk):
    store, art, manual, option = desk
    pasted = wf.add_request_from_comment(store, art.id, "Jerry Hesch", COMMENT, offline(store),
                                         claim=option.id, stance="contests")
    req = pasted.request.id
    assert wf.works_for(store, claim=manual.id) == [VISSER]
    assert wf.works_for(store, claim=option.id) == [MURAKAMI]
    assert wf.works_for(store, article=art.slug) == [VISSER, MURAKAMI]
    assert wf.works_for(store, stance="contests") == [MURAKAMI]
    assert wf.works_for(store, article=art.id, stance="supports") == [VISSER]
    assert wf.works_for(store, claim=option.id, stance="supports") == []
    # A request: the answer, then the reader's matched references.
    assert wf.works_for(store, request=req) == [MURAKAMI]
    wf.answer_request(store, req, dois=[VISSER], stance="supports")
    assert wf.works_for(store, request=req) == [VISSER, MURAKAMI]
    assert wf.works_for(store, request=req, stance="supports") == [VISSER]
    # Removed links are not exported.
    wf.unlink(store, option.id, MURAKAMI)
    assert wf.works_for(store, claim=option.id) == []
    with pytest.raises(UsageError, match="say which works"):
        wf.works_for(store)
    with pytest.raises(UsageError, match="stance"):
        wf.works_for(store, stance="refutes")
    with pytest.raises(NotFoundError):
        wf.works_for(store, claim=404)


def test_bibtex_for_keeps_stored_keys(desk):
    store, *_ = desk
    bib = wf.bibtex_for(store, [MURAKAMI])
    assert bib.startswith("@article{murakami2007") and f"doi = \"{MURAKAMI}\"" in bib
    assert store.bibtex_keys()[MURAKAMI] in bib
    assert wf.bibtex_for(store, [MURAKAMI]) == bib


def test_pasted_references_resolve_online_and_the_matched_work_is_stored(standin_clean, tmp_path):
    from click.testing import CliRunner

    from refkeeper.cli import cli

    db = str(tmp_path / "refs.db")
    runner = CliRunner(env={"REFKEEPER_CROSSREF_URL": standin_clean.url})
    pasted = tmp_path / "comment.txt"
    pasted.write_text(
        "You might add these:\n"
        "1. Miles SH, Ololo H: Traditional surgeons in sub-Saharan Africa: images from south Sudan.\n"
        "   Int J STD AIDS 2003, 14(8):505-8.\n"
        f"2. {READER_REFERENCES[0]}\n"
    )
    for args in (["article", "add", "Traditional surgery", "--slug", "ts"],
                 ["claim", "add", "ts", "Traditional surgeons are common in south Sudan"],
                 ["request", "add", "--article", "ts", "--claim", "1", "--reader", "r", "--from-file",
                  str(pasted), "--stance", "supports", "--json"]):
        result = runner.invoke(cli, ["--db", db, *args])
        assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [(r["status"], r["doi"]) for r in out["references"]] == [
        ("matched", "10.1258/095646203767869057"), ("unmatched", None)]
    assert out["request"]["text"] == "You might add these:"
    store = Store(db)
    assert store.get_work("10.1258/095646203767869057") is not None  # fetched, stored, linkable
    assert [lk.doi for lk in wf.links(store, 1)] == ["10.1258/095646203767869057"]


def test_an_ambiguous_reference_keeps_its_candidates_but_gets_no_doi_and_no_link(desk):
    store, art, _, option = desk
    pasted = wf.add_request_from_comment(store, art.id, "r", "Sources:\n- Murakami et al. (2007)\n",
                                         offline(store), claim=option.id, stance="contests")
    (ref,) = pasted.references
    assert (ref.text, ref.status, ref.doi, ref.candidates) == ("Murakami et al. (2007)", "ambiguous", None,
                                                             [MURAKAMI])
    assert pasted.links == [] and wf.links(store, option.id) == []


# -- correcting how a pasted comment was split (issue 12) ---------------------------------------

MURAKAMI_LINES = textwrap.wrap(READER_REFERENCES[1], 78)
# The reader's three references numbered, Murakami's hard-wrapped as a mail client does:
# line 1 the reader's words, 3 Berthelot, 4.. Murakami, then Borowsky, thanks and signature.
WRAPPED = "\n".join(["Please post the references.", "",
                     f"1. {READER_REFERENCES[0]}",
                     f"2. {MURAKAMI_LINES[0]}", *MURAKAMI_LINES[1:],
                     f"3. {READER_REFERENCES[2]}", "",
                     "Thank you.", "Jerry Hesch"])
M_FIRST, M_LAST = 4, 3 + len(MURAKAMI_LINES)


@pytest.fixture
def pasted(desk):
    store, art, _, option = desk
    out = wf.add_request_from_comment(store, art.id, "Jerry Hesch", WRAPPED, offline(store), claim=option.id)
    # The splitter got this comment right: the corrections below start from the truth.
    assert [r.text for r in out.references] == READER_REFERENCES
    return store, out.request


def actions(store, request) -> list[str]:
    return [h.action for h in wf.history(store, request=request.id)]


def test_a_pasted_comment_is_kept_whole_with_each_chunks_lines(pasted):
    store, req = pasted
    assert wf.get_request(store, req.id).comment == WRAPPED
    chunks = wf.request_chunks(store, req.id)
    assert [(c.kind, c.line, c.end_line) for c in chunks] == [
        ("prose", 1, 1), ("reference", 3, 3), ("reference", M_FIRST, M_LAST),
        ("reference", M_LAST + 1, M_LAST + 1), ("prose", M_LAST + 3, M_LAST + 3),
        ("prose", M_LAST + 4, M_LAST + 4)]
    assert [c.number for c in chunks if c.kind == "reference"] == [1, 2, 3]
    assert chunks[2].reference.doi == MURAKAMI
    assert [c.text for c in chunks[-2:]] == ["Thank you.", "Jerry Hesch"]


def test_splitting_a_reference_at_a_line_and_merging_it_back_resolves_each_time(pasted):
    store, req = pasted
    first, second = wf.split_reference(store, req.id, 2, M_FIRST + 1, offline(store), actor="ed")
    assert first.text == MURAKAMI_LINES[0]
    assert second.text.startswith(MURAKAMI_LINES[1])
    assert (first.line, first.end_line) == (M_FIRST, M_FIRST)
    assert (second.line, second.end_line) == (M_FIRST + 1, M_LAST)
    refs = wf.reader_references(store, req.id)
    assert [r.position for r in refs] == [1, 2, 3, 4]
    assert refs[3].text == READER_REFERENCES[2]  # the later reference moved down
    assert MURAKAMI not in [r.doi for r in refs]  # neither half is the work
    merged = wf.merge_references(store, req.id, 2, offline(store), actor="ed")
    assert merged.text == READER_REFERENCES[1]
    assert (merged.status, merged.doi, merged.line, merged.end_line) == ("matched", MURAKAMI, M_FIRST, M_LAST)
    assert [r.text for r in wf.reader_references(store, req.id)] == READER_REFERENCES
    assert actions(store, req)[-2:] == ["request.reference.split", "request.reference.merge"]
    merge = wf.history(store, request=req.id)[-1]
    assert [b["text"] for b in merge.details["before"]] == [first.text, second.text]
    assert merge.actor == "ed" and merge.doi == MURAKAMI


def test_a_reference_is_split_before_the_words_the_second_begins_with(pasted):
    store, req = pasted
    first, second = wf.split_reference(store, req.id, 3, "Sources of sacroiliac", offline(store))
    assert first.text == "Borowsky CD, et al."
    assert second.text.startswith("Sources of sacroiliac region pain")
    assert [r.position for r in wf.reader_references(store, req.id)] == [1, 2, 3, 4]


@pytest.mark.parametrize("call, message", [
    (lambda s, r, res: wf.split_reference(s, r, 2, M_LAST + 1, res),
     f"reference 2 is on lines {M_FIRST}-{M_LAST}: split it at a line from {M_FIRST + 1} to {M_LAST}"),
    (lambda s, r, res: wf.split_reference(s, r, 2, M_FIRST, res), "at a line from"),
    (lambda s, r, res: wf.split_reference(s, r, 1, 4, res), "is on one line"),
    (lambda s, r, res: wf.split_reference(s, r, 2, "Visser", res), "'Visser' is not in reference 2"),
    (lambda s, r, res: wf.split_reference(s, r, 2, "Murakami", res), "is not in reference 2 after its start"),
    (lambda s, r, res: wf.merge_references(s, r, 3, res), "reference 3 is the last"),
    (lambda s, r, res: wf.merge_references(s, r, 9, res), "has no reference 9: its references are 1 to 3"),
    (lambda s, r, res: wf.mark_not_reference(s, r, 0), "has no reference 0"),
    (lambda s, r, res: wf.mark_reference(s, r, 999, res), "has no prose chunk 999"),
])
def test_corrections_at_positions_that_are_not_there_are_refused_and_change_nothing(pasted, call, message):
    store, req = pasted
    before = (table_counts(store), [r.to_json() for r in wf.reader_references(store, req.id)])
    with pytest.raises(UsageError, match=re.escape(message)):
        call(store, req.id, offline(store))
    assert (table_counts(store), [r.to_json() for r in wf.reader_references(store, req.id)]) == before


def test_a_reference_marked_not_a_reference_is_kept_as_prose_and_can_be_brought_back(pasted):
    store, req = pasted
    chunk = wf.mark_not_reference(store, req.id, 1, actor="ed")
    assert (chunk.text, chunk.line, chunk.end_line) == (READER_REFERENCES[0], 3, 3)
    assert [(r.position, r.text) for r in wf.reader_references(store, req.id)] == [
        (1, READER_REFERENCES[1]), (2, READER_REFERENCES[2])]
    kinds = [(c.kind, c.line) for c in wf.request_chunks(store, req.id)]
    assert kinds[:3] == [("prose", 1), ("prose", 3), ("reference", M_FIRST)]
    back = wf.mark_reference(store, req.id, chunk.id, offline(store), actor="ed")
    assert (back.position, back.text, back.line) == (1, READER_REFERENCES[0], 3)
    assert back.resolved_at is not None and not back.pending
    assert [r.text for r in wf.reader_references(store, req.id)] == READER_REFERENCES
    assert chunk.id not in [p.id for p in wf.prose_chunks(store, req.id)]
    assert actions(store, req)[-2:] == ["request.reference.not_reference", "request.reference.is_reference"]


def test_references_recorded_for_the_background_stay_pending_until_resolved_even_after_a_restart(desk):
    store, art, _, option = desk
    pending = wf.open_request_from_comment(store, art.id, "Jerry Hesch", WRAPPED, claim=option.id)
    # The server stopped before the job ran: only the database is left.
    refs = wf.reader_references(store, pending.request.id)
    assert [r.text for r in refs] == READER_REFERENCES and all(r.pending for r in refs)
    assert wf.reference_counts(store, [pending.request.id])[pending.request.id] == {
        "matched": 0, "ambiguous": 0, "unmatched": 0}
    done = wf.resolve_remaining(store, pending.request.id, offline(store))
    assert [r.position for r in done.references] == [1, 2, 3]
    assert wf.pending_references(store, pending.request.id) == []
    assert wf.reader_references(store, pending.request.id)[1].doi == MURAKAMI



def test_references_resumed_after_a_restart_are_linked_with_the_stance_the_reader_gave(desk):
    store, art, _, option = desk
    pending = wf.open_request_from_comment(store, art.id, "Jerry Hesch", WRAPPED, claim=option.id,
                                           stance="contests")
    assert wf.get_request(store, pending.request.id).stance == "contests"
    # The server stopped before the job ran; an editor resumes from the request's page.
    done = wf.resolve_remaining(store, pending.request.id, offline(store))
    assert [(lk.doi, lk.stance, lk.asserted_by) for lk in done.links] == [(MURAKAMI, "contests", "reader")]


def test_a_request_recorded_before_stances_were_kept_upgrades_without_one(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    with monkeypatch.context() as m:
        knowing_only(m, "m011_compact_works")
        old = Store(path)
        with old.write():
            old.db.execute("INSERT INTO articles (id, slug, title, added_at) VALUES (1, 'a', 'A', '2024')")
            old.db.execute("INSERT INTO requests (id, article_id, reader, status, received_at)"
                           " VALUES (1, 1, 'Jerry', 'open', '2024-01-01')")
        old.close()
    _store._known_schema.cache_clear()
    _store._CHECKED.clear()
    store = Store(path)
    req = wf.get_request(store, 1)
    assert (req.reader, req.stance) == ("Jerry", None)
    store.close()

def test_requests_recorded_before_lines_were_kept_upgrade_and_split_at_words_only(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    with monkeypatch.context() as m:
        knowing_only(m, "m007_identifiers")
        old = Store(path)
        assert "request_prose" not in old.db.table_names()
        with old.write():
            old.db.execute("INSERT INTO articles (id, slug, title, added_at) VALUES (1, 'a', 'A', '2024')")
            old.db.execute("INSERT INTO requests (id, article_id, reader, status, received_at)"
                           " VALUES (1, 1, 'Jerry', 'open', '2024-01-01')")
            old.db.execute("INSERT INTO request_references (request_id, position, text, status, resolved_at)"
                           " VALUES (1, 1, ?, 'unmatched', '2024-01-01')", [READER_REFERENCES[2]])
        old.close()
    # This process "was" the older version: forget that it found the file up to date.
    _store._known_schema.cache_clear()
    _store._CHECKED.clear()
    store = Store(path)
    store.import_snapshot(SAMPLE)
    (ref,) = wf.reader_references(store, 1)
    assert (ref.line, ref.end_line, ref.pending) == (None, None, False)
    assert wf.get_request(store, 1).comment is None
    with pytest.raises(UsageError, match="no line record"):
        wf.split_reference(store, 1, 1, 2, offline(store))
    first, second = wf.split_reference(store, 1, 1, "Sources of", offline(store))
    assert (first.line, second.line) == (None, None)
    assert [c.kind for c in wf.request_chunks(store, 1)] == ["reference", "reference"]
    store.close()


def test_request_add_prints_how_the_comment_was_split_and_the_corrections_exit_2_on_bad_positions(tmp_path):
    from click.testing import CliRunner

    from refkeeper.cli import cli

    db = str(tmp_path / "refs.db")
    comment = tmp_path / "comment.txt"
    comment.write_text(WRAPPED, encoding="utf-8")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, ["--db", db, *args])

    assert run("snapshot", "import", str(SAMPLE)).exit_code == 0
    assert run("article", "add", "SIJ", "--slug", "sij").exit_code == 0
    out = run("request", "add", "--article", "sij", "--reader", "Jerry", "--from-file", str(comment),
              "--offline")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    split_at = lines.index("how the comment was split:")
    rows = [" ".join(ln.split()[:4]) for ln in lines[split_at + 1:split_at + 7]]
    assert rows == ["prose #1 line 1", "ref 1 line 3", f"ref 2 lines {M_FIRST}-{M_LAST}",
                    f"ref 3 line {M_LAST + 1}", f"prose #2 line {M_LAST + 3}", f"prose #3 line {M_LAST + 4}"]
    bad = run("request", "split", "1", "2", "--at", str(M_LAST + 5), "--offline")
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines() == [
        f"Error: reference 2 is on lines {M_FIRST}-{M_LAST}: split it at a line from {M_FIRST + 1} to"
        f" {M_LAST} (the second part's first)"]
    assert run("request", "merge", "1", "3", "--offline").exit_code == 2
    ok = run("request", "split", "1", "2", "--at", str(M_FIRST + 1), "--offline")
    assert ok.exit_code == 0, ok.output
    listed = json.loads(run("request", "chunks", "1", "--json").output)
    assert [(c["kind"], c["number"]) for c in listed] == [
        ("prose", 1), ("reference", 1), ("reference", 2), ("reference", 3), ("reference", 4), ("prose", 2),
        ("prose", 3)]
    assert run("request", "not-ref", "1", "4").exit_code == 0
    assert run("request", "is-ref", "1", "4", "--offline").exit_code == 0
    assert run("request", "merge", "1", "2", "--offline").exit_code == 0
    final = json.loads(run("request", "chunks", "1", "--json").output)
    assert [c["text"] for c in final if c["kind"] == "reference"] == READER_REFERENCES
    assert "--at LINE|TEXT" in run("request", "split", "--help").output
