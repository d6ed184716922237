"""What this round added to the library, at the desk (issues 12 and 13 for editors):
importing a bibliography file from an upload form as a background job whose outcome is
shown per entry, the works stored twice with their merge forms, and exports preferring
the published version of a preprint. Through Starlette's TestClient over a real database
(the shipped sample of real Crossref records), the stand-in over real HTTP where a
registry is asked."""

from __future__ import annotations

import gzip
import html
import io
import json
import re
import time
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from starlette.testclient import TestClient

from refkeeper import CrossrefClient, Store, workflow
from refkeeper._editors import add_editor
from refkeeper.web import create_app

FIXTURES = Path(__file__).parent / "fixtures" / "import"
LIBRARY = FIXTURES / "desk-library.bib"
MURAKAMI = "10.1007/s00776-007-1126-1"
VISSER = "10.1007/s00586-013-2833-2"
PREPRINT = "10.1101/014852"
VERSION_OF_RECORD = "10.1002/ece3.2314"


def csrf(client: TestClient, path: str = "/imports") -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get(path).text).group(1)


def upload(client: TestClient, path: Path | None, *, token: str | None = "", name: str | None = None,
           content: bytes | None = None, **fields):
    """The import form as a browser sends it: multipart, the file under its own name."""
    data = {**fields}
    if token is not None:
        data["csrf_token"] = token or csrf(client)
    files = None
    if path is not None or content is not None:
        body = content if content is not None else path.read_bytes()
        files = {"file": (name or path.name, io.BytesIO(body), "application/octet-stream")}
    return client.post("/imports", data=data, files=files, follow_redirects=False)


def wait_for_import(client: TestClient, location: str, limit: float = 60.0) -> str:
    deadline = time.monotonic() + limit
    while "Importing" in client.get(location + "/progress").text:
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.05)
    # Over: htmx is told to reload the page, which shows the outcome.
    assert client.get(location + "/progress", headers={"HX-Request": "true"}).headers["HX-Refresh"] == "true"
    return client.get(location).text


