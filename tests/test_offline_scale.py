"""Offline resolution at any size (issue 14): bounded look-ups, answers that follow the index,
and an upgrade from the schema before it."""

from __future__ import annotations

import gzip
import json

import sqlite_utils
from conftest import READER_REFERENCES, SAMPLE, migrations_before

from refkeeper import _index as index
from refkeeper import _store
from refkeeper._models import Work
from refkeeper._resolve import Resolver
from refkeeper._sources import IndexSource
from refkeeper._store import FTS_TABLE, Store

MURAKAMI_DOI = "10.1007/s00776-007-1126-1"
MURAKAMI = READER_REFERENCES[1]


def sample_records() -> list[dict]:
    return [json.loads(line) for line in gzip.open(SAMPLE, "rt", encoding="utf-8")]


def murakami_record() -> dict:
    return next(r for r in sample_records() if r["DOI"].lower() == MURAKAMI_DOI)


def padding(n: int, rec: dict) -> list[dict]:
    """``n`` works with the same title as ``rec`` by other people in other years and
    volumes, under a test prefix: the title's words become common."""
    out = []
    for i in range(n):
        out.append(dict(rec, DOI=f"10.5555/padding-{i}", author=[{"family": f"Padder{i}", "given": "P"}],
                        volume=str(100 + i), page=f"{1000 + i}-{1010 + i}",
                        issued={"date-parts": [[1950 + i % 40]]}))
    return out


def test_a_records_blocking_keys_are_its_first_author_and_year_its_volume_and_page_and_title_words():
    keys = index.blocking_keys(murakami_record())
    assert {"amurakami|2007", "p12|274", "tperiarticular", "tlidocaine"} <= keys
    assert not any(k.startswith("tof") or k == "tand" for k in keys)  # stop words are not keys


def test_a_word_in_more_titles_than_the_cap_is_not_evidence_but_author_and_year_still_find_the_work(tmp_path):
    store = Store(tmp_path / "refs.db")
    store.add_records(sample_records() + padding(30, murakami_record()), "snapshot")
    total = store.count_works()
    # With a cap of 10, every title word is common: only the keys and the (AND) fallback count.
    hits = index.candidates(store.db.conn, MURAKAMI, 5, total, FTS_TABLE, cap=10)
    rowid = store.db.execute("SELECT rowid FROM works WHERE doi = ?", [MURAKAMI_DOI]).fetchone()[0]
    assert hits[0][0] == rowid
    # A citation sharing only those common title words finds nothing from them alone.
    title_only = "Effect of periarticular and intraarticular lidocaine injections"
    hits = index.candidates(store.db.conn, title_only, 5, total, FTS_TABLE, cap=100)
    assert rowid in {r for r, _ in hits}  # rare enough at cap 100 ...
    assert not any(s > 0 for _, s in index.candidates(
        store.db.conn, "periarticular", 5, total, FTS_TABLE, cap=10))  # ... not at cap 10


def test_the_resolver_still_matches_the_work_among_works_sharing_its_title(tmp_path):
    store = Store(tmp_path / "refs.db")
    store.add_records(sample_records() + padding(150, murakami_record()), "snapshot")
    res = Resolver(source=IndexSource(store), store=store).resolve(MURAKAMI)
    assert (res.status, res.doi) == ("matched", MURAKAMI_DOI)


def test_a_mention_is_found_by_its_first_author_and_year_key(sample_store):
    works = IndexSource(sample_store).mention("Murakami", 2007, None)
    assert MURAKAMI_DOI in [w.doi for w in works]
    assert IndexSource(sample_store).mention("Murakami", 2011, None) == []


def test_an_offline_answer_that_found_nothing_is_decided_again_once_the_index_changed(tmp_path):
    store = Store(tmp_path / "refs.db")
    store.add_records([r for r in sample_records() if r["DOI"].lower() != MURAKAMI_DOI], "snapshot")
    resolver = Resolver(source=IndexSource(store), store=store)
    assert resolver.resolve(MURAKAMI).status == "unmatched"
    assert resolver.resolve(MURAKAMI).cached  # same index: the answer stands
    before = store.generation()
    store.add_records([murakami_record()], "snapshot")
    assert store.generation() > before
    again = resolver.resolve(MURAKAMI)
    assert (again.cached, again.status, again.doi) == (False, "matched", MURAKAMI_DOI)
    # A match is kept whatever changes later.
    store.add_records(padding(3, murakami_record()), "snapshot")
    assert resolver.resolve(MURAKAMI).cached


def test_reimporting_a_work_moves_its_keys_with_it(sample_store):
    rec = dict(murakami_record(), volume="99", page="1-9")
    sample_store.add_records([rec], "snapshot")
    keys = {k for (k,) in sample_store.db.execute(
        "SELECT key FROM work_keys WHERE work = (SELECT rowid FROM works WHERE doi = ?)", [MURAKAMI_DOI])}
    assert "p99|1" in keys and "p12|274" not in keys


