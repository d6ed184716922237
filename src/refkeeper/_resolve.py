"""Resolve free-text citations to works: the orchestration around ``match``.

For each citation: a DOI written in it is confirmed by fetching that work;
otherwise candidates come from a search of the resolver's ``CandidateSource``
(Crossref's ``query.bibliographic`` online, the local FTS index offline) and
``match`` validates them field by field. Short
mentions ("Murakami et al. 2007") search by author and year and rank by the
surrounding sentence. Every answer is stored, so a citation is sent once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from . import _identifiers as identifiers
from . import _match as match
from ._errors import CrossrefError, RefkeeperError
from ._models import (
    AMBIGUOUS,
    ERROR,
    MATCHED,
    UNMATCHED,
    Candidate,
    Resolution,
    Work,
    is_internal_key,
    work_key_for,
)
from ._registries import Found, Registries
from ._sources import CandidateSource
from ._store import Store
from ._text import content_words, fold

MAX_INPUT = 10_000
SEARCH_ROWS = 5

_NAME = r"[^\W\d_][^\W\d_'’\-]*(?:[-'’][^\W\d_]+)*"
_PARTICLE = r"(?:(?:van|von|de|der|den|del|da|di|le|la|du)\s+)*"
_YEAR = r"(?P<year>(?:1[6-9]|20)\d\d)[a-z]?"
_YEAR2 = _YEAR.replace("year", "year2")
# 'Murakami', 'Murakami et al.', 'Murakami and Tanaka', 'Murakami, Tanaka & Aizawa'
_AUTHORS = (
    rf"(?P<family>{_PARTICLE}{_NAME})"
    rf"(?:\s+et\s+al\.?|(?:\s*,\s*{_NAME})*,?\s+(?:and|&)\s+{_NAME})?"
)
_MENTION = re.compile(
    rf"^\s*{_AUTHORS}\s*,?\s*\(?\s*{_YEAR}\s*\)?\s*[.;,]?\s*$", re.IGNORECASE
)
# The same inside a sentence: narrative 'Murakami et al. (2007) showed' or
# parenthetical '(Murakami et al., 2007)'. Case matters here: a surname is capitalised.
_CAP_NAME = r"(?:van |von |de |der |le |la |du )*[A-Z][^\W\d_]*[a-z][^\W\d_'’\-]*"
_IN_SENTENCE = re.compile(
    rf"(?P<family>{_CAP_NAME})(?:\s+et\s+al\.?|\s+(?:and|&)\s+{_CAP_NAME})?"
    rf"(?:\s*\(\s*{_YEAR}\s*\)|,?\s+{_YEAR2}\s*[;)])"
)
_NOT_NAMES = frozenset("In On At By From The This That These Since Until Before After And Or See".split())


def parse_mention(text: str) -> tuple[str, int] | None:
    """('Murakami', 2007) for 'Murakami et al. (2007)'; None for anything longer."""
    m = _MENTION.match(text)
    if not m:
        return None
    return m.group("family"), int(m.group("year"))


def find_mention(sentence: str) -> tuple[str, int, str] | None:
    """An author-year mention inside a sentence: (family, year, the sentence without it)."""
    for m in _IN_SENTENCE.finditer(sentence):
        family = m.group("family")
        if family.split()[-1] in _NOT_NAMES:
            continue
        rest = (sentence[: m.start()] + " " + sentence[m.end():]).strip()
        return family, int(m.group("year") or m.group("year2")), rest
    return None


class Undecodable(str):
    """An input line whose bytes were not UTF-8 (the text shows them as U+FFFD).

    Readers of byte streams wrap such lines in this type so the answer for that line
    is an error in its place, while real citations that merely contain U+FFFD (it
    happens in deposited metadata) are still resolved.
    """


def check_input(text: str) -> str | None:
    """Why a citation line cannot be resolved, or None when it can."""
    if isinstance(text, Undecodable):
        return "citation is not valid UTF-8 text"
    if not text or not text.strip():
        return "empty citation"
    if len(text) > MAX_INPUT:
        return f"citation longer than {MAX_INPUT} characters"
    if "\x00" in text:
        return "citation contains a NUL byte"
    return None


class Resolver:
    """Turns citations into ``Resolution`` answers.

    ``source`` finds candidate works (``CrossrefSource`` online, ``IndexSource`` over
    the stored works offline); ``store``, when given, caches every answer so the same
    citation is not looked up twice unless ``refresh``. ``registries``, when given, follow
    what a citation writes beyond a Crossref DOI: DOIs of other agencies, PMIDs, PMCIDs and
    arXiv IDs; without it only the source (and, offline, the identifiers recorded in
    ``store``) is asked.
    """

    def __init__(
        self,
        *,
        source: CandidateSource,
        store: Store | None = None,
        refresh: bool = False,
        registries: Registries | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.refresh = refresh
        self.registries = registries

    # -- public ---------------------------------------------------------------------

    def resolve(self, text: str, context: str | None = None) -> Resolution:
        """Resolve one citation (or short mention with its ``context`` sentence)."""
        return next(self.resolve_many([text], context=context, workers=1))

    def resolve_many(
        self,
        texts: Iterable[str],
        context: str | None = None,
        workers: int | None = None,
    ) -> Iterator[Resolution]:
        """Resolutions in input order; network look-ups run concurrently.

        The store is only touched from the calling thread (SQLite connections are
        not shared across threads); workers only ask the source and validate. A source
        that can only be asked from this thread (the local index) runs sequentially.
        """
        if workers == 1 or self.source.parallelism() == 1:
            for t in texts:
                yield self._cached_or(t, context)
            return
        texts = iter(texts)
        # The first look-up runs alone, here: its answer announces the server's limits
        # (X-Concurrency-Limit), and the pool is sized from those rather than from defaults.
        for t in texts:
            res = self._cached_or(t, context)
            yield res
            if not res.cached and check_input(t) is None:
                break
        n = workers or self.source.parallelism()
        with ThreadPoolExecutor(max_workers=n) as pool:
            pending = []
            for t in texts:
                cached = self._cached(t, context)
                fut = None if cached else pool.submit(self._lookup_safe, t, context)
                pending.append((t, cached, fut))
                # Bound memory and keep output flowing: yield finished heads.
                while pending and (pending[0][1] or pending[0][2].done() or len(pending) > 4 * n):
                    yield self._finish(*pending.pop(0), context)
            while pending:
                yield self._finish(*pending.pop(0), context)

    # -- internals ------------------------------------------------------------------

    def _cached(self, text: str, context: str | None) -> Resolution | None:
        if self.refresh or self.store is None or check_input(text):
            return None
        return self.store.cached_resolution(text, context)

    def _cached_or(self, text: str, context: str | None) -> Resolution:
        cached = self._cached(text, context)
        if cached:
            return cached
        res = self._lookup_safe(text, context)
        self._save(res, context)
        return res

    def _finish(self, text, cached, fut, context) -> Resolution:
        if cached:
            return cached
        res = fut.result()
        self._save(res, context)
        return res

    def _save(self, res: Resolution, context: str | None) -> None:
        if self.store is not None and res.status == MATCHED and res.doi and not res.cached:
            self._to_kept_work(res)
        # A database this process may not write (read-only, or a newer refkeeper's) still
        # answers from what it holds: the answer is given, only not kept, as export's keys.
        if self.store is not None and self.store.writable:
            self.store.save_resolution(res, context, self.source.name)
            if res.status == MATCHED and res.identifiers and not res.cached:
                identifiers.record(self.store, res.key, res.identifiers)

    def _to_kept_work(self, res: Resolution) -> None:
        """A match on an alias DOI (one merged into a stored work, or recorded as a stored
        work's) is a match on that work: the answer names it, and no second work is stored."""
        kept = identifiers.kept_doi(self.store, res.doi)
        work = self.store.get_work(kept) if kept != res.doi.lower() else None
        if work is None:
            return
        best = res.best
        res.notes.append(f"{res.doi} is stored as {kept}")
        res.doi = kept
        if best is not None:
            res.candidates[0] = Candidate(doi=kept, score=best.score, title=work.title,
                                          evidence=best.evidence, work=work, engine_score=best.engine_score)

    def _lookup_safe(self, text: str, context: str | None) -> Resolution:
        problem = check_input(text)
        if problem:
            return Resolution(input=text, status=ERROR, error=problem)
        try:
            return self._lookup(text, context)
        except RefkeeperError as exc:
            return Resolution(input=text, status=ERROR, error=str(exc), failure=exc)

    def _lookup(self, text: str, context: str | None) -> Resolution:
        mention = parse_mention(text)
        if mention:
            return self._resolve_mention(text, mention, context)
        cit = match.CitationFeatures.parse(text)
        notes: list[str] = []
        for doi in cit.dois:
            work, learnt = self._work(doi)
            if work is None:
                notes.append(f"DOI {doi} not found")
                continue
            res = self._confirm_doi(text, cit, work)
            if res:
                res.identifiers = learnt
                return res
            notes.append(f"DOI {doi} does not fit the rest of the citation")
        for scheme, value in identifiers.find_identifiers(text):
            res = self._identified(text, cit, scheme, value, notes)
            if res:
                return res
        works = self.source.search(text, SEARCH_ROWS)
        cands = match.rank(works, cit)
        status, best = match.decide(cands)
        res = self._answer(text, status, best, cands, "search")
        if status == UNMATCHED and not cit.ranges:
            in_sentence = self._mention_in_sentence(text, cit, context)
            if in_sentence is not None:
                return in_sentence
        res.notes = notes
        return res

    def _work(self, doi: str) -> tuple[Work | None, dict]:
        """The work a written DOI names, from the source or else (online) the agency that
        registered it; with the identifiers learnt (its agency, an arXiv ID)."""
        work = self.source.work(doi)
        if work is not None or self.registries is None:
            return work, {}
        try:
            found = self.registries.elsewhere(doi) if identifiers.arxiv_of_doi(doi) is None else (
                self.registries.work(doi))
        except CrossrefError:
            # Another registry failing costs the DOI route, not the citation: the search
            # still runs (Crossref itself failing is raised by the source above).
            return None, {}
        if found is None:
            return None, {}
        return Work.from_crossref(found.record), found.all_identifiers()

    def _identified(self, text: str, cit: match.CitationFeatures, scheme: str, value: str,
                    notes: list[str]) -> Resolution | None:
        """A PMID, PMCID or arXiv ID written in the citation: the work it names, checked
        against the rest of the citation as a written DOI is."""
        label = f"{scheme.upper() if scheme != identifiers.ARXIV else 'arXiv'} {value}"
        found: list[Found] = []
        if self.registries is not None:
            try:
                found = self.registries.by_identifier(scheme, value)
            except CrossrefError as exc:
                # Another registry failing costs this route, not the citation: search still runs.
                notes.append(f"{label}: {exc}")
                return None
        elif self.store is not None and self.source.parallelism() == 1:
            # Offline: the identifiers recorded with stored works (this thread's store).
            key = identifiers.doi_for(self.store, scheme, value)
            if key is None and scheme == identifiers.PMID:
                key = work_key_for({}, pmid=value)  # a PubMed-only work is stored under it
            # A work without a DOI is no search candidate, but the identifier it is stored
            # under names it: it is read from the store, and matched with ``doi`` None.
            work = (self.source.work(key) if not is_internal_key(key) else self.store.get_work(key)
                    ) if key else None
            if work is not None:
                found = [Found(work.record, None, {})]
        if not found:
            notes.append(f"{label} not found")
            return None
        rest = identifiers.without_identifiers(text)
        for f in found:
            work = Work.from_crossref(f.record)
            res = self._confirm_doi(rest, cit, work, written=scheme)
            if res:
                res.input = text
                res.identifiers = f.all_identifiers()
                return res
        notes.append(f"{label} does not fit the rest of the citation")
        return None

    def _answer(self, text, status, best, cands, method) -> Resolution:
        shown = [c for c in cands if c.evidence.details.get("points", 0) > 0][:5]
        if status == MATCHED:
            return Resolution(text, MATCHED, best.doi, best.score, [best, *[
                c for c in shown if c is not best]], method=method)
        if status == AMBIGUOUS:
            return Resolution(text, AMBIGUOUS, None, shown[0].score if shown else None,
                              shown, method=method)
        return Resolution(text, UNMATCHED, None, None, [], method=method)

    def _confirm_doi(self, text: str, cit: match.CitationFeatures, work: Work,
                     written: str = "doi") -> Resolution | None:
        """A written DOI (or PMID, PMCID, arXiv ID: ``written``) is trusted unless the rest
        of the citation contradicts its record."""
        verdict = match.validate(work, cit)
        ev = verdict.evidence
        ev.agree.insert(0, written)
        ev.details["points"] = round(verdict.points, 2)
        ev.details["acceptable"] = True
        hard = {"title", "author", "year"} & set(ev.disagree)
        rest = text
        for d in cit.dois:
            rest = rest.replace(d, "")
        bare = len(content_words(rest)) < 3  # nothing but the DOI (and a prefix)
        if not bare and len(hard) >= 2:
            return None
        score = max(verdict.score, 0.9) if not hard else 0.75
        # A work without a DOI (PubMed-only, found by its PMID) is matched under its key;
        # ``doi`` stays None, as the contract wants.
        internal = None if work.doi else work.key
        cand = Candidate(work.doi, score, work.title, ev, work, work_key=internal)
        return Resolution(text, MATCHED, work.doi, score, [cand], method=written, work_key=internal)

    def _mention_in_sentence(
        self, text: str, cit: match.CitationFeatures, context: str | None
    ) -> Resolution | None:
        """A sentence that cites by author and year: the rest of the sentence is the context.

        Only tried when the text did not resolve as a reference and has no page range
        (a sentence, not a reference). A candidate the text contradicts as a reference
        (year, volume, page) is never matched.
        """
        found = find_mention(text)
        if not found:
            return None
        family, year, rest = found
        res = self._resolve_mention(text, (family, year), " ".join(filter(None, [rest, context])))
        if res.status == MATCHED:
            verdict = match.validate(res.best.work, cit)
            if {"year", "volume", "page"} & set(verdict.evidence.disagree):
                res.status, res.doi = AMBIGUOUS, None
        return res if res.candidates else None

    def _resolve_mention(self, text: str, mention: tuple[str, int], context: str | None) -> Resolution:
        family, year = mention
        pool = self.source.mention(family, year, context)
        cands = rank_mention(pool, family, year, context)
        if not cands:
            return Resolution(text, UNMATCHED, method="mention")
        best = cands[0]
        second = cands[1].score if len(cands) > 1 else 0.0
        # Crossref holds many works by any surname in any year: a bare mention is
        # only "matched" when the sentence around it names this work's subject.
        if context and best.score >= 0.5 and best.score - second >= 0.25:
            return Resolution(text, MATCHED, best.doi, best.score, cands[:5], method="mention")
        return Resolution(text, AMBIGUOUS, None, best.score, cands[:10], method="mention")


def rank_mention(works: list[Work], family: str, year: int, context: str | None) -> list[Candidate]:
    """Works whose first author is ``family`` and year is ``year``, best fit to ``context`` first."""
    fam = fold(family)
    ctx = set(content_words(context or ""))
    out = []
    for w in works:
        people = w.record.get("author") or []
        first = people[0].get("family", "") if people else ""
        if fold(first) != fam or w.year != year:
            continue
        title_words = set(content_words(w.title or ""))
        overlap = len(title_words & ctx) / len(title_words) if title_words and ctx else 0.0
        ev = match.Evidence(agree=["author", "year"], details={"context_overlap": round(overlap, 3)})
        if overlap >= 0.5:
            ev.agree.append("context")
        out.append(Candidate(w.doi, 0.2 + 0.8 * overlap if ctx else 0.2, w.title, ev, w))
    out.sort(key=lambda c: -c.score)
    return out


def resolve(text: str, context: str | None = None, **kwargs) -> Resolution:
    """Resolve one citation with a Resolver built from ``kwargs`` (source, store, refresh)."""
    return Resolver(**kwargs).resolve(text, context)
