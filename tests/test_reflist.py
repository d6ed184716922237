"""Splitting pasted reader comments and reference lists into whole single references."""

from __future__ import annotations

import textwrap

import pytest
from conftest import READER_REFERENCES, ROOT

from refkeeper.workflow import looks_like_reference, split_references, split_text

SEED_PAGE = ROOT.parent / "shared" / "seed" / "article-and-comment.txt"
COMMENT = (ROOT / "examples" / "reader-comment.txt").read_text(encoding="utf-8")

# The reader's three references in APA style, the way reference managers paste them
# (only Murakami's DOI is given: the others have no verified DOI; no detail is added).
APA = [
    "Berthelot, J. M., Labat, J. J., Le Goff, B., Gouin, F., & Maugars, Y. (2006). Provocative sacroiliac "
    "joint maneuvers and sacroiliac joint block are unreliable for diagnosing sacroiliac joint pain. "
    "Joint Bone Spine, 73(1), 17–23.",
    "Murakami, E., Tanaka, Y., Aizawa, T., Ishizuka, M., & Kokubun, S. (2007). Effect of periarticular "
    "and intraarticular lidocaine injections for sacroiliac joint pain: Prospective comparative study. "
    "Journal of Orthopaedic Science, 12(3), 274–280. https://doi.org/10.1007/s00776-007-1126-1",
    "Borowsky, C. D., et al. (2008). Sources of sacroiliac region pain: Insights gained from a study "
    "comparing standard intra-articular injection with a technique combining intra- and peri-articular "
    "injection. Archives of Physical Medicine and Rehabilitation, 89, 2048–2056.",
]
STYLES = {"vancouver": READER_REFERENCES, "apa": APA}
MARKERS = {
    "one per line": lambda i: "",
    "numbered": lambda i: f"{i}. ",
    "numbered )": lambda i: f"{i}) ",
    "bracketed": lambda i: f"[{i}] ",
    "bulleted": lambda i: "• ",
    "dashed": lambda i: "- ",
}


def test_the_seed_comment_pasted_whole_gives_the_three_references_whole():
    chunks = split_text(COMMENT)
    refs = [c for c in chunks if c.is_reference]
    assert [c.text for c in refs] == READER_REFERENCES
    # The reader's words are prose, including the signature right above the first reference.
    prose = " ".join(c.text for c in chunks if not c.is_reference)
    assert prose.startswith("Jerry Hesch Please post the reference.")
    assert prose.endswith("Thank you. Jerry Hesch")
    assert refs[0].line == COMMENT.splitlines().index(READER_REFERENCES[0]) + 1


@pytest.mark.skipif(not SEED_PAGE.exists(), reason="the shared seed is not beside the checkout")
def test_the_whole_seed_page_yields_only_the_readers_references():
    page = SEED_PAGE.read_text(encoding="utf-8")
    # The example comment is the seed comment as posted, not a tidied copy.
    assert COMMENT.strip() in page
    # The article's paragraphs (figures, p-values) and the page furniture are not references.
    assert split_references(page) == READER_REFERENCES


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("marker", sorted(MARKERS))
@pytest.mark.parametrize("blank_lines", [False, True])
@pytest.mark.parametrize("width", [38, 64, 76, 1000])
def test_lists_wrapped_by_a_mail_client_come_back_whole(style, marker, blank_lines, width):
    refs = STYLES[style]
    lines = ["Please post the reference. These say otherwise:"]
    for i, ref in enumerate(refs, 1):
        prefix = MARKERS[marker](i)
        # Mail clients wrap at spaces and after hyphens; continuation lines may be indented.
        lines += textwrap.wrap(prefix + ref, width, break_long_words=False,
                               subsequent_indent="   " if prefix else "")
        if blank_lines:
            lines.append("")
    lines += ["Thanks,", "Jerry"]
    assert split_references("\n".join(lines)) == refs


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("numbering", ["", "{}. ", "[{}] ", "({}) "])
def test_references_run_together_in_one_paragraph_are_cut_apart(style, numbering):
    refs = STYLES[style]
    text = " ".join(numbering.format(i) + r for i, r in enumerate(refs, 1))
    chunks = [c for c in split_text(text) if c.is_reference]
    assert [c.text for c in chunks] == refs
    if numbering:
        assert [c.marker for c in chunks] == [numbering.format(i).strip() for i in (1, 2, 3)]


