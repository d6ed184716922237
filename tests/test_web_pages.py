"""The desk's pages for articles and claims, works, re-verification and exports (issue 10,
part 2), through Starlette's TestClient over a real database: the shipped sample of real
Crossref records (the seed works among them), the stand-in over real HTTP where Crossref
is asked. Hostile strings go into every field these pages show; every POST needs the
session's CSRF token."""

from __future__ import annotations

import gzip
import html
import io
import itertools
import json
import re
import threading
import time
from pathlib import Path
from urllib.parse import quote, unquote

import bibtexparser
import pytest
from conftest import ROOT, SHARED_DATA
from starlette.testclient import TestClient

from refkeeper import CrossrefClient, Store, extract_dois, workflow
from refkeeper.export import FORMATS
from refkeeper.web import create_app

VISSER = "10.1007/s00586-013-2833-2"
MURAKAMI = "10.1007/s00776-007-1126-1"
ARTICLE_TEXT = (ROOT / "examples" / "sij-article.txt").read_text()

SCRIPT = "<script>alert('xss')</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
# A DOI as hostile as a DOI can be and still be read as one whole DOI.
HOSTILE_DOI = "10.5555/x\"'<script>alert(1)</script>y"


def csrf(client: TestClient, path: str = "/articles") -> str:
    page = client.get(path)
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text).group(1)


def post(client: TestClient, path: str, data: dict, **kw):
    """A form POST with the session's token, as a browser sends it (a list value: a field
    sent once per item, as ticked checkboxes are)."""
    return client.post(path, data={"csrf_token": csrf(client), **data}, **kw)


def flashes(page) -> list[str]:
    found = re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', page.text)
    return [html.unescape(re.sub(r"<[^>]+>", "", m)) for m in found]


def field_errors(page) -> dict[str, str]:
    """The messages shown beside fields, by the id of the field each is about."""
    found = re.findall(r'<p class="field-error" id="([^"]+)-error"[^>]*>(.*?)</p>', page.text)
    return {field: html.unescape(message) for field, message in found}


def sign_in(client: TestClient, name: str) -> None:
    token = csrf(client, "/signin")
    assert client.post("/signin", data={"csrf_token": token, "name": name}).status_code == 200


@pytest.fixture
def db(sample_store) -> str:
    return sample_store.path


@pytest.fixture
def desk(db):
    """The desk over the sample, offline (Crossref is not asked), as a TestClient."""
    app = create_app(db_path=db, offline=True, secret="s" * 40, default_editor="desk-default")
    with TestClient(app) as c:
        yield c


@pytest.fixture
def seeded(sample_store):
    """The seed scenario as the CLI leaves it: the article, its claim, the trial supporting
    it, Murakami 2007 contesting it as the reader asserted (not confirmed), a request."""
    s = sample_store
    art = workflow.add_article(s, "Treatment of the sacroiliac joint in patients with leg pain",
                               slug="sij-leg-pain", actor="Ann")
    claim = workflow.add_claim(s, art.id, "Intra-articular injection is the 'gold standard'.",
                               location="paragraph 2", actor="Ann")
    workflow.link(s, claim.id, VISSER, "supports", note="the trial the article summarises", actor="Ann")
    req = workflow.add_request(s, art.id, "Jerry Hesch", text="Here are my references.", claim=claim.id,
                               actor="Ann")
    workflow.link(s, claim.id, MURAKAMI, "contests", asserted_by="reader", asserted_by_name="Jerry Hesch",
                  request=req.id, actor="Ann")
    return art, claim, req


# -- every page renders, and shows hostile text as text ------------------------------------


def hostile_record() -> dict:
    return {
        "DOI": HOSTILE_DOI,
        "title": [f"<i>Sacroiliac</i> pain {SCRIPT} and <sub>2</sub>{IMG}"],
        "author": [{"family": f"O'Brien{SCRIPT}", "given": IMG}],
        "container-title": [f"Journal {IMG}"],
        "issued": {"date-parts": [[2021]]},
        "type": "journal-article",
        "publisher": f"Pub {SCRIPT}",
    }


