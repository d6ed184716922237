#!/usr/bin/env python3
"""Soak: many refkeeper processes on ONE refs.db against a misbehaving Crossref (issue 11).

For ``--seconds`` (default 180) it keeps ``--jobs`` real ``refkeeper`` processes running
at once against the Crossref stand-in on 127.0.0.1, which answers with random faults
(5xx, 429, truncated and wrong-shape JSON, hangs past the client's timeout, dropped
connections) and a 429 storm every ``--storm-every`` seconds. The commands:

- ``resolve --json -``   batches of real citation strings from the dev set (repeated
                          across batches, so answers are cached and upserted concurrently)
- ``import``             .bib and .ris files written from dev records (some without DOI,
                          resolved online)
- ``snapshot import``    slices of the dev records as .jsonl.gz
- ``verify --all``       re-verification of everything stored so far
- ``export``             BibTeX, RIS and CSL-JSON of everything stored so far

and, beside them, ``refkeeper serve`` (the editor's desk, a real process on 127.0.0.1)
with ``--editors`` HTTP clients, each pasting readers' comments of real citations (resolved
by the desk in the background), waiting for them, linking and answering with what matched.

Then it checks what was kept: ``PRAGMA integrity_check``; no duplicate works, citations
or citation keys; every input line of every batch answered (one JSON line per input, in
order) and every answer that is not an error stored (matched ones with their work); the
entries of every import and the records of every snapshot import that reported success
stored; every export readable with unique keys; every desk response below 500, every
reference of every pasted comment resolved and stored, nothing locked or crashed in the
server's log. It prints the figures (commands run,
lines answered, errors by kind, the stand-in's faults, wall time) and exits 1 when
anything was lost or broken, 2 when it could not run. Crossref giving up after retries
is counted, not fatal: that is the contract (an ``error`` line, exit code 2 for a
command); a database error, a traceback or a lost line is fatal.

    python scripts/soak.py --seconds 60
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _standin_proc import DEFAULT_DATA, ROOT, dev_records  # noqa: E402
from standin import FAULT_KINDS, StandIn  # noqa: E402

# refkeeper's client gives up on a request after 20 s: a hang must outlast it to be one.
CLIENT_TIMEOUT = 20.0


@dataclass
class Run:
    """One finished command and what it was given."""

    kind: str
    args: list[str]
    code: int | None  # None: killed after --command-timeout
    seconds: float
    stdout: str
    stderr: str
    given: dict = field(default_factory=dict)  # lines sent, DOIs written, records imported


# --- inputs made from the dev data ------------------------------------------------------


def load_inputs(data: Path, rng: random.Random) -> tuple[list[str], list[dict]]:
    with gzip.open(data / "citations.dev.jsonl.gz", "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    texts = [t for t in texts if t.strip() and "\n" not in t and "\r" not in t]
    records = []
    with gzip.open(data / "crossref-works.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("title") and rec.get("author") and rec.get("DOI") and year_of(rec):
                records.append(rec)
    return rng.sample(texts, min(400, len(texts))), rng.sample(records, min(1500, len(records)))


def year_of(rec: dict) -> int | None:
    for key in ("issued", "published", "published-print", "created"):
        parts = (rec.get(key) or {}).get("date-parts") or [[None]]
        if parts[0] and parts[0][0]:
            return int(parts[0][0])
    return None


def bib_escape(s: str) -> str:
    s = re.sub(r"<[^>]+>", "", s).replace("\\", " ")
    s = re.sub(r"([&%$#_])", r"\\\1", s)
    return s.replace("{", "").replace("}", "").replace("~", " ").replace("^", " ")


def people(rec: dict) -> list[tuple[str, str]]:
    return [(a.get("family") or a.get("name") or "", a.get("given") or "")
            for a in rec.get("author") or [] if a.get("family") or a.get("name")]


def write_bib(path: Path, recs: list[dict], without_doi: set[str]) -> None:
    entries = []
    for rec in recs:
        authors = " and ".join(f"{bib_escape(f)}, {bib_escape(g)}" if g else bib_escape(f)
                               for f, g in people(rec))
        fields = {
            "title": bib_escape(rec["title"][0]),
            "author": authors,
            "journal": bib_escape((rec.get("container-title") or [""])[0]),
            "year": str(year_of(rec)),
            "volume": bib_escape(str(rec.get("volume") or "")),
            "pages": bib_escape(str(rec.get("page") or "")).replace("-", "--"),
            "doi": "" if rec["DOI"] in without_doi else rec["DOI"],
        }
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items() if v)
        entries.append(f"@article{{{entry_key(rec)},\n{body}\n}}\n")
    path.write_text("\n".join(entries), encoding="utf-8")


def write_ris(path: Path, recs: list[dict], without_doi: set[str]) -> None:
    out = []
    for rec in recs:
        out.append("TY  - JOUR")
        out.append(f"ID  - {entry_key(rec)}")
        out.append(f"TI  - {re.sub(r'<[^>]+>', '', rec['title'][0])}")
        out += [f"AU  - {f}, {g}" if g else f"AU  - {f}" for f, g in people(rec)]
        if rec.get("container-title"):
            out.append(f"JO  - {rec['container-title'][0]}")
        out.append(f"PY  - {year_of(rec)}")
        if rec.get("volume"):
            out.append(f"VL  - {rec['volume']}")
        if rec.get("page"):
            first, _, last = str(rec["page"]).partition("-")
            out.append(f"SP  - {first}")
            if last:
                out.append(f"EP  - {last}")
        if rec["DOI"] not in without_doi:
            out.append(f"DO  - {rec['DOI']}")
        out.append("ER  - ")
        out.append("")
    path.write_text("\n".join(out), encoding="utf-8")


def entry_key(rec: dict) -> str:
    # The same record gets the same key in every file, as a library exported twice would.
    return "soak" + re.sub(r"[^a-z0-9]", "", rec["DOI"].lower())[-24:]


# --- running commands ---------------------------------------------------------------------


class Soak:
    def __init__(self, args: argparse.Namespace, work: Path, url: str) -> None:
        self.args = args
        self.work = work
        self.db = work / "refs.db"
        self.rng = random.Random(args.seed)
        self.texts, self.records = load_inputs(args.data, self.rng)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REFKEEPER_")},
            "REFKEEPER_CROSSREF_URL": url,
            "REFKEEPER_MAILTO": "soak@example.org",
            "PYTHONUNBUFFERED": "1",
        }
        self.lock = threading.Lock()
        self.runs: list[Run] = []
        self.counter = 0
        self.desk_rounds = 0
        # What each kind of job does; resolve batches are the bulk of the traffic.
        self.plan = ["resolve"] * 6 + ["import-bib", "import-ris", "snapshot", "verify", "export"] * 1

    def next_job(self) -> tuple[str, list[str], dict, bytes | None]:
        with self.lock:
            self.counter += 1
            n = self.counter
            kind = self.plan[n % len(self.plan)] if n > 1 else "snapshot"
            rng = random.Random(self.args.seed * 1000003 + n)
        if kind == "resolve":
            lines = rng.sample(self.texts, self.args.batch)
            return kind, ["resolve", "--json", "-"], {"lines": lines}, "".join(
                line + "\n" for line in lines).encode("utf-8")
        if kind in ("import-bib", "import-ris"):
            recs = rng.sample(self.records[:400], 25)
            without = {r["DOI"] for r in recs[:3]}  # resolved online; may stay unmatched
            path = self.work / f"in-{n}.{'bib' if kind == 'import-bib' else 'ris'}"
            (write_bib if kind == "import-bib" else write_ris)(path, recs, without)
            return kind, ["import", "--json", str(path)], {
                "dois": [r["DOI"] for r in recs if r["DOI"] not in without]}, None
        if kind == "snapshot":
            start = rng.randrange(0, len(self.records) - 200)
            recs = self.records[start:start + 200]
            path = self.work / f"snap-{n}.jsonl.gz"
            with gzip.open(path, "wt", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in recs)
            return kind, ["snapshot", "import", str(path)], {"dois": [r["DOI"] for r in recs]}, None
        if kind == "verify":
            return kind, ["verify", "--all", "--json"], {}, None
        fmt = ("bibtex", "ris", "csl-json")[n % 3]
        path = self.work / f"out-{n}.{fmt}"
        return "export", ["export", "--format", fmt, "-o", str(path)], {"path": path, "format": fmt}, None

    def run_one(self) -> None:
        kind, args, given, stdin = self.next_job()
        cmd = [sys.executable, "-m", "refkeeper.cli", "--db", str(self.db), *args]
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env, cwd=self.work)
        try:
            out, err = proc.communicate(stdin, timeout=self.args.command_timeout)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            code = None
        run = Run(kind, args, code, time.monotonic() - started,
                  out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), given)
        with self.lock:
            self.runs.append(run)

    def worker(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            self.run_one()

    def desk_worker(self, url: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            with self.lock:  # its own count: the commands' mix stays as planned
                self.desk_rounds += 1
                n = self.desk_rounds
            run = desk_round(self, url, n, deadline + self.args.command_timeout)
            with self.lock:
                self.runs.append(run)


# --- the desk: `refkeeper serve` and editors clicking ----------------------------------------


class Desk:
    """``refkeeper serve`` on a free 127.0.0.1 port, its output in ``serve.log``."""

    def __init__(self, soak: Soak) -> None:
        self.soak = soak
        self.log_path = soak.work / "serve.log"
        # The desk's article and claim, made as an editor would, before anything else runs.
        for args in (["article", "add", "Treatment of the sacroiliac joint", "--slug", "soak"],
                     ["claim", "add", "soak", "Intra-articular injection is the gold standard."]):
            subprocess.run([sys.executable, "-m", "refkeeper.cli", "--db", str(soak.db), *args],
                           env=soak.env, check=True, capture_output=True, cwd=soak.work)
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "refkeeper.cli", "--db", str(soak.db), "serve", "--port", str(port)],
            env={**soak.env, "REFKEEPER_EDITOR": "soak"}, stdout=self.log, stderr=subprocess.STDOUT,
            cwd=soak.work)
        deadline = time.monotonic() + 60
        while DeskEditor(self.url).call("GET", "/")[0] != 200:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"refkeeper serve did not start; see {self.log_path}")
            time.sleep(0.2)

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


class DeskEditor:
    """One editor's browser: a cookie jar (session, CSRF token) and plain form posts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.statuses: list[tuple[str, int]] = []

    def call(self, method: str, path: str, data: dict | None = None) -> tuple[int, str, str]:
        """(status, final URL, body); redirects are followed as a browser does; status 0: no answer."""
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(self.url + path, data=body, method=method)
        try:
            with self.opener.open(req, timeout=120) as r:
                out = r.status, r.geturl(), r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            out = e.code, e.geturl(), e.read().decode("utf-8", "replace")
        except OSError as e:
            out = 0, self.url + path, str(e)
        self.statuses.append((f"{method} {re.sub(r'/[0-9]+', '/N', path)}", out[0]))
        return out


