"""Field-by-field validation: what makes a candidate the cited work, and what does not."""

from __future__ import annotations

import copy
import gzip
import json

import pytest
from conftest import SHARED_DATA

from refkeeper._match import (
    CitationFeatures,
    container_agreement,
    decide,
    expand_last_page,
    extract_dois,
    rank,
    validate,
)
from refkeeper._models import Work

MURAKAMI = {
    "DOI": "10.1007/s00776-007-1126-1",
    "type": "journal-article",
    "title": [
        "Effect of periarticular and intraarticular lidocaine injections for sacroiliac "
        "joint pain: prospective comparative study"
    ],
    "author": [
        {"family": "Murakami", "given": "E.", "sequence": "first"},
        {"family": "Tanaka", "given": "Y.", "sequence": "additional"},
    ],
    "container-title": ["Journal of Orthopaedic Science"],
    "volume": "12",
    "issue": "3",
    "page": "274-280",
    "issued": {"date-parts": [[2007, 5]]},
}
READER_MURAKAMI = (
    "Murakami E, Tanaka Y, Aizawa T, Ishizuka M, Kokubun S.Effect of periarticular and "
    "intraarticular lidocaine injections for sacroiliac joint pain: prospective comparative "
    "study. J Orthop Sci. 2007 May;12(3):274-80. Epub 2007 May 31."
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("doi:10.1007/s00776-007-1126-1.", ["10.1007/s00776-007-1126-1"]),
        ("https://doi.org/10.1038/nphys1170).", ["10.1038/nphys1170"]),
        ("DOI 10.1016/S0140-6736(05)67402-8;", ["10.1016/S0140-6736(05)67402-8"]),
        ("see http://dx.doi.org/10.1002/(SICI)1097-4652(200004)183:1<53::AID-JCP7>3.0.CO;2-R",
         ["10.1002/(SICI)1097-4652(200004)183:1<53::AID-JCP7>3.0.CO;2-R"]),
        ("no doi here, 10.5 mg", []),
    ],
)
def test_dois_are_extracted_in_any_written_form(text, expected):
    assert extract_dois(text) == expected


@pytest.mark.parametrize(
    "first, last, expanded",
    [("1425", "37", "1437"), ("274", "80", "280"), ("2048", "2056", "2056"), ("99", "101", "101")],
)
def test_abbreviated_last_pages_are_expanded(first, last, expanded):
    assert expand_last_page(first, last) == expanded


def test_features_read_years_pages_and_volume_like_numbers():
    cit = CitationFeatures.parse(READER_MURAKAMI)
    assert 2007 in cit.years
    assert ("274", "280") in cit.ranges
    assert {"12", "3"} <= cit.volume_like
    assert "2007" not in cit.volume_like


def test_journal_abbreviations_match_the_full_title():
    cit = CitationFeatures.parse(READER_MURAKAMI)
    assert container_agreement(["Journal of Orthopaedic Science"], cit) == 1.0
    assert container_agreement(["Joint Bone Spine"], cit) < 1.0


def test_every_field_of_the_right_record_agrees():
    v = validate(Work.from_crossref(MURAKAMI), CitationFeatures.parse(READER_MURAKAMI))
    assert v.acceptable
    assert {"title", "author", "year", "volume", "page", "container"} <= set(v.evidence.agree)
    assert v.evidence.disagree == []
    assert v.score > 0.95


def _altered(**changes) -> Work:
    rec = copy.deepcopy(MURAKAMI)
    rec.update(changes)
    return Work.from_crossref(rec)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"page": "1-8"}, "page"),
        ({"issued": {"date-parts": [[2010]]}}, "year"),
        ({"title": ["Sacroiliac joint fusion outcomes in failed back syndrome cohorts"]}, "title"),
    ],
)
def test_a_contradicted_field_rejects_a_candidate(change, field):
    v = validate(_altered(**change), CitationFeatures.parse(READER_MURAKAMI))
    assert field in v.evidence.disagree
    assert not v.acceptable


def test_same_title_by_another_first_author_needs_every_locator():
    other = _altered(author=[{"family": "Nakamura", "sequence": "first"}], page="500-510")
    assert not validate(other, CitationFeatures.parse(READER_MURAKAMI)).acceptable


