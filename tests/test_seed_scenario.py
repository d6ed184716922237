"""The seed scenario, end to end through the public CLI (the issue's acceptance test).

A health blog summarises a trial of treatments for sacroiliac joint pain. A reader asks
for the reference and pastes three papers that contest the "injection is the gold
standard" position. The editor records the article and its claims, takes the reader's
comment whole, resolves the references offline against the shipped sample, links the one
that resolves, answers the request, prints the reply and exports BibTeX for the contested
claim. Berthelot 2006 and Borowsky 2008 are not in the sample and have no verified DOI:
they must stay unresolved, visibly, and never get a DOI.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import READER_REFERENCES, ROOT, SAMPLE

from refkeeper.cli import cli

VISSER = "10.1007/s00586-013-2833-2"
MURAKAMI = "10.1007/s00776-007-1126-1"
EXAMPLES = ROOT / "examples"
# The claims, in the editor's own words, from the seed's facts.
CLAIMS = [
    ("In a small single-blinded randomised trial, manual therapy relieved SIJ-related leg pain in 72% "
     "of patients (13 of 18), physiotherapy in 20% (3 of 15); the difference was significant (p = 0.003).",
     "paragraph 1"),
    ("Intra-articular corticosteroid injection into the sacroiliac joint helped half of the patients "
     "who received it (9 of 18, 50%).", "paragraph 1"),
    ("Intra-articular injection is another treatment option to consider: the position promoted as "
     "injection being the 'gold standard' for sacroiliac joint pain.", "paragraph 2"),
]


@pytest.fixture
def rk(tmp_path):
    """Run refkeeper on a fresh database as editor 'anna'; every step must succeed."""
    db = str(tmp_path / "refs.db")
    runner = CliRunner(env={"REFKEEPER_EDITOR": "anna"})

    def run(*args, code=0, input=None):
        result = runner.invoke(cli, ["--db", db, *args], input=input)
        assert result.exit_code == code, (args, result.output)
        assert "Traceback" not in result.output
        return result

    run("snapshot", "import", str(SAMPLE))
    return run


def test_the_seed_scenario_runs_through_the_cli(rk):
    # The article, with its text, under a short name.
    out = rk("article", "add", "Treatment of the sacroiliac joint in patients with leg pain",
             "--url", "https://example.org/blog/sij-leg-pain", "--slug", "sij-leg-pain",
             "--text-file", str(EXAMPLES / "sij-article.txt")).output
    assert out.startswith("article 1 added  (sij-leg-pain)")

    # refkeeper proposes the sentences with findings; the editor writes the claims in her words.
    proposals = json.loads(rk("claim", "propose", "sij-leg-pain", "--json").output)
    assert any("higher success rate than physiotherapy (p = 0.003)" in p["text"] for p in proposals)
    assert any("another therapeutic option" in p["text"] for p in proposals)
    ids = [json.loads(rk("claim", "add", "sij-leg-pain", text, "--where", where, "--json").output)["id"]
           for text, where in CLAIMS]
    figures, injection, gold_standard = ids

    # The trial the article summarises resolves, and supports all three claims.
    assert f"MATCHED  {VISSER}" in rk(
        "resolve", "--offline", "Visser LH et al. Treatment of the sacroiliac joint in patients with leg "
        "pain: a randomized-controlled trial. Eur Spine J. 2013;22(10):2310-7.").output
    for claim in ids:
        rk("link", str(claim), VISSER, "--stance", "supports", "--note", "the trial the article summarises")

    # The reader's comment, pasted whole: a request about the gold-standard claim, whose
    # references the reader says contest it.
    added = json.loads(rk("request", "add", "--article", "sij-leg-pain", "--claim", str(gold_standard),
                          "--reader", "Jerry Hesch", "--from-file", str(EXAMPLES / "reader-comment.txt"),
                          "--stance", "contests", "--offline", "--json").output)
    request = added["request"]["id"]
    assert added["request"]["status"] == "open"
    assert added["request"]["text"].startswith("Jerry Hesch\n\nPlease post the reference.")
    refs = added["references"]
    assert [r["text"] for r in refs] == READER_REFERENCES  # split into the three, each whole
    assert [(r["status"], r["doi"]) for r in refs] == [
        ("unmatched", None), ("matched", MURAKAMI), ("unmatched", None)]
    assert [(lk["doi"], lk["stance"], lk["asserted_by"], lk["confirmed"]) for lk in added["linked"]] == [
        (MURAKAMI, "contests", "reader", False)]

    # The queue shows what is already known for the claim, and how to answer in one step.
    queue = rk("request", "list", "--open").output
    assert f"#{request}  open" in queue and "Jerry Hesch" in queue
    assert f"known: supports {VISSER}" in queue
    assert f"refkeeper request answer {request} --reuse" in queue
    assert "3 (1 matched, 2 without a DOI)" in queue

    # The editor reads Murakami and confirms the reader's link, with a note.
    out = rk("link", str(gold_standard), MURAKAMI, "--stance", "contests", "--note",
             "periarticular injections relieved more pain than intra-articular ones").output
    assert "claim 3 contests" in out and "(reader, confirmed)" in out

    # The request is answered with everything known for the claim.
    answered = json.loads(rk("request", "answer", str(request), "--reuse", "--json").output)
    assert answered["request"]["status"] == "answered"
    assert [(a["doi"], a["stance"]) for a in answered["answer"]] == [(VISSER, "supports"),
                                                                     (MURAKAMI, "contests")]

    # Berthelot and Borowsky stay in the request, unresolved and without a DOI.
    shown = rk("request", "show", str(request)).output
    assert shown.count("UNMATCHED no DOI") == 2
    assert READER_REFERENCES[0] in shown and READER_REFERENCES[2] in shown

    # The reply to post: references with DOI links, grouped by stance.
    reply = rk("request", "reply", str(request)).output
    assert reply.startswith("Jerry Hesch: the references for “Treatment of the sacroiliac joint")
    supporting, contesting = reply.index("Supporting:"), reply.index("Contesting:")
    assert supporting < reply.index(f"doi:{VISSER}") < contesting < reply.index(f"doi:{MURAKAMI}")
    unmatched = reply[reply.index("Not yet matched to a DOI:"):]
    assert "Berthelot JM" in unmatched and "Borowsky CD" in unmatched and "10." not in unmatched
    markdown = rk("request", "reply", str(request), "--markdown", "--style", "apa").output
    assert f"(https://doi.org/{MURAKAMI})" in markdown

    # The contested claim: its supporting and contesting works; BibTeX for the contesting ones.
    claim = json.loads(rk("claim", "show", str(gold_standard), "--json").output)
    assert [(lk["stance"], lk["doi"], lk["confirmed"]) for lk in claim["links"]] == [
        ("supports", VISSER, True), ("contests", MURAKAMI, True)]
    assert claim["flags"] == []
    bib = rk("claim", "show", str(gold_standard), "--bibtex", "--stance", "contests").output
    assert bib.startswith("@article{murakami2007effect,") and bib.count("@") == 1
    assert f'doi = "{MURAKAMI}"' in bib
    exported = rk("export", "--claim", str(gold_standard), "--stance", "contests").output
    assert exported == bib  # the export command gives the same entry, same key
    ris = rk("export", "--format", "ris", "--claim", str(gold_standard), "--stance", "supports").output
    assert ris.count("ER  -") == 1 and "DO  - 10.1007/s00586-013-2833-2" in ris
    assert rk("export", "--claim", str(gold_standard), "--stance", "mentions").output == ""
    assert rk("request", "show", str(request), "--bibtex").output.count("@article") == 2
    assert rk("article", "show", "sij-leg-pain", "--bibtex").output.count("@article") == 2

    # Everything is on record: who did what to the contested claim.
    history = json.loads(rk("history", "--claim", str(gold_standard), "--json").output)
    assert [h["action"] for h in history] == [
        "claim.add", "link.add", "request.add", "link.add", "request.references", "link.confirm",
        "link.note", "request.answer"]
    assert {h["actor"] for h in history} == {"anna"}


def test_editing_mistakes_are_one_line_errors_and_change_nothing(rk):
    rk("article", "add", "An article", "--slug", "a")
    rk("claim", "add", "a", "A claim")
    before = rk("history", "--json").output
    for args in (
        ["claim", "add", "nope", "text"],                                   # unknown article
        ["link", "99", MURAKAMI, "--stance", "supports"],                  # unknown claim
        ["link", "x", MURAKAMI, "--stance", "supports"],                   # not an ID
        ["link", "1", "10.9999/not-stored", "--stance", "supports"],       # DOI not stored
        ["link", "1", MURAKAMI, "--stance", "refutes"],                    # invalid stance
        ["unlink", "1", MURAKAMI],                                          # nothing to unlink
        ["request", "add", "--article", "a", "--claim", "7", "--reader", "r"],
        ["request", "answer", "5", "--doi", MURAKAMI],                     # unknown request
        ["request", "reply", "5"],
        ["request", "add", "--article", "a", "--reader", "r", "--from-file", "/no/such/file"],
        ["claim", "show", "1", "--stance", "contests"],                     # --stance without --bibtex
    ):
        result = rk(*args, code=2)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, result.output)
    assert rk("history", "--json").output == before


def test_a_request_is_declined_with_a_reason(rk):
    rk("article", "add", "An article", "--slug", "a")
    rk("request", "add", "--article", "a", "--reader", "r", "--text", "Can you diagnose my back?")
    assert "declined: asks for medical advice" in rk("request", "decline", "1", "--reason",
                                                     "asks for medical advice").output
    assert rk("request", "list", "--open").output == ""
    assert "declined" in rk("request", "list", "--status", "declined").output
    assert rk("request", "reply", "1", code=2).output.startswith("Error: request 1 is declined")


def test_proposed_claims_are_kept_by_number_and_listed(rk):
    rk("article", "add", "Treatment of the sacroiliac joint in patients with leg pain", "--text-file",
       str(EXAMPLES / "sij-article.txt"))
    listing = rk("claim", "propose", "1").output
    assert "3. [p-value, comparison; paragraph 1, sentence 6]" in listing
    kept = rk("claim", "propose", "1", "--keep", "3", "--keep", "5").output
    assert kept.startswith("claim 1 kept (paragraph 1, sentence 6): Manual therapy had a considerably")
    assert "claim 2 kept (paragraph 2, sentence 2)" in kept
    assert rk("claim", "propose", "1", "--keep", "9", code=2).output.startswith("Error: no proposal 9")
    claims = rk("claim", "list", "--article", "1").output.splitlines()
    assert len(claims) == 2 and "[s0 c0 m0]" in claims[0]
    shown = rk("article", "show", "1").output
    assert "claim 1: Manual therapy had a considerably higher success rate" in shown
    assert json.loads(rk("article", "list", "--json").output)[0]["slug"].startswith("treatment-of-the")
