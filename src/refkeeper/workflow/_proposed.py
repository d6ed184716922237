"""Propose claims from an article's text: the sentences that carry a finding.

A claim worth tracking is a sentence a reader could ask "says who?" about: one with
figures (a percentage, "13 of 18", a p-value, an odds ratio), a comparison ("higher ...
than", "compared with"), or a position ("gold standard", "treatment of choice", "another
option to consider"). ``propose_claims`` lists such sentences with the reasons it picked
them; the editor keeps some (``workflow.keep_proposed``) and drops the rest. Nothing is
stored until the editor keeps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["ProposedClaim", "propose_claims", "sentences"]

_SIGNALS: list[tuple[str, re.Pattern]] = [
    ("percentage", re.compile(r"\d+(?:[.,]\d+)?\s*(?:%|per\s?cent\b)", re.IGNORECASE)),
    ("proportion", re.compile(r"\b\d+\s+(?:out\s+)?of\s+(?:the\s+)?\d+\b", re.IGNORECASE)),
    ("p-value", re.compile(r"\bp\s*(?:=|<|>|≤|≥|<=|>=)\s*0?[.,]\d+", re.IGNORECASE)),
    (
        "statistic",
        re.compile(
            r"\b(?:odds ratio|relative risk|hazard ratio|confidence interval"
            r"|(?-i:OR|RR|HR|CI|NNT)\s*[=:]?\s*\d)",
            re.IGNORECASE,
        ),
    ),
    (
        "comparison",
        re.compile(
            r"\b(?:higher|lower|more|less|better|worse|greater|fewer|superior|inferior|faster|slower)\b"
            r"[^.;]{0,80}?\bthan\b"
            r"|\b(?:compared\s+(?:with|to)|versus|vs\.?|outperform\w*|(?:increase|reduce|decrease)[sd]?)\b"
            r"|\bno\s+(?:significant\s+)?difference\b|\bsignificant(?:ly)?\b",
            re.IGNORECASE,
        ),
    ),
    (
        "position",
        re.compile(
            r"\bgold[- ]standard\b|\bfirst[- ]line\b|\b(?:treatment|therapy) of choice\b"
            r"|\bchoice of (?:treatment|therapy)\b|\brecommend\w*"
            r"|\bshould(?: not)? be (?:considered|used|offered)"
            r"|\b(?:therapeutic|treatment) options?\b|\boption to (?:be )?consider\w*",
            re.IGNORECASE,
        ),
    ),
]

# Words whose full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    "al e.g i.e vs cf fig figs approx ca dr prof no nos vol pp eq ref refs st mr mrs ms etc resp".split()
)
_BOUNDARY = re.compile(r"[.!?][\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")


@dataclass
class ProposedClaim:
    """A sentence of the article that carries a finding, with why it was picked.

    ``number`` is its place among the proposals (1-based, stable for the same text);
    ``paragraph`` and ``sentence`` locate it in the article (1-based).
    """

    number: int
    text: str
    paragraph: int
    sentence: int
    reasons: list[str] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"paragraph {self.paragraph}, sentence {self.sentence}"

    def to_json(self) -> dict:
        return {
            "number": self.number,
            "text": self.text,
            "paragraph": self.paragraph,
            "sentence": self.sentence,
            "location": self.location,
            "reasons": self.reasons,
        }


def sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph (lines joined; "et al.", "vs.", "p = 0.01" kept whole)."""
    text = " ".join(paragraph.split())
    out, start = [], 0
    for m in _BOUNDARY.finditer(text):
        word = re.search(r"([\w.]+)[.!?]?$", text[start : m.start() + 1])
        before = (word.group(1) if word else "").rstrip(".").lower()
        # "et al. 2007", "vs. physiotherapy", "J. Smith": not the end of a sentence.
        if before in _ABBREVIATIONS or (len(before) == 1 and before.isalpha()):
            continue
        out.append(text[start : m.end()].strip())
        start = m.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def propose_claims(text: str | None) -> list[ProposedClaim]:
    """Sentences of ``text`` (paragraphs split at blank lines) that carry a finding."""
    if not text:
        return []
    out: list[ProposedClaim] = []
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    for p_no, para in enumerate(paragraphs, 1):
        for s_no, sentence in enumerate(sentences(para), 1):
            reasons = [name for name, rx in _SIGNALS if rx.search(sentence)]
            if reasons:
                out.append(ProposedClaim(len(out) + 1, sentence, p_no, s_no, reasons))
    return out
