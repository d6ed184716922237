"""Articles and their claims (see ``workflow``); owns the ``articles`` and ``claims`` tables.

An **article** the desk keeps references for has **claims**: statements a reader could
ask "says who?" about, each in the editor's words, with where it sits and the article's
own words. Claims can also be proposed from the article's text (``propose_claims``)
for the editor to keep or drop. Each action is one transaction and is recorded in
``history``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from .._errors import NotFoundError, UsageError
from .._store import Store, now
from .._text import fold
from ._common import DEFAULT_ACTOR, first_row, from_row, parse_id
from ._history import log
from ._proposed import ProposedClaim, propose_claims


@dataclass
class Article:
    """An article the desk keeps references for (``articles`` table)."""

    id: int
    title: str
    url: str | None = None
    slug: str | None = None
    text: str | None = field(default=None, repr=False)
    added_by: str | None = None
    added_at: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Claim:
    """A statement in an article (``claims`` table); ``location`` says where it sits."""

    id: int
    article_id: int
    text: str
    location: str | None = None
    quote: str | None = None
    origin: str = "editor"  # editor | proposed
    added_by: str | None = None
    added_at: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


# -- articles -----------------------------------------------------------------------------


def add_article(
    store: Store,
    title: str,
    url: str | None = None,
    slug: str | None = None,
    text: str | None = None,
    actor: str = DEFAULT_ACTOR,
) -> Article:
    """Add an article. ``slug`` (default: made from the title) can stand in for its ID."""
    title = " ".join((title or "").split())
    if not title:
        raise UsageError("an article needs a title")
    with store.write():
        slug = _free_slug(store, _slugify(title)) if slug is None else _usable_slug(store, slug)
        stamp = now()
        cur = store.db.execute(
            "INSERT INTO articles (title, url, slug, text, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?)",
            [title, url, slug, text, actor, stamp],
        )
        art_id = cur.lastrowid
        log(store, actor, "article.add", article_id=art_id,
             details={"title": title, "url": url, "slug": slug})
    return get_article(store, art_id)


def get_article(store: Store, article: int | str | Article) -> Article:
    """The article with this ID or slug; ``NotFoundError`` if there is none."""
    if isinstance(article, Article):
        article = article.id
    key = str(article).strip()
    if key.isdigit():
        row = first_row(store, "SELECT * FROM articles WHERE id = ?", [int(key)])
    else:
        row = first_row(store, "SELECT * FROM articles WHERE slug = ?", [key])
    if row is None:
        raise NotFoundError(f"no article {key!r} (see `refkeeper article list`)")
    return from_row(Article, row)


def articles(store: Store) -> list[Article]:
    """All articles, oldest first."""
    return [from_row(Article, r) for r in store.db.query("SELECT * FROM articles ORDER BY id")]


def _slugify(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", fold(title)).strip("-")[:60].rstrip("-")
    return slug or "article"


def _usable_slug(store: Store, slug: str, article_id: int | None = None) -> str:
    """``slug`` stripped, if it is well formed and no other article uses it (``UsageError``
    otherwise); ``article_id`` is the article that may keep it."""
    slug = slug.strip()
    if not slug or slug.isdigit() or not re.fullmatch(r"[\w.\-]+", slug):
        raise UsageError(f"slug {slug!r}: use letters, digits, '-', '.' or '_', not only digits")
    if first_row(store, "SELECT id FROM articles WHERE slug = ? AND id != ?", [slug, article_id or 0]):
        raise UsageError(f"slug {slug!r} is already used by another article")
    return slug


def _free_slug(store: Store, base: str) -> str:
    slug, n = base, 1
    while first_row(store, "SELECT id FROM articles WHERE slug = ?", [slug]):
        n += 1
        slug = f"{base}-{n}"
    return slug


# -- claims -------------------------------------------------------------------------------


def add_claim(
    store: Store,
    article: int | str | Article,
    text: str,
    location: str | None = None,
    quote: str | None = None,
    actor: str = DEFAULT_ACTOR,
    origin: str = "editor",
) -> Claim:
    """Add a claim to an article: the statement in the editor's words, where it sits
    (``location``: paragraph number, anchor) and the article's own words (``quote``)."""
    text = " ".join((text or "").split())
    if not text:
        raise UsageError("a claim needs its text")
    with store.write():
        art = get_article(store, article)
        cur = store.db.execute(
            "INSERT INTO claims (article_id, text, location, quote, origin, added_by, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [art.id, text, location, quote, origin, actor, now()],
        )
        claim_id = cur.lastrowid
        log(store, actor, "claim.add", article_id=art.id, claim_id=claim_id,
             details={"text": text, "location": location, "quote": quote, "origin": origin})
    return get_claim(store, claim_id)


def get_claim(store: Store, claim: int | str | Claim) -> Claim:
    """The claim with this ID; ``NotFoundError`` if there is none."""
    claim_id = parse_id(claim.id if isinstance(claim, Claim) else claim, "claim")
    row = first_row(store, "SELECT * FROM claims WHERE id = ?", [claim_id])
    if row is None:
        raise NotFoundError(f"no claim {claim_id} (see `refkeeper claim list`)")
    return from_row(Claim, row)


def claims(store: Store, article: int | str | Article | None = None) -> list[Claim]:
    """Claims of one article (or all), in the order they were added."""
    if article is None:
        rows = store.db.query("SELECT * FROM claims ORDER BY id")
    else:
        rows = store.db.query("SELECT * FROM claims WHERE article_id = ? ORDER BY id",
                              [get_article(store, article).id])
    return [from_row(Claim, r) for r in rows]