def test_a_close_runner_up_makes_the_answer_ambiguous():
    cit = CitationFeatures.parse(READER_MURAKAMI)
    twin = copy.deepcopy(MURAKAMI)
    twin["DOI"] = "10.9999/preprint-of-murakami"
    cands = rank([Work.from_crossref(MURAKAMI), Work.from_crossref(twin)], cit)
    assert decide(cands)[0] == "ambiguous"


def test_no_candidate_is_unmatched_and_a_weak_one_too():
    cit = CitationFeatures.parse(READER_MURAKAMI)
    assert decide([])[0] == "unmatched"
    stranger = Work.from_crossref(
        {"DOI": "10.1/x", "title": ["Quantum dots in photovoltaics"], "volume": "88",
         "page": "9-19", "author": [{"family": "Smith"}], "issued": {"date-parts": [[1999]]}}
    )
    assert decide(rank([stranger], cit))[0] == "unmatched"


def test_a_reference_without_title_matches_on_its_full_locator():
    rec = {"DOI": "10.1103/physrevlett.96.010401", "title": ["Ultracold atoms in lattices"],
           "author": [{"family": "Greiner", "sequence": "first"}],
           "container-title": ["Physical Review Letters"], "volume": "96", "page": "010401",
           "issued": {"date-parts": [[2006]]}}
    cit = CitationFeatures.parse("M. Greiner et al., Phys. Rev. Lett. 96, 010401 (2006).")
    assert validate(Work.from_crossref(rec), cit).acceptable
    wrong_page = CitationFeatures.parse("M. Greiner et al., Phys. Rev. Lett. 96, 010402 (2006).")
    assert not validate(Work.from_crossref(rec), wrong_page).acceptable


def _dev_pairs(n: int):
    """The first n in-index citations of the dev set with their target records."""
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not present")
    records = {}
    for name in ("crossref-works.jsonl.gz", "pmc-records.dev.jsonl.gz"):
        for line in gzip.open(SHARED_DATA / name):
            r = json.loads(line)
            records[r["DOI"].lower()] = r
    out = []
    for line in gzip.open(SHARED_DATA / "citations.dev.jsonl.gz"):
        c = json.loads(line)
        if c["in_index"] and c["kind"].startswith("pdf"):
            out.append((c["text"], records[c["doi"].lower()]))
            if len(out) == n:
                break
    return out


def test_real_pdf_extracted_citations_validate_against_their_records():
    pairs = _dev_pairs(300)
    ok = sum(validate(Work.from_crossref(r), CitationFeatures.parse(t)).acceptable for t, r in pairs)
    # Some targets are PMC-derived stubs (no year, no author, truncated title); a few
    # labels in this benchmark are known to be wrong. The rule must still accept nearly all.
    assert ok / len(pairs) >= 0.95


def test_real_citations_do_not_validate_against_each_others_records():
    pairs = _dev_pairs(200)
    shifted = pairs[1:] + pairs[:1]
    wrong = sum(
        validate(Work.from_crossref(r), CitationFeatures.parse(t)).acceptable
        for (t, _), (_, r) in zip(pairs, shifted, strict=True)
    )
    assert wrong == 0


def test_a_year_range_in_a_title_does_not_contradict_the_pages():
    rec = {"DOI": "10.2337/dc05-1254", "title": [
        "Achievement of American Diabetes Association clinical practice recommendations among "
        "U.S. adults with diabetes, 1999-2002"], "author": [{"family": "Resnick"}],
        "container-title": ["Diabetes Care"], "volume": "29", "page": "531"}
    cit = CitationFeatures.parse(
        "Resnick HE, Foster GL, Bardsley J et al (2006) Achievement of American Diabetes "
        "Association clinical practice recommendations among US adults with diabetes, 1999-2002"
    )
    assert "page" not in validate(Work.from_crossref(rec), cit).evidence.disagree


def test_journal_volume_and_page_identify_a_stub_record_without_author_or_year():
    stub = {"DOI": "10.1111/j.1096-3642.2008.00487.x", "title": ["The giraffe ("],
            "container-title": ["Zool J Linn Soc"], "volume": "155", "page": "736"}
    cit = CitationFeatures.parse(
        "Badlangana NL, Adams JW, Manger PR: The giraffe (Giraffa camelopardalis) cervical "
        "vertebral column: a heuristic example. Zool J Linn Soc 2009, 155:736-757."
    )
    assert validate(Work.from_crossref(stub), cit).acceptable
    elsewhere = dict(stub, page="80")
    assert not validate(Work.from_crossref(elsewhere), cit).acceptable
