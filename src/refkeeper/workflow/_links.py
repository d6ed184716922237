"""Links between claims and stored works (see ``workflow``); owns the ``links`` table.

A **link** ties a claim to a stored work with a stance (``supports``, ``contests`` or
``mentions``) and says who asserted it (the editor, a reader, an import), when, and
whether an editor confirmed it: an assertion with provenance, never a guess shown as fact.
A claim has at most one live link per work; links are removed by marking them, so a
removed link stays visible. ``claim_report`` shows a claim's works by stance with the
problems re-verification recorded, and flags a claim whose only support has a problem.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .._errors import NotFoundError, UsageError
from .._identifiers import kept_doi
from .._models import Work
from .._store import Store, now
from ._claims import Article, Claim, claim_ids, get_article, get_claim
from ._claims import claims as article_claims
from ._common import (
    DEFAULT_ACTOR,
    STANCES,
    check_stance,
    first_row,
    from_row,
    parse_doi,
    parse_id,
    stored_work,
)
from ._history import log
from ._requests import Request, get_request

ASSERTERS = ("editor", "reader", "imported")


@dataclass
class Link:
    """An assertion that a work supports, contests or mentions a claim (``links`` table).

    ``asserted_by`` is editor, reader or imported (``asserted_by_name`` the reader's name);
    ``confirmed`` says an editor stands behind it. ``removed_at`` is None while it is live.
    """

    id: int
    claim_id: int
    doi: str
    stance: str
    asserted_by: str
    asserted_by_name: str | None = None
    request_id: int | None = None
    note: str | None = None
    confirmed: bool = False
    confirmed_by: str | None = None
    confirmed_at: str | None = None
    created_by: str | None = None
    created_at: str | None = None
    removed_at: str | None = None
    removed_by: str | None = None
    removed_reason: str | None = None

    @property
    def live(self) -> bool:
        return self.removed_at is None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class LinkedWork:
    """A link with its work and the problems re-verification recorded for that work.

    ``problems`` is None when the work was never checked, ``[]`` when it was and is fine,
    else the kinds recorded ("retraction", "correction", "not-found", ...).
    """

    link: Link
    work: Work
    problems: list[str] | None = None

    def to_json(self) -> dict:
        return {**self.link.to_json(), "title": self.work.title, "year": self.work.year,
                "authors": self.work.authors, "container": self.work.container,
                "problems": self.problems}


@dataclass
class ClaimReport:
    """What ``claim show`` prints: the claim, its article, its linked works by stance, flags."""

    claim: Claim
    article: Article
    links: list[LinkedWork]
    flags: list[str] = field(default_factory=list)

    def by_stance(self, stance: str) -> list[LinkedWork]:
        return [lw for lw in self.links if lw.link.stance == stance and lw.link.live]

    def to_json(self) -> dict:
        return {
            "claim": self.claim.to_json(),
            "article": {"id": self.article.id, "title": self.article.title, "url": self.article.url},
            "links": [lw.to_json() for lw in self.links],
            "flags": self.flags,
        }


# -- links --------------------------------------------------------------------------------


def link(
    store: Store,
    claim: int | str | Claim,
    doi: str,
    stance: str,
    note: str | None = None,
    asserted_by: str = "editor",
    asserted_by_name: str | None = None,
    confirmed: bool | None = None,
    request: int | str | Request | None = None,
    actor: str = DEFAULT_ACTOR,
) -> Link:
    """Link a stored work to a claim with a stance; return the live link.

    An editor's link is confirmed unless ``confirmed=False``; a reader's or an import's is
    not, until an editor links the same work with the same stance (which confirms it).
    A claim has at most one live link per work: linking it again with the same stance
    confirms it or changes its note (both recorded in history); with another stance it
    is refused — unlink first, so the change is on record.
    """
    stance = check_stance(stance)
    if asserted_by not in ASSERTERS:
        raise UsageError(f"asserted_by must be one of {', '.join(ASSERTERS)}, not {asserted_by!r}")
    if confirmed is None:
        confirmed = asserted_by == "editor"
    with store.write():
        c = get_claim(store, claim)
        work = stored_work(store, doi)
        req = get_request(store, request) if request is not None else None
        existing = live_link(store, c.id, work.key)
        if existing is None:
            return insert_link(store, c, work.key, stance, note, asserted_by, asserted_by_name,
                                confirmed, req.id if req else None, actor)
        if existing.stance != stance:
            raise UsageError(
                f"claim {c.id} already has {work.key} as '{existing.stance}' (link {existing.id}); "
                f"unlink it first to change the stance"
            )
        stamp = now()
        if confirmed and not existing.confirmed:
            store.db.execute(
                "UPDATE links SET confirmed = 1, confirmed_by = ?, confirmed_at = ? WHERE id = ?",
                [actor, stamp, existing.id],
            )
            log(store, actor, "link.confirm", article_id=c.article_id, claim_id=c.id,
                 link_id=existing.id, doi=work.key,
                 details={"stance": stance, "asserted_by": existing.asserted_by,
                          "asserted_by_name": existing.asserted_by_name})
        if note is not None and note != existing.note:
            store.db.execute("UPDATE links SET note = ? WHERE id = ?", [note, existing.id])
            log(store, actor, "link.note", article_id=c.article_id, claim_id=c.id,
                 link_id=existing.id, doi=work.key, details={"before": existing.note, "after": note})
        return get_link(store, existing.id)


def confirm_link(store: Store, link_id: int | str, actor: str = DEFAULT_ACTOR) -> Link:
    """Confirm a live link (e.g. one a reader asserted) as the editor's own."""
    lk = get_link(store, parse_id(link_id, "link"))
    if not lk.live:
        raise UsageError(f"link {lk.id} was removed on {lk.removed_at}; link the work again instead")
    return link(store, lk.claim_id, lk.doi, lk.stance, confirmed=True, actor=actor)


def unlink(
    store: Store,
    claim: int | str | Claim,
    doi: str,
    reason: str | None = None,
    actor: str = DEFAULT_ACTOR,
) -> Link:
    """Remove the live link between a claim and a work. The row stays, marked removed
    (who, when, why), and the removal is in history with the link as it was."""
    with store.write():
        c = get_claim(store, claim)
        d = kept_doi(store, parse_doi(doi))  # a DOI merged into another work is that work
        existing = live_link(store, c.id, d)
        if existing is None:
            raise NotFoundError(f"claim {c.id} has no live link to {d}")
        store.db.execute(
            "UPDATE links SET removed_at = ?, removed_by = ?, removed_reason = ? WHERE id = ?",
            [now(), actor, reason, existing.id],
        )
        log(store, actor, "link.remove", article_id=c.article_id, claim_id=c.id, link_id=existing.id,
             doi=d, details={"reason": reason, "link": existing.to_json()})
        return get_link(store, existing.id)


def links(
    store: Store,
    claim: int | str | Claim | None = None,
    doi: str | None = None,
    include_removed: bool = False,
) -> list[Link]:
    """Links of a claim and/or a work, oldest first; live ones only unless ``include_removed``."""
    where, params = [], []
    if claim is not None:
        where.append("claim_id = ?")
        params.append(get_claim(store, claim).id)
    if doi is not None:
        where.append("doi = ?")
        params.append(parse_doi(doi))
    if not include_removed:
        where.append("removed_at IS NULL")
    sql = "SELECT * FROM links" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    return [link_from_row(r) for r in store.db.query(sql, params)]


def claim_report(store: Store, claim: int | str | Claim, include_removed: bool = False) -> ClaimReport:
    """The claim with its linked works (by stance, with recorded problems) and its flags.

    Flagged: a claim whose only support — every live supporting work — has a problem
    recorded against it (retraction, correction, a DOI that no longer resolves ...).
    """
    c = get_claim(store, claim)
    art = get_article(store, c.article_id)
    linked = [linked_work(store, lk) for lk in links(store, c.id, include_removed=include_removed)]
    flags = []
    supports = [lw for lw in linked if lw.link.live and lw.link.stance == "supports"]
    if supports and all(lw.problems for lw in supports):
        which = "; ".join(f"{lw.work.key} ({', '.join(lw.problems)})" for lw in supports)
        flags.append(f"its only support has a problem recorded: {which}")
    return ClaimReport(c, art, linked, flags)


# -- link rows ----------------------------------------------------------------------------


def link_from_row(row: dict) -> Link:
    row = dict(row)
    row["confirmed"] = bool(row["confirmed"])
    return from_row(Link, row)


def get_link(store: Store, link_id: int) -> Link:
    row = first_row(store, "SELECT * FROM links WHERE id = ?", [link_id])
    if row is None:
        raise NotFoundError(f"no link {link_id}")
    return link_from_row(row)


def live_link(store: Store, claim_id: int, doi: str) -> Link | None:
    row = first_row(store, "SELECT * FROM links WHERE claim_id = ? AND doi = ? AND removed_at IS NULL",
               [claim_id, doi])
    return link_from_row(row) if row else None


def insert_link(store, claim: Claim, doi, stance, note, asserted_by, asserted_by_name, confirmed,
                 request_id, actor) -> Link:
    with store.write():
        return _insert_link(store, claim, doi, stance, note, asserted_by, asserted_by_name, confirmed,
                            request_id, actor)


def _insert_link(store, claim: Claim, doi, stance, note, asserted_by, asserted_by_name, confirmed,
                 request_id, actor) -> Link:
    stamp = now()
    cur = store.db.execute(
        "INSERT INTO links (claim_id, doi, stance, asserted_by, asserted_by_name, request_id, note,"
        " confirmed, confirmed_by, confirmed_at, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [claim.id, doi, stance, asserted_by, asserted_by_name, request_id, note, int(confirmed),
         actor if confirmed else None, stamp if confirmed else None, actor, stamp],
    )
    log(store, actor, "link.add", article_id=claim.article_id, claim_id=claim.id, link_id=cur.lastrowid,
         request_id=request_id, doi=doi,
         details={"stance": stance, "asserted_by": asserted_by, "asserted_by_name": asserted_by_name,
                  "confirmed": bool(confirmed), "note": note})
    return get_link(store, cur.lastrowid)