def claim_ids(store: Store, article: int | str | Article) -> list[int]:
    """The IDs of an article's claims, in the order they were added."""
    art = get_article(store, article)
    rows = store.db.execute("SELECT id FROM claims WHERE article_id = ? ORDER BY id", [art.id])
    return [r[0] for r in rows]


def claims_by_id(store: Store, ids: list[int]) -> dict[int, tuple[Claim, Article]]:
    """Claim ID -> (claim, its article) for the given IDs that exist."""
    out: dict[int, tuple[Claim, Article]] = {}
    arts: dict[int, Article] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for r in store.db.query(f"SELECT * FROM claims WHERE id IN ({','.join('?' * len(chunk))})", chunk):
            c = from_row(Claim, r)
            if c.article_id not in arts:
                arts[c.article_id] = get_article(store, c.article_id)
            out[c.id] = (c, arts[c.article_id])
    return out


def propose(store: Store, article: int | str | Article) -> list[ProposedClaim]:
    """Sentences of the article's text that carry a finding, for the editor to keep or drop."""
    art = get_article(store, article)
    if not art.text:
        raise UsageError(f"article {art.id} has no text to propose claims from (add it with --text-file)")
    return propose_claims(art.text)


def keep_proposed(
    store: Store,
    article: int | str | Article,
    numbers: Iterable[int] | str,
    actor: str = DEFAULT_ACTOR,
) -> list[Claim]:
    """Store the proposals with these numbers (or ``"all"``) as claims; the rest are dropped.

    A proposal kept before (same sentence in the same article) is not added twice.
    """
    art = get_article(store, article)
    proposals = propose(store, art)
    by_number = {p.number: p for p in proposals}
    if numbers == "all":
        chosen = proposals
    else:
        wanted = [parse_id(n, "proposal") for n in numbers]
        bad = [n for n in wanted if n not in by_number]
        if bad:
            raise UsageError(
                f"no proposal {bad[0]}: article {art.id} has proposals 1-{len(proposals)}"
                if proposals else f"article {art.id} has no proposals"
            )
        chosen = [by_number[n] for n in dict.fromkeys(wanted)]
    kept = []
    with store.write():
        for p in chosen:
            if first_row(store, "SELECT id FROM claims WHERE article_id = ? AND quote = ?", [art.id, p.text]):
                continue
            kept.append(add_claim(store, art, p.text, location=p.location, quote=p.text,
                                  actor=actor, origin="proposed"))
    return kept


# -- editing (the desk) -------------------------------------------------------------------

# "Not given" for the fields that None (or "") clears.
_UNSET = object()


def edit_article(
    store: Store,
    article: int | str | Article,
    *,
    title: str | None = None,
    url: str | None | object = _UNSET,
    slug: str | None = None,
    text: str | None | object = _UNSET,
    actor: str = DEFAULT_ACTOR,
) -> Article:
    """Change an article's title, URL, slug or text (what is not given stays); the
    change is in history with the values before and after. An empty ``url`` or ``text``
    clears it; a title or slug cannot be emptied. Nothing changed: nothing recorded."""
    changes: dict = {}
    with store.write():
        art = get_article(store, article)
        if title is not None:
            title = " ".join(title.split())
            if not title:
                raise UsageError("an article needs a title")
            changes["title"] = title
        if slug is not None:
            changes["slug"] = _usable_slug(store, slug, art.id)
        if url is not _UNSET:
            changes["url"] = (str(url).strip() or None) if url is not None else None
        if text is not _UNSET:
            changes["text"] = (str(text).strip() or None) if text is not None else None
        changes = {k: v for k, v in changes.items() if getattr(art, k) != v}
        if not changes:
            return art
        sets = ", ".join(f"{k} = ?" for k in changes)
        store.db.execute(f"UPDATE articles SET {sets} WHERE id = ?", [*changes.values(), art.id])
        # The article's text can be long: history says it changed, with its length.
        shown = {k: (f"{len(v)} characters" if k == "text" and v else v) for k, v in changes.items()}
        before = {k: (f"{len(getattr(art, k))} characters" if k == "text" and getattr(art, k)
                      else getattr(art, k)) for k in changes}
        log(store, actor, "article.edit", article_id=art.id, details={"before": before, "after": shown})
    return get_article(store, art.id)


def edit_claim(
    store: Store,
    claim: int | str | Claim,
    *,
    text: str | None = None,
    location: str | None | object = _UNSET,
    quote: str | None | object = _UNSET,
    actor: str = DEFAULT_ACTOR,
) -> Claim:
    """Change a claim's text, location or quote (what is not given stays); recorded in
    history with the values before and after. The text cannot be emptied; an empty
    ``location`` or ``quote`` clears it. Nothing changed: nothing recorded."""
    changes: dict = {}
    with store.write():
        c = get_claim(store, claim)
        if text is not None:
            text = " ".join(text.split())
            if not text:
                raise UsageError("a claim needs its text")
            changes["text"] = text
        if location is not _UNSET:
            changes["location"] = (" ".join(str(location).split()) or None) if location is not None else None
        if quote is not _UNSET:
            changes["quote"] = (" ".join(str(quote).split()) or None) if quote is not None else None
        changes = {k: v for k, v in changes.items() if getattr(c, k) != v}
        if not changes:
            return c
        sets = ", ".join(f"{k} = ?" for k in changes)
        store.db.execute(f"UPDATE claims SET {sets} WHERE id = ?", [*changes.values(), c.id])
        log(store, actor, "claim.edit", article_id=c.article_id, claim_id=c.id,
             details={"before": {k: getattr(c, k) for k in changes}, "after": changes})
    return get_claim(store, c.id)