def text_of(page: str) -> str:
    """The page's words as a reader reads them (no space left where a tag closed before a comma)."""
    return re.sub(r" ([,.;:])", r"\1", " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split()))


@pytest.fixture
def db(sample_store) -> str:
    return sample_store.path


@pytest.fixture
def desk(db):
    """The desk over the sample, offline: entries without a DOI are resolved from the
    stored works only."""
    with TestClient(create_app(db_path=db, offline=True, secret="s" * 40, default_editor="anna")) as c:
        yield c


def stored(db: str, doi: str):
    s = Store(db)
    try:
        return s.get_work(doi)
    finally:
        s.close()


# -- importing a file -----------------------------------------------------------------------


def test_an_uploaded_bibtex_file_is_imported_in_the_background_and_every_entry_to_look_at_is_shown(
        desk, db):
    assert stored(db, PREPRINT) is None
    r = upload(desk, LIBRARY)
    assert r.status_code == 303 and re.fullmatch(r"/imports/\d+", r.headers["location"])
    page = wait_for_import(desk, r.headers["location"])
    words = text_of(page)
    assert "The import is finished: 6 entries." in words
    assert "Read as BibTeX, encoding UTF-8." in words
    counts = dict((s, int(n)) for n, s in re.findall(r"<li><strong>(\d+)</strong> ([a-z -]+)</li>", page))
    assert counts == {"differs": 1, "added": 2, "resolved": 1, "added-without-doi": 1, "ambiguous": 1,
                      "not read": 1}
    # The stored work that differs, with the field diff; the file's volume was not applied.
    assert "volume stored: 12 in the file: 13" in words
    assert stored(db, MURAKAMI).volume == "12"
    # The entry the reader could not read, with its line and key: the one entry not stored.
    assert "line 46: entry 'broken' not read" in words
    assert "1 entry is not stored (1 not read, below)." in words
    # The entry that could be more than one work, with its candidates to choose from.
    ambiguous = words[words.index("murakami-short line 35"):]
    assert ambiguous.startswith("murakami-short line 35 ambiguous stored without a DOI Candidates (the entry "
                                f"is stored without a DOI meanwhile): {MURAKAMI}, score 0.20: Effect of")
    # The entries without a DOI that no stored work matches are kept as works without one,
    # each linked to its page (where it can be resolved later).
    without = words[words.index("Stored without a DOI No DOI in the file"):]
    assert "nowhere1999 line 28: Quantum knitting patterns" in without
    assert "murakami-short line 35 (ambiguous, above)" in without
    keys = re.findall(r'<a href="/works/(rk[^"]+)">nowhere1999</a>', page)
    assert len(keys) == 1 and desk.get("/works/" + keys[0]).status_code == 200
    # A note on an entry stored as it is: the key made for it.
    assert "line 41: entry without a key: kept as 'anonndreport'" in words
    # Stored as the file has it: the new DOI, no network needed.
    assert stored(db, PREPRINT).title == "A preprint"
    assert '<a href="/works/10.1101/014852">10.1101/014852</a>' not in page  # added: not a finding


def test_the_import_page_lists_this_servers_imports_with_links_to_their_outcome(desk):
    first = upload(desk, LIBRARY).headers["location"]
    wait_for_import(desk, first)
    second = upload(desk, FIXTURES / "empty-of-entries.bib").headers["location"]
    wait_for_import(desk, second)
    listed = desk.get("/imports").text
    earlier = text_of(listed[listed.index("Imports since the desk started"):])
    assert earlier.startswith(f"Imports since the desk started Import {second.rsplit('/', 1)[1]}: "
                              "empty-of-entries.bib stopped "
                              f"Import {first.rsplit('/', 1)[1]}: desk-library.bib 6 entries")
    assert f'href="{first}"' in listed and f'href="{second}"' in listed


def test_the_update_box_makes_stored_works_take_the_files_fields(desk, db):
    page = wait_for_import(desk, upload(desk, LIBRARY, update="yes").headers["location"])
    assert re.search(r"<strong>1</strong> updated", page) and "differs" not in text_of(page)
    assert stored(db, MURAKAMI).volume == "13"


def test_the_format_can_be_chosen_and_a_file_that_is_not_that_format_says_what_it_looks_like(desk):
    wos = FIXTURES / "wos-savedrecs.txt"
    page = wait_for_import(desk, upload(desk, wos, format="wos").headers["location"])
    assert "Read as Web of Science tagged export" in page and "The import is finished" in page
    # Claimed RIS, but a Web of Science export: the job stops and says what the file is.
    page = wait_for_import(desk, upload(desk, wos, format="ris", name="records.ris").headers["location"])
    words = text_of(page)
    assert "The import stopped: records.ris: no RIS entry read: the file looks like a Web of Science" in words
    assert "refkeeper-import-" not in page and "--from" not in page  # no server path, no CLI option


def test_a_file_with_no_entry_stops_the_job_with_why_and_never_a_traceback(desk):
    page = wait_for_import(desk, upload(desk, FIXTURES / "empty-of-entries.bib").headers["location"])
    assert "The import stopped: empty-of-entries.bib: no BibTeX entry read" in text_of(page)
    assert "Traceback" not in page


def test_a_file_in_no_readable_format_is_refused_at_once_with_400_and_the_form_again(desk, db):
    r = upload(desk, None, name="notes.txt", content=b"Some notes about sacroiliac joints.\n" * 50)
    assert r.status_code == 400
    words = text_of(r.text)
    assert "notes.txt: cannot tell the format" in words and 'enctype="multipart/form-data"' in r.text
    assert "refkeeper-import-" not in r.text


def test_no_file_an_empty_file_or_an_unknown_format_is_a_400_page_saying_so(desk):
    none = upload(desk, None)
    assert none.status_code == 400 and "Choose a bibliography file to import." in none.text
    empty = upload(desk, None, name="empty.bib", content=b"")
    assert empty.status_code == 400 and "empty.bib is empty: there is nothing to import." in empty.text
    odd = upload(desk, LIBRARY, format="docx")
    assert odd.status_code == 400 and "Choose a format from the list" in odd.text
    assert 'value="docx"' not in odd.text


def test_an_import_without_the_csrf_token_is_refused_and_stores_nothing(desk, db):
    for token in (None, "forged"):
        r = upload(desk, LIBRARY, token=token)
        assert r.status_code == 403
    assert stored(db, PREPRINT) is None


def test_the_import_route_takes_a_real_library_file_and_refuses_what_is_over_its_own_limit(db, tmp_path):
    # Several MB pass the body limit here (and only here: other forms stop at 1 MB) and
    # reach the reader, which says what is wrong with this one.
    with TestClient(create_app(db_path=db, offline=True, secret="s" * 40)) as c:
        big = upload(c, None, name="library.txt", content=b"x" * (5 * 1024 * 1024))
        assert big.status_code == 400 and "cannot tell the format" in big.text
        elsewhere = c.post("/works", data={"csrf_token": csrf(c), "doi": "x" * (2 * 1024 * 1024)})
        assert elsewhere.status_code == 413
    with TestClient(create_app(db_path=db, offline=True, secret="s" * 40, max_import=64 * 1024)) as c:
        r = upload(c, None, name="big.bib", content=LIBRARY.read_bytes() * 100)
        assert r.status_code == 413
        assert "That file is too large to import here (limit 64 kB)" in text_of(r.text)
    assert stored(db, PREPRINT) is None


def test_an_import_that_no_one_started_is_the_short_404_page(desk):
    r = desk.get("/imports/999999")
    assert r.status_code == 404 and "There is no such import" in r.text


def test_with_accounts_importing_and_the_duplicates_need_sign_in(db):
    s = Store(db)
    add_editor(s, "Anna Editor", "correct horse battery")
    s.close()
    with TestClient(create_app(db_path=db, offline=True, secret="s" * 40)) as c:
        for path in ("/imports", "/works/duplicates"):
            r = c.get(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/signin")
        token = csrf(c, "/signin")
        assert upload(c, LIBRARY, token=token).status_code == 403
        c.post("/signin", data={"csrf_token": token, "name": "Anna Editor",
                                "password": "correct horse battery"})
        page = wait_for_import(c, upload(c, LIBRARY).headers["location"])
        assert "The import is finished" in page
    assert stored(db, PREPRINT) is not None


# -- works stored twice ----------------------------------------------------------------------


def test_works_stored_twice_are_listed_with_their_evidence_and_merged_from_the_page(sample_store):
    murakami = sample_store.get_work(MURAKAMI).record
    copy = dict(murakami, DOI="10.5555/murakami-copy")
    sample_store.add_records([copy], "import")
    db = sample_store.path
    with TestClient(create_app(db_path=db, offline=True, secret="s" * 40, default_editor="anna")) as c:
        assert 'href="/works/duplicates"' in c.get("/works").text
        page = c.get("/works/duplicates")
        assert page.status_code == 200
        pair = page.text[page.text.index("Pair 1"):]
        assert "same title, year and first author" in pair
        assert MURAKAMI in pair and "10.5555/murakami-copy" in pair
        forms = re.findall(r'<form method="post" action="/works/merge".*?</form>', pair, re.S)
        assert len(forms) == 2
        fields = [dict(re.findall(r'name="(keep|drop)" value="([^"]+)"', f)) for f in forms]
        assert {"keep": "10.5555/murakami-copy", "drop": MURAKAMI} in fields
        keep_real = {"keep": MURAKAMI, "drop": "10.5555/murakami-copy"}
        assert keep_real in fields
        token = csrf(c, "/works/duplicates")
        assert c.post("/works/merge", data=keep_real).status_code == 403  # no token: refused
        done = c.post("/works/merge", data={"csrf_token": token, **keep_real,
                                            "reason": "the same paper, a second DOI"})
        assert done.status_code == 200 and "10.5555/murakami-copy is merged into" in done.text
        assert "No stored works look like the same work." in c.get("/works/duplicates").text
    s = Store(db)
    merged = [h for h in workflow.history(s) if h.action == "merge"]
    s.close()
    assert merged and merged[-1].actor == "anna"


def test_the_duplicates_page_is_not_taken_for_a_work_called_duplicates(desk):
    page = desk.get("/works/duplicates")
    assert page.status_code == 200 and "<h1>Works stored twice</h1>" in page.text


# -- exports preferring the published version -------------------------------------------------


@pytest.fixture
def preprint_db(tmp_path) -> tuple[str, int]:
    """A claim leaning on the bioRxiv preprint whose own record names its version of record
    (which is not stored)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("shared data not present")
    recs = {}
    with gzip.open(SHARED_DATA / "crossref-works.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec["DOI"].lower() in (PREPRINT, VERSION_OF_RECORD):
                recs[rec["DOI"].lower()] = rec
    if set(recs) != {PREPRINT, VERSION_OF_RECORD}:
        pytest.skip("the preprint pair is not in the shared data")
    s = Store(tmp_path / "refs.db")
    s.add_records([dict(recs[PREPRINT], relation={"is-preprint-of": [
        {"id-type": "doi", "id": VERSION_OF_RECORD, "asserted-by": "subject"}]})], "crossref")
    art = workflow.add_article(s, "Evolution notes")
    claim = workflow.add_claim(s, art.id, "Populations adapt")
    workflow.link(s, claim.id, PREPRINT, "supports")
    s.close()
    return str(tmp_path / "refs.db"), claim.id


def export(c: TestClient, claim: int, **fields) -> str:
    r = c.post("/exports", data={"csrf_token": csrf(c, "/exports"), "claim": str(claim), "format": "bibtex",
                                 **fields})
    assert r.status_code == 200, r.text
    return r.text


def test_offline_the_export_form_says_only_stored_versions_can_be_used(preprint_db):
    db, claim = preprint_db
    with TestClient(create_app(db_path=db, offline=True, secret="s" * 40)) as c:
        form = text_of(c.get("/exports").text)
        assert "Prefer the published version" in form
        assert "The desk is offline: only versions of record already stored can be used" in form
        text = export(c, claim, published="yes")
        assert PREPRINT in text.lower() and "(not available here)" in text
        assert VERSION_OF_RECORD not in export(c, claim).lower()


def test_online_the_export_writes_the_version_of_record_fetched_through_the_desks_registries(
        preprint_db, standin_clean):
    db, claim = preprint_db
    client = CrossrefClient(base_url=standin_clean.url, backoff=0.01, timeout=10)
    with TestClient(create_app(db_path=db, client=client, secret="s" * 40)) as c:
        assert "The desk is offline" not in c.get("/exports").text
        plain = export(c, claim)
        assert PREPRINT in plain.lower() and VERSION_OF_RECORD not in plain.lower()
        text = export(c, claim, published="yes")
        assert f'doi = "{VERSION_OF_RECORD}"' in text.lower()
        assert f"Published version of the preprint https://doi.org/{PREPRINT}" in text
    assert stored(db, VERSION_OF_RECORD) is not None  # stored for the next export
