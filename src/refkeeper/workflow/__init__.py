"""The editor's workflow: articles, claims, links to works, readers' reference requests.

An **article** has **claims** (statements a reader could ask "says who?" about). A **link**
ties a claim to a stored work with a stance — ``supports``, ``contests`` or ``mentions`` —
and says who asserted it (the editor, a reader, an import), when, and whether an editor
confirmed it: an assertion with provenance, never a guess shown as fact. A **request** is a
reader asking for the references behind an article (optionally one claim); it moves from
``open`` to ``answered`` (recording the works given) or ``declined`` (with a reason). The
references a reader pastes with a request are split (``reflist``), resolved (``Resolver``)
and kept as written; only a matched reference ever gets a DOI.

Every change to articles, claims, links and requests is appended to ``history`` (who,
what, when, the values before and after); the database refuses to update or delete
history rows, and links are removed by marking them, so a removed link stays visible.

Each function here is one editor action and runs in one transaction: an unknown ID, a DOI
not stored, an invalid stance raise ``NotFoundError``/``UsageError`` and nothing is
written. ``actor`` names the person acting (the CLI passes ``--by`` or ``$REFKEEPER_EDITOR``).

    >>> from refkeeper import Store, workflow
    >>> store = Store("refs.db")
    >>> art = workflow.add_article(store, "Treatment of the sacroiliac joint", url="https://...")
    >>> claim = workflow.add_claim(store, art.id, "Manual therapy helped 72%, physiotherapy 20%")
    >>> workflow.link(store, claim.id, "10.1007/s00586-013-2833-2", "supports")
    >>> workflow.works_for(store, claim=claim.id)          # DOIs, e.g. for BibTeX export

The code is in modules named for what they do; this package gathers their public API.
(No module is named after a function here: ``workflow.articles``, ``workflow.claims``,
``workflow.links`` and ``workflow.history`` are functions, so their modules are named apart.)

* ``article_claims``: articles and their claims, proposing claims from an article's text;
* ``proposed_claims``: the sentences of an article's text that carry a finding;
* ``claim_links``: links with a stance, confirming and removing them, ``claim_report``;
* ``reader_requests``: recording, finding and listing readers' requests;
* ``pasted``: the references a reader pastes with a request, resolved and kept as written;
* ``reflist``: splitting a pasted comment or reference list into single references;
* ``answers``: what is known for a request, the queue, answering, declining, the reply;
* ``change_history``: the recorded changes, read back;
* ``selection``: which works to export (``works_for``, ``export_selection``) and their
  BibTeX (``bibtex_for``);
* ``desk_views``: what the desk's pages show, each in one call (``article_details``,
  ``claim_details``, ``work_details``) and ``fetch_work`` (a work stored by DOI);
* ``_common``: the checks and lookups they share, and ``_log`` (history writing).
"""

from __future__ import annotations

from ._common import DEFAULT_ACTOR, STANCES  # noqa: F401  (DEFAULT_ACTOR: not in __all__)
from .answers import (
    Known,
    RequestDetails,
    RequestReport,
    answer_request,
    decline_request,
    known_for,
    queue,
    reply,
    request_details,
    request_report,
)
from .article_claims import (
    Article,
    Claim,
    add_article,
    add_claim,
    articles,
    claims,
    edit_article,
    edit_claim,
    get_article,
    get_claim,
    keep_proposed,
    propose,
)
from .change_history import HistoryEntry, history
from .claim_links import (
    ASSERTERS,
    ClaimReport,
    ClaimSummary,
    Link,
    LinkedWork,
    claim_report,
    claim_summaries,
    confirm_link,
    link,
    links,
    unlink,
)
from .desk_views import (
    ArticleDetails,
    ClaimDetails,
    WorkDetails,
    article_details,
    claim_details,
    fetch_work,
    work_details,
)
from .pasted import (  # noqa: F401  (reader_references: not in __all__)
    Pasted,
    PendingRequest,
    ReaderReference,
    accept_candidate,
    add_reader_references,
    add_request_from_comment,
    enter_reference_doi,
    get_reference,
    open_request_from_comment,
    reader_references,
    reference_counts,
    reject_candidates,
    resolve_pending,
    search_reference_again,
)
from .reader_requests import (
    STATUSES,
    QueueItem,
    QueuePage,
    Request,
    WorkUse,
    add_request,
    get_request,
    request_queue,
    requests,
    requests_for_work,
)
from .selection import bibtex_for, export_selection, works_for

__all__ = [
    "ASSERTERS",
    "STANCES",
    "STATUSES",
    "Article",
    "ArticleDetails",
    "Claim",
    "ClaimDetails",
    "ClaimReport",
    "ClaimSummary",
    "HistoryEntry",
    "Known",
    "Link",
    "LinkedWork",
    "Pasted",
    "PendingRequest",
    "QueueItem",
    "QueuePage",
    "ReaderReference",
    "Request",
    "RequestDetails",
    "RequestReport",
    "WorkDetails",
    "WorkUse",
    "accept_candidate",
    "add_article",
    "add_claim",
    "add_reader_references",
    "add_request",
    "add_request_from_comment",
    "answer_request",
    "article_details",
    "articles",
    "bibtex_for",
    "claim_details",
    "claim_report",
    "claim_summaries",
    "claims",
    "confirm_link",
    "decline_request",
    "edit_article",
    "edit_claim",
    "enter_reference_doi",
    "export_selection",
    "fetch_work",
    "get_article",
    "get_claim",
    "get_reference",
    "get_request",
    "history",
    "keep_proposed",
    "known_for",
    "link",
    "links",
    "open_request_from_comment",
    "propose",
    "queue",
    "reference_counts",
    "reject_candidates",
    "reply",
    "request_details",
    "request_queue",
    "request_report",
    "requests",
    "requests_for_work",
    "resolve_pending",
    "search_reference_again",
    "unlink",
    "work_details",
    "works_for",
]
