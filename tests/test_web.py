"""The editor's desk (`refkeeper serve`) through Starlette's test client: routes, the
security rules (CSRF, GET changes nothing, escaping, headers, body limit, sign-in,
binding), error pages, and the request workflow against the Crossref stand-in serving
the shipped sample of real records over real HTTP."""

from __future__ import annotations

import re
import time

import pytest
from click.testing import CliRunner
from conftest import ROOT

from refkeeper import Store, UsageError, workflow
from refkeeper._editors import add_editor
from refkeeper.cli import cli
from refkeeper.web import create_app
from refkeeper.web._app import check_binding

pytest.importorskip("httpx")
from deskclient import token  # noqa: E402

# The `db` and `client` fixtures (the seed claim, the desk over it) come from
# tests/support/deskclient.py, loaded by conftest.py.
from starlette.testclient import TestClient  # noqa: E402

MURAKAMI = "10.1007/s00776-007-1126-1"
COMMENT = (ROOT / "examples" / "reader-comment.txt").read_text()
HOSTILE = {
    "script": "<script>window.__pwned=1</script>",
    "img": '"><img src=x onerror="window.__pwned=1">',
    "js": "javascript:window.__pwned=1",
    "doi": '10.1234/"><script>window.__pwned=1</script>',
}








def history_count(db) -> int:
    store = Store(db)
    try:
        return len(workflow.history(store))
    finally:
        store.close()