def test_every_page_of_articles_claims_works_verify_and_exports_shows_hostile_text_escaped(sample_store, db):
    assert extract_dois(HOSTILE_DOI) == [HOSTILE_DOI.lower()]  # the desk sees it whole
    s = sample_store
    work = s.add_work(hostile_record(), "crossref")
    art = workflow.add_article(s, f"Article {SCRIPT}", url=JS_URL,
                               text=f"Manual therapy helped 72% {SCRIPT}.", actor=f"Ed {IMG}")
    claim = workflow.add_claim(s, art.id, f"Claim {IMG}", location=SCRIPT, quote=f"quote {SCRIPT}",
                               actor=f"Ed {IMG}")
    workflow.link(s, claim.id, work.doi, "supports", note=f"note {SCRIPT}", asserted_by="reader",
                  asserted_by_name=f"Reader {IMG}", actor=f"Ed {IMG}")
    req = workflow.add_request(s, art.id, f"Reader {SCRIPT}", claim=claim.id, actor=f"Ed {IMG}")
    workflow.answer_request(s, req.id, dois=[work.doi], actor=f"Ed {IMG}")
    with TestClient(create_app(db_path=db, offline=True, secret="s" * 40)) as c:
        pages = ["/articles", f"/articles/{art.id}", f"/articles/{art.id}/proposals", f"/claims/{claim.id}",
                 "/works", "/works?q=" + quote(f"sacroiliac {SCRIPT}"), "/works/" + quote(work.doi, safe="/"),
                 "/verify", "/exports"]
        for path in pages:
            page = c.get(path)
            assert page.status_code == 200, path
            assert "<script>alert" not in page.text, path
            assert "<img src=x" not in page.text, path
            assert 'href="javascript:' not in page.text, path
            assert "script-src 'self'" in page.headers["content-security-policy"]
        work_page = c.get("/works/" + quote(work.doi, safe="/")).text
        # Crossref's markup is kept as markup, everything else is text.
        assert "<i>Sacroiliac</i>" in work_page and "<sub>2</sub>" in work_page
        assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in work_page
        # The DOI link: percent-encoded in the href, never a way out of the attribute.
        href = re.search(r'<a href="(https://doi\.org/[^"]*)" rel="noopener noreferrer">', work_page).group(1)
        assert unquote(href) == "https://doi.org/" + work.doi and not re.search(r"[<>\"' ]", href)
        claim_page = c.get(f"/claims/{claim.id}").text
        assert "Reader &#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in claim_page
        assert "note &lt;script&gt;" in claim_page
        article_page = c.get(f"/articles/{art.id}").text
        assert "Article &lt;script&gt;" in article_page
        assert JS_URL in article_page  # shown as text, not linked


def test_every_post_of_these_pages_without_the_token_is_refused_and_changes_nothing(desk, seeded, db):
    art, claim, req = seeded
    lk = workflow.links(Store(db), claim.id)[1]

    def state():
        s = Store(db)
        try:
            return (s.db.execute("SELECT COUNT(*) FROM history").fetchone()[0],
                    [a.to_json() for a in workflow.articles(s)], [c.to_json() for c in workflow.claims(s)],
                    [x.to_json() for x in workflow.links(s, include_removed=True)], s.count_works(),
                    s.bibtex_keys())
        finally:
            s.close()

    before = state()
    attempts = [
        ("/articles", {"title": "New"}),
        (f"/articles/{art.id}/edit", {"title": "Changed"}),
        (f"/articles/{art.id}/claims", {"text": "Another claim"}),
        (f"/articles/{art.id}/text", {"text": ARTICLE_TEXT}),
        (f"/articles/{art.id}/proposals", {"number": "1"}),
        (f"/claims/{claim.id}/edit", {"text": "Changed"}),
        (f"/claims/{claim.id}/links", {"doi": VISSER, "stance": "mentions"}),
        (f"/claims/{claim.id}/links/{lk.id}/confirm", {}),
        (f"/claims/{claim.id}/unlink", {"doi": MURAKAMI}),
        ("/works", {"doi": MURAKAMI}),
        ("/verify", {"scope": "all"}),
        ("/exports", {"claim": str(claim.id), "format": "bibtex"}),
    ]
    csrf(desk)  # the session has a token; these requests just do not carry it
    for path, data in attempts:
        assert desk.post(path, data=data).status_code == 403, path
        assert desk.post(path, data={**data, "csrf_token": "forged"}).status_code == 403, path
    assert state() == before


