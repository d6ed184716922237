"""The SQLite store: works in, works out, answers cached, schema upgraded in place."""

from __future__ import annotations

import gzip
import json
import sqlite3

import pytest

from refkeeper._errors import InputError, NotFoundError, StoreError
from refkeeper._models import Candidate, Resolution
from refkeeper._store import Store, migrations


def test_a_new_database_has_the_schema_and_records_its_migrations(tmp_path):
    store = Store(tmp_path / "refs.db")
    assert {"works", "citations", "works_fts"} <= set(store.db.table_names())
    assert [m.name for m in migrations.applied(store.db)] == [m.name for m in migrations._migrations]
    fks = store.db["citations"].foreign_keys
    assert any(fk.other_table == "works" for fk in fks)


def test_snapshot_import_streams_records_and_indexes_them(sample_store):
    assert sample_store.count_works() == 302
    murakami = sample_store.get_work("10.1007/S00776-007-1126-1")  # DOIs are case-insensitive
    assert murakami.title.startswith("Effect of periarticular")
    hits = sample_store.search("periarticular intraarticular lidocaine sacroiliac", limit=3)
    assert hits[0].doi == "10.1007/s00776-007-1126-1"


def test_reimporting_updates_in_place_without_duplicates(sample_store, tmp_path):
    rec = sample_store.get_work("10.1007/s00776-007-1126-1").record
    rec = dict(rec, title=["A corrected title"])
    f = tmp_path / "one.jsonl"
    f.write_text(json.dumps(rec) + "\n")
    sample_store.import_snapshot(f)
    assert sample_store.count_works() == 302
    assert sample_store.get_work("10.1007/s00776-007-1126-1").title == "A corrected title"
    assert sample_store.search("corrected title", limit=1)[0].doi == "10.1007/s00776-007-1126-1"


def test_a_broken_snapshot_line_is_reported_and_earlier_batches_kept(tmp_path):
    store = Store(tmp_path / "refs.db")
    f = tmp_path / "bad.jsonl.gz"
    with gzip.open(f, "wt") as fh:
        fh.write(json.dumps({"DOI": "10.1/ok", "title": ["Fine"]}) + "\n{not json\n")
    with pytest.raises(InputError, match=":2: not JSON"):
        store.import_snapshot(f)


def test_unknown_doi_is_a_not_found_error(tmp_path):
    with pytest.raises(NotFoundError):
        Store(tmp_path / "refs.db").require_work("10.1/nothing")


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path):
    bad = tmp_path / "refs.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        Store(bad)


def test_resolutions_are_cached_by_text_and_context(sample_store):
    work = sample_store.get_work("10.1007/s00776-007-1126-1")
    res = Resolution("Murakami 2007", "matched", work.doi, 0.9,
                     [Candidate(work.doi, 0.9, work.title, work=work)], method="mention")
    sample_store.save_resolution(res, context="lidocaine")
    assert sample_store.cached_resolution("Murakami 2007", "lidocaine").doi == work.doi
    assert sample_store.cached_resolution("Murakami  2007", "lidocaine").cached  # spacing folded
    assert sample_store.cached_resolution("Murakami 2007") is None  # other context


def test_foreign_keys_are_enforced(sample_store):
    with pytest.raises(sqlite3.IntegrityError):
        sample_store.db.execute(
            "INSERT INTO citations (key, text, status, doi) VALUES ('k', 't', 'matched', '10.1/none')"
        )


@pytest.mark.parametrize(
    "raw, kinds",
    [
        (None, None),
        ("not json", None),
        ("[]", []),
        ('["retraction", "Expression of concern"]', ["retraction", "expression-of-concern"]),
        ([{"kind": "correction"}, "", 3], ["correction"]),
    ],
)
def test_recorded_problems_are_read_one_way_everywhere(raw, kinds):
    from refkeeper._models import problem_kinds

    assert problem_kinds(raw) == kinds