def desk_round(soak: Soak, url: str, n: int, deadline: float) -> Run:
    """One reader's comment taken through the desk: paste, wait, link, answer."""
    rng = random.Random(soak.args.seed * 7919 + n)
    refs = rng.sample(soak.texts, 4)
    comment = "Where does this come from? See:\n\n" + "".join(f"{i}. {t}\n" for i, t in enumerate(refs, 1))
    ed = DeskEditor(url)
    started = time.monotonic()
    given: dict = {"request": None, "references": None}
    status, _, page = ed.call("GET", "/")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    if token:
        tok = token.group(1)
        status, final, page = ed.call("POST", "/requests/new", {
            "csrf_token": tok, "article": "1", "claim": "1", "reader": f"Reader {n}",
            "comment": comment, "stance": "contests"})
        rid = re.search(r"/requests/(\d+)$", final)
        said = re.search(r"resolving (\d+) reference", page)
        if rid and said:
            given.update(request=int(rid.group(1)), references=int(said.group(1)))
            path = f"/requests/{rid.group(1)}"
            while time.monotonic() < deadline:
                status, _, frag = ed.call("GET", path + "/references")
                if status != 200 or "resolving…" not in frag:
                    break
                time.sleep(0.5)
            status, _, page = ed.call("GET", path)
            dois = list(dict.fromkeys(re.findall(r'class="doi" href="https://doi.org/([^"]+)"', page)))
            dois = [urllib.parse.unquote(d).replace("&amp;", "&") for d in dois]
            if dois:
                ed.call("POST", path + "/link", {"csrf_token": tok, "doi": dois[0], "stance": "contests",
                                                 "note": f"soak round {n}"})
                ed.call("POST", path + "/answer", {"csrf_token": tok, "doi": dois, "note": "see these"})
                given["answered"] = True
            ed.call("GET", "/claims/1")
    given["statuses"] = ed.statuses
    return Run("desk", ["serve"], 0, time.monotonic() - started, "", "", given)