def test_unknown_articles_claims_and_works_get_a_short_404_page(desk):
    for path in ("/articles/999", "/articles/no-such-slug", "/claims/999", "/works/10.5555/not-stored"):
        page = desk.get(path)
        assert page.status_code == 404, path
        assert "Traceback" not in page.text and len(page.text) < 4000
    assert desk.get("/claims/abc").status_code == 404  # not a claim number: no such page


# -- articles and claims ------------------------------------------------------------------


def test_an_editor_adds_and_edits_an_article_and_a_claim_and_history_names_them(desk, db):
    sign_in(desk, "Ada Editor")
    page = post(desk, "/articles", {"title": "Treatment of the sacroiliac joint", "slug": "sij",
                                    "url": "https://example.org/sij"})
    assert page.url.path == "/articles/1" and "Article 1 added." in flashes(page)
    page = post(desk, "/articles/sij/edit", {"title": "Treatment of the sacroiliac joint in leg pain",
                                             "url": "", "slug": "sij"})
    assert "Article saved." in flashes(page) and "in leg pain</h1>" in page.text
    page = post(desk, "/articles/1/claims", {"text": "Manual therapy helped 72% of patients.",
                                             "location": "paragraph 1"})
    assert "Claim 1 added." in flashes(page)
    page = post(desk, "/claims/1/edit", {"text": "Manual therapy relieved 72% (13/18).", "location": "p. 1",
                                         "quote": ""})
    assert page.url.path == "/claims/1" and "Claim saved." in flashes(page)
    history = page.text[page.text.index('id="history-heading"'):]
    assert history.count("Ada Editor") == 2  # the claim added and edited, newest first
    assert "Manual therapy helped 72% of patients." in history
    assert "Manual therapy relieved 72% (13/18)." in history

    s = Store(db)
    art = workflow.get_article(s, "sij")
    assert (art.title, art.url) == ("Treatment of the sacroiliac joint in leg pain", None)
    actions = [(h.actor, h.action) for h in workflow.history(s, article=art.id)]
    assert actions == [("Ada Editor", "article.add"), ("Ada Editor", "article.edit"),
                       ("Ada Editor", "claim.add"), ("Ada Editor", "claim.edit")]
    # A user error comes back as one line by the field it is about (400); nothing is changed.
    page = post(desk, "/claims/1/edit", {"text": "   "})
    assert page.status_code == 400 and field_errors(page) == {"edit-text": "a claim needs its text"}
    assert workflow.get_claim(s, 1).text == "Manual therapy relieved 72% (13/18)."
    page = post(desk, "/articles", {"title": "Another", "slug": "sij"})
    assert field_errors(page) == {"article-slug": "slug 'sij' is already used by another article"}
    assert len(workflow.articles(s)) == 1


def test_claims_are_proposed_from_the_pasted_text_and_the_ticked_ones_kept_once(desk, seeded, db):
    art, _, _ = seeded
    page = post(desk, f"/articles/{art.id}/proposals", {})
    assert flashes(page)[0] == "Tick the proposals to keep as claims."
    assert "has no text to propose claims from" in flashes(page)[1]  # none saved yet
    assert "--text-file" not in page.text  # an option of the command line means nothing here
    assert "Paste the article" in page.text  # no text yet
    page = post(desk, f"/articles/{art.id}/text", {"text": ARTICLE_TEXT})
    assert page.url.path == f"/articles/{art.id}/proposals"
    s = Store(db)
    expected = workflow.propose(s, art.id)  # what `refkeeper claim propose` lists
    assert len(expected) >= 3
    for p in expected:
        assert f'value="{p.number}"' in page.text
    page = post(desk, f"/articles/{art.id}/proposals", {"number": ["1", "2"]})
    assert flashes(page) == ["2 proposals kept as claims."]
    page = post(desk, f"/articles/{art.id}/proposals", {"number": ["2", "3"]})
    assert flashes(page) == ["1 proposal kept as claim. 1 was kept before and is not added twice."]
    kept = [c for c in workflow.claims(s, art.id) if c.origin == "proposed"]
    assert [c.quote for c in kept] == [expected[0].text, expected[1].text, expected[2].text]
    assert expected[0].text in desk.get(f"/articles/{art.id}").text


