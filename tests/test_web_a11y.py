"""Accessibility of the whole desk in real headless Chromium (Debian's, through Playwright;
the launch settings of ``tests/support/deskbrowser.py``): axe-core (vendored from its npm
package, ``tests/assets/axe-core``) run on every page with no serious or critical
violation, and the accept / reject / link flow of a request page done with the keyboard
alone (Tab, Enter, Space, letters).

Skipped where no Chromium is found (``/usr/bin/chromium`` or ``$REFKEEPER_CHROMIUM``),
unless ``REFKEEPER_REQUIRE_BROWSER=1`` (CI), where that is a failure.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import ROOT, SAMPLE
from deskbrowser import DeskServer, browser_fixture, skip_without_browser

from refkeeper import CrossrefClient, IndexSource, Resolver, Store, verify, workflow

AXE = Path(__file__).parent / "assets" / "axe-core" / "axe.min.js"
VISSER = "10.1007/s00586-013-2833-2"
MURAKAMI = "10.1007/s00776-007-1126-1"
COMMENT = (ROOT / "examples" / "reader-comment.txt").read_text()
ARTICLE_TEXT = (ROOT / "examples" / "sij-article.txt").read_text()
# Short mentions a reader writes: each is ambiguous, with its one candidate to accept or reject.
MENTIONS = ("See:\n\n1. Murakami et al. (2007)\n2. Visser et al. (2013)\n"
            "3. Berthelot JM et al. Joint Bone Spine. 2006;73(1):17-23.")


pytestmark = skip_without_browser()
browser = browser_fixture()


@pytest.fixture(scope="module")
def full_db(tmp_path_factory, sample_standin) -> str:
    """Every kind of page with something on it: the seed article with its text and claims,
    links of every provenance, an open request with matched, ambiguous and unmatched
    references, an answered and a declined one, and a verification run that found the
    trial retracted (the stand-in serves it so)."""
    from standin import with_update

    path = str(tmp_path_factory.mktemp("a11y") / "refs.db")
    s = Store(path)
    s.import_snapshot(SAMPLE)
    resolver = Resolver(source=IndexSource(s), store=s)
    art = workflow.add_article(s, "Treatment of the sacroiliac joint in patients with leg pain", slug="sij",
                               url="https://example.org/blog/sij-leg-pain", text=ARTICLE_TEXT, actor="Ann")
    claim = workflow.add_claim(s, art.id, "Intra-articular injection is the 'gold standard'.",
                               location="paragraph 2", actor="Ann")
    other = workflow.add_claim(s, art.id, "Manual therapy relieved 72% of patients (13/18).", actor="Ann")
    workflow.link(s, other.id, VISSER, "supports", note="the trial", actor="Ann")
    workflow.add_request_from_comment(s, art.id, "Jerry Hesch", COMMENT, resolver, claim=claim.id,
                                      stance="contests", actor="Ann")
    workflow.add_request_from_comment(s, art.id, "A. Reader", MENTIONS, resolver, claim=claim.id, actor="Ann")
    answered = workflow.add_request(s, art.id, "Second reader", claim=other.id, actor="Ann")
    workflow.answer_request(s, answered.id, dois=[VISSER], actor="Ann")
    declined = workflow.add_request(s, art.id, "Third reader", actor="Ann")
    workflow.decline_request(s, declined.id, "off topic", actor="Ann")
    sample_standin.revise(VISSER, with_update(s.require_work(VISSER).record, "retraction", "10.5555/rn",
                                              source="retraction-watch"))
    verify.verify(s, CrossrefClient(base_url=sample_standin.url, backoff=0.01, timeout=5), all=True)
    s.close()
    return path


def pages(desk_url: str) -> list[str]:
    return [desk_url + p for p in (
        "/", "/?status=open", "/?status=answered", "/signin", "/requests/new", "/requests/1", "/requests/2",
        "/requests/3", "/requests/4", "/articles", "/articles/1", "/articles/1/proposals", "/claims/1",
        "/claims/2", "/works", "/works?q=sacroiliac", "/works/" + quote(VISSER, safe="/"),
        "/works/" + quote(MURAKAMI, safe="/"), "/verify", "/exports", "/exports?claim=1&stance=contests",
        "/imports", "/works/duplicates",
        "/no-such-page", "/claims/999")]


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (every
    <details> opened first, so what it holds is checked too)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())  # evaluated by the browser's devtools: the CSP stays on
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.impact} ${v.id} (${v.help}): ` + v.nodes.map(n => n.target.join(' ')).join(' | '));
    }""")
    return found


def test_axe_core_finds_no_serious_or_critical_violation_on_any_page_of_the_desk(browser, full_db,
                                                                                 sample_standin):
    with DeskServer(full_db, sample_standin.url) as desk:
        context = browser.new_context()
        page = context.new_page()
        report = {}
        for url in pages(desk.url):
            page.goto(url)
            page.wait_for_load_state("load")
            found = serious_violations(page)
            if found:
                report[url.removeprefix(desk.url)] = found
        context.close()
    assert report == {}


