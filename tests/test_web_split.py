"""The desk's corrections of how a reader's comment was split (issue 12), through
Starlette's test client against the Crossref stand-in serving the shipped sample: merge,
split, not a reference, bring prose back, each a POST with the CSRF token; and references
left pending by a server that stopped are resolved from the request page."""

from __future__ import annotations

import html
import re
import textwrap
import time

import pytest
from conftest import READER_REFERENCES

from refkeeper import Store, workflow

pytest.importorskip("httpx")

from deskclient import token  # noqa: E402

# The `db` and `client` fixtures (the seed claim, the desk over it) come from
# tests/support/deskclient.py, loaded by conftest.py.

MURAKAMI = "10.1007/s00776-007-1126-1"
MURAKAMI_LINES = textwrap.wrap(READER_REFERENCES[1], 78)
# The reader's references numbered, Murakami's hard-wrapped (lines 4.. of the comment).
COMMENT = "\n".join(["Please post the references.", "",
                     f"1. {READER_REFERENCES[0]}",
                     f"2. {MURAKAMI_LINES[0]}", *MURAKAMI_LINES[1:],
                     f"3. {READER_REFERENCES[2]}", "",
                     "Thank you.", "Jerry Hesch"])
M_FIRST, M_LAST = 4, 3 + len(MURAKAMI_LINES)








def wait_resolved(client, rid: int) -> None:
    deadline = time.monotonic() + 60
    while "resolving…" in client.get(f"/requests/{rid}/references").text:
        assert time.monotonic() < deadline, "resolving never finished"
        time.sleep(0.1)


def new_request(client) -> int:
    r = client.post("/requests/new", data={"csrf_token": token(client), "article": "1", "claim": "1",
                                           "reader": "Jerry Hesch", "comment": COMMENT},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    rid = int(r.headers["location"].rsplit("/", 1)[1])
    wait_resolved(client, rid)
    return rid


def references(db, rid) -> list:
    store = Store(db)
    try:
        return workflow.reader_references(store, rid)
    finally:
        store.close()


def post(client, path: str, **data):
    return client.post(path, data={"csrf_token": token(client), **data})


def test_an_editor_splits_merges_and_moves_references_from_the_request_page(client, db):
    rid = new_request(client)
    refs = references(db, rid)
    assert [r.text for r in refs] == READER_REFERENCES
    page = client.get(f"/requests/{rid}").text
    # Every correction is a labelled form control, reachable by keyboard (plain buttons).
    for r in refs:
        assert f'<label for="split-{r.id}">' in page and f'id="split-{r.id}"' in page
        assert f"Reference {r.position} is not a reference" in page
    assert "Merge with reference 2" in page and "Merge with reference 3" in page
    assert "Merge with reference 4" not in page  # the last one has no next
    assert f"lines {M_FIRST}–{M_LAST} of the comment" in page

    murakami = refs[1]
    r = post(client, f"/requests/{rid}/references/{murakami.id}/split", at=str(M_FIRST + 1))
    assert r.status_code == 200 and "Reference 2 split in two" in html.unescape(r.text)
    halves = references(db, rid)
    assert [x.text for x in halves[1:3]] == [MURAKAMI_LINES[0], " ".join(MURAKAMI_LINES[1:])]
    assert MURAKAMI not in [x.doi for x in halves]

    r = post(client, f"/requests/{rid}/references/{halves[1].id}/merge")
    assert r.status_code == 200
    merged = references(db, rid)
    assert [x.text for x in merged] == READER_REFERENCES and merged[1].doi == MURAKAMI

    r = post(client, f"/requests/{rid}/references/{merged[0].id}/not-ref")
    assert r.status_code == 200
    assert [x.text for x in references(db, rid)] == READER_REFERENCES[1:]
    page = client.get(f"/requests/{rid}").text
    prose = re.search(r'<section id="prose".*?</section>', page, re.S).group(0)
    assert html.escape(READER_REFERENCES[0], quote=False)[:60] in prose
    chunk = re.findall(r'action="/requests/\d+/prose/(\d+)/is-ref"', prose)
    assert len(chunk) == 4  # the reader's words, thanks, signature, and the reference taken out
    store = Store(db)
    taken = [p.id for p in workflow.prose_chunks(store, rid) if p.text == READER_REFERENCES[0]]
    store.close()
    r = post(client, f"/requests/{rid}/prose/{taken[0]}/is-ref")
    assert r.status_code == 200 and "added to the references" in r.text
    assert [x.text for x in references(db, rid)] == READER_REFERENCES
    store = Store(db)
    done = workflow.history(store, request=rid)[-4:]
    store.close()
    assert [h.action for h in done] == ["request.reference.split", "request.reference.merge",
                                        "request.reference.not_reference", "request.reference.is_reference"]
    assert {h.actor for h in done} == {"anna"}


def test_a_split_at_a_line_outside_the_reference_is_explained_inside_it_and_changes_nothing(client, db):
    rid = new_request(client)
    before = references(db, rid)
    target = before[1]
    r = post(client, f"/requests/{rid}/references/{target.id}/split", at="99")
    assert r.status_code == 200
    section = re.search(rf'<li id="ref-{target.id}".*?</li>', r.text, re.S).group(0)
    assert (f"reference 2 is on lines {M_FIRST}-{M_LAST}: split it at a line from {M_FIRST + 1} to {M_LAST}"
            in html.unescape(section))
    assert 'role="alert"' in section and 'value="99"' in section  # what was typed is kept
    assert [x.to_json() for x in references(db, rid)] == [x.to_json() for x in before]


def test_corrections_without_the_csrf_token_are_refused(client, db):
    rid = new_request(client)
    before = references(db, rid)
    for path in (f"references/{before[0].id}/merge", f"references/{before[0].id}/not-ref",
                 f"references/{before[1].id}/split", "resolve"):
        r = client.post(f"/requests/{rid}/{path}", data={"at": str(M_FIRST + 1)})
        assert r.status_code == 403, path
    assert [x.to_json() for x in references(db, rid)] == [x.to_json() for x in before]


def test_references_left_pending_by_a_restart_are_resolved_from_the_request_page(client, db):
    # Recorded as the desk records a new request, but the server stopped before its job ran.
    store = Store(db)
    pending = workflow.open_request_from_comment(store, 1, "Jerry Hesch", COMMENT, claim=1)
    store.close()
    rid = pending.request.id
    page = client.get(f"/requests/{rid}").text
    assert "3 references not resolved yet." in page
    assert page.count("not resolved yet</span>") == 3
    assert "Resolve the remaining references" in page
    r = post(client, f"/requests/{rid}/resolve")
    assert r.status_code == 200
    wait_resolved(client, rid)
    refs = references(db, rid)
    assert not any(x.pending for x in refs)
    assert refs[1].doi == MURAKAMI
    assert "Resolve the remaining references" not in client.get(f"/requests/{rid}").text