def test_the_claim_page_groups_works_by_stance_with_who_asserted_and_who_confirmed(desk, seeded, db):
    art, claim, req = seeded
    page = desk.get(f"/claims/{claim.id}").text
    supporting = page[page.index('id="stance-supports"'):page.index('id="stance-contests"')]
    contesting = page[page.index('id="stance-contests"'):page.index('id="stance-mentions"')]
    assert "Treatment of the sacroiliac joint in patients with leg pain: a randomized-controlled trial" \
        in supporting and "Confirmed</strong> by Ann" in supporting
    assert "the trial the article summarises" in supporting
    assert "Effect of periarticular and intraarticular lidocaine injections" in contesting
    assert "Asserted by reader (Jerry Hesch)" in contesting and "Not confirmed" in contesting
    assert f'href="/requests/{req.id}"' in contesting
    counts = desk.get(f"/articles/{art.id}").text
    row = re.search(rf'<tr>\s*<td><a href="/claims/{claim.id}">.*?</tr>', counts, re.S).group(0)
    assert re.findall(r'<td class="num"[^>]*>(\d+)</td>', row) == ["1", "1", "0"]

    sign_in(desk, "Bea")
    murakami = workflow.links(Store(db), claim.id, doi=MURAKAMI)[0]
    page = post(desk, f"/claims/{claim.id}/links/{murakami.id}/confirm", {})
    assert "Confirmed</strong> by Bea" in page.text
    page = post(desk, f"/claims/{claim.id}/unlink", {"doi": VISSER, "reason": "wrong population"})
    assert "Link to 10.1007/s00586-013-2833-2 removed (kept in history)." in flashes(page)
    removed = page.text[page.text.index('id="removed-heading"'):page.text.index('id="link-heading"')]
    assert "removed by Bea" in removed and "wrong population" in removed
    page = post(desk, f"/claims/{claim.id}/links", {"doi": VISSER, "stance": "mentions", "note": "context"})
    assert "Linked 10.1007/s00586-013-2833-2 as 'mentions'." in flashes(page)
    page = post(desk, f"/claims/{claim.id}/links", {"doi": "10.5555/not-stored", "stance": "mentions"})
    assert field_errors(page) == {
        "link-doi": "no work with DOI 10.5555/not-stored in the database (the desk is offline)"}
    actions = [(h.actor, h.action) for h in workflow.history(Store(db), claim=claim.id)][-3:]
    assert actions == [("Bea", "link.confirm"), ("Bea", "link.remove"), ("Bea", "link.add")]


# -- a work ---------------------------------------------------------------------------------


def test_a_work_page_shows_its_record_where_it_is_used_and_the_references_to_copy(desk, seeded, db):
    _, claim, req = seeded
    workflow.answer_request(Store(db), req.id, dois=[MURAKAMI], actor="Ann")
    page = desk.get("/works/" + MURAKAMI).text
    assert "Murakami E; Tanaka Y" in page or "Murakami" in page
    assert 'href="https://doi.org/10.1007/s00776-007-1126-1" rel="noopener noreferrer"' in page
    used = page[page.index('id="used-heading"'):page.index('id="verify-heading"')]
    assert f'href="/claims/{claim.id}"' in used and "contests" in used
    assert f'href="/requests/{req.id}"' in used and "given in the answer" in used
    assert "the reader&#39;s own reference" not in used  # the reader's references were not pasted here
    s = Store(db)
    work = s.require_work(MURAKAMI)
    from refkeeper import format_reference

    for style in ("apa", "vancouver"):
        text = re.search(rf'<p id="ref-{style}" class="reference-text">(.*?)</p>', page, re.S).group(1)
        assert text.replace("&amp;", "&") == format_reference(work, style)
        assert f'data-copy-target="ref-{style}"' in page
    assert "Never re-verified" in page


