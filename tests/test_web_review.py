"""What an editor tripped on when walking the desk in a browser (issue 10's review), as
specifications: typed text survives an error and the error sits by the form it is about,
dates read as dates, messages never point at terminal commands, odd addresses get the short
404 page, and a claim's history reads as words, not as Python data.

The desk runs on the test client over a fresh database, with the Crossref stand-in serving
the shipped sample of real records over real HTTP.
"""

from __future__ import annotations

import html
import re
import time

import pytest
from conftest import ROOT

from refkeeper import Store, workflow
from refkeeper.web import create_app

pytest.importorskip("httpx")
from deskclient import token  # noqa: E402

# The `db` and `client` fixtures (the seed claim, the desk over it) come from
# tests/support/deskclient.py, loaded by conftest.py.
from starlette.testclient import TestClient  # noqa: E402

COMMENT = (ROOT / "examples" / "reader-comment.txt").read_text()








def new_request(client, comment=COMMENT) -> int:
    r = client.post("/requests/new", data={"csrf_token": token(client), "article": "1", "claim": "1",
                                           "reader": "Jerry Hesch", "comment": comment, "stance": "contests"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    rid = int(r.headers["location"].rsplit("/", 1)[1])
    deadline = time.monotonic() + 60
    while "resolving…" in client.get(f"/requests/{rid}/references").text:
        assert time.monotonic() < deadline, "resolving never finished"
        time.sleep(0.1)
    return rid


def reference_block(html: str, ref_id: str) -> str:
    # Up to the next reference (a reference holds lists of its own).
    return re.search(rf'<li id="ref-{ref_id}".*?(?=<li id="ref-|</ol>)', html, re.S).group(0)


def test_a_malformed_doi_is_refused_inside_its_reference_with_the_typed_text_kept(client):
    rid = new_request(client)
    berthelot = re.findall(r'id="ref-(\d+)"', client.get(f"/requests/{rid}").text)[0]
    r = client.post(f"/requests/{rid}/references/{berthelot}/doi",
                    data={"csrf_token": token(client), "doi": "10.1007 s00586"}, follow_redirects=False)
    # Back to that reference, not to the top of a long page.
    assert r.headers["location"] == f"/requests/{rid}#ref-{berthelot}"
    block = reference_block(client.get(r.headers["location"]).text, berthelot)
    assert "not a DOI" in block and "A DOI starts with 10." in block
    assert re.search(r"<details open>\s*<summary>Enter the DOI by hand", block)
    assert 'value="10.1007 s00586"' in block
    # Shown once: a reload is the page as it was.
    again = reference_block(client.get(f"/requests/{rid}").text, berthelot)
    assert "not a DOI" not in again and 'value="10.1007 s00586"' not in again


def test_a_doi_crossref_does_not_know_says_to_check_it_and_keeps_it(client):
    rid = new_request(client)
    berthelot = re.findall(r'id="ref-(\d+)"', client.get(f"/requests/{rid}").text)[0]
    r = client.post(f"/requests/{rid}/references/{berthelot}/doi",
                    data={"csrf_token": token(client), "doi": "10.9999/no-such-work"})
    block = reference_block(r.text, berthelot)
    assert "no work with DOI 10.9999/no-such-work" in block and "Check the DOI for typos." in block
    assert 'value="10.9999/no-such-work"' in block


def test_searching_again_with_empty_text_keeps_the_form_open_with_the_error(client):
    rid = new_request(client)
    borowsky = re.findall(r'id="ref-(\d+)"', client.get(f"/requests/{rid}").text)[2]
    r = client.post(f"/requests/{rid}/references/{borowsky}/search",
                    data={"csrf_token": token(client), "text": "   "})
    block = reference_block(r.text, borowsky)
    assert "type the text to search for" in block
    assert re.search(r"<details open>\s*<summary>Search again with edited text", block)


def test_a_doi_that_does_not_fit_says_so_in_words_and_lists_it_to_judge(client):
    rid = new_request(client)
    berthelot = re.findall(r'id="ref-(\d+)"', client.get(f"/requests/{rid}").text)[0]
    r = client.post(f"/requests/{rid}/references/{berthelot}/doi",
                    data={"csrf_token": token(client), "doi": "10.1007/s00586-013-2833-2"})
    assert "does not fit the reference well" in r.text
    block = reference_block(r.text, berthelot)
    assert "1 candidate, best first" in block
    assert re.search(r"Disagrees: [^<]*title", block)


def test_the_candidates_and_their_evidence_read_in_words(client):
    rid = new_request(client, comment="Murakami et al. (2007)")
    page = client.get(f"/requests/{rid}").text
    n = len(re.findall(r'class="candidate"', page))
    assert n >= 1 and f"{n} candidate{'s' if n != 1 else ''}, best first" in page
    assert "Agrees: author, year" in page
    assert "container" not in re.search(r'<ul class="evidence".*?</ul>', page, re.S).group(0)


def test_dates_read_as_dates_and_ages_as_how_long_ago(client, db):
    store = Store(db)
    workflow.add_request(store, 1, "Ada", claim=1, received_at="2024-03-02")
    store.close()
    page = client.get("/requests/1").text
    assert "Received 2 Mar 2024 (" in page and " ago)" in page
    assert "ago ago" not in page and "just now ago" not in page
    assert re.search(r"<td data-label=\"Received\"[^>]*>\d+ (year|month)s? ago</td>", client.get("/").text)


def test_messages_never_point_an_editor_at_terminal_commands(client):
    r = client.post("/exports", data={"csrf_token": token(client), "claim": "999", "format": "bibtex"})
    assert r.status_code == 404 and "no claim 999" in r.text
    assert "refkeeper claim list" not in r.text
    empty = client.get("/requests/987654")
    assert empty.status_code == 404 and "refkeeper request list" not in empty.text


def test_a_new_request_without_articles_links_to_adding_one(tmp_path, sample_standin):
    app = create_app(db_path=str(tmp_path / "empty.db"), crossref_url=sample_standin.url, secret="s" * 40)
    with TestClient(app) as c:
        page = c.get("/requests/new").text
    assert 'href="/articles#add-article-heading"' in page and "refkeeper article add" not in page


@pytest.mark.parametrize("path", ["/requests/99999999999999999999", "/requests/abc", "/claims/abc",
                                  "/claims/99999999999999999999", "/articles/99999999999999999999",
                                  "/requests/99999999999999999999/references"])
def test_odd_record_numbers_get_the_short_404_page_never_a_500(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert "Traceback" not in r.text and "Not found" in r.text


def test_an_article_is_found_by_its_slug_as_well_as_its_number(client):
    assert client.get("/articles/sij-leg-pain").status_code == 200
    assert client.get("/articles/1").status_code == 200


def test_a_claims_history_shows_words_not_python_data(client):
    new_request(client)
    page = client.get("/claims/1").text
    history = re.search(r'<table class="history">.*?</table>', page, re.S).group(0)
    assert "{&#39;" not in history and "[{" not in history and "None" not in history
    assert "Berthelot JM" in history  # the pasted references, as text


# -- article and claim forms keep what was typed -------------------------------------------


def form_html(page: str, action: str) -> str:
    return re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S).group(0)


def refused(page: str, field_id: str) -> str:
    """The message beside the field ``field_id``, checking the field says it is invalid and
    points at it (what a screen reader reads)."""
    field = re.search(rf'<(input|textarea|select)[^>]*id="{field_id}"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field and f'aria-describedby="{field_id}-error"' in field
    return html.unescape(re.search(rf'id="{field_id}-error"[^>]*>(.*?)</p>', page).group(1))


def test_an_article_refused_for_its_slug_comes_back_with_everything_typed_and_the_reason_by_the_slug(
        client, db):
    typed = {"title": "Manual therapy for SIJ pain & leg pain", "url": "https://example.org/blog/mt",
             "slug": "sij-leg-pain", "text": "In a small trial, manual therapy relieved 72% of patients."}
    r = client.post("/articles", data={"csrf_token": token(client), **typed}, follow_redirects=False)
    assert r.status_code == 400
    form = form_html(r.text, "/articles")
    assert refused(form, "article-slug") == "slug 'sij-leg-pain' is already used by another article"
    assert 'value="Manual therapy for SIJ pain &amp; leg pain"' in form
    assert 'value="https://example.org/blog/mt"' in form and 'value="sij-leg-pain"' in form
    assert ">In a small trial, manual therapy relieved 72% of patients.</textarea>" in form
    assert 'aria-invalid' not in form.split('id="article-slug"')[0]  # only the slug is marked
    store = Store(db)
    assert [a.title for a in workflow.articles(store)] == [
        "Treatment of the sacroiliac joint in patients with leg pain"]
    store.close()


def test_an_article_edit_refused_opens_the_edit_form_again_with_the_typed_title_kept(client, db):
    store = Store(db)
    workflow.add_article(store, "Another article", slug="other", actor="setup")
    store.close()
    r = client.post("/articles/sij-leg-pain/edit", data={
        "csrf_token": token(client), "title": "Treating the SIJ in leg pain", "url": "", "slug": "other"})
    assert r.status_code == 400
    assert re.search(r"<details open>\s*<summary>Title, address, short name", r.text)
    form = form_html(r.text, "/articles/1/edit")
    assert refused(form, "edit-slug") == "slug 'other' is already used by another article"
    assert 'value="Treating the SIJ in leg pain"' in form and 'value="other"' in form
    # The page around it is the article as stored.
    assert "<h1>Treatment of the sacroiliac joint in patients with leg pain</h1>" in r.text
    # Reached again, it is the article as stored, the form closed.
    page = client.get("/articles/1").text
    assert "Treating the SIJ" not in page and "<details open>" not in page


def test_a_claim_without_text_comes_back_with_its_place_and_quote_kept(client, db):
    r = client.post("/articles/1/claims", data={
        "csrf_token": token(client), "text": "  \n ", "location": "paragraph 3",
        "quote": "periarticular injections did better"})
    assert r.status_code == 400
    form = form_html(r.text, "/articles/1/claims")
    assert refused(form, "claim-text") == "a claim needs its text"
    assert 'value="paragraph 3"' in form and ">periarticular injections did better</textarea>" in form
    store = Store(db)
    assert len(workflow.claims(store)) == 1
    store.close()


def test_a_claim_edit_refused_keeps_what_was_typed_in_the_open_edit_form(client, db):
    r = client.post("/claims/1/edit", data={"csrf_token": token(client), "text": " ", "location": "para 2",
                                            "quote": "the 'gold standard'"})
    assert r.status_code == 400
    assert re.search(r"<details open>\s*<summary>Text, where it sits", r.text)
    form = form_html(r.text, "/claims/1/edit")
    assert refused(form, "edit-text") == "a claim needs its text"
    assert 'value="para 2"' in form and ">the &#39;gold standard&#39;</textarea>" in form
    store = Store(db)
    assert workflow.get_claim(store, 1).location is None
    store.close()


def test_a_link_to_a_doi_no_one_knows_keeps_the_doi_stance_and_note_typed(client, db):
    r = client.post("/claims/1/links", data={"csrf_token": token(client), "doi": "10.9999/no-such-work",
                                             "stance": "contests", "note": "the reader's second paper"})
    assert r.status_code == 400
    form = form_html(r.text, "/claims/1/links")
    assert "no work with DOI 10.9999/no-such-work" in refused(form, "link-doi")
    assert 'value="10.9999/no-such-work"' in form and 'value="the reader&#39;s second paper"' in form
    assert '<option value="contests" selected>' in form
    store = Store(db)
    assert workflow.links(store, 1) == []
    store.close()


def test_a_link_to_a_claim_that_does_not_exist_is_still_the_404_page(client):
    r = client.post("/claims/999/links", data={"csrf_token": token(client), "doi": "10.9999/no-such-work",
                                               "stance": "contests"})
    assert r.status_code == 404


# -- what the second walk found (sign-in, declining, verification's reach, proposals) -------


def test_a_wrong_password_keeps_the_name_and_no_one_is_shown_editing_before_signing_in(
        db, sample_standin):
    from refkeeper._editors import add_editor

    store = Store(db)
    add_editor(store, "Anna Editor", "correct horse battery")
    store.close()
    app = create_app(db_path=db, crossref_url=sample_standin.url, secret="s" * 40, default_editor="os-user")
    with TestClient(app) as c:
        # Sent to sign in from a filtered queue, back to that very queue afterwards.
        r = c.get("/?status=declined&article=1", follow_redirects=False)
        assert r.headers["location"] == "/signin?next=%2F%3Fstatus%3Ddeclined%26article%3D1"
        page = c.get(r.headers["location"]).text
        assert "os-user" not in page and "Editing as" not in page
        tok = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        nxt = re.search(r'name="next" value="([^"]+)"', page).group(1)
        bad = c.post("/signin", data={"csrf_token": tok, "name": "Anna Editor", "password": "wrong",
                                      "next": html.unescape(nxt)})
        assert bad.status_code == 400 and "Wrong name or password." in bad.text
        assert 'value="Anna Editor"' in bad.text and "os-user" not in bad.text
        assert re.search(r'<input type="password"[^>]*autofocus', bad.text)
        assert 'value="wrong"' not in bad.text  # never the password
        ok = c.post("/signin", data={"csrf_token": tok, "name": "Anna Editor",
                                     "password": "correct horse battery", "next": html.unescape(nxt)},
                    follow_redirects=False)
        assert ok.headers["location"] == "/?status=declined&article=1"


def test_a_declined_request_shows_its_reason_in_the_queue(client, db):
    store = Store(db)
    workflow.add_request(store, 1, "Spam Bot", text="Buy cheap pills", actor="setup")
    store.close()
    r = client.post("/requests/1/decline", data={"csrf_token": token(client),
                                                 "reason": "Not about the article: advertising."})
    assert "Declined by anna" in r.text and "Not about the article: advertising." in r.text
    row = re.search(r'<tr>\s*<td><a href="/requests/1">.*?</tr>', client.get("/?status=declined").text, re.S)
    assert "declined" in row.group(0) and "Not about the article: advertising." in row.group(0)
    assert "no references" in row.group(0)  # not three zeros
    assert "/requests/1" not in client.get("/?status=open").text


def test_a_retracted_work_is_flagged_where_an_editor_would_give_it_to_a_reader(db, sample_standin):
    from standin import with_update

    from refkeeper import CrossrefClient, IndexSource, Resolver, verify

    visser = "10.1007/s00586-013-2833-2"
    store = Store(db)
    store.import_snapshot(ROOT / "src" / "refkeeper" / "data" / "sample-works.jsonl.gz")
    workflow.add_request_from_comment(store, 1, "Trial reader", "Visser LH, Woudenberg NP, de Bont J, et al. "
                                      "Treatment of the sacroiliac joint in patients with leg pain: a "
                                      "randomized-controlled trial. Eur Spine J. 2013;22(10):2310-7.",
                                      Resolver(source=IndexSource(store), store=store), claim=1,
                                      actor="setup")
    page = TestClient(create_app(db_path=db, offline=True, secret="s" * 40)).get("/requests/1").text
    assert 'class="problem"' not in page  # nothing found wrong yet: nothing flagged
    original = store.require_work(visser).record
    sample_standin.revise(visser, with_update(original, "retraction", "10.5555/rn",
                                              source="retraction-watch"))
    try:
        verify.verify(store, CrossrefClient(base_url=sample_standin.url, backoff=0.01, timeout=5), all=True)
    finally:
        sample_standin.revise(visser, original)  # the module's stand-in, as the other tests expect it
        store.close()
    with TestClient(create_app(db_path=db, offline=True, secret="s" * 40)) as c:
        page = c.get("/requests/1").text
    give = page[page.index("Works to give the reader"):page.index("Mark answered")]
    assert visser in give and '<span class="problem">retraction</span>' in give
    link = page[page.index('id="link-heading"'):page.index("Works to give the reader")]
    assert '<span class="problem">retraction</span>' in link


@pytest.mark.parametrize("path", ["/articles", "/articles/1"])
def test_at_400_px_every_stacked_cell_but_the_first_says_which_column_it_is(client, path):
    # Narrow screens stack table cells; a bare "0" under "0" means nothing without its column.
    page = client.get(path).text
    for row in re.findall(r"<tbody>.*?</tbody>", page, re.S):
        for tr in re.findall(r"<tr>(.*?)</tr>", row, re.S):
            cells = re.findall(r"<td([^>]*)>", tr)
            assert all("data-label=" in attrs for attrs in cells[2:]), (path, cells)