def new_request(client, comment=COMMENT, **fields) -> int:
    data = {"csrf_token": token(client), "article": "1", "claim": "1", "reader": "Jerry Hesch",
            "comment": comment, "stance": "contests", **fields}
    r = client.post("/requests/new", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    rid = int(r.headers["location"].rsplit("/", 1)[1])
    deadline = time.monotonic() + 60
    while "resolving…" in client.get(f"/requests/{rid}/references").text:
        assert time.monotonic() < deadline, "resolving never finished"
        time.sleep(0.1)
    return rid


def statuses(html: str) -> list[str]:
    return re.findall(r'data-status="(\w+)"', html)


# -- the request workflow -------------------------------------------------------------------


def test_a_pasted_comment_becomes_a_request_whose_references_resolve_in_the_background(client, db):
    rid = new_request(client)
    page = client.get(f"/requests/{rid}").text
    # Berthelot, Murakami, Borowsky, in the reader's order; only Murakami gets a DOI.
    assert statuses(page) == ["unmatched", "matched", "unmatched"]
    assert re.findall(r'class="doi" href="https://doi.org/([^"]+)"', page) == [MURAKAMI]
    assert "There is no gold standard." in page  # the reader's words
    store = Store(db)
    refs = workflow.reader_references(store, rid)
    assert [r.doi for r in refs] == [None, MURAKAMI, None]
    # The reader said they contest the claim: linked as the reader's, unconfirmed.
    assert [(lk.doi, lk.stance, lk.confirmed) for lk in workflow.links(store, claim=1)] == [
        (MURAKAMI, "contests", False)]
    store.close()


def test_the_editor_confirms_the_link_answers_and_gets_the_reply_that_request_reply_gives(client, db):
    rid = new_request(client)
    tok = token(client)
    r = client.post(f"/requests/{rid}/link", data={"csrf_token": tok, "doi": MURAKAMI, "stance": "contests",
                                                  "note": "periarticular did better"})
    assert "Linked 10.1007/s00776-007-1126-1 to claim 1 as &#39;contests&#39;" in r.text
    r = client.post(f"/requests/{rid}/answer", data={"csrf_token": tok, "doi": [MURAKAMI], "note": ""})
    reply = re.search(r'<textarea id="reply"[^>]*>(.*?)</textarea>', r.text, re.S).group(1)
    store = Store(db)
    expected = workflow.reply(store, rid)
    history = workflow.history(store, request=rid)
    link = workflow.links(store, claim=1)[0]
    store.close()
    assert reply.replace("&#34;", '"').replace("&#39;", "'") == expected.replace("&", "&amp;") \
        .replace("<", "&lt;").replace(">", "&gt;").replace("&amp;#", "&#")
    assert "Contesting:" in expected and "Berthelot JM" in expected
    assert link.confirmed and link.confirmed_by == "anna"
    assert {h.actor for h in history if h.action == "request.answer"} == {"anna"}


def test_an_ambiguous_reference_shows_its_candidates_with_evidence_and_can_be_accepted(client, db):
    rid = new_request(client, comment="Murakami et al. (2007)", stance="")
    page = client.get(f"/requests/{rid}").text
    assert statuses(page) == ["ambiguous"]
    assert "Agrees: author, year" in page and MURAKAMI in page
    ref_id = re.search(r'id="ref-(\d+)"', page).group(1)
    r = client.post(f"/requests/{rid}/references/{ref_id}/accept",
                    data={"csrf_token": token(client), "doi": MURAKAMI})
    assert statuses(r.text) == ["matched"]
    store = Store(db)
    assert workflow.reader_references(store, rid)[0].doi == MURAKAMI
    assert workflow.history(store, request=rid)[-1].action == "request.reference.accept"
    store.close()


def test_only_a_listed_candidate_can_be_accepted(client, db):
    rid = new_request(client, comment="Murakami et al. (2007)", stance="")
    ref_id = re.search(r'id="ref-(\d+)"', client.get(f"/requests/{rid}").text).group(1)
    r = client.post(f"/requests/{rid}/references/{ref_id}/accept",
                    data={"csrf_token": token(client), "doi": "10.1007/s00586-013-2833-2"})
    assert "is not a candidate" in r.text
    assert statuses(r.text) == ["ambiguous"]


def test_rejecting_all_candidates_leaves_the_reference_without_a_doi(client, db):
    rid = new_request(client, comment="Murakami et al. (2007)", stance="")
    ref_id = re.search(r'id="ref-(\d+)"', client.get(f"/requests/{rid}").text).group(1)
    r = client.post(f"/requests/{rid}/references/{ref_id}/reject", data={"csrf_token": token(client)})
    assert statuses(r.text) == ["unmatched"]
    store = Store(db)
    ref = workflow.reader_references(store, rid)[0]
    store.close()
    assert (ref.doi, ref.candidates) == (None, [])


def test_a_doi_entered_by_hand_is_fetched_and_checked_against_the_readers_text(client, db):
    rid = new_request(client)
    page = client.get(f"/requests/{rid}").text
    berthelot = re.findall(r'id="ref-(\d+)"', page)[0]
    # The trial's DOI does not fit Berthelot's reference: it becomes a candidate to judge,
    # with the fields that disagree, never a match.
    r = client.post(f"/requests/{rid}/references/{berthelot}/doi",
                    data={"csrf_token": token(client), "doi": "https://doi.org/10.1007/S00586-013-2833-2"})
    assert statuses(r.text)[0] == "ambiguous"
    assert "Disagrees: title" in r.text or "Disagrees: author" in r.text
    murakami_text = COMMENT.split("\n\n")[-2]
    assert murakami_text.startswith("Murakami")
    # A DOI nobody knows changes nothing.
    r = client.post(f"/requests/{rid}/references/{berthelot}/doi",
                    data={"csrf_token": token(client), "doi": "10.9999/no-such-work"})
    assert "no work with DOI 10.9999/no-such-work" in r.text


def test_searching_again_with_edited_text_keeps_the_readers_words(client, db):
    written = "Murakami E. Effect of lidocaine injections for sacroiliac joint pain. 2007"
    rid = new_request(client, comment=written, stance="")
    ref_id = re.search(r'id="ref-(\d+)"', client.get(f"/requests/{rid}").text).group(1)
    edited = ("Murakami E, Tanaka Y, Aizawa T, Ishizuka M, Kokubun S. Effect of periarticular and "
              "intraarticular lidocaine injections for sacroiliac joint pain: prospective comparative "
              "study. J Orthop Sci. 2007;12(3):274-80.")
    r = client.post(f"/requests/{rid}/references/{ref_id}/search", data={"csrf_token": token(client),
                                                                         "text": edited})
    assert statuses(r.text) == ["matched"]
    store = Store(db)
    ref = workflow.reader_references(store, rid)[0]
    store.close()
    assert (ref.text, ref.searched_as, ref.doi) == (written, edited, MURAKAMI)


def test_declining_needs_a_reason_and_records_it(client, db):
    rid = new_request(client, comment="Murakami et al. (2007)", stance="")
    tok = token(client)
    r = client.post(f"/requests/{rid}/decline", data={"csrf_token": tok, "reason": "  "})
    assert "say why the request is declined" in r.text
    r = client.post(f"/requests/{rid}/decline", data={"csrf_token": tok, "reason": "asks for medical advice"})
    assert "Declined by anna" in r.text and "asks for medical advice" in r.text


def test_the_queue_lists_open_requests_first_oldest_first_with_counts_filters_and_pages(db, sample_standin):
    store = Store(db)
    for reader, day in [("Ada", "2024-03-02"), ("Ben", "2024-03-01"), ("Cy", "2024-02-01")]:
        workflow.add_request(store, 1, reader, claim=1, received_at=day)
    workflow.decline_request(store, 3, "duplicate")
    store.close()
    app = create_app(db_path=db, crossref_url=sample_standin.url, secret="s" * 40)
    with TestClient(app) as c:
        page = c.get("/").text
        assert re.findall(r'<a href="/requests/\d+">([A-Z][a-z]+)</a>', page) == ["Ben", "Ada", "Cy"]
        # None of them pasted references: said in words, not as three zeros.
        assert "0 matched" not in page and page.count("no references") == 3
        declined = c.get("/?status=declined").text
        assert re.findall(r'<a href="/requests/\d+">([A-Z][a-z]+)</a>', declined) == ["Cy"]
        assert "duplicate" in declined  # why it was declined, in the queue
        assert c.get("/?status=closed").status_code == 400
    from refkeeper.web import _queue

    _queue.PER_PAGE, saved = 2, _queue.PER_PAGE
    try:
        with TestClient(create_app(db_path=db, crossref_url=sample_standin.url, secret="s" * 40)) as c:
            first, second = c.get("/").text, c.get("/?page=2").text
    finally:
        _queue.PER_PAGE = saved
    assert "page 1 of 2 (3 requests)" in first and 'rel="next"' in first
    assert re.findall(r'<a href="/requests/\d+">([A-Z][a-z]+)</a>', second) == ["Cy"]


def test_queue_counts_matched_ambiguous_and_unmatched_references(client):
    new_request(client)
    new_request(client, comment="Murakami et al. (2007)", stance="")
    page = client.get("/").text
    counts = re.findall(r'(\d) matched</span>\s*<span class="count ambiguous">(\d) ambiguous</span>\s*'
                        r'<span class="count unmatched">(\d) unmatched', page)
    assert counts == [("1", "0", "2"), ("0", "1", "0")]


# -- security -------------------------------------------------------------------------------


def test_a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(client, db):
    rid = new_request(client, comment="Murakami et al. (2007)", stance="")
    before = history_count(db)
    for data, headers in [({"reason": "spam"}, {}), ({"reason": "spam", "csrf_token": "forged"}, {}),
                          ({"reason": "spam"}, {"X-CSRF-Token": "forged"})]:
        r = client.post(f"/requests/{rid}/decline", data=data, headers=headers)
        assert r.status_code == 403
        assert "Not allowed" in r.text and "Traceback" not in r.text
    # The same POST from another browser (no session) is refused too.
    with TestClient(client.app) as stranger:
        assert stranger.post(f"/requests/{rid}/decline", data={"reason": "spam", "csrf_token": token(client)}
                             ).status_code == 403
    assert history_count(db) == before
    assert "open" in statuses(client.get(f"/requests/{rid}").text) or "ambiguous" in client.get(
        f"/requests/{rid}").text
    # With the session's token in the htmx header, the same request goes through.
    r = client.post(f"/requests/{rid}/decline", data={"reason": "spam"},
                    headers={"X-CSRF-Token": token(client)})
    assert r.status_code == 200 and "Declined by anna" in r.text


def test_get_never_changes_anything(client, db):
    rid = new_request(client, comment="Murakami et al. (2007)", stance="")
    ref_id = re.search(r'id="ref-(\d+)"', client.get(f"/requests/{rid}").text).group(1)
    before = history_count(db)
    for path in ["/", "/?status=open", f"/requests/{rid}", f"/requests/{rid}/references", "/requests/new",
                 f"/requests/{rid}/decline", f"/requests/{rid}/answer", f"/requests/{rid}/link",
                 f"/requests/{rid}/references/{ref_id}/accept?doi={MURAKAMI}",
                 f"/requests/{rid}/references/{ref_id}/reject", f"/requests/{rid}/claim.bib",
                 "/signin", "/signout"]:
        assert client.get(path).status_code in (200, 405), path
    assert history_count(db) == before


def bibtex_keys(db) -> dict[str, str]:
    store = Store(db)
    try:
        return store.bibtex_keys()
    finally:
        store.close()


def test_the_claims_bibtex_is_a_post_with_the_token_because_it_stores_new_keys(client, db):
    rid = new_request(client)  # Murakami, linked to claim 1 as the reader's 'contests'
    assert bibtex_keys(db) == {}
    # A link, a prefetch or a crawler cannot make the desk choose and store keys.
    assert client.get(f"/requests/{rid}/claim.bib?stance=contests").status_code == 405
    assert client.post(f"/requests/{rid}/claim.bib", data={"stance": "contests"}).status_code == 403
    assert bibtex_keys(db) == {}
    r = client.post(f"/requests/{rid}/claim.bib", data={"stance": "contests", "csrf_token": token(client)})
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="claim-1-contests.bib"'
    key = bibtex_keys(db)[MURAKAMI]
    assert f"{{{key}," in r.text and MURAKAMI in r.text.lower()
    # The request page offers it as such a form, token included.
    page = client.get(f"/requests/{rid}").text
    form = re.search(rf'<form[^>]*action="/requests/{rid}/claim.bib".*?</form>', page, re.S).group(0)
    assert 'method="post"' in form and 'name="csrf_token"' in form
    assert re.findall(r'name="stance" value="(\w*)"', form) == ["supports", "contests", "mentions", ""]


def test_hostile_strings_are_escaped_in_every_field_a_page_shows(tmp_path, sample_standin):
    db = str(tmp_path / "refs.db")
    store = Store(db)
    art = workflow.add_article(store, HOSTILE["script"] + HOSTILE["img"], url=HOSTILE["js"], slug="x")
    claim = workflow.add_claim(store, art.id, HOSTILE["img"] + HOSTILE["script"])
    req = workflow.add_request(store, art.id, HOSTILE["script"], text=HOSTILE["img"], claim=claim.id,
                               contact=HOSTILE["img"])
    store.close()
    app = create_app(db_path=db, crossref_url=sample_standin.url, secret="s" * 40,
                     default_editor=HOSTILE["img"])
    with TestClient(app) as c:
        rid = new_request(c, comment=f"{HOSTILE['doi']}\n\n{HOSTILE['img']} {HOSTILE['script']} 2007",
                          article=str(art.id), claim=str(claim.id), reader=HOSTILE["img"],
                          contact=HOSTILE["script"])
        pages = [c.get(p).text for p in ["/", f"/requests/{req.id}", f"/requests/{rid}", "/requests/new",
                                         f"/requests/{rid}/references", "/?status=open&article=x"]]
    for html in pages:
        assert "<script>window" not in html
        assert "<img src=x" not in html
        assert 'href="javascript:' not in html
        assert "onerror=\"window" not in html


def test_security_headers_are_on_pages_error_pages_and_static_files(client):
    for path in ["/", "/no-such-page", "/static/htmx.min.js"]:
        h = client.get(path).headers
        assert "script-src 'self'" in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "unsafe-inline" not in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "same-origin"


def test_the_session_cookie_is_signed_httponly_and_samesite(client):
    cookie = client.get("/").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_a_request_body_over_the_limit_gets_413_and_changes_nothing(client, db):
    before = history_count(db)
    big = "x" * (1024 * 1024 + 1)
    r = client.post("/requests/new", data={"csrf_token": token(client), "article": "1", "reader": "R",
                                           "comment": big})
    assert r.status_code == 413 and "Too large" in r.text
    assert history_count(db) == before


def test_error_pages_are_short_in_the_layout_and_never_a_traceback(client):
    from starlette.routing import Route

    def boom(request):
        raise RuntimeError("secret internals")

    client.app.router.routes.append(Route("/boom", boom))
    browser = TestClient(client.app, raise_server_exceptions=False)  # as a browser sees a 500
    for path, status in [("/no-such-page", 404), ("/requests/999", 404), ("/requests/abc", 404),
                         ("/?page=0", 400), ("/boom", 500)]:
        r = browser.get(path)
        assert r.status_code == status, path
        assert "refkeeper desk" in r.text and "Traceback" not in r.text and "secret internals" not in r.text
    assert client.post("/", data={"csrf_token": token(client)}).status_code == 405


# -- editors, sign-in, where the desk listens ---------------------------------------------------


def test_the_desk_refuses_to_listen_beyond_this_machine_until_editor_accounts_exist():
    check_binding("127.0.0.1", 0)
    check_binding("::1", 0)
    check_binding("localhost", 0)
    for host in ["0.0.0.0", "192.168.1.10", "::"]:
        with pytest.raises(UsageError, match="no editor accounts"):
            check_binding(host, 0)
        check_binding(host, 1)


def test_serve_on_another_address_without_accounts_exits_2_with_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "refs.db"), "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: refusing to listen on 0.0.0.0: no editor accounts yet; add one with "
        "`refkeeper editor add NAME`, or serve on 127.0.0.1"]