def test_a_doi_or_url_broken_across_lines_is_joined_without_a_space():
    text = (
        "1. Murakami E, Tanaka Y, Aizawa T, Ishizuka M, Kokubun S. Effect of periarticular and intra-\n"
        "articular lidocaine injections for sacroiliac joint pain. J Orthop Sci. 2007;12(3):274-80.\n"
        "doi: 10.1007/s00776-\n007-1126-1\n"
        "2. Visser LH, et al. Treatment of the sacroiliac joint in patients with leg pain: a randomized-\n"
        "controlled trial. Eur Spine J. 2013;22(10):2310-7. https://doi.org/10.1007/\n"
        "s00586-013-2833-2 [PubMed]\n"
    )
    assert split_references(text) == [
        "Murakami E, Tanaka Y, Aizawa T, Ishizuka M, Kokubun S. Effect of periarticular and intra-articular "
        "lidocaine injections for sacroiliac joint pain. J Orthop Sci. 2007;12(3):274-80. "
        "doi: 10.1007/s00776-007-1126-1",
        "Visser LH, et al. Treatment of the sacroiliac joint in patients with leg pain: a randomized-"
        "controlled trial. Eur Spine J. 2013;22(10):2310-7. https://doi.org/10.1007/s00586-013-2833-2 "
        "[PubMed]",
    ]


def test_a_wrapped_line_starting_with_a_number_is_not_a_new_item():
    # "80." and "2007" at the start of a wrapped line are not list numbers.
    text = (
        "1. Murakami E, Tanaka Y, Aizawa T, Ishizuka M, Kokubun S. Effect of periarticular and\n"
        "intraarticular lidocaine injections for sacroiliac joint pain: prospective comparative study.\n"
        "J Orthop Sci. 2007 May;12(3):274-\n"
        "80. Epub 2007 May 31.\n"
        "2. Berthelot JM, Labat JJ, Le Goff B, Gouin F, Maugars Y. Provocative sacroiliac joint maneuvers.\n"
        "Joint Bone Spine. 2006\n"
        "Jan;73(1):17-23.\n"
    )
    refs = split_references(text)
    assert len(refs) == 2
    assert refs[0].endswith("J Orthop Sci. 2007 May;12(3):274-80. Epub 2007 May 31.")
    assert refs[1].endswith("Joint Bone Spine. 2006 Jan;73(1):17-23.")


def test_windows_line_endings_and_invisible_characters_do_not_matter():
    text = "\r\n".join(READER_REFERENCES).replace("Murakami", "\ufeffMura\u00adkami") + "\r\n"
    assert split_references(text) == READER_REFERENCES


def test_prose_is_told_from_references():
    assert not looks_like_reference("Please post the reference.")
    assert not looks_like_reference("Jerry Hesch")
    assert not looks_like_reference("Visser et al. (2013) showed that manual therapy beats physio.")
    assert not looks_like_reference(
        "Physiotherapy was successful in 3 out of 15 patients (20 %), manual therapy in 13 of the 18 (72 %)."
    )
    assert looks_like_reference(READER_REFERENCES[2])
    assert looks_like_reference("doi:10.1007/s00776-007-1126-1")
    assert looks_like_reference("Smith J. The back book. London: Stationery Office; 2002.")
    # In a list, a short mention is enough to be a reference.
    assert not looks_like_reference("Murakami et al.")
    assert looks_like_reference("Murakami et al.", listed=True)
    assert split_references("References:\n- Murakami et al. 2007\n- Visser 2013\n") == [
        "Murakami et al. 2007", "Visser 2013"
    ]


def test_text_without_references_gives_none():
    assert split_references("") == []
    assert split_references("Great post, thank you!\n\nCould you say more about the trial?") == []
    assert split_text("   \n\n ") == []


def test_the_example_comment_keeps_the_readers_exact_strings():
    # The demo pastes these; they must keep the reader's exact strings.
    for ref in READER_REFERENCES:
        assert ref in COMMENT
