"""``refkeeper import``: bibliographies in, keys kept, DOIs never guessed, nothing overwritten
without ``--update``."""

from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner
from test_csl import _core

from refkeeper._crossref import CrossrefClient
from refkeeper._resolve import Resolver
from refkeeper._sources import CrossrefSource
from refkeeper._store import Store
from refkeeper.bibimport import import_entries, latex_to_text, parse_bibliography, read_bibliography
from refkeeper.cli import cli
from refkeeper.export import export_works, latex_escape

MURAKAMI = "10.1007/s00776-007-1126-1"


def _run(args, db):
    return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)


@pytest.mark.parametrize(
    ("latex", "text", "markup"),
    [
        (r"Caf{\'e} \textbackslash{}input\textbraceleft{}x\textbraceright{}", r"Café \input{x}", None),
        (r"{\"u}ber {\ss} \& 100\% {\o} \_ \# \$", "über ß & 100% ø _ # $", "über ß &amp; 100% ø _ # $"),
        (r"{DNA} repair in \textit{{E. coli}} and {CO}\textsubscript{2}", "DNA repair in E. coli and CO2",
         "DNA repair in <i>E. coli</i> and CO<sub>2</sub>"),
        (r"NF-{$\kappa$}B \textsc{r} \textless{}3", "NF-κB r <3", "NF-κB <scp>r</scp> &lt;3"),
        (r"Fran{\c{c}}ois G{\'o}mez-Garc{\'\i}a", "François Gómez-García", None),
        ("a~b  \n c", "a b c", None),
        (r"\emph{Unclosed {brace", "Unclosed brace", "<i>Unclosed brace</i>"),
    ],
)
def test_latex_to_text(latex, text, markup):
    assert latex_to_text(latex) == text
    assert latex_to_text(latex, markup=True) == (markup or text.replace("&", "&amp;")
                                                 .replace("<", "&lt;"))


# ASCII LaTeX writes typographic quotes as ` and ' and Unicode hyphens as -: read back plain.
ASCII_LOSSY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '\\"', "\u201d": '\\"',
                             "\u2010": "-", "\u2011": "-"})


@pytest.mark.parametrize("fmt", ["bibtex", "bibtex-ascii", "csl-json", "ris"])
def test_export_then_import_gives_the_same_works_and_keys(sample_store, tmp_path, fmt):
    works = list(sample_store.works())
    buf = io.StringIO()
    _, keys = export_works(works, buf, fmt.split("-ascii")[0], ascii=fmt.endswith("ascii"))
    entries, problems = parse_bibliography(buf.getvalue(), fmt.split("-ascii")[0])
    assert problems == [] and len(entries) == len(works)
    fresh = Store(tmp_path / "fresh.db")
    results = list(import_entries(fresh, entries))
    assert {r.status for r in results} == {"added"}
    assert not any(r.finding for r in results)
    assert fresh.bibtex_keys() == keys
    def same(core: dict) -> dict:
        if not fmt.endswith("ascii"):
            return core
        return json.loads(json.dumps(core, ensure_ascii=False).translate(ASCII_LOSSY))

    lossy = set()
    for work in works:
        again = fresh.get_work(work.doi)
        want = _core(work.record)
        text = json.dumps(want, ensure_ascii=False)
        if fmt.endswith("ascii") and any(latex_escape(c, ascii=True) == "?" for c in text if not c.isascii()):
            lossy.add(work.doi)  # Hangul, CJK, U+FFFD have no ASCII LaTeX form: "?" by design
            continue
        assert same(_core(again.record)) == same(want), work.doi
    # the same file again changes nothing
    assert {r.status for r in import_entries(fresh, entries)} == {"unchanged"}
    # and into the store the works came from: the same works, nothing to report
    for result in import_entries(sample_store, entries):
        assert result.status == "unchanged" or result.doi in lossy, (result.doi, result.diff)
    fresh.close()


BIB = r"""
@comment{ a file as an editor has it }
@string{jos = "J Orthop Sci"}
@article{MyMurakami,
  author = {Murakami, E. and Tanaka, Y. and Aizawa, T. and Ishizuka, M. and Kokubun, S.},
  title = {Effect of periarticular and intraarticular lidocaine injections for sacroiliac joint
           pain: prospective comparative study},
  journal = jos, year = 2007, volume = 12, number = 3, pages = {274--80}
}
@article{vague, author = {Murakami, E.}, year = 2007}
@article{nothing,
  author = {Nobody, A.}, title = {Zebra quantum cheese in the never-written literature},
  journal = {Journal of Nothing}, year = 1999
}
@article{again, doi = {https://doi.org/10.1007/S00776-007-1126-1}, title = {Effect}}
@book{Own2020, author = {{World Health Organization}}, title = {A \textit{Guide}},
  publisher = {WHO}, year = 2020, month = mar, doi = {10.5555/own_2020}}
@misc{Ünicode, title = {Key with accent}, doi = {10.5555/unicode}}
"""