def test_editor_add_stores_an_argon2_hash_never_the_password(tmp_path):
    db = str(tmp_path / "refs.db")
    r = CliRunner().invoke(cli, ["--db", db, "editor", "add", "Anna Editor", "--password-stdin"],
                           input="correct horse battery\n")
    assert r.exit_code == 0, r.output
    store = Store(db)
    (row,) = store.db.execute("SELECT name, password_hash FROM editors").fetchall()
    store.close()
    assert row[0] == "Anna Editor" and row[1].startswith("$argon2id$") and "horse" not in row[1]
    again = CliRunner().invoke(cli, ["--db", db, "editor", "add", "anna editor", "--password-stdin"],
                               input="another password\n")
    assert again.exit_code == 2 and "already an editor" in again.output
    short = CliRunner().invoke(cli, ["--db", db, "editor", "add", "Ben", "--password-stdin"], input="short\n")
    assert short.exit_code == 2


def test_with_accounts_every_page_needs_sign_in_and_history_records_the_editor(db, sample_standin):
    store = Store(db)
    add_editor(store, "Anna Editor", "correct horse battery")
    store.close()
    app = create_app(db_path=db, crossref_url=sample_standin.url, secret="s" * 40, default_editor="os-user")
    with TestClient(app) as c:
        r = c.get("/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/signin")
        page = c.get("/signin").text
        tok = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        assert c.post("/requests/new", data={"csrf_token": tok}).status_code == 403
        bad = c.post("/signin", data={"csrf_token": tok, "name": "Anna Editor", "password": "wrong password"})
        assert bad.status_code == 400 and "Wrong name or password" in bad.text
        ok = c.post("/signin", data={"csrf_token": tok, "name": "anna editor",
                                     "password": "correct horse battery"})
        assert ok.status_code == 200 and "Signed in as Anna Editor" in ok.text
        new_request(c, comment="Murakami et al. (2007)", stance="")
    store = Store(db)
    actors = {h.actor for h in workflow.history(store) if h.action.startswith("request.")}
    store.close()
    assert actors == {"Anna Editor"}