def linked_work(store: Store, lk: Link) -> LinkedWork:
    return LinkedWork(lk, store.require_work(lk.doi), store.recorded_problems(lk.doi))


def live_links(
    store: Store,
    claim_ids: list[int] | None,
    dois: list[str] | None = None,
    stance: str | None = None,
    confirmed: bool | None = None,
) -> list[Link]:
    """Live links of the given claims (None: of every claim), oldest first, narrowed to
    some works, a stance, or confirmed (or unconfirmed) ones."""
    if claim_ids is not None and not claim_ids:
        return []
    chunks = [None] if claim_ids is None else [claim_ids[i:i + 500] for i in range(0, len(claim_ids), 500)]
    out: list[Link] = []
    for chunk in chunks:
        where, params = ["removed_at IS NULL"], []
        if chunk is not None:
            where.append(f"claim_id IN ({','.join('?' * len(chunk))})")
            params += chunk
        if dois is not None:
            where.append(f"doi IN ({','.join('?' * len(dois))})")
            params += dois
        if stance is not None:
            where.append("stance = ?")
            params.append(stance)
        if confirmed is not None:
            where.append("confirmed = ?")
            params.append(int(confirmed))
        out += [link_from_row(r) for r in store.db.query(
            "SELECT * FROM links WHERE " + " AND ".join(where) + " ORDER BY id", params)]
    return sorted(out, key=lambda lk: lk.id)