def test_stored_works_are_found_by_title(desk):
    page = desk.get("/works?q=periarticular+lidocaine+sacroiliac").text
    assert 'href="/works/10.1007/s00776-007-1126-1"' in page


def test_a_work_added_by_doi_is_fetched_through_the_desks_one_client(tmp_path, standin_clean):
    rec = json.loads(next(gzip.open(SHARED_DATA / "crossref-works.jsonl.gz", "rt")))
    doi = rec["DOI"].lower()
    client = CrossrefClient(base_url=standin_clean.url, mailto="desk@example.org", backoff=0.01, timeout=5)
    with TestClient(create_app(db_path=str(tmp_path / "refs.db"), client=client, secret="s" * 40)) as c:
        page = post(c, "/works", {"doi": "https://doi.org/" + doi})
        assert unquote(page.url.path) == "/works/" + doi and f"{doi} is stored." in flashes(page)
        assert standin_clean.stats["requests"] == 1
        post(c, "/works", {"doi": doi})  # stored already: Crossref is not asked again
        assert standin_clean.stats["requests"] == 1
        page = post(c, "/works", {"doi": "10.5555/no-such-work"})
        assert flashes(page) == ["no work with DOI 10.5555/no-such-work"]
        page = post(c, "/works", {"doi": "not a doi"})
        assert flashes(page) == ["not a DOI: 'not a doi'"]


# -- exports --------------------------------------------------------------------------------


def test_a_claims_works_download_in_every_format_the_cli_has(desk, seeded, db):
    _, claim, _ = seeded
    extensions = {"bibtex": "bib", "csl-json": "json", "ris": "ris", "text": "txt", "markdown": "md",
                  "html": "html"}
    assert set(extensions) == set(FORMATS)
    files = {}
    for fmt in FORMATS:
        got = post(desk, "/exports", {"claim": str(claim.id), "format": fmt, "style": "apa"})
        assert got.status_code == 200, fmt
        assert got.headers["content-disposition"] == \
            f'attachment; filename="refkeeper-claim-{claim.id}.{extensions[fmt]}"'
        files[fmt] = got.text
    # What the CLI's export writes, byte for byte (the keys chosen by the first export kept).
    from refkeeper.export import export_store

    for fmt in FORMATS:
        buf = io.StringIO()
        export_store(Store(db), buf, fmt, [VISSER, MURAKAMI], style="apa")
        assert files[fmt] == buf.getvalue(), fmt
    bib = bibtexparser.parse_string(files["bibtex"])
    assert [e["doi"] for e in bib.entries] == [VISSER, MURAKAMI]
    ids = [item["id"] for item in json.loads(files["csl-json"])]
    assert ids == [e.key for e in bib.entries]  # one key per work in every format
    # The contested claim's BibTeX: Murakami alone.
    got = post(desk, "/exports", {"claim": str(claim.id), "stance": "contests", "format": "bibtex"})
    assert got.headers["content-disposition"].endswith('refkeeper-claim-1-stance-contests.bib"')
    assert [e["doi"] for e in bibtexparser.parse_string(got.text).entries] == [MURAKAMI]


def test_a_work_downloads_as_bibtex_csl_json_and_ris_from_its_page(desk):
    page = desk.get("/works/" + MURAKAMI).text
    for fmt in ("bibtex", "csl-json", "ris"):
        assert f'name="format" value="{fmt}"' in page
    got = post(desk, "/exports", {"doi": MURAKAMI, "format": "ris"})
    assert "DO  - 10.1007/s00776-007-1126-1" in got.text
    assert got.headers["content-disposition"] == \
        'attachment; filename="refkeeper-doi-10.1007-s00776-007-1126-1.ris"'


def test_an_export_of_nothing_or_of_an_unknown_claim_says_why_on_the_form(desk, seeded):
    art, claim, _ = seeded
    got = post(desk, "/exports", {"claim": str(claim.id), "stance": "mentions", "format": "bibtex"})
    assert got.status_code == 400 and "No works to export" in got.text
    got = post(desk, "/exports", {"claim": "999", "format": "ris"})
    assert got.status_code == 404 and "no claim 999" in got.text and 'id="x-format"' in got.text
    got = post(desk, "/exports", {"article": str(art.id), "format": "docx"})
    assert got.status_code == 400 and "format must be one of" in got.text


