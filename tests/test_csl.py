"""CSL-JSON export and import: what citeproc, Pandoc and Zotero read.

Validity is checked against the CSL 1.0.2 schema that citeproc-py ships (item types and
variable names, with names as name objects, dates as date-parts, the rest strings or
numbers), and by rendering every exported item with citeproc-py itself.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from conftest import SHARED_DATA

from refkeeper._errors import InputError
from refkeeper._models import Work
from refkeeper.bibimport import read_csl_json
from refkeeper.export import TYPES, plain_title, work_title, work_to_csl, write_csl_json

WORKS_FILE = SHARED_DATA / "crossref-works.jsonl.gz"


# CSL 1.0.2 item types and the variables refkeeper writes, for machines without citeproc-py
# (whose copy of the official schema is read instead when it is installed).
_FALLBACK_TYPES = set("""article article-journal article-magazine article-newspaper bill book
    broadcast chapter classic collection dataset document entry entry-dictionary
    entry-encyclopedia event figure graphic hearing interview legal_case legislation manuscript
    map motion_picture musical_score pamphlet paper-conference patent performance periodical
    personal_communication post post-weblog regulation report review review-book software song
    speech standard thesis treaty webpage""".split())
_FALLBACK_VARIABLES = {
    "dates": {"issued"}, "names": {"author", "editor"},
    "numbers": {"edition", "issue", "number", "page", "volume"},
    "titles": {"title", "container-title", "container-title-short"},
    "strings": {"citation-key", "DOI", "event-title", "event-place", "genre", "ISBN", "ISSN",
                "language", "note", "publisher", "publisher-place", "URL"},
}


def _schema() -> tuple[set[str], dict[str, set[str]]]:
    """Item types and variables (by kind) from citeproc-py's copy of the CSL schema."""
    try:
        import citeproc
    except ImportError:
        return _FALLBACK_TYPES, _FALLBACK_VARIABLES
    base = Path(citeproc.__file__).parent / "data" / "schema" / "schemas" / "styles"
    types_rnc = (base / "csl-types.rnc").read_text()
    variables_rnc = (base / "csl-variables.rnc").read_text()
    item_types = set(re.findall(r'"([a-z_-]+)"', types_rnc.split("item-types =")[1].split("}")[0]))

    def block(name: str) -> set[str]:
        body = variables_rnc.split(f"variables.{name} =")[1]
        body = re.split(r"\n\s*\n|\n\s*variables\.|\n}", body)[0]
        return set(re.findall(r'"([A-Za-z_-]+)"', body))

    kinds = {k: block(k) for k in ("dates", "names", "numbers", "titles", "strings")}
    assert item_types == _FALLBACK_TYPES
    assert all(_FALLBACK_VARIABLES[k] <= kinds[k] for k in kinds)
    return item_types, kinds


def _assert_valid_item(item: dict, item_types: set[str], kinds: dict[str, set[str]]) -> None:
    assert isinstance(item["id"], str) and item["id"]
    assert item["type"] in item_types, item["type"]
    for var, value in item.items():
        if var in ("id", "type"):
            continue
        if var in kinds["names"]:
            assert isinstance(value, list) and value
            for name in value:
                assert set(name) <= {"family", "given", "suffix", "literal",
                                     "non-dropping-particle", "dropping-particle"}, name
                assert ("family" in name) != ("literal" in name), name
                assert all(isinstance(v, str) and v.strip() == v and v for v in name.values())
        elif var in kinds["dates"]:
            parts = value["date-parts"]  # one date, or a range of two ([0]: an open end)
            assert set(value) == {"date-parts"} and len(parts) in (1, 2)
            for date in parts:
                assert 1 <= len(date) <= 3 and all(isinstance(p, int) for p in date)
                assert date[0] != 0 or (date == [0] and date is parts[-1] and len(parts) == 2)
                if len(date) > 1:
                    assert 1 <= date[1] <= 12
        else:
            known = kinds["numbers"] | kinds["titles"] | kinds["strings"]
            assert var in known, var
            assert isinstance(value, (str, int)) and str(value).strip() == str(value) and value


def test_dates_with_ranges_and_years_before_1_ad_are_valid_csl():
    item_types, kinds = _schema()
    dates = [[[-379, 2]], [[1988], [1992]], [[2019, 3], [0]], [[2019, 11, 30], [2020, 2, 1]]]
    items = _export([{"DOI": f"10.5555/d{n}", "type": "book", "title": ["T"],
                      "issued": {"date-parts": d}} for n, d in enumerate(dates)])
    for item in items:
        _assert_valid_item(item, item_types, kinds)
    assert [i["issued"]["date-parts"] for i in items] == [
        [[-380, 2]], [[1988], [1992]], [[2019, 3], [0]], [[2019, 11, 30], [2020, 2, 1]]]


def _export(records: list[dict]) -> list[dict]:
    buf = io.StringIO()
    mapping = write_csl_json([Work.from_crossref(r) for r in records], buf)
    items = json.loads(buf.getvalue())
    assert len(items) == len(mapping) == len(records)
    return items


def test_every_export_is_valid_csl(every_type):
    records = every_type
    item_types, kinds = _schema()
    assert {names.csl for names in TYPES.values()} <= item_types
    items = _export(records)
    assert len({i["id"] for i in items}) == len(items)
    for item in items:
        _assert_valid_item(item, item_types, kinds)
        assert item["citation-key"] == item["id"]