def live_links_to(store: Store, dois: list[str]) -> list[Link]:
    """Every live link to one of the works ``dois`` (any claim), oldest first."""
    out: list[Link] = []
    for i in range(0, len(dois), 500):
        chunk = dois[i:i + 500]
        out += [link_from_row(r) for r in store.db.query(
            f"SELECT * FROM links WHERE doi IN ({','.join('?' * len(chunk))}) AND removed_at IS NULL"
            " ORDER BY id", chunk)]
    return sorted(out, key=lambda lk: lk.id)


def article_links(store: Store, article: int | str | Article, **narrow) -> list[Link]:
    """Live links of every claim of an article (see ``live_links`` for ``narrow``)."""
    return live_links(store, claim_ids(store, article), **narrow)


# -- an article's claims at a glance (the desk) -------------------------------------------


@dataclass
class ClaimSummary:
    """A claim with the number of live links per stance, the works among them that have a
    problem recorded (DOI -> kinds), and the claim's flags (as ``claim_report`` has them)."""

    claim: Claim
    counts: dict[str, int]
    problems: dict[str, list[str]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"claim": self.claim.to_json(), "counts": self.counts, "problems": self.problems,
                "flags": self.flags}


def claim_summaries(store: Store, article: int | str | Article) -> list[ClaimSummary]:
    """Every claim of an article, in the order added, with its counts of supporting /
    contesting / mentioning works and its problem flags: a few queries however many claims."""
    art = get_article(store, article)
    out = {c.id: ClaimSummary(c, {s: 0 for s in STANCES}) for c in article_claims(store, art)}
    live = live_links(store, list(out))
    problems = store.work_problems(lk.doi for lk in live)
    supports: dict[int, list[tuple[str, list[str] | None]]] = {}
    for lk in live:
        s = out[lk.claim_id]
        s.counts[lk.stance] = s.counts.get(lk.stance, 0) + 1
        kinds = problems.get(lk.doi)
        if kinds:
            s.problems[lk.doi] = kinds
        if lk.stance == "supports":
            supports.setdefault(lk.claim_id, []).append((lk.doi, kinds))
    for claim_id, works in supports.items():
        if all(kinds for _, kinds in works):  # the same rule as claim_report's flag
            which = "; ".join(f"{doi} ({', '.join(kinds or [])})" for doi, kinds in works)
            out[claim_id].flags.append(f"its only support has a problem recorded: {which}")
    return list(out.values())