def test_a_database_of_the_previous_schema_is_upgraded_and_its_old_answers_re_decided(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    # The previous version: migrations up to m004; it wrote works, their FTS rows and
    # cached answers without a generation.
    old = migrations_before("m009")
    db = sqlite_utils.Database(path)
    old.apply(db)
    records = sample_records()
    rows = []
    for r in records:
        w = Work.from_crossref(r)
        rows.append({"doi": w.doi, "title": w.title, "authors": json.dumps(w.authors), "year": w.year,
                     "record": json.dumps(r), "source": "snapshot"})
    db["works"].insert_all(rows, pk="doi", alter=False)
    stored = db.execute("SELECT rowid, record FROM works").fetchall()
    index.add(db.conn, FTS_TABLE, [(rowid, json.loads(rec)) for rowid, rec in stored])
    # An answer decided offline against a half-built index, as the old version cached it.
    db["citations"].insert({"key": _store.citation_key(MURAKAMI), "text": MURAKAMI,
                            "status": "unmatched", "candidates": "[]", "source": "offline",
                            "resolved_at": "2026-01-01T00:00:00+00:00"})
    db.conn.commit()
    db.close()

    store = Store(path)
    assert "generation" in store.db["citations"].columns_dict
    assert store.db.execute("SELECT count(*) FROM work_keys").fetchone()[0] > len(records)
    assert [w.doi for w in store.candidates(MURAKAMI, 1)] == [MURAKAMI_DOI]
    res = Resolver(source=IndexSource(store), store=store).resolve(MURAKAMI)
    assert (res.cached, res.status, res.doi) == (False, "matched", MURAKAMI_DOI)
    store.close()


def test_works_found_by_one_key_alone_are_told_apart_by_their_titles(tmp_path):
    murakami = murakami_record()
    # Six works stored first (lower rowids) at the same volume and first page, other titles
    # and authors; 101 more with Murakami's title words, so that no title word is rare.
    same_page = [dict(murakami, DOI=f"10.5555/same-page-{i}", title=[f"Unrelated work number {i}"],
                      author=[{"family": f"Other{i}"}]) for i in range(6)]
    common = [dict(rec, volume="1", page="1") for rec in padding(101, murakami)]
    store = Store(tmp_path / "refs.db")
    store.add_records(same_page + common + [murakami], "snapshot")
    text = ("Effect of periarticular and intraarticular lidocaine injections for sacroiliac joint pain: "
            "prospective comparative study. J Orthop Sci 12:274-80")
    assert store.candidates(text, 5)[0].doi == MURAKAMI_DOI


KAWAGUCHI_DOI = "10.1016/j.arthro.2014.08.033"  # its PII: S0749806314007439


def test_a_citation_with_a_broken_or_cut_short_doi_or_a_pii_finds_the_work_by_it(sample_store):
    def found(text: str) -> str | None:
        works = sample_store.candidates(text, 1)
        return works[0].doi if works else None

    # Nothing else in these strings points to the work: the DOI-like token alone finds it.
    assert found("doi:10.1007/ s00776-007-1126-1") == MURAKAMI_DOI  # split by a line break
    assert found("https://doi.org/10.1007/s00776-007-11") == MURAKAMI_DOI  # cut short
    assert found("PII: S0749-8063(14)00743-9") == KAWAGUCHI_DOI  # the publisher's id
    # Numbers alone are volumes, pages and years, never DOI-like tokens.
    assert index.doi_like_tokens("Lancet 2005;366:1059-1062, 10.1016/") == []


def test_a_records_doi_like_keys_are_its_doi_suffix_and_pii_not_a_random_publisher_id():
    record = dict(murakami_record(), **{"alternative-id": ["S0749806314007439", "K92BQTT9HJJ0V7GA"],
                                        "article-number": "e12059"})
    assert index.doi_like_keys(record) == {"s0077600711261", "s0749806314007439", "e12059"}
    assert {f"d{k}" for k in index.doi_like_keys(record)} <= index.blocking_keys(record)


def test_works_stored_before_doi_like_keys_get_theirs_on_upgrade(tmp_path):
    path = tmp_path / "old.db"
    # The previous version: every migration before m014, works written with their
    # full-text rows and blocking keys, none of them DOI-like.
    old = migrations_before("m014")
    db = sqlite_utils.Database(path)
    old.apply(db)
    records = sample_records()
    for r in records:
        w = Work.from_crossref(r)
        db["works"].insert({"doi": w.doi, "title": w.title, "authors": json.dumps(w.authors),
                            "year": w.year, "record": _store.pack_record(r), "source": "snapshot"})
    stored = [(rowid, _store.unpack_record(rec))
              for rowid, rec in db.execute("SELECT rowid, record FROM works")]
    index.add_compact(db.conn, FTS_TABLE, stored)
    index.add_key_sets(db.conn, [(rowid, {k for k in index.blocking_keys(r) if not k.startswith("d")})
                                 for rowid, r in stored])
    db.conn.commit()
    assert not db.execute("SELECT count(*) FROM work_keys WHERE key LIKE 'd%'").fetchone()[0]
    db.close()

    store = Store(path)
    assert [w.doi for w in store.candidates("doi:10.1007/ s00776-007-1126-1", 1)] == [MURAKAMI_DOI]
    res = Resolver(source=IndexSource(store), store=store).resolve(
        MURAKAMI + " doi:10.1007/ s00776-007-1126-1")
    assert (res.status, res.doi) == ("matched", MURAKAMI_DOI)
    store.close()
