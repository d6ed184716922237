"""RIS export (EndNote, Zotero, Mendeley) and reading it back with rispy."""

from __future__ import annotations

import io

import pytest
import rispy
from conftest import SHARED_DATA
from test_csl import _core

from refkeeper._models import Work
from refkeeper.bibimport import read_ris
from refkeeper.export import ris_type, work_to_ris, write_ris

WORKS_FILE = SHARED_DATA / "crossref-works.jsonl.gz"


def test_article_record():
    record = {
        "DOI": "10.1/Art", "type": "journal-article", "title": ["CO<sub>2</sub> and <i>E. coli</i>"],
        "author": [{"family": "Müller", "given": "José", "suffix": "Jr."}, {"name": "WHO"}],
        "container-title": ["Journal"], "short-container-title": ["J"], "volume": "12",
        "issue": "3", "page": "100-110", "publisher": "Pub", "ISSN": ["1234-5678"],
        "issued": {"date-parts": [[2007, 3, 9]]},
    }
    assert work_to_ris(Work.from_crossref(record), "k", note="Retracted") == [
        ("TY", "JOUR"), ("ID", "k"), ("TI", "CO2 and E. coli"), ("AU", "Müller, José, Jr."),
        ("AU", "WHO"), ("T2", "Journal"), ("J2", "J"), ("PY", "2007"), ("DA", "2007/03/09/"),
        ("VL", "12"), ("IS", "3"), ("SP", "100"), ("EP", "110"), ("PB", "Pub"),
        ("SN", "1234-5678"), ("DO", "10.1/Art"), ("UR", "https://doi.org/10.1/Art"),
        ("N1", "Retracted"), ("ER", ""),
    ]


def test_every_type_round_trips_through_rispy_and_our_reader(every_type):
    records = every_type
    assert len({r["type"] for r in records}) >= 15
    works = [Work.from_crossref(r) for r in records]
    buf = io.StringIO()
    mapping = write_ris(works, buf)
    text = buf.getvalue()
    parsed = rispy.loads(text, delimiter_tags_mapping={})  # rispy's own defaults otherwise
    assert len(parsed) == len(records) == len(mapping)
    for record, entry in zip(records, parsed, strict=True):
        assert entry["type_of_reference"] == ris_type(record["type"])
        assert entry["doi"] == record["DOI"]
        assert entry["id"] == mapping[record["DOI"].lower()]
        authors = [p for p in record.get("author") or [] if p.get("family") or p.get("name")]
        assert len(entry.get("authors", [])) == len(authors)
    back, problems = read_ris(text)
    assert problems == []
    for record, again in zip(records, back, strict=True):
        assert _core(again.record) == _core(record), record["DOI"]
        assert again.key == mapping[record["DOI"].lower()]


@pytest.mark.parametrize("payload", ["x\nER  - \nTY  - JOUR\nTI  - evil", "a\r\nAU  - b", "\u2028ER  - "])
def test_values_cannot_start_tags(payload):
    work = Work.from_crossref({"DOI": "10.5555/e", "title": [payload], "author": [{"family": payload}]})
    buf = io.StringIO()
    write_ris([work, Work.from_crossref({"DOI": "10.5555/ok", "title": ["ok"]})], buf)
    entries, problems = read_ris(buf.getvalue())
    assert [e.record["DOI"] for e in entries] == ["10.5555/e", "10.5555/ok"] and not problems
    assert entries[0].record["title"] == [" ".join(payload.split())]


def test_reading_tolerates_real_world_ris():
    text = ("\ufeff1.\r\nTY  - CHAP\r\nAU  - Doe, Jane\r\nA2  - Ed, Al\r\nTI  - A chapter\r\n"
            "T2  - The Book\r\nPY  - 2001///\r\nSP  - 5\r\nEP  - 9\r\nSN  - 978-0-00-000000-2\r\n"
            "UR  - https://doi.org/10.5555%2Fx;y\r\nER  - \r\n\r\nTY  - JOUR\r\nTI  - cut off\r\n")
    entries, problems = read_ris(text)
    assert problems == ["1 record(s) without an ER line were not read"]
    (rec,) = [e.record for e in entries]
    assert rec["type"] == "book-chapter" and rec["DOI"] == "10.5555/x;y"
    assert rec["editor"] == [{"family": "Ed", "given": "Al"}]
    assert rec["page"] == "5-9" and rec["ISBN"] == ["978-0-00-000000-2"]
    assert rec["issued"] == {"date-parts": [[2001]]}
