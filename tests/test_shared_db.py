"""One refs.db, shared: several refkeeper processes writing at once, threads sharing a
Store, and databases refkeeper must not write (read-only, or written by a newer version).

Processes are real ``refkeeper`` processes (``python -m refkeeper.cli``) on one file, the
online ones against the Crossref stand-in, over the real records of ../shared/data.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading

import pytest
import sqlite_utils
from click.testing import CliRunner
from conftest import SAMPLE, SHARED_DATA

from refkeeper import workflow as wf
from refkeeper._store import Store, migrations
from refkeeper.cli import cli
from refkeeper.export import export_works
from refkeeper.verify import run_report

# The newest migration this version knows, as refusals name it ("m011").
LATEST = [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))][-1].split("_")[0]

MURAKAMI = "10.1007/s00776-007-1126-1"
VISSER = "10.1007/s00586-013-2833-2"


def citations(n: int, skip: int = 0) -> list[str]:
    """Real citation strings whose work is in the dev index, one line each."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    with gzip.open(SHARED_DATA / "citations.dev.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = (json.loads(line) for line in fh)
        texts = (" ".join(r["text"].split()) for r in rows if r["in_index"])
        return list(itertools.islice(texts, skip, skip + n))


def records(n: int, skip: int = 0) -> list[dict]:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    with gzip.open(SHARED_DATA / "crossref-works.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in itertools.islice(fh, skip, skip + n)]


def refkeeper(db, *args, env=None, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "refkeeper.cli", "--db", str(db), *args],
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def finish(proc: subprocess.Popen, stdin: str | None = None) -> tuple[str, str]:
    out, err = proc.communicate(stdin, timeout=600)
    assert proc.returncode in (0, 1), err
    assert "Traceback" not in err and "locked" not in err, err
    return out, err


def stored_citations(db) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT text FROM citations")}


# --- several writers -------------------------------------------------------------------------


def test_two_resolve_batches_at_once_answer_and_store_every_line(tmp_path, standin_clean):
    db = tmp_path / "refs.db"
    Store(db).close()
    env = {"REFKEEPER_CROSSREF_URL": standin_clean.url}
    first, second = citations(40), citations(40, skip=20)  # 20 lines in both: same rows upserted
    procs = [refkeeper(db, "resolve", "--json", "-", env=env, stdin=subprocess.PIPE) for _ in range(2)]
    outs = [finish(p, "\n".join(lines) + "\n")[0] for p, lines in zip(procs, (first, second), strict=True)]
    for out, lines in zip(outs, (first, second), strict=True):
        answers = [json.loads(x) for x in out.splitlines()]
        assert [a["input"] for a in answers] == lines
        assert not [a for a in answers if a["status"] == "error"]
    assert stored_citations(db) == set(first) | set(second)


def test_a_resolve_batch_beside_an_import_both_finish(tmp_path, standin_clean):
    db = tmp_path / "refs.db"
    Store(db).close()
    bib = tmp_path / "library.bib"
    with bib.open("w", encoding="utf-8") as fh:
        from refkeeper._models import Work

        export_works((Work.from_crossref(r) for r in records(150, skip=1000)), fh, "bibtex")
    lines = citations(40, skip=100)
    resolving = refkeeper(db, "resolve", "--json", "-", env={"REFKEEPER_CROSSREF_URL": standin_clean.url},
                          stdin=subprocess.PIPE)
    importing = refkeeper(db, "import", "--offline", str(bib))
    out, _ = finish(resolving, "\n".join(lines) + "\n")
    finish(importing)
    assert [json.loads(x)["input"] for x in out.splitlines()] == lines
    assert stored_citations(db) >= {json.loads(x)["input"] for x in out.splitlines()
                                    if json.loads(x)["status"] != "error"}
    store = Store(db)
    try:
        assert {w.doi for w in store.works()} >= {r["DOI"].lower() for r in records(150, skip=1000)}
    finally:
        store.close()


def test_an_import_beside_a_snapshot_import_both_finish(tmp_path):
    db = tmp_path / "refs.db"
    Store(db).close()
    snapshot = tmp_path / "works.jsonl.gz"
    with gzip.open(snapshot, "wt", encoding="utf-8") as fh:
        for rec in records(4000):
            fh.write(json.dumps(rec) + "\n")
    bib = tmp_path / "library.bib"
    with bib.open("w", encoding="utf-8") as fh:
        from refkeeper._models import Work

        export_works((Work.from_crossref(r) for r in records(150, skip=6000)), fh, "bibtex")
    bulk = refkeeper(db, "snapshot", "import", str(snapshot))
    importing = refkeeper(db, "import", "--offline", str(bib))
    assert "imported 4000 works" in finish(bulk)[0]
    finish(importing)
    store = Store(db)
    try:
        assert store.count_works() == 4150
    finally:
        store.close()


def test_threads_sharing_one_store_each_write_on_their_own_connection(sample_store):
    art = wf.add_article(sample_store, "Treatment of the sacroiliac joint in patients with leg pain")
    errors: list[BaseException] = []

    def editor(n: int) -> None:
        try:
            for i in range(10):
                claim = wf.add_claim(sample_store, art.id, f"Claim {n}.{i}", actor=f"editor {n}")
                doi = MURAKAMI if i % 2 else VISSER
                wf.link(sample_store, claim.id, doi, "supports", actor=f"editor {n}")
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=editor, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(wf.claims(sample_store, art.id)) == 40
    assert len(wf.links(sample_store)) == 40
    assert len(wf.history(sample_store, article=art.id)) == 1 + 40 + 40


# --- databases refkeeper must not write ------------------------------------------------------


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def desk_db(tmp_path):
    """A refs.db with the sample works, an article, a claim linked to a work, a request."""
    db = tmp_path / "desk" / "refs.db"
    db.parent.mkdir()
    store = Store(db)
    store.import_snapshot(SAMPLE)
    art = wf.add_article(store, "Treatment of the sacroiliac joint", slug="sij")
    claim = wf.add_claim(store, art.id, "Injection into the joint is another option")
    wf.link(store, claim.id, MURAKAMI, "supports")
    wf.add_request(store, art.id, "Jerry Hesch", claim=claim.id)
    store.close()
    return db


def reads_work(db) -> None:
    show = run("--db", db, "show", MURAKAMI)
    assert show.exit_code == 0 and "Effect of periarticular" in show.output
    export = run("--db", db, "export", MURAKAMI)
    assert export.exit_code == 0 and "@article{" in export.output and MURAKAMI in export.output
    claim = run("--db", db, "claim", "show", "1")
    assert claim.exit_code == 0 and MURAKAMI in claim.output
    requests = run("--db", db, "request", "list")
    assert requests.exit_code == 0 and "Jerry Hesch" in requests.output
    history = run("--db", db, "history")
    assert history.exit_code == 0 and "link.add" in history.output


def refuses_writes(db, message: str) -> None:
    for args in (("article", "add", "Another article"), ("link", "1", VISSER, "--stance", "contests"),
                 ("key", MURAKAMI, "murakami-pinned"), ("verify", "--all")):
        result = run("--db", db, *args)
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == [f"Error: {message}"]
    # Not even verify's run lock is left beside a database refkeeper must not write.
    assert not os.path.exists(f"{db}-verify.lock")


def key_stored(db) -> str | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT bibtex_key FROM works WHERE doi = ?", [MURAKAMI]).fetchone()[0]


def test_a_read_only_file_is_read_and_never_written(desk_db):
    os.chmod(desk_db, 0o444)
    try:
        reads_work(desk_db)
        # The export chose a key without storing it.
        assert key_stored(desk_db) is None
        refuses_writes(desk_db, f"cannot write to {desk_db}: the file is read-only (mode 0444)")
    finally:
        os.chmod(desk_db, 0o644)
    assert run("--db", desk_db, "article", "add", "Now it can").exit_code == 0


def test_a_database_in_a_read_only_directory_is_read_and_never_written(desk_db):
    os.chmod(desk_db.parent, 0o555)
    try:
        reads_work(desk_db)
        refuses_writes(desk_db, f"cannot write to {desk_db}: its directory {desk_db.parent} is read-only")
    finally:
        os.chmod(desk_db.parent, 0o755)
    assert key_stored(desk_db) is None


def test_a_database_written_by_a_newer_refkeeper_is_read_but_not_written(desk_db):
    with sqlite3.connect(desk_db) as conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
                     " VALUES ('refkeeper', 'm099_reader_accounts', '2031-01-01')")
        conn.execute("ALTER TABLE claims ADD COLUMN confidence REAL")  # what m099 might add
    reads_work(desk_db)
    refuses_writes(desk_db, f"{desk_db} was written by a newer refkeeper "
                            f"(schema m099; this version knows up to {LATEST})")
    with sqlite3.connect(desk_db) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 1