def tab_to(page, selector: str, limit: int = 400) -> None:
    """Press Tab until the focused element matches ``selector``, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_accept_reject_and_link_on_a_request_page_with_the_keyboard_alone(browser, full_db, sample_standin):
    from playwright.sync_api import expect

    with DeskServer(full_db, sample_standin.url) as desk:
        context = browser.new_context()
        page = context.new_page()
        page.goto(desk.url + "/requests/2")
        refs = page.locator("li.reference[data-status]")
        assert [refs.nth(i).get_attribute("data-status") for i in range(3)] == [
            "ambiguous", "ambiguous", "unmatched"]
        ids = [refs.nth(i).get_attribute("id").removeprefix("ref-") for i in range(3)]

        # Accept Murakami 2007 for the first mention: Tab to its button, Enter.
        tab_to(page, f'form[action="/requests/2/references/{ids[0]}/accept"] button')
        page.keyboard.press("Enter")
        expect(refs.nth(0)).to_have_attribute("data-status", "matched")
        assert MURAKAMI in refs.nth(0).inner_text()

        # Reject the candidate of the second: Tab to "Reject all candidates", Space.
        tab_to(page, f'form[action="/requests/2/references/{ids[1]}/reject"] button')
        page.keyboard.press("Space")
        expect(refs.nth(1)).to_have_attribute("data-status", "unmatched")

        # Link Murakami to the claim as contesting, with a note: Tab, type, Tab, Enter.
        page.wait_for_load_state("load")
        row = f'tr:has(input[name="doi"][value="{MURAKAMI}"])'
        tab_to(page, f"{row} select[name=stance]")
        page.keyboard.press("c")  # the first option starting with c: contests
        assert page.evaluate("() => document.activeElement.value") == "contests"
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.name") == "note"
        page.keyboard.type("periarticular injections did better")
        tab_to(page, f"{row} button[type=submit]", limit=3)
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_contain_text(f"Linked {MURAKAMI} to claim 1 as 'contests'")
        context.close()

    s = Store(full_db)
    try:
        refs = workflow.reader_references(s, 2)
        assert [(r.status, r.doi) for r in refs] == [("matched", MURAKAMI), ("unmatched", None),
                                                    ("unmatched", None)]
        lk = workflow.links(s, 1, doi=MURAKAMI)[0]
        assert (lk.stance, lk.note, lk.confirmed) == ("contests", "periarticular injections did better", True)
    finally:
        s.close()


def every_violation(page) -> list[str]:
    """All of axe-core's violations on the page, whatever their impact."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    return page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => `${v.impact} ${v.id} (${v.help}): `
            + v.nodes.map(n => n.target.join(' ')).join(' | '));
    }""")


def test_a_file_imported_and_a_duplicate_merged_with_the_keyboard_alone_and_no_axe_violation(
        browser, tmp_path):
    from deskbrowser import watch
    from playwright.sync_api import expect

    library = Path(__file__).parent / "fixtures" / "import" / "desk-library.bib"
    path = str(tmp_path / "refs.db")
    s = Store(path)
    s.import_snapshot(SAMPLE)
    s.add_records([dict(s.require_work(MURAKAMI).record, DOI="10.5555/murakami-copy")], "import")
    s.close()
    with DeskServer(path, offline=True) as desk:
        context = browser.new_context()
        page = context.new_page()
        problems = watch(page)
        page.goto(desk.url + "/imports")
        assert every_violation(page) == []
        # The system's file chooser is no page: the file is handed to the focused control.
        tab_to(page, "#import-file")
        page.set_input_files("#import-file", str(library))
        tab_to(page, "#import-format", limit=3)
        tab_to(page, "#import-update", limit=3)
        tab_to(page, 'form[action="/imports"] button[type=submit]', limit=3)
        page.keyboard.press("Enter")
        # The progress fragment polls until the job is over, then the page reloads with the outcome.
        expect(page.locator("#import-progress")).to_contain_text("The import is finished: 6 entries.",
                                                                 timeout=30_000)
        main = page.locator("main")
        expect(main).to_contain_text("Entries by outcome")
        expect(main).to_contain_text("line 46: entry 'broken' not read")
        expect(main).to_contain_text("Candidates (the entry is stored without a DOI meanwhile)")
        expect(page.locator("dl.diff")).to_contain_text("in the file: 13")
        expect(main).to_contain_text("nowhere1999")
        assert every_violation(page) == []
        page.set_viewport_size({"width": 400, "height": 800})  # the outcome on a phone: tables stack
        assert page.evaluate("document.documentElement.scrollWidth") <= 400

        page.goto(desk.url + "/works")
        tab_to(page, 'a[href="/works/duplicates"]')
        page.keyboard.press("Enter")
        expect(page.locator("h1")).to_have_text("Works stored twice")
        assert every_violation(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 400
        keep = f'form:has(input[name="keep"][value="{MURAKAMI}"])'
        tab_to(page, f"{keep} input[name=reason]")
        page.keyboard.type("one paper, a second DOI")
        tab_to(page, f"{keep} button[type=submit]", limit=3)
        page.keyboard.press("Enter")
        expect(main).to_contain_text(f"10.5555/murakami-copy is merged into {MURAKAMI}")
        context.close()
    assert problems == []
    s = Store(path)
    try:
        assert s.get_work("10.1101/014852") is not None  # the import stored the new DOI
        assert s.get_work("10.5555/murakami-copy").doi == MURAKAMI  # merged: an alias of the kept one
    finally:
        s.close()
