"""The editor's workflow: articles, claims, links to works, readers' reference requests.

An **article** has **claims** (statements a reader could ask "says who?" about). A **link**
ties a claim to a stored work with a stance — ``supports``, ``contests`` or ``mentions`` —
and says who asserted it (the editor, a reader, an import), when, and whether an editor
confirmed it: an assertion with provenance, never a guess shown as fact. A **request** is a
reader asking for the references behind an article (optionally one claim); it moves from
``open`` to ``answered`` (recording the works given) or ``declined`` (with a reason). The
references a reader pastes with a request are split (``split_text``), resolved (``Resolver``)
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

The code is in private modules named for what they do; this package gathers their
public API. Each table has one module that reads and writes it (DEVELOPERS.md lists them):

* ``_claims``: articles and their claims (``articles``, ``claims``), proposing claims;
* ``_proposed``: the sentences of an article's text that carry a finding;
* ``_links``: links with a stance (``links``), confirming and removing them, ``claim_report``;
* ``_requests``: readers' requests, the works given in answer and the references they
  pasted (``requests``, ``request_works``, ``request_references``), declining;
* ``_pasted``: a reader's pasted comment or list, split, resolved and kept as written;
* ``_reflist``: splitting a pasted comment or reference list into single references;
* ``_answers``: what is known for a request, the queue, answering, the reply to post;
* ``_merge``: one work stored twice merged into one (``merge_works``), and finding such
  pairs (``duplicate_works``);
* ``_history``: the append-only ``history`` of every change, written and read back;
* ``_selection``: which works to export (``works_for``, ``export_selection``) and their
  BibTeX (``bibtex_for``);
* ``_views``: what the desk's pages show, each in one call (``article_details``,
  ``claim_details``, ``work_details``) and ``fetch_work`` (a work stored by DOI), composed
  from the owners' public functions (no SQL);
* ``_reliance``: the claims and open requests that lean on given works (``relying_on``);
* ``_resolving``: a work stored without a DOI, resolved later and merged into the DOI
  work (``resolve_work``);
* ``_common``: the checks they share.
"""

from __future__ import annotations

from ._answers import (
    Known,
    RequestDetails,
    RequestReport,
    answer_request,
    known_for,
    queue,
    reply,
    request_details,
    request_report,
)
from ._claims import (
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
from ._common import DEFAULT_ACTOR, STANCES
from ._history import HistoryEntry, history
from ._links import (
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
from ._merge import Duplicate, MergeResult, duplicate_works, merge_works, work_key
from ._pasted import (
    Pasted,
    PendingRequest,
    SplitChunk,
    accept_candidate,
    add_reader_references,
    add_request_from_comment,
    enter_reference_doi,
    mark_not_reference,
    mark_reference,
    merge_references,
    open_request_from_comment,
    reject_candidates,
    request_chunks,
    resolve_pending,
    resolve_remaining,
    search_reference_again,
    split_reference,
)
from ._proposed import ProposedClaim, propose_claims, sentences
from ._reflist import Chunk, looks_like_reference, split_references, split_text
from ._reliance import ClaimLink, Relying, relying_on
from ._requests import (
    STATUSES,
    ProseChunk,
    QueueItem,
    QueuePage,
    ReaderReference,
    Request,
    WorkUse,
    add_request,
    decline_request,
    get_reference,
    get_request,
    pending_references,
    prose_chunks,
    reader_references,
    reference_at,
    reference_counts,
    request_queue,
    requests,
    requests_for_work,
)
from ._resolving import WorkResolution, resolve_work
from ._selection import bibtex_for, export_selection, works_for
from ._views import (
    ArticleDetails,
    ClaimDetails,
    WorkDetails,
    article_details,
    claim_details,
    fetch_work,
    work_details,
)

__all__ = [
    "WorkResolution",
    "ASSERTERS",
    "DEFAULT_ACTOR",
    "STANCES",
    "STATUSES",
    "Article",
    "ArticleDetails",
    "Chunk",
    "Claim",
    "ClaimDetails",
    "ClaimLink",
    "ClaimReport",
    "ClaimSummary",
    "Duplicate",
    "HistoryEntry",
    "Known",
    "Link",
    "LinkedWork",
    "MergeResult",
    "Pasted",
    "PendingRequest",
    "ProposedClaim",
    "ProseChunk",
    "QueueItem",
    "QueuePage",
    "ReaderReference",
    "Relying",
    "Request",
    "RequestDetails",
    "RequestReport",
    "SplitChunk",
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
    "duplicate_works",
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
    "looks_like_reference",
    "mark_not_reference",
    "mark_reference",
    "merge_references",
    "merge_works",
    "resolve_work",
    "open_request_from_comment",
    "pending_references",
    "propose",
    "propose_claims",
    "prose_chunks",
    "queue",
    "reader_references",
    "reference_at",
    "reference_counts",
    "reject_candidates",
    "relying_on",
    "reply",
    "request_chunks",
    "request_details",
    "request_queue",
    "request_report",
    "requests",
    "requests_for_work",
    "resolve_pending",
    "resolve_remaining",
    "search_reference_again",
    "sentences",
    "split_reference",
    "split_references",
    "split_text",
    "unlink",
    "work_details",
    "work_key",
    "works_for",
]