def test_a_column_this_version_does_not_know_is_refused_for_writing_too(desk_db):
    with sqlite3.connect(desk_db) as conn:
        conn.execute("ALTER TABLE links ADD COLUMN weight REAL")
    reads_work(desk_db)
    refuses_writes(desk_db, f"{desk_db} was written by a newer refkeeper "
                            f"(column links.weight; this version knows up to {LATEST})")


def test_verification_history_reads_a_database_it_may_not_write(desk_db):
    os.chmod(desk_db, 0o444)
    try:
        store = Store(desk_db)
        assert not store.writable
        with pytest.raises(Exception, match="no verification run yet"):
            run_report(store)
        store.close()
    finally:
        os.chmod(desk_db, 0o644)


# --- snapshot lines with the wrong types ---------------------------------------------------


@pytest.mark.parametrize("change, message", [
    ({"title": 1234}, "'title' must be a list of strings, not a number"),
    ({"author": "Murakami E"}, "'author' must be a list of objects, not text"),
    ({"author": ["Murakami E"]}, "'author' must be a list of objects, not a list of text"),
    ({"DOI": None}, "a Crossref record needs a DOI"),
    ({"issued": {"date-parts": 2007}}, "'issued' must be an object with a list of date-parts"),
])
def test_a_snapshot_line_with_wrong_field_types_is_one_error_naming_the_line(tmp_path, change, message):
    good = records(3)
    bad = {**good[1], **change}
    path = tmp_path / "works.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (good[0], bad, good[2])), encoding="utf-8")
    result = run("--db", tmp_path / "refs.db", "snapshot", "import", path)
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"Error: {path}:2: ") and line.endswith(message)