# --- checking what was kept -----------------------------------------------------------------


def failure_kind(run: Run) -> str | None:
    """Why a command failed, or None for exit 0 (ok) and 1 (finished with findings)."""
    if run.code is None:
        return "killed after --command-timeout"
    if "Traceback (most recent call last)" in run.stderr:
        last = run.stderr.strip().splitlines()[-1]
        return f"traceback: {last[:90]}"
    if run.code in (0, 1):
        return None
    text = run.stderr.lower()
    if run.kind == "verify" and "another `refkeeper verify` is running" in text:
        # By design: one verify run per database at a time, the second told so in one line
        # (tests/test_verify.py). Its lock file is not the database: nothing waited or was lost.
        return "refused: another verify is running"
    if "locked" in text or "busy" in text:
        return "database is locked"
    if "crossref" in text:
        return "crossref gave up"
    return f"exit {run.code}: {run.stderr.strip()[:90]}"


FATAL_FAILURES = ("killed", "traceback", "database is locked", "exit ")


def line_error_kind(message: str | None) -> str:
    m = (message or "").lower()
    for pattern, kind in (
        (r"\b429\b|rate", "429 after retries"), (r"\b5\d\d\b", "5xx after retries"),
        (r"timed? ?out|timeout", "timeout after retries"), (r"connection|reset|abort", "connection"),
        (r"json|shape|unexpected|malformed|invalid", "unreadable answer"), (r"empty", "empty line"),
    ):
        if re.search(pattern, m):
            return kind
    return "other: " + (message or "")[:70]