# -- merging two works (workflow.merge_works) ---------------------------------------------


def move_work(store: Store, old: str, new: str, actor: str) -> dict:
    """Make every link to the work ``old`` a link to ``new`` (removed links too: their
    history follows). A claim linked live to both keeps ``new``'s link; ``old``'s is
    removed (marked, with the reason) and a different stance it had is returned under
    ``stances_dropped``, never lost silently. Each link changed is in the claim's history.
    Returns the IDs of the links moved and removed."""
    moved: dict = {"moved": [], "removed": [], "stances_dropped": []}
    with store.write():
        for lk in [link_from_row(r) for r in store.db.query(
                "SELECT * FROM links WHERE doi = ? ORDER BY id", [old])]:
            c = get_claim(store, lk.claim_id)
            kept = live_link(store, lk.claim_id, new) if lk.live else None
            if kept is not None:
                reason = f"merged: {old} is {new}, which claim {c.id} already links (link {kept.id})"
                store.db.execute(
                    "UPDATE links SET removed_at = ?, removed_by = ?, removed_reason = ?, doi = ?"
                    " WHERE id = ?",
                    [now(), actor, reason, new, lk.id])
                details = {"reason": reason, "link": lk.to_json(), "kept": kept.id}
                if kept.stance != lk.stance:
                    dropped = {"claim": c.id, "link": lk.id, "dropped": lk.stance,
                               "kept_link": kept.id, "kept": kept.stance}
                    moved["stances_dropped"].append(dropped)
                    details["stance_dropped"] = dropped
                log(store, actor, "link.remove", article_id=c.article_id, claim_id=c.id, link_id=lk.id,
                    doi=new, details=details)
                moved["removed"].append(lk.id)
                continue
            store.db.execute("UPDATE links SET doi = ? WHERE id = ?", [new, lk.id])
            log(store, actor, "link.merge", article_id=c.article_id, claim_id=c.id, link_id=lk.id,
                doi=new, details={"before": old, "after": new})
            moved["moved"].append(lk.id)
    return moved
