"""Validate candidate works against a free-text citation, field by field.

A search engine (Crossref's or our own FTS index) proposes candidates; nothing here
trusts its relevance score, whose scale differs between engines and over time.
Instead every candidate is compared with what the citation says — title, first
author, year, volume, issue, pages, container — and the decision to call a
citation *matched* rests on that field evidence alone:

* strong title agreement plus independent bibliographic agreement (author or year,
  and a locator: volume, page, year or journal), with no hard contradiction; or
* for citations without a title (common in physics and chemistry styles): author,
  year, volume, first page and journal all agreeing;
* and the runner-up clearly weaker, else the answer is *ambiguous*.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from ._models import Candidate, Evidence, Work, extract_dois
from ._text import STOPWORDS, dehyphenate, fold, strip_markup, words

_DOI_URL_PREFIX = re.compile(
    r"(?:https?://)?(?:dx\.)?doi\.org/|\bdoi\s*[:=]?\s*", re.IGNORECASE
)
_NUMBER = re.compile(r"\d+")
_STANDALONE_NUMBER = re.compile(r"(?<![A-Za-z0-9])\d{1,5}(?![A-Za-z0-9])")
_YEAR = re.compile(r"(?<!\d)(1[6-9]\d\d|20\d\d)(?!\d)")
_RANGE = re.compile(r"(?<![\d.])([A-Za-z]?)(\d{1,7})\s*(?:-|–|—|−|‐|‑|‒|~|\.\.)+\s*\1?(\d{1,7})(?!\d)")
_COMPACT = re.compile(r"[\W_]+", re.UNICODE)

def compact(s: str) -> str:
    """Folded text with every non-alphanumeric removed: robust to spacing and hyphenation."""
    return _COMPACT.sub("", fold(s))


@dataclass
class CitationFeatures:
    """What can be read off a free-text citation without parsing its style."""

    text: str
    folded: str
    compact: str
    word_list: list[str]
    word_set: set[str]
    numbers: set[str]
    years: set[int]
    first_pages: set[str]
    ranges: set[tuple[str, str]]
    # First pages of ranges that cannot be years ('1999-2002' in a title is not pages):
    # only these may contradict a candidate's first page.
    page_starts: set[str] = field(default_factory=set)
    volume_like: set[str] = field(default_factory=set)
    dois: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> CitationFeatures:
        clean = dehyphenate(strip_markup(text))
        dois = extract_dois(clean)
        body = clean
        for d in dois:  # a DOI's digits are not volumes or pages
            body = body.replace(d, " ")
        body = _DOI_URL_PREFIX.sub(" ", body)
        folded = fold(body)
        word_list = words(body)
        numbers = {n.lstrip("0") or "0" for n in _NUMBER.findall(body)}
        years = {int(y) for y in _YEAR.findall(body)}
        ranges: set[tuple[str, str]] = set()
        first_pages: set[str] = set()
        page_starts: set[str] = set()
        for prefix, a, b in _RANGE.findall(body):
            first, last = a.lstrip("0") or "0", expand_last_page(a, b)
            ranges.add((prefix.lower() + first, prefix.lower() + last))
            first_pages.add(first)
            if not (_is_year(first) and _is_year(last)):
                page_starts.add(first)
        # Numbers that could be a volume: standalone, and not a year.
        volume_like = {
            n.lstrip("0") or "0"
            for n in _STANDALONE_NUMBER.findall(body)
            if not (len(n) == 4 and int(n) in years)
        }
        return cls(
            page_starts=page_starts,
            volume_like=volume_like,
            text=text,
            folded=folded,
            compact=compact(body),
            word_list=word_list,
            word_set=set(word_list),
            numbers=numbers,
            years=years,
            first_pages=first_pages,
            ranges=ranges,
            dois=dois,
        )


def _is_year(n: str) -> bool:
    return len(n) == 4 and 1600 <= int(n) <= 2099


def expand_last_page(first: str, last: str) -> str:
    """'1425', '37' -> '1437': abbreviated last pages take the first page's leading digits."""
    first, last = first.lstrip("0") or "0", last.lstrip("0") or "0"
    if len(last) < len(first) and int(first[-len(last):]) <= int(last):
        return first[: len(first) - len(last)] + last
    return last


def _num(value) -> str | None:
    if value is None:
        return None
    m = _NUMBER.search(str(value))
    return (m.group(0).lstrip("0") or "0") if m else None


def title_similarity(title: str, cit: CitationFeatures) -> float:
    """How well the record's title is found inside the citation, 0..1.

    Partial alignment on compacted text tolerates PDF hyphenation, spacing and
    punctuation differences, while a title with extra words ("Correction to: ...")
    loses in proportion to what the citation lacks.
    """
    t = compact(title)
    if not t or not cit.compact:
        return 0.0
    if len(t) > len(cit.compact):
        return fuzz.ratio(t, cit.compact) / 100.0
    return fuzz.partial_ratio(t, cit.compact) / 100.0