def test_on_localhost_without_accounts_the_name_typed_once_goes_into_history(client, db):
    tok = token(client)
    r = client.post("/signin", data={"csrf_token": tok, "name": "Bea", "password": ""})
    assert "Editing as <strong>Bea</strong>" in r.text
    new_request(client, comment="Murakami et al. (2007)", stance="")
    store = Store(db)
    actors = {h.actor for h in workflow.history(store) if h.action.startswith("request.")}
    store.close()
    assert actors == {"Bea"}


def test_sessions_survive_a_restart_because_the_key_is_kept_beside_the_database(db, sample_standin):
    apps = [create_app(db_path=db, crossref_url=sample_standin.url) for _ in range(2)]
    with TestClient(apps[0]) as first:
        tok = token(first)
        first.post("/signin", data={"csrf_token": tok, "name": "Cleo"})
        cookies = dict(first.cookies)
    with TestClient(apps[1], cookies=cookies) as second:
        assert "Editing as <strong>Cleo</strong>" in second.get("/").text


def test_a_database_from_before_the_desk_is_upgraded_with_editors_and_searched_as(tmp_path):
    import sqlite_utils

    from refkeeper._store import migrations

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m005_editors")  # the schema as the previous version left it
    assert "editors" not in db.table_names()
    db.execute("INSERT INTO articles (id, title, added_at) VALUES (1, 'A', '2026-01-01')")
    db.execute("INSERT INTO requests (id, article_id, reader, received_at) VALUES (1, 1, 'R', '2026-01-01')")
    db.execute("INSERT INTO request_references (request_id, position, text, status) VALUES (1, 1, 'x', "
               "'unmatched')")
    db.conn.commit()
    db.close()
    store = Store(path)
    assert "editors" in store.db.table_names()
    (ref,) = workflow.reader_references(store, 1)
    assert (ref.text, ref.searched_as) == ("x", None)
    store.close()
