"""Names that are not "Family, Given": a braced corporate author with commas, CSL names with
only ``given`` or only ``literal``; what each export writes and reads back.

RIS has one kind of name without a comma, so a person with a one-word family name and no
given name ("Plato" read from BibTeX) comes back from RIS as one whole name: it prints the
same. Everything else reads back as it was.
"""

from __future__ import annotations

import io
import json

import pytest

from refkeeper.bibimport import parse_bibliography
from refkeeper.export import export_works

BN = {"name": "Barnes and Noble, Inc."}
WHO = {"name": "World Health Organization"}
DOE = {"family": "Doe", "given": "Jane"}

BIBTEX = (r"@book{bn, author = {{Barnes and Noble, Inc.} and Plato and Doe, Jane and "
          r"{World Health Organization}}, title = {Annual report}, doi = {10.5555/bn}}")
CSL = json.dumps([{"id": "k", "type": "book", "title": "Annual report", "DOI": "10.5555/annual",
                   "author": [{"given": "Plato"}, {"literal": "Barnes and Noble, Inc."},
                              {"family": "Doe", "given": "Jane"},
                              {"literal": "World Health Organization"}]}])


def _export(entry, fmt: str) -> str:
    buf = io.StringIO()
    export_works([entry.work()], buf, fmt)
    return buf.getvalue()


def test_a_braced_corporate_author_with_commas_is_one_name_in_every_export():
    (entry,), _ = parse_bibliography(BIBTEX, "bibtex")
    assert entry.record["author"] == [BN, {"family": "Plato"}, DOE, WHO]
    bib = _export(entry, "bibtex")
    assert ('author = "{Barnes and Noble, Inc.} and Plato and Doe, Jane and '
            '{World Health Organization}"') in bib
    ris = _export(entry, "ris")
    # EndNote's mark for a name that is not "Family, Given": a trailing comma
    assert [line for line in ris.splitlines() if line.startswith("AU")] == [
        "AU  - Barnes and Noble, Inc.,", "AU  - Plato", "AU  - Doe, Jane",
        "AU  - World Health Organization"]
    csl = json.loads(_export(entry, "csl-json"))[0]["author"]
    assert csl == [{"literal": "Barnes and Noble, Inc."}, {"family": "Plato"},
                   {"family": "Doe", "given": "Jane"}, {"literal": "World Health Organization"}]
    for fmt in ("bibtex", "csl-json"):
        (again,), _ = parse_bibliography(_export(entry, fmt), fmt)
        assert again.record["author"] == entry.record["author"], fmt
    (again,), _ = parse_bibliography(ris, "ris")
    assert again.record["author"] == [BN, {"name": "Plato"}, DOE, WHO]


def test_csl_names_with_only_given_or_only_literal_are_whole_names_in_every_export():
    (entry,), _ = parse_bibliography(CSL, "csl-json")
    people = [{"name": "Plato"}, BN, DOE, WHO]
    assert entry.record["author"] == people
    bib = _export(entry, "bibtex")
    assert ('author = "{Plato} and {Barnes and Noble, Inc.} and Doe, Jane and '
            '{World Health Organization}"') in bib
    ris = _export(entry, "ris")
    assert [line for line in ris.splitlines() if line.startswith("AU")] == [
        "AU  - Plato", "AU  - Barnes and Noble, Inc.,", "AU  - Doe, Jane",
        "AU  - World Health Organization"]
    assert json.loads(_export(entry, "csl-json"))[0]["author"] == [
        {"literal": "Plato"}, {"literal": "Barnes and Noble, Inc."},
        {"family": "Doe", "given": "Jane"}, {"literal": "World Health Organization"}]
    for fmt in ("bibtex", "ris", "csl-json"):
        (again,), _ = parse_bibliography(_export(entry, fmt), fmt)
        assert again.record["author"] == people, fmt


@pytest.mark.parametrize(("name", "person"), [
    (r"{\"O}zt{\"u}rk", {"family": "Öztürk"}),  # braces for accents are not a whole name
    (r"{\"O}zt{\"u}rk, Ay{\c{s}}e", {"family": "Öztürk", "given": "Ayşe"}),
    (r"{Plato}", {"name": "Plato"}),
    (r"{{\'E}cole Normale Sup{\'e}rieure}", {"name": "École Normale Supérieure"}),
])
def test_only_a_name_wholly_in_braces_is_kept_whole(name, person):
    (entry,), _ = parse_bibliography(f"@book{{k, author = {{{name}}}, title = {{T}}}}", "bibtex")
    assert entry.record["author"] == [person]