def _family_found(family: str, cit: CitationFeatures) -> bool:
    parts = [w for w in words(family) if len(w) > 1]
    if not parts:
        return False
    if all(p in cit.word_set for p in parts):
        return True
    if len(parts) == 1 and len(parts[0]) >= 5:
        # One letter off ('Capuano' / 'Capuana'): OCR, transliteration or typing.
        p = parts[0]
        if any(
            abs(len(w) - len(p)) <= 1 and w[0] == p[0] and fuzz.ratio(w, p) >= 80
            for w in cit.word_set
        ):
            return True
    # 'LeGoff', 'Le Goff', 'Le-Goff' all compact the same way.
    return len(compact(family)) >= 4 and compact(family) in cit.compact


def container_agreement(names: list[str], cit: CitationFeatures) -> float:
    """Fraction of a journal name's words found in order in the citation, abbreviations allowed.

    'J Orthop Sci' matches 'Journal of Orthopaedic Science' word by word as prefixes.
    """
    best = 0.0
    cw = cit.word_list
    for name in names:
        target = [w for w in words(name) if w not in STOPWORDS]
        if not target:
            continue
        for start in range(len(cw)):
            if not _prefix_eq(target[0], cw[start]):
                continue
            i, j, hit = 1, start + 1, 1
            while i < len(target) and j < len(cw) and j - start <= 2 * len(target) + 2:
                if _prefix_eq(target[i], cw[j]):
                    hit += 1
                    i += 1
                elif cw[j] in STOPWORDS:
                    pass
                else:
                    i += 1  # a word the citation left out
                    continue
                j += 1
            best = max(best, hit / len(target))
            if best == 1.0:
                return best
    return best


def _prefix_eq(full: str, abbrev: str) -> bool:
    if full == abbrev:
        return True
    if len(abbrev) == 1 and not abbrev.isdigit():
        return full.startswith(abbrev)  # 'J' for 'Journal': only counts inside a run
    if len(abbrev) >= 3 and full.startswith(abbrev):
        return True
    # Abbreviations drop letters inside too ('Orthop' for 'Orthopaedic'): first letters
    # agree and the abbreviation's letters appear in order.
    if len(abbrev) >= 3 and abbrev[0] == full[0] and abbrev[:2] == full[:2]:
        it = iter(full)
        return all(ch in it for ch in abbrev)
    return False


def _has_title_text(rec: dict, cit: CitationFeatures) -> bool:
    """Does the citation carry words beyond names, journal and numbers (i.e. a title)?

    'M. Greiner et al., Phys. Rev. Lett. 96, 010401 (2006)' has none, so a title
    mismatch there is no evidence against the candidate.
    """
    known = {w for p in rec.get("author") or [] for w in words(p.get("family") or "")}
    journal = [
        w
        for name in (rec.get("container-title") or []) + (rec.get("short-container-title") or [])
        for w in words(name)
    ]
    found = 0
    for w in cit.word_list:
        if (
            len(w) > 1 and w.isalpha() and w not in STOPWORDS and w not in known
            and not any(_prefix_eq(j, w) for j in journal)
        ):
            found += 1
            if found == 3:
                return True
    return False


@dataclass
class Verdict:
    """The validation of one candidate: evidence, a points total and whether it may match."""

    evidence: Evidence
    points: float
    acceptable: bool

    @property
    def score(self) -> float:
        return calibrate(self.points)


def calibrate(points: float) -> float:
    """Map evidence points to 0..1. 6 points (title + author + two locators) ~ 0.95."""
    return 1.0 / (1.0 + math.exp(-(points - 3.0)))