def check(runs: list[Run], db: Path, server_log: str | None = None) -> tuple[list[str], dict]:
    """(what was lost or broken, figures)."""
    lost: list[str] = []
    figures: dict = {"lines sent": 0, "lines answered": 0, "status": collections.Counter(),
                     "line errors": collections.Counter(), "command failures": collections.Counter(),
                     "desk": collections.Counter(), "desk references": collections.Counter()}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            lost.append(f"integrity_check: {'; '.join(integrity[:5])}")
        stored_dois = {r[0].lower() for r in conn.execute("SELECT doi FROM works")}
        stored_texts = {r[0] for r in conn.execute("SELECT text FROM citations")}
        for what, sql in (
            ("works with one DOI", "SELECT lower(doi), count(*) FROM works GROUP BY 1 HAVING count(*) > 1"),
            ("citations with one key", "SELECT key, count(*) FROM citations GROUP BY 1 HAVING count(*) > 1"),
            ("citations of one text", "SELECT text || '|' || coalesce(context, ''), count(*) FROM citations"
                                      " GROUP BY 1 HAVING count(*) > 1"),
            ("works with one citation key", "SELECT bibtex_key, count(*) FROM works WHERE bibtex_key"
                                            " IS NOT NULL GROUP BY 1 HAVING count(*) > 1"),
        ):
            dupes = conn.execute(sql).fetchall()
            if dupes:
                lost.append(f"duplicate {what}: {len(dupes)} (e.g. {dupes[0][0][:80]!r} x{dupes[0][1]})")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "works_fts" in tables:
            indexed = conn.execute("SELECT count(*) FROM works_fts").fetchone()[0]
            if indexed != len(stored_dois):
                lost.append(f"full-text index holds {indexed} rows for {len(stored_dois)} works")
        figures["works"], figures["citations"] = len(stored_dois), len(stored_texts)
        pasted: dict[int, list[str]] = collections.defaultdict(list)
        answered: set[int] = set()
        if "request_references" in tables:
            for rid, status in conn.execute("SELECT request_id, status FROM request_references"):
                pasted[rid].append(status)
            answered = {r[0] for r in conn.execute("SELECT id FROM requests WHERE status = 'answered'")}
    finally:
        conn.close()

    if server_log is not None:
        for needle in ("Traceback", "database is locked", "error serving"):
            if needle in server_log:
                line = next(x for x in server_log.splitlines() if needle in x)
                lost.append(f"the desk's log has {needle!r}: {line[:100]} (serve.log)")

    for i, run in enumerate(runs):
        label = f"{run.kind} #{i + 1}"
        failed = failure_kind(run)
        if failed:
            figures["command failures"][f"{run.kind}: {failed}"] += 1
            if failed.startswith(FATAL_FAILURES):
                log = db.parent / f"failed-{i + 1}-{run.kind}.txt"
                log.write_text(f"refkeeper {' '.join(run.args)}\nexit {run.code}\n\n{run.stderr}")
                lost.append(f"{label} failed: {failed} (stderr in {log.name})")
        if run.kind == "desk":
            for what, status in run.given["statuses"]:
                figures["desk"][f"{what} {status}"] += 1
                if status >= 500 or status == 0:
                    lost.append(f"{label}: {what} answered {status or 'nothing'}")
            rid, expected = run.given["request"], run.given["references"]
            if rid is None:
                lost.append(f"{label}: the desk recorded no request for the pasted comment")
                continue
            got = pasted.get(rid, [])
            figures["desk references"].update(got)
            if len(got) != expected:
                lost.append(f"{label}: request {rid} was resolving {expected} references, {len(got)} stored")
            if run.given.get("answered") and rid not in answered:
                lost.append(f"{label}: request {rid} was answered on the desk but is not answered")
        elif run.kind == "resolve":
            sent = run.given["lines"]
            figures["lines sent"] += len(sent)
            answers = []
            # split("\n"), not splitlines(): an answer may hold U+2028 and friends.
            for n, line in enumerate(run.stdout.split("\n")[:-1] if run.stdout else [], 1):
                try:
                    answers.append(json.loads(line))
                except ValueError:
                    lost.append(f"{label}: output line {n} is not JSON: {line[:80]!r}")
            figures["lines answered"] += len(answers)
            # Even when Crossref fails for good, each line is owed an answer (an error line).
            if len(answers) != len(sent):
                lost.append(f"{label}: {len(sent)} lines in, {len(answers)} answers out")
            for n, (text, ans) in enumerate(zip(sent, answers, strict=False), 1):
                if not isinstance(ans, dict) or squeeze(ans.get("input")) != squeeze(text):
                    lost.append(f"{label}: answer {n} is not for input line {n}")
                    break
                figures["status"][ans.get("status")] += 1
                if ans.get("status") == "error":
                    figures["line errors"][line_error_kind(ans.get("error"))] += 1
                elif ans.get("input") not in stored_texts:
                    lost.append(f"{label}: answer {n} ({ans.get('status')}) not stored: {text[:60]!r}")
                elif ans.get("status") == "matched" and str(ans.get("doi")).lower() not in stored_dois:
                    lost.append(f"{label}: matched {ans.get('doi')} not among the works")
        elif run.kind in ("import-bib", "import-ris", "snapshot") and run.code in (0, 1):
            missing = [d for d in run.given["dois"] if d.lower() not in stored_dois]
            if missing:
                lost.append(f"{label} reported success but {len(missing)} of its DOIs are not stored "
                            f"(e.g. {missing[0]})")
        elif run.kind == "export" and run.code in (0, 1):
            problem = check_export(run.given["path"], run.given["format"])
            if problem:
                lost.append(f"{label} ({run.given['format']}): {problem}")
    return lost, figures