# -- re-verification ------------------------------------------------------------------------


def real_records(n: int) -> list[dict]:
    if not SHARED_DATA.is_dir():
        pytest.skip("shared data not present")
    with gzip.open(SHARED_DATA / "crossref-works.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in itertools.islice(f, n)]


def wait_for_run(c: TestClient, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while "Verification running" in c.get("/verify/progress").text:
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.1)


def test_a_run_started_from_the_page_lists_a_retraction_first_with_the_claims_it_affects(
        tmp_path: Path, standin_clean):
    from standin import with_update

    records = real_records(30)
    path = str(tmp_path / "refs.db")
    s = Store(path)
    s.add_records(records, "snapshot")
    retracted, corrected = (r["DOI"].lower() for r in records[10:12])
    art = workflow.add_article(s, "Sacroiliac joint pain")
    claim = workflow.add_claim(s, art.id, "Injections near the joint did better")
    workflow.link(s, claim.id, retracted, "supports")
    other = workflow.add_claim(s, art.id, "Another claim")
    workflow.link(s, other.id, corrected, "mentions")
    s.close()
    standin_clean.revise(retracted, with_update(records[10], "retraction", "10.5555/rn",
                                                source="retraction-watch"))
    standin_clean.revise(corrected, with_update(records[11], "correction", "10.5555/cn"))
    client = CrossrefClient(base_url=standin_clean.url, mailto="desk@example.org", backoff=0.01, timeout=5)
    with TestClient(create_app(db_path=path, client=client, secret="s" * 40)) as c:
        assert "No run yet." in c.get("/verify").text
        page = post(c, "/verify", {"scope": "all"})
        assert "Verification started" in flashes(page)[0]
        wait_for_run(c)
        page = c.get("/verify").text
        assert "<strong>finished</strong>" in page and "30 of 30 works checked" in page
        listed = page[page.index("Findings"):page.index("Claims that")]
        findings = re.findall(r'<a href="/works/([^"]+)">', listed)
        assert [unquote(d) for d in findings[:2]] == [retracted, corrected]  # most serious first
        affected = page[page.index("Claims that"):page.index("Open requests")]
        assert f'href="/claims/{claim.id}"' in affected and "retraction" in affected
        assert affected.index(f'/claims/{claim.id}"') < affected.index(f'/claims/{other.id}"')
        # The claim, its article and the work all show the problem now.
        assert "its only support has a problem recorded" in c.get(f"/claims/{claim.id}").text
        assert "its only support has a problem recorded" in c.get(f"/articles/{art.id}").text
        work = c.get("/works/" + quote(retracted, safe="/")).text
        assert "Re-verification recorded: retraction" in work and "Retracted" in work


def test_the_page_starts_no_second_run_while_one_is_going(tmp_path, standin_clean):
    client = CrossrefClient(base_url=standin_clean.url, backoff=0.01, timeout=5)
    with TestClient(create_app(db_path=str(tmp_path / "refs.db"), client=client, secret="s" * 40)) as c:
        gate = threading.Event()
        c.app.state.desk.jobs.submit("verify", lambda job: gate.wait(10))  # a run that is going
        try:
            page = post(c, "/verify", {"scope": "all"})
            assert flashes(page) == ["A verification run is already going; its progress is below."]
            assert "Verification running" in page.text and 'action="/verify"' not in page.text
        finally:
            gate.set()


def test_a_link_to_the_exports_page_can_preselect_the_choice_and_changes_nothing(desk, seeded, db):
    _, claim, _ = seeded
    page = desk.get(f"/exports?claim={claim.id}&stance=contests&format=ris").text
    assert f'name="claim" inputmode="numeric" size="6" value="{claim.id}"' in page
    assert '<option value="contests" selected>' in page and '<option value="ris" selected>' in page
    assert Store(db).bibtex_keys() == {}  # showing the form stored no key
