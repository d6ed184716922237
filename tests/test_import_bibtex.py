"""Reading BibTeX as people's files really are: a syntax error costs one entry, entries
without a key or with another work's key are kept, DOIs are DOIs, dates keep sign and
month, braced corporate names stay whole."""

from __future__ import annotations

import json
import re
from pathlib import Path

import bibtexparser
from click.testing import CliRunner

from refkeeper._store import Store
from refkeeper.bibimport import import_entries, parse_bibliography, read_bibliography
from refkeeper.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "import"


def test_one_unbalanced_brace_costs_that_entry_alone_and_is_reported_with_line_and_key():
    path = FIXTURES / "broken-brace.bib"
    entries, problems = read_bibliography(path)
    independent = bibtexparser.parse_file(str(path))
    assert len(independent.entries) == 6
    # every entry the independent parser sees is read here or reported by line and key
    read = [e.key for e in entries]
    reported = {m.group(2): int(m.group(1))
                for m in (re.match(r"line (\d+): entry '([^']*)' not read", p) for p in problems) if m}
    assert read == ["kroschwald2015", "murakami2007", "killeen2001", "berthelot2006"]
    assert reported == {"thiebaux1998": 8, "early": 25}
    assert sorted(read + list(reported)) == sorted(e.key for e in independent.entries)
    assert [e.line for e in entries] == [2, 13, 19, 26]
    assert entries[-1].doi == "10.1016/j.jbspin.2005.03.004"


def test_an_entry_without_a_key_keeps_its_fields_and_a_repeated_key_of_another_work_is_renamed(tmp_path):
    entries, problems = read_bibliography(FIXTURES / "keys.bib")
    assert [(e.key, e.doi) for e in entries] == [
        ("berthelot2006provocative", "10.1016/j.jbspin.2005.03.004"),
        ("smith2001", "10.5555/first"),
        ("smith2001-2", "10.5555/second"),
        ("smith2001", "10.5555/first"),  # the same work again: the importer calls it a duplicate
    ]
    assert entries[0].record["title"] == [
        "Provocative sacroiliac joint maneuvers and sacroiliac joint block are unreliable"]
    assert "line 1: entry without a key: kept as 'berthelot2006provocative'" in problems
    assert ("line 10: key 'smith2001' is also the key of another work (line 7): kept as 'smith2001-2'"
            in problems)
    store = Store(tmp_path / "k.db")
    results = list(import_entries(store, entries))
    assert [r.status for r in results] == ["added", "added", "added", "duplicate"]
    assert store.get_key("10.5555/second") == "smith2001-2"
    assert store.get_key("10.1016/j.jbspin.2005.03.004") == "berthelot2006provocative"
    assert results[0].finding and results[2].finding  # reported, so the command exits 1
    store.close()


def test_only_real_doi_syntax_is_read_and_urls_lose_what_follows_the_doi():
    bib = r"""
@article{a, title = {A}, doi = {DOI}}
@article{b, title = {B}, url = {https://iopscience.iop.org/article/10.7567/APEX.6.105001/pdf}}
@article{c, title = {C}, doi = {https://onlinelibrary.wiley.com/doi/full/10.1002/anie.201915678/abstract}}
@article{d, title = {D}, url = {https://link.springer.com/content/pdf/10.1007/s00776-007-1126-1.pdf}}
@article{e, title = {E}, doi = {doi:10.1016/S0140-6736(05)67889-0.}}
@article{f, title = {F}, doi = {10.1/x}}
"""
    entries, problems = parse_bibliography(bib, "bibtex")
    assert [e.doi for e in entries] == [
        None, "10.7567/apex.6.105001", "10.1002/anie.201915678", "10.1007/s00776-007-1126-1",
        "10.1016/s0140-6736(05)67889-0", None]
    assert "line 2: doi 'DOI' is not a DOI; not read" in problems
    assert "line 7: doi '10.1/x' is not a DOI; not read" in problems