def validate(work: Work, cit: CitationFeatures) -> Verdict:
    """Compare one candidate work with a citation, field by field."""
    ev = Evidence()
    pts = 0.0
    rec = work.record

    # Title.
    titles = [work.title or ""]
    subtitle = " ".join(rec.get("subtitle") or [])
    if work.title and subtitle:
        titles.append(f"{work.title} {subtitle}")
    for t in rec.get("original-title") or []:
        titles.append(t)
    tsim = max(title_similarity(t, cit) for t in titles) if any(titles) else 0.0
    tlen = len(compact(work.title or ""))
    ev.details["title_similarity"] = round(tsim, 3)
    title_strong = False
    if tlen >= 12 and tsim >= 0.9:
        pts += 3.5 if tsim >= 0.95 else 2.5
        ev.agree.append("title")
        title_strong = tlen >= 25 or tsim >= 0.97
    elif tlen >= 12 and tsim >= 0.75:
        pts += 0.5
        ev.details["title"] = "partial"
    elif tlen and _has_title_text(rec, cit) and not (tlen < 12 and tsim >= 0.95):
        # (A very short title found verbatim is no evidence either way: PMC-derived
        # records often keep only the words before an italic species name.)
        pts -= 2.0 if tsim < 0.6 else 1.0
        ev.disagree.append("title")

    # Authors.
    people = rec.get("author") or []
    first = next((p for p in people if p.get("sequence") == "first"), people[0] if people else None)
    family = (first or {}).get("family") or (first or {}).get("name")
    author_ok = False
    if family:
        if _family_found(family, cit):
            author_ok = True
            pts += 1.5
            ev.agree.append("author")
        else:
            pts -= 1.5
            ev.disagree.append("author")
        others = [p.get("family") for p in people[1:6] if p.get("family")]
        if others:
            share = sum(_family_found(f, cit) for f in others) / len(others)
            ev.details["coauthors_found"] = round(share, 2)
            pts += 0.5 * share

    # Year.
    year = work.year  # Work.from_crossref already read it with record_year
    year_ok = False
    contradiction = False
    if year and cit.years:
        if year in cit.years:
            year_ok = True
            pts += 1.0
            ev.agree.append("year")
        elif any(abs(year - y) <= 1 for y in cit.years):
            year_ok = True
            pts += 0.5
            ev.agree.append("year±1")
        else:
            pts -= 2.5
            ev.disagree.append("year")
            contradiction = True

    # Volume, issue, pages.
    locators = 0
    vol = _num(work.volume)
    if vol:
        if vol in cit.numbers:
            pts += 1.0
            locators += 1
            ev.agree.append("volume")
        elif cit.volume_like:
            pts -= 1.0
            ev.disagree.append("volume")
    iss = _num(work.issue)
    if iss and vol and iss in cit.numbers and iss != vol:
        pts += 0.3
        ev.agree.append("issue")
    page_ok = False
    first_page = (work.pages or "").split("-")[0].strip()
    fp = _num(first_page) if first_page else None
    if fp:
        if fp in cit.first_pages or fp in cit.numbers:
            page_ok = True
            pts += 1.5 if fp in cit.first_pages else 1.0
            locators += 1
            ev.agree.append("page")
        elif cit.page_starts:
            # Page ranges are among the most reliably copied parts of a reference:
            # a range that does not start at the record's first page is another work.
            pts -= 2.0
            ev.disagree.append("page")
            contradiction = True

    # Container.
    names = (rec.get("container-title") or []) + (rec.get("short-container-title") or [])
    container_ok = False
    if names:
        c = container_agreement(names, cit)
        ev.details["container_similarity"] = round(c, 2)
        if c >= 0.99:
            container_ok = True
            pts += 1.0
            ev.agree.append("container")
        elif c >= 0.6:
            pts += 0.3

    if year_ok:
        locators += 1
    if container_ok:
        locators += 1

    # Independent agreements besides the title: who, when and where.
    vol_ok = "volume" in ev.agree
    support = sum((author_ok, year_ok, vol_ok, page_ok, container_ok))
    if title_strong:
        acceptable = not contradiction and (
            (support >= 2 and locators >= 1)
            # A long title and its first author, with nothing against them: the
            # reference simply gives no locator (books, truncated strings).
            or (author_ok and tlen >= 40 and not ev.disagree)
        )
        if "author" in ev.disagree:
            # A matching title by someone else is a different work (or a citation of
            # the wrong one): every locator must agree.
            acceptable = acceptable and page_ok and vol_ok
    else:
        # No usable title evidence: journal, volume and first page must all agree,
        # and so must the author and year wherever the record has them.
        acceptable = (
            "title" not in ev.disagree
            and not contradiction
            and vol_ok
            and page_ok
            and container_ok
            and (author_ok or not family)
            and (year_ok or not year)
            # Journal, volume and first page identify an article; a record that has
            # neither author nor year (PMC-derived stubs) can only agree on those.
            and (author_ok or year_ok or not (family or year))
        )
    return Verdict(ev, pts, acceptable)


def rank(works: list[Work], cit: CitationFeatures) -> list[Candidate]:
    """Candidates validated and ordered by evidence (engine order only breaks ties)."""
    out = []
    for i, w in enumerate(works):
        v = validate(w, cit)
        c = Candidate(
            doi=w.doi,
            score=v.score,
            title=w.title,
            evidence=v.evidence,
            work=w,
            engine_score=w.record.get("score"),
        )
        c.evidence.details["acceptable"] = v.acceptable
        c.evidence.details["points"] = round(v.points, 2)
        c.evidence.details["engine_rank"] = i + 1
        out.append(c)
    out.sort(key=lambda c: (-c.evidence.details["points"], c.evidence.details["engine_rank"]))
    return out


# A runner-up within this many points of an acceptable best makes the answer ambiguous.
MARGIN = 2.0


def decide(cands: list[Candidate]) -> tuple[str, Candidate | None]:
    """'matched' with the winner, 'ambiguous', or 'unmatched', from validated candidates."""
    if not cands:
        return "unmatched", None
    best = cands[0]
    if not best.evidence.details.get("acceptable"):
        plausible = [c for c in cands if c.evidence.details["points"] >= 3.0]
        return ("ambiguous", None) if plausible else ("unmatched", None)
    if len(cands) > 1:
        second = cands[1]
        gap = best.evidence.details["points"] - second.evidence.details["points"]
        if second.evidence.details.get("acceptable") or gap < MARGIN:
            return "ambiguous", None
    return "matched", best