def squeeze(s: object) -> str:
    return " ".join(str(s).split())


def check_export(path: Path, fmt: str) -> str | None:
    if not path.exists():
        return "no output file"
    text = path.read_text(encoding="utf-8")
    if fmt == "bibtex":
        keys = re.findall(r"^@\w+\{([^,\s]+),", text, flags=re.M)
    elif fmt == "ris":
        keys = re.findall(r"^ID  - (.+)$", text, flags=re.M)
        if text.count("\nER  -") + text.startswith("ER  -") != text.count("TY  - "):
            return "RIS records not closed"
    else:
        try:
            keys = [item["id"] for item in json.loads(text)]
        except (ValueError, KeyError, TypeError) as e:
            return f"unreadable CSL-JSON: {e}"
    dupes = [k for k, c in collections.Counter(keys).items() if c > 1]
    return f"{len(dupes)} citation keys used twice (e.g. {dupes[0]})" if dupes else None


# --- main --------------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=180, help="how long to start new commands")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help=f"the shared data directory (default {DEFAULT_DATA})")
    p.add_argument("--jobs", type=int, default=4, help="refkeeper processes at once")
    p.add_argument("--editors", type=int, default=2,
                   help="HTTP clients on the desk (refkeeper serve); 0: no desk")
    p.add_argument("--batch", type=int, default=30, help="citations per resolve batch")
    p.add_argument("--fault-rate", type=float, default=0.06, help="share of requests answered with a fault")
    p.add_argument("--hang-seconds", type=float, default=CLIENT_TIMEOUT + 3)
    p.add_argument("--storm-every", type=float, default=25, help="seconds between 3 s 429 storms (0: none)")
    p.add_argument("--rate-limit", type=int, default=50, help="the stand-in's requests per second")
    p.add_argument("--command-timeout", type=float, default=240)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--keep", action="store_true", help="keep the working directory (refs.db, inputs)")
    args = p.parse_args()
    records = dev_records(args.data)
    if not (args.data / "citations.dev.jsonl.gz").is_file():
        print(f"not found: {args.data / 'citations.dev.jsonl.gz'}", file=sys.stderr)
        return 2

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="refkeeper-soak-"))
    server = StandIn(records, rate_limit=args.rate_limit, concurrency=8, retry_after=1,
                     fault_rate=args.fault_rate, fault_kinds=FAULT_KINDS,
                     hang_seconds=args.hang_seconds, seed=args.seed)
    with server:
        soak = Soak(args, work, server.url)
        desk = Desk(soak) if args.editors else None
        print(f"soak: {args.jobs} processes on {soak.db} for {args.seconds:g} s"
              + (f", and the desk at {desk.url} with {args.editors} editors" if desk else "")
              + f"; stand-in at {server.url} ({args.fault_rate:.0%} faults of every kind, "
              f"{args.rate_limit} req/s, 429 storms every {args.storm_every:g} s)", flush=True)
        deadline = time.monotonic() + args.seconds
        stop = threading.Event()

        def storms() -> None:
            while args.storm_every and not stop.wait(args.storm_every):
                server.storm(3.0, 429, retry_after=1)

        storm_thread = threading.Thread(target=storms, daemon=True)
        storm_thread.start()
        workers = [threading.Thread(target=soak.worker, args=(deadline,)) for _ in range(args.jobs)]
        if desk:
            workers += [threading.Thread(target=soak.desk_worker, args=(desk.url, deadline))
                        for _ in range(args.editors)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        stop.set()
        server_log = desk.stop() if desk else None
        stats = server.stats
    wall = time.monotonic() - started

    lost, figures = check(soak.runs, soak.db, server_log)
    by_kind = collections.Counter(r.kind for r in soak.runs)
    codes = collections.Counter((r.kind, r.code) for r in soak.runs)
    print(f"\ncommands run: {len(soak.runs)}  "
          + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())))
    print("exit codes:   " + ", ".join(f"{k} {c}: {n}" for (k, c), n in sorted(codes.items(), key=str)))
    print(f"lines:        {figures['lines answered']} answered of {figures['lines sent']} sent  "
          + ", ".join(f"{s} {n}" for s, n in figures["status"].most_common()))
    print(f"stored:       {figures['works']} works, {figures['citations']} citations")
    if desk:
        refs = figures["desk references"]
        print(f"desk:         {sum(figures['desk'].values())} responses, "
              f"{sum(1 for r in soak.runs if r.kind == 'desk')} comments pasted, {sum(refs.values())} "
              "references resolved (" + ", ".join(f"{k} {n}" for k, n in refs.most_common()) + ")")
        by_status = collections.Counter()
        for what, n in figures["desk"].items():
            by_status[what.rsplit(" ", 1)[1]] += n
        print("              status " + ", ".join(f"{k}: {n}" for k, n in sorted(by_status.items())))
    for title, counter in (("line errors", figures["line errors"]),
                           ("command failures", figures["command failures"])):
        print(f"{title}:" + ("" if counter else " none"))
        for k, n in counter.most_common():
            print(f"  {n:5d}  {k}")
    print(f"stand-in:     {stats['requests']} requests, status {dict(sorted(stats['status'].items()))}, "
          f"faults {stats['faults']}, storm {stats['storm']}, refused by limits "
          f"{stats['refused_rate'] + stats['refused_concurrency']}")
    print(f"wall time:    {wall:.1f} s; load average at the end "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" ({os.cpu_count()} cores)")
    if lost:
        print(f"\nLOST OR BROKEN ({len(lost)}):")
        for line in lost[:40]:
            print("  " + line)
        if len(lost) > 40:
            print(f"  ... and {len(lost) - 40} more")
    else:
        print("\nnothing lost: integrity ok, no duplicates, every line answered and stored")
    if args.keep or lost:
        print(f"working directory kept: {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 1 if lost else 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
