"""`snapshot import`: Crossref's public data file as published (a directory or tarball of
.json.gz pages), resumed after a kill, updated in place by a newer snapshot."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from conftest import SAMPLE

from refkeeper._errors import InputError
from refkeeper._store import Store


def sample_records() -> list[dict]:
    return [json.loads(line) for line in gzip.open(SAMPLE, "rt", encoding="utf-8")]


def write_pages(directory, records: list[dict], per_file: int) -> list:
    """The public data file's form: numbered .json.gz files, each one {"items": [...]}."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(0, len(records), per_file):
        path = directory / f"{i // per_file:04d}.json.gz"
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            json.dump({"items": records[i:i + per_file]}, fh)
        paths.append(path)
    return paths


def test_a_directory_of_json_gz_pages_is_imported_with_progress(tmp_path):
    records = sample_records()
    write_pages(tmp_path / "snap", records, per_file=50)
    seen = []
    store = Store(tmp_path / "refs.db")
    n = store.import_snapshot(tmp_path / "snap", progress=lambda p: seen.append((p.files_done, p.works)))
    assert n == len(records) == store.count_works()
    assert seen[-1] == (7, len(records))  # 302 works in 7 files of 50
    assert store.candidates("periarticular intraarticular lidocaine sacroiliac Murakami 2007", 1)[0].doi \
        == "10.1007/s00776-007-1126-1"


def test_a_tarball_of_pages_is_imported_as_published(tmp_path):
    write_pages(tmp_path / "snap", sample_records(), per_file=100)
    tar = tmp_path / "crossref.tar"
    with tarfile.open(tar, "w") as t:
        t.add(tmp_path / "snap", arcname="April 2025 Public Data File")
    store = Store(tmp_path / "refs.db")
    assert store.import_snapshot(tar) == 302 == store.count_works()


def test_an_import_that_failed_half_way_resumes_after_the_files_it_finished(tmp_path):
    records = sample_records()
    paths = write_pages(tmp_path / "snap", records, per_file=100)  # 4 files
    good = paths[2].read_bytes()
    paths[2].write_bytes(gzip.compress(b'{"items": [{"DOI": "10.1/x"}]}\n{not json\n'))
    store = Store(tmp_path / "refs.db")
    with pytest.raises(InputError, match=r"0002\.json\.gz:2: not JSON"):
        store.import_snapshot(tmp_path / "snap")
    assert store.count_works() >= 200  # the two files before it are in
    paths[2].write_bytes(good)
    states = []
    n = store.import_snapshot(tmp_path / "snap", progress=states.append)
    assert states[-1].files_skipped == 2
    assert n == len(records) - 200
    assert store.count_works() == len(records)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    """A process that still runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_import_resumes_without_redoing_finished_files(tmp_path):
    base = sample_records()
    records = [dict(base[i % len(base)], DOI=f"10.5555/resume-{i}") for i in range(24_000)]
    write_pages(tmp_path / "snap", records, per_file=1000)
    db = tmp_path / "refs.db"
    Store(db).close()
    cmd = [sys.executable, "-m", "refkeeper.cli", "--db", str(db), "snapshot", "import", "-q",
           str(tmp_path / "snap")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFKEEPER_")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store = Store(db)
    deadline = time.monotonic() + 60
    finished = 0
    while time.monotonic() < deadline and proc.poll() is None:
        finished = store.db.execute("SELECT count(*) FROM snapshot_files").fetchone()[0]
        if finished >= 2:
            break
        time.sleep(0.05)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= finished < 24, "the import must be killed between files"
    # Its worker processes do not outlive it (waiting on their queue forever).
    assert workers
    gone_by = time.monotonic() + 30
    while time.monotonic() < gone_by and any(alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]
    finished = store.db.execute("SELECT count(*) FROM snapshot_files").fetchone()[0]
    states = []
    store.import_snapshot(tmp_path / "snap", progress=states.append)
    assert states[-1].files_skipped == finished
    assert states[-1].works <= len(records) - 1000 * finished  # finished files were not read again
    assert store.count_works() == len(records)


def test_a_newer_snapshot_updates_works_in_place(tmp_path):
    records = sample_records()
    write_pages(tmp_path / "snap", records, per_file=100)
    store = Store(tmp_path / "refs.db")
    store.import_snapshot(tmp_path / "snap")
    murakami = next(r for r in records if r["DOI"].lower() == "10.1007/s00776-007-1126-1")
    newer = [dict(murakami, title=["A corrected title"], volume="13", page="1-9")]
    write_pages(tmp_path / "newer", newer, per_file=100)
    assert store.import_snapshot(tmp_path / "newer") == 1
    assert store.count_works() == len(records)
    work = store.get_work("10.1007/s00776-007-1126-1")
    assert (work.title, work.volume) == ("A corrected title", "13")
    assert store.candidates("Murakami E. A corrected title. J Orthop Sci 2007;13:1-9", 1)[0].doi == work.doi
    # The old volume and page no longer lead to it.
    assert "p12|274" not in {k for (k,) in store.db.execute("SELECT key FROM work_keys")}


def test_a_directory_may_hold_pretty_printed_pages_and_json_lines_too(tmp_path):
    records = sample_records()
    snap = tmp_path / "snap"
    snap.mkdir()
    (snap / "0000.json").write_text(json.dumps({"items": records[:100]}, indent=2), encoding="utf-8")
    with gzip.open(snap / "0001.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in records[100:200])
    with gzip.open(snap / "0002.json.gz", "wt", encoding="utf-8") as fh:  # API responses
        fh.writelines(json.dumps({"message": r}) + "\n" for r in records[200:])
    store = Store(tmp_path / "refs.db")
    assert store.import_snapshot(snap) == len(records) == store.count_works()
    assert store.get_work(records[150]["DOI"]).title == records[150]["title"][0]


def test_a_bad_record_in_json_lines_is_reported_by_its_line(tmp_path):
    records = sample_records()
    snap = tmp_path / "snap"
    snap.mkdir()
    lines = [json.dumps(r) for r in records[:3]] + [json.dumps(dict(records[3], title="not a list"))]
    (snap / "0000.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"0000\.jsonl:4: .*'title' must be a list of strings"):
        Store(tmp_path / "refs.db").import_snapshot(snap)


def test_the_import_leaves_the_connection_as_it_found_it(tmp_path):
    write_pages(tmp_path / "snap", sample_records(), per_file=100)
    store = Store(tmp_path / "refs.db")
    before = [store.db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("cache_size", "wal_autocheckpoint",
                                                                       "synchronous")]
    store.import_snapshot(tmp_path / "snap")
    assert [store.db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("cache_size", "wal_autocheckpoint",
                                                                    "synchronous")] == before