def test_import_cli_resolves_reports_and_keeps_keys(sample_store, tmp_path):
    path = tmp_path / "library.bib"
    path.write_text(BIB, encoding="utf-8")
    db = sample_store.path
    result = _run(["import", "--offline", "--json", str(path)], db)
    assert result.exit_code == 1  # some entries need an editor
    rows = {r["key"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["MyMurakami"]["status"] == "resolved" and rows["MyMurakami"]["doi"] == MURAKAMI
    assert rows["vague"]["status"] == "ambiguous" and rows["vague"]["doi"] is None
    assert rows["vague"]["work"].startswith("rk:")  # kept without a DOI meanwhile
    assert MURAKAMI in [c["doi"] for c in rows["vague"]["candidates"]]
    assert rows["nothing"]["status"] == "added-without-doi" and rows["nothing"]["doi"] is None
    assert rows["nothing"]["work"].startswith("rk:")
    assert rows["again"]["status"] == "duplicate"
    assert rows["Own2020"]["status"] == "added"
    unicode_row = next(r for r in rows.values() if r["doi"] == "10.5555/unicode")
    assert unicode_row["status"] == "added" and "not usable" in unicode_row["notes"][0]

    assert sample_store.get_key(MURAKAMI) == "MyMurakami"
    own = sample_store.get_work("10.5555/own_2020")
    assert own.record["author"] == [{"name": "World Health Organization"}]
    assert own.record["title"] == ["A <i>Guide</i>"] and own.record["issued"] == {
        "date-parts": [[2020, 3]]}
    assert sample_store.db.execute(
        "SELECT source FROM works WHERE doi = '10.5555/own_2020'").fetchone()[0] == "import"
    # no DOI was guessed: the entries without a trustworthy one are works without a DOI
    assert sample_store.count_works() == 302 + 2 + 2
    assert sample_store.get_work(rows["nothing"]["work"]).doi is None
    # an export writes the user's keys
    bib = _run(["export", MURAKAMI, "10.5555/own_2020"], db).stdout
    assert bib.startswith("@article{MyMurakami,") and "@book{Own2020," in bib


def test_import_shows_a_diff_and_changes_nothing_without_update(sample_store, tmp_path):
    db = sample_store.path
    original = sample_store.get_work(MURAKAMI)
    _run(["key", MURAKAMI, "murakami2007"], db)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps([{
        "id": "Murakami07", "type": "article-journal", "DOI": MURAKAMI,
        "title": "Periarticular lidocaine for SIJ pain", "issued": {"date-parts": [[2007]]},
        "container-title": "J Orthop Sci", "page": "274-80",
    }]), encoding="utf-8")
    shown = _run(["import", str(path)], db)
    assert shown.exit_code == 1
    assert "DIFFERS" in shown.stdout
    assert "    - title: Effect of periarticular" in shown.stdout
    assert "    + title: Periarticular lidocaine for SIJ pain" in shown.stdout
    assert "    - key: murakami2007\n    + key: Murakami07" in shown.stdout
    assert "page" not in shown.stdout and "container" not in shown.stdout  # same, abbreviated
    assert "use --update" in shown.stderr
    assert sample_store.get_work(MURAKAMI).record == original.record
    assert sample_store.get_key(MURAKAMI) == "murakami2007"

    updated = _run(["import", "--update", str(path)], db)
    assert updated.exit_code == 0 and "UPDATED" in updated.stdout and "+ title:" in updated.stdout
    after = sample_store.get_work(MURAKAMI)
    assert after.title == "Periarticular lidocaine for SIJ pain"
    assert "subtitle" not in after.record
    assert after.record["author"] == original.record["author"]  # fields the file lacks are kept
    assert sample_store.get_key(MURAKAMI) == "Murakami07"


def test_a_key_another_work_has_is_not_taken(sample_store, tmp_path):
    db = sample_store.path
    _run(["key", "10.1001/2013.jamaneurol.139", "taken"], db)
    path = tmp_path / "k.ris"
    path.write_text("TY  - JOUR\nID  - TAKEN\nTI  - New\nDO  - 10.5555/new\nER  - \n", encoding="utf-8")
    result = _run(["import", str(path)], db)
    assert result.exit_code == 1
    assert "ADDED      10.5555/new" not in result.stdout
    assert "note: key 'TAKEN' is already used by 10.1001/2013.jamaneurol.139" in result.stdout
    assert sample_store.get_key("10.5555/new") is None
    assert sample_store.get_work("10.5555/new").title == "New"


def test_online_import_resolves_real_entries_without_their_doi(standin_clean, tmp_path, monkeypatch):
    """Real records exported to BibTeX with doi and url removed, imported online: each comes
    back with its own DOI or is left for review; never another work's DOI."""
    import gzip
    import re

    from conftest import SHARED_DATA

    from refkeeper._models import Work

    records = []
    with gzip.open(SHARED_DATA / "crossref-works.jsonl.gz", "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if n % 97 or '"type": "journal-article"' not in line or '"page"' not in line:
                continue
            record = json.loads(line)
            if record.get("author") and record.get("title") and record.get("volume"):
                records.append(record)
            if len(records) == 12:
                break
    buf = io.StringIO()
    _, keys = export_works([Work.from_crossref(r) for r in records], buf, "bibtex")
    bib = re.sub(r",\n    (doi|url) = \"[^\n]*\"", "", buf.getvalue())
    assert "doi" not in bib
    entries, problems = parse_bibliography(bib, "bibtex")
    assert not problems and all(e.doi is None for e in entries)
    fresh = Store(tmp_path / "online.db")
    online = Resolver(source=CrossrefSource(CrossrefClient(base_url=standin_clean.url)), store=fresh)
    results = list(import_entries(fresh, entries, online))
    by_key = {doi: key for doi, key in keys.items()}
    resolved = 0
    for record, result in zip(records, results, strict=True):
        if result.doi is not None:
            assert result.doi == record["DOI"].lower(), (result.entry.key, result.doi)
            assert fresh.get_key(result.doi) == by_key[result.doi]
            resolved += 1
        else:
            assert result.status in ("ambiguous", "added-without-doi")
    assert resolved >= 9, [(r.entry.key, r.status) for r in results]
    fresh.close()


def test_unreadable_files_are_usage_errors(tmp_path):
    from refkeeper._errors import InputError

    bad = tmp_path / "x.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError):
        read_bibliography(bad)
    unknown = tmp_path / "notes.txt"
    unknown.write_text("just some words", encoding="utf-8")
    with pytest.raises(InputError):
        read_bibliography(unknown)
    binary = tmp_path / "y.bib"
    binary.write_bytes(b"\xff\xfe\x00@article")
    assert _run(["import", str(binary)], tmp_path / "db.db").exit_code == 2
    # a .txt holding RIS is recognised by its content
    ris = tmp_path / "export.txt"
    ris.write_text("TY  - JOUR\nTI  - T\nDO  - 10.5555/x\nER  - \n", encoding="utf-8")
    entries, _ = read_bibliography(ris)
    assert entries[0].doi == "10.5555/x"


# ----------------------------------------------------------------------------------------
# Issue 11: what a bibliography file may hold
# ----------------------------------------------------------------------------------------


def test_a_percent_sign_in_a_field_is_text_and_a_commented_out_entry_stays_out():
    bib = """% My library, exported 2024 -- 100% checked
@article{kept,
  title = {Percent 100% and more},
  note = "Funded 50% by the {NIH}",
  doi = {10.1007/s00776-007-1126-1},
}
% @article{gone, title = {Commented out}, doi = {10.1016/j.jbspin.2005.03.004}}
@book(paren, title = "A (bracketed) 5% title", year = 2001)
"""
    entries, problems = parse_bibliography(bib, "bibtex")
    assert problems == []
    assert [e.key for e in entries] == ["kept", "paren"]
    assert entries[0].record["title"] == ["Percent 100% and more"]
    assert entries[1].record["title"] == ["A (bracketed) 5% title"]
    assert latex_to_text(r"100\% and 50%, {\'e}t{\'e} % not a comment") == "100% and 50%, été % not a comment"


def test_style_commands_that_never_close_are_read_to_the_end():
    # Each unclosed \emph used to be searched for its brace to the end of the field, one
    # level of recursion deeper each time: quadratic, then a RecursionError.
    assert latex_to_text(r"\emph{word " * 5000) == " ".join(["word"] * 5000)
    assert latex_to_text(r"\emph{a \textbf{b} c", markup=True) == "<i>a b c</i>"


def test_a_json_file_nested_too_deeply_is_an_input_error(tmp_path):
    from refkeeper._errors import InputError

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(InputError, match="nested too deeply"):
        read_bibliography(deep)
    result = _run(["import", str(deep)], tmp_path / "db.db")
    assert result.exit_code == 2
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_a_ris_doi_is_one_token_and_the_lines_after_it_are_not_part_of_it():
    text = ("TY  - JOUR\nTI  - Effect of periarticular and intraarticular lidocaine\n  injections\n"
            "DO  - 10.1007/s00776-007-1126-1\nsee also the erratum\nER  - \n"
            "TY  - JOUR\nTI  - No DOI here\nDO  - see the publisher's site\nER  - \n")
    entries, problems = parse_bibliography(text, "ris")
    assert [e.doi for e in entries] == ["10.1007/s00776-007-1126-1", None]
    assert entries[0].record["title"] == ["Effect of periarticular and intraarticular lidocaine injections"]
    assert problems == ["record 2: DO \"see the publisher's site\" is not a DOI; not read"]