# citeproc-py implements CSL 1.0.1 and warns about 1.0.2 variables (citation-key, event-title)
@pytest.mark.filterwarnings("ignore:The following arguments for Reference are unsupported")
def test_every_export_renders_with_citeproc(every_type):
    records = every_type
    pytest.importorskip("citeproc")
    items = _export(records)
    from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
    from citeproc.source.json import CiteProcJSON

    source = CiteProcJSON(items)
    style = CitationStylesStyle("harvard-cite-them-right", validate=False)
    bibliography = CitationStylesBibliography(style, source, formatter.plain)
    for item in items:
        bibliography.register(Citation([CitationItem(item["id"])]))
    rendered = [str(entry) for entry in bibliography.bibliography()]
    assert len(rendered) == len(items)
    joined = "\n".join(rendered)
    found = sum(1 for i in items if i.get("DOI") and i["DOI"] in joined)
    assert found >= 0.9 * len(items)  # the style prints DOIs


def test_fields_of_a_real_looking_article():
    record = {
        "DOI": "10.1/Art", "type": "journal-article",
        "title": ["CO<sub>2</sub> in <i>E. coli</i> and <scp>dna</scp> "
                  "<mml:math><mml:mi>x</mml:mi></mml:math>"],
        "subtitle": ["a trial"],
        "author": [{"family": "Müller", "given": "José", "suffix": "Jr."},
                   {"name": "WHO Group"}, {"given": "Only"}],
        "editor": [{"family": "Ed", "given": "A"}],
        "container-title": ["Journal of <i>Things</i>"], "short-container-title": ["J Things"],
        "volume": "12", "issue": "3", "page": "100-110", "publisher": "Pub & Co",
        "ISSN": ["1234-5678", "8765-4321"], "issued": {"date-parts": [[2007, 3, 40]]},
    }
    item = work_to_csl(Work.from_crossref(record), "muller2007co", note="Retracted")
    assert item == {
        "id": "muller2007co", "citation-key": "muller2007co", "type": "article-journal",
        "title": 'CO<sub>2</sub> in <i>E. coli</i> and <span style="font-variant:small-caps;">dna'
                 "</span> x: a trial",
        "container-title": "Journal of Things", "container-title-short": "J Things",
        "author": [{"family": "Müller", "given": "José", "suffix": "Jr."},
                   {"literal": "WHO Group"}, {"literal": "Only"}],
        "editor": [{"family": "Ed", "given": "A"}],
        "issued": {"date-parts": [[2007, 3]]},
        "volume": "12", "issue": "3", "page": "100-110", "publisher": "Pub & Co",
        "ISSN": "1234-5678", "DOI": "10.1/Art", "URL": "https://doi.org/10.1/Art",
        "note": "Retracted",
    }


def test_hostile_text_stays_data():
    payload = '"}], "type": "x", "<script>": [1, {"a": "\n\u2028'
    work = Work.from_crossref({"DOI": "10.1/e", "title": [payload], "author": [{"family": payload}],
                               "container-title": [payload]})
    for ascii in (False, True):
        buf = io.StringIO()
        write_csl_json([work], buf, ascii=ascii)
        items = json.loads(buf.getvalue())
        assert len(items) == 1 and items[0]["type"] == "document"
        assert "<script>" not in items[0]["title"]  # unknown tags dropped, never passed on
        assert items[0]["author"][0]["family"] == " ".join(payload.split())
        assert buf.getvalue().count("\n") == 3  # one item per line: "[", item, "]"
        if ascii:
            assert buf.getvalue().isascii()


def _core(record: dict) -> dict:
    """The fields every format carries, as a reader sees them."""
    work = Work.from_crossref(record)
    people = [(p.get("family") or p.get("name") or p.get("literal") or p.get("given") or "").strip()
              for p in record.get("author") or []
              if (p.get("family") or p.get("name") or p.get("literal") or p.get("given") or "").strip()]
    return {
        "doi": record["DOI"].lower(),
        "title": " ".join(plain_title(work_title(work) or "").split()),
        "authors": [" ".join(p.split()) for p in people],
        "year": work.year,
        "volume": " ".join((record.get("volume") or "").split()) or None,
        "issue": " ".join((record.get("issue") or "").split()) or None,
        "container": " ".join(plain_title((record.get("container-title") or [""])[0]).split()) or None,
    }


def test_round_trip_through_csl_json_keeps_the_fields(every_type):
    buf = io.StringIO()
    keys = write_csl_json([Work.from_crossref(r) for r in every_type], buf)
    back, problems = read_csl_json(buf.getvalue())
    assert problems == []
    for record, again in zip(every_type, back, strict=True):
        assert _core(again.record) == _core(record), record["DOI"]
        assert again.key == keys[record["DOI"].lower()]


def test_reading_csl_json_variants():
    one = '{"id": "k", "type": "chapter", "title": "T", "DOI": "10.5555/x", "author": ' \
          '[{"family": "Berg", "non-dropping-particle": "van der", "given": "Jan"}], ' \
          '"issued": {"raw": "May 2001"}, "ISBN": "978-0-00-000000-2", "number": 7}'
    (entry,), _ = read_csl_json(one)
    rec = entry.record
    assert rec["type"] == "book-chapter" and rec["author"] == [{"family": "van der Berg", "given": "Jan"}]
    assert rec["issued"] == {"date-parts": [[2001]]} and rec["ISBN"] == ["978-0-00-000000-2"]
    assert entry.key == "k"
    assert len(read_csl_json('{"items": [{"id": 1}, {"id": 2}]}')[0]) == 2
    for bad in ("not json", '"a string"', "[1, 2]"):
        with pytest.raises(InputError):
            read_csl_json(bad)
