"""One owner per table: only the module that owns a table writes SQL naming it.

The list is the one in DEVELOPERS.md. The scan reads every module of ``src/refkeeper``
(the stand-in has its own database and is left out) for SQL that names a table —
``INSERT INTO x``, ``UPDATE x``, ``DELETE FROM x``, ``FROM x``, ``JOIN x``, ``db["x"]``,
``db.table("x")`` — and fails when a module other than the owner names it. The schema's
migrations in ``_store.py`` create every table and are allowed to.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from refkeeper._store import FTS_TABLE, Store

SRC = Path(__file__).resolve().parent.parent / "src" / "refkeeper"

OWNERS = {
    "works": "_store.py",
    "citations": "_store.py",
    FTS_TABLE: "_store.py",
    "work_keys": "_store.py",  # written through _index, as works_fts is
    "index_state": "_store.py",
    "snapshot_files": "_store.py",
    "_sqlite_migrations": "_store.py",
    "articles": "workflow/_claims.py",
    "claims": "workflow/_claims.py",
    "links": "workflow/_links.py",
    "requests": "workflow/_requests.py",
    "request_works": "workflow/_requests.py",
    "request_references": "workflow/_requests.py",
    "request_prose": "workflow/_requests.py",
    "history": "workflow/_history.py",
    "verify_runs": "verify/_runs.py",
    "verify_results": "verify/_runs.py",
    "work_snapshots": "verify/_runs.py",
    "editors": "_editors.py",
    "work_identifiers": "_identifiers.py",
}

SQL_NAMES = [
    re.compile(r"\b(?:INSERT(?:\s+OR\s+[A-Z]+)?\s+INTO|UPDATE|DELETE\s+FROM|FROM|JOIN)\s+[\[\"`]?(\w+)"),
    re.compile(r"\bdb\[\s*[\"'](\w+)[\"']\s*\]"),
    re.compile(r"\.table\(\s*[\"'](\w+)[\"']"),
]


def tables_named(source: str) -> set[str]:
    return {m.group(1) for pattern in SQL_NAMES for m in pattern.finditer(source)}


def without_migrations(source: str) -> str:
    """The source with the bodies of ``@migrations()`` functions blanked out."""
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        decorators = getattr(node, "decorator_list", [])
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Call) and getattr(d.func, "id", None) == "migrations" for d in decorators
        ):
            for i in range(node.lineno - 1, node.end_lineno):
                lines[i] = ""
    return "\n".join(lines)


def modules() -> dict[str, str]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("standin/"):
            continue  # the Crossref stand-in's own database, not refs.db
        source = path.read_text(encoding="utf-8")
        out[rel] = without_migrations(source) if rel == "_store.py" else source
    return out


def test_every_table_of_the_schema_has_an_owner(tmp_path):
    store = Store(tmp_path / "refs.db")
    tables = {t for t in store.db.table_names() if not t.startswith(FTS_TABLE + "_")}
    store.close()
    assert tables == set(OWNERS)


def test_the_scan_sees_each_owner_naming_its_tables():
    # Proof the patterns find real SQL: every owner names each of its tables.
    found = {rel: tables_named(src) for rel, src in modules().items()}
    for table, owner in OWNERS.items():
        if table in (FTS_TABLE, "work_keys", "_sqlite_migrations"):
            continue  # named through a constant / by sqlite-utils' Migrations
        assert table in found[owner], f"{owner} does not name {table}: the scan is broken"


def test_the_scan_catches_a_module_naming_a_table_it_does_not_own():
    assert tables_named('db.execute("SELECT l.doi FROM links l JOIN claims c ON c.id = l.claim_id")') == {
        "links", "claims"}
    assert tables_named('store.db["works"].count; db.table("history")') == {"works", "history"}
    assert tables_named("INSERT OR REPLACE INTO request_works (doi) VALUES (?)") == {"request_works"}


@pytest.mark.parametrize("rel", sorted(modules()))
def test_only_the_owner_names_a_table_in_sql(rel):
    named = tables_named(modules()[rel]) & set(OWNERS)
    foreign = sorted(t for t in named if OWNERS[t] != rel)
    assert not foreign, f"{rel} names {foreign}, owned by {[OWNERS[t] for t in foreign]}: call the owner"