def test_ris_and_csl_json_doi_placeholders_and_urls_are_read_the_same_way():
    ris = ("TY  - JOUR\nTI  - One\nDO  - DOI\nER  - \n"
           "TY  - JOUR\nTI  - Two\nDO  - DOI\nER  - \n"
           "TY  - JOUR\nTI  - Three\nUR  - https://iopscience.iop.org/article/10.7567/APEX.6.105001/pdf\n"
           "ER  - \n")
    entries, problems = parse_bibliography(ris, "ris")
    assert [e.doi for e in entries] == [None, None, "10.7567/apex.6.105001"]
    assert len([p for p in problems if "is not a DOI" in p]) == 2
    csl = json.dumps([{"id": "x", "type": "article-journal", "title": "X", "DOI": "DOI"},
                      {"id": "y", "type": "article-journal", "title": "Y",
                       "DOI": "https://doi.org/10.1007/S00776-007-1126-1/full"}])
    entries, problems = parse_bibliography(csl, "csl-json")
    assert [e.doi for e in entries] == [None, "10.1007/s00776-007-1126-1"]
    assert any("is not a DOI" in p for p in problems)


def test_biblatex_dates_keep_sign_month_and_range():
    bib = r"""
@book{a, title = {Ancient}, date = {-0379-02}}
@book{b, title = {Span}, date = {1988/1992}}
@article{c, title = {Months}, date = {2004-02/2004-05}}
@article{d, title = {Plain}, year = {2007}, month = may}
@article{e, title = {Day}, date = {2019-03-04}}
"""
    entries, _ = parse_bibliography(bib, "bibtex")
    assert [e.record["issued"]["date-parts"] for e in entries] == [
        [[-379, 2]], [[1988], [1992]], [[2004, 2], [2004, 5]], [[2007, 5]], [[2019, 3, 4]]]


def test_a_braced_corporate_author_with_commas_stays_one_literal_name():
    bib = r"@book{bn, author = {{Barnes and Noble, Inc.} and Plato and Doe, Jane}, title = {T}}"
    entries, _ = parse_bibliography(bib, "bibtex")
    assert entries[0].record["author"] == [
        {"name": "Barnes and Noble, Inc."}, {"family": "Plato"}, {"family": "Doe", "given": "Jane"}]


def test_the_import_command_lists_what_it_could_not_read_and_exits_1(tmp_path):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "r.db"), "import", "--offline",
                                      str(FIXTURES / "broken-brace.bib")])
    assert result.exit_code == 1
    assert "line 8: entry 'thiebaux1998' not read" in result.stderr
    assert "line 25: entry 'early' not read" in result.stderr
    assert result.stdout.count("ADDED") == 4


def test_entries_without_a_doi_are_stored_as_works_without_one_and_counted(tmp_path):
    path = tmp_path / "theses.bib"
    path.write_text(r"""@phdthesis{nodoi1998,
  author = {Thi{\'e}baux, Sylvie}, title = {Supply restoration in power distribution systems},
  school = {Universit{\'e} de Rennes}, year = 1998
}
@article{murakami2007, title = {Effect of periarticular lidocaine}, doi = {10.1007/s00776-007-1126-1}}
@book{report2003, title = {A report without any identifier}, year = 2003}
""", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "r.db"), "import", "--offline", str(path)])
    assert result.exit_code == 0  # a work stored without a DOI is not a finding
    assert "3 entries from" in result.stderr and "1 added, 2 added-without-doi" in result.stderr
    assert "not stored" not in result.stderr
    assert "ADDED-WITHOUT-DOI nodoi1998  rk:" in result.stdout


def test_notes_between_entries_do_not_cost_an_entry():
    bib = """@article{kept, title = {Kept}, doi = {10.1007/s00776-007-1126-1}}
Exported by a tool, options = none; see the manual.
@article{next, title = {Next}, doi = {10.1016/j.jbspin.2005.03.004}}
"""
    entries, problems = parse_bibliography(bib, "bibtex")
    assert [e.key for e in entries] == ["kept", "next"] and problems == []


def test_placeholder_dois_do_not_make_the_records_after_them_duplicates(tmp_path):
    # Issue 12: "DO  - DOI" stored as a DOI made every later record with it a duplicate.
    ris = tmp_path / "placeholders.ris"
    ris.write_text("".join(f"TY  - JOUR\nID  - r{n}\nTI  - {title}\nDO  - DOI\nER  - \n\n" for n, title in
                           enumerate(["Effect of periarticular lidocaine", "Provocative sacroiliac maneuvers",
                                      "Writing and overwriting short-term memory"], 1)),
                   encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "r.db"), "import", "--offline", "--json",
                                      str(ris)])
    statuses = [json.loads(line)["status"] for line in result.stdout.splitlines()]
    assert len(statuses) == 3 and "duplicate" not in statuses
    assert result.stderr.count("'DOI' is not a DOI; not read") == 3
