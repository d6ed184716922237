"""Golden files: every export format of real records picked by property.

tests/golden/ is written by scripts/make_golden.py (never by hand): the records are the
first in ../shared/data with each Crossref type, accented and non-Latin names,
organisations, markup and math in titles, missing fields, odd DOIs, long author lists...
(the reason for each is in works.tsv). An intended change to a format is made by
re-running the script and reviewing the diff; an unintended one fails here.
"""

from __future__ import annotations

import importlib.util

import pytest
from conftest import ROOT, SHARED_DATA
from pybtex.database import parse_string

GOLDEN = ROOT / "tests" / "golden"
WORKS_FILE = SHARED_DATA / "crossref-works.jsonl.gz"


def _script():
    spec = importlib.util.spec_from_file_location("make_golden", ROOT / "scripts" / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def golden():
    if not WORKS_FILE.exists():
        pytest.skip(f"shared data not found: {WORKS_FILE}")
    script = _script()
    lines = (GOLDEN / "works.tsv").read_text(encoding="utf-8").splitlines()
    picked = [line.split("\t") for line in lines if line and not line.startswith("#")]
    records = script.load([doi for doi, _ in picked], WORKS_FILE)
    return script, picked, records


def test_golden_files_cover_what_the_issue_asks(golden):
    _, picked, _ = golden
    reasons = {r for _, why in picked for r in why.split(",")}
    for needed in ("accented-name", "non-latin-name", "organisation", "italic-title",
                   "sub-sup-title", "mathml-title", "tex-title", "no-title", "no-author",
                   "no-year", "odd-doi", "type:journal-article", "type:book-chapter",
                   "type:dataset", "type:posted-content", "type:dissertation"):
        assert needed in reasons, needed


def test_outputs_match_the_golden_files(golden):
    script, _, records = golden
    rendered = script.render(records)
    assert set(rendered) == {name for name, _, _ in script.OUTPUTS}
    for name, content in rendered.items():
        expected = (GOLDEN / name).read_text(encoding="utf-8")
        assert content == expected, f"{name} changed: run scripts/make_golden.py and review the diff"


def test_golden_bibtex_parses_back_to_every_record(golden):
    _, picked, records = golden
    for name in ("export.bib", "export-ascii.bib"):
        data = parse_string((GOLDEN / name).read_text(encoding="utf-8"), "bibtex")
        assert [e.fields["doi"] for e in data.entries.values()] == [r["DOI"] for r in records]
    assert (GOLDEN / "export-ascii.bib").read_text(encoding="utf-8").isascii()


def test_selection_is_reproducible(golden):
    script, picked, _ = golden
    again = script.select(WORKS_FILE)
    assert [(r["DOI"], why) for why, r in again] == [tuple(p) for p in picked]