# --- the desk's server and the CLI on one refs.db ------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def desk_token(client) -> str:
    page = client.get("/")
    assert page.status_code == 200, page.text
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)


def test_the_desks_server_and_cli_batches_share_one_database(tmp_path, standin_clean):
    """`refkeeper serve` as a real process resolves pasted comments in the background and
    takes editors' POSTs while a `resolve --json -` batch and an online `import` write to
    the same refs.db: every line answered and stored, every reference of every pasted
    comment resolved, every desk response below 500, and nothing locked anywhere."""
    import time

    httpx = pytest.importorskip("httpx")
    db = tmp_path / "refs.db"
    store = Store(db)
    store.import_snapshot(SAMPLE)  # the seed works, so that editors can link and answer
    art = wf.add_article(store, "Treatment of the sacroiliac joint in patients with leg pain", slug="sij")
    claim = wf.add_claim(store, art.id, "Intra-articular injection is the 'gold standard'.")
    store.close()
    env = {"REFKEEPER_CROSSREF_URL": standin_clean.url, "REFKEEPER_EDITOR": "anna"}
    port = free_port()
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen([sys.executable, "-m", "refkeeper.cli", "--db", str(db), "serve",
                               "--port", str(port)], env={**os.environ, **env}, stdout=log,
                              stderr=subprocess.STDOUT, text=True)
    statuses: list[tuple[str, int]] = []
    requests: list[int] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                          follow_redirects=True) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    tok = desk_token(client)
                    break
                except httpx.TransportError:
                    assert server.poll() is None and time.monotonic() < deadline, "the desk never started"
                    time.sleep(0.2)

            def post(path: str, data: dict) -> httpx.Response:
                r = client.post(path, data={"csrf_token": tok, **data})
                statuses.append((path, r.status_code))
                return r

            # Real dev citations, pasted as a reader would: a numbered list.
            comments = [citations(6, skip=300 + 6 * i) for i in range(3)]
            lines = citations(40, skip=200)
            bib = tmp_path / "library.bib"
            with bib.open("w", encoding="utf-8") as fh:
                from refkeeper._models import Work

                export_works((Work.from_crossref(r) for r in records(120, skip=2000)), fh, "bibtex")
            resolving = refkeeper(db, "resolve", "--json", "-", env=env, stdin=subprocess.PIPE)
            importing = refkeeper(db, "import", str(bib), env=env)
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(1)
            batch = pool.submit(finish, resolving, "\n".join(lines) + "\n")
            for refs in comments:
                comment = "Please see:\n\n" + "\n".join(f"{n}. {t}" for n, t in enumerate(refs, 1))
                r = post("/requests/new", {"article": str(art.id), "claim": str(claim.id),
                                           "reader": "Jerry Hesch", "comment": comment, "stance": "contests"})
                rid = int(str(r.url).rsplit("/", 1)[1])
                said = re.search(r"resolving (\d+) references", r.text)
                assert said, r.text
                requests.append((rid, int(said.group(1))))
                post(f"/requests/{rid}/link", {"doi": MURAKAMI, "stance": "contests", "note": f"from {rid}"})
                post(f"/requests/{rid}/answer", {"doi": MURAKAMI, "note": "periarticular did better"})
                statuses.append(("/", client.get("/").status_code))
            out, _ = batch.result(timeout=600)
            pool.shutdown()
            finish(importing)
            for rid, _ in requests:  # the background jobs finish too
                while "resolving…" in client.get(f"/requests/{rid}/references").text:
                    assert time.monotonic() < deadline + 600, "resolving never finished"
                    time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    log.seek(0)
    server_log = log.read()
    assert "locked" not in server_log and "Traceback" not in server_log, server_log
    assert [s for s in statuses if s[1] >= 500] == [], server_log
    assert len(statuses) == 4 * len(comments)
    answers = [json.loads(x) for x in out.splitlines()]
    assert [a["input"] for a in answers] == lines
    assert stored_citations(db) >= {a["input"] for a in answers if a["status"] != "error"}
    store = Store(db)
    try:
        assert {w.doi for w in store.works()} >= {r["DOI"].lower() for r in records(120, skip=2000)}
        for rid, resolving in requests:
            # Every reference the desk set out to resolve is answered and kept (how the
            # comment is split is tests/test_reflist.py's business).
            pasted = wf.reader_references(store, rid)
            assert len(pasted) == resolving >= 2
            assert all(r.status in ("matched", "ambiguous", "unmatched") for r in pasted)
            assert wf.get_request(store, rid).status == "answered"
        assert len([h for h in wf.history(store) if h.action == "request.answer"]) == len(comments)
    finally:
        store.close()
