"""habanero's internal helpers, pinned: the exact Crossref parameters refkeeper sends.

refkeeper builds its queries with helpers of habanero 2.9.2 that are not habanero's
documented API. If an upgrade moves them or changes what they build, these fail first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from refkeeper import InputError
from refkeeper._habanero import query_params

SRC = Path(__file__).resolve().parent.parent / "src" / "refkeeper"


def test_a_bibliographic_search_is_one_query_parameter():
    text = "Murakami E et al. J Orthop Sci. 2007;12(3):274-80."
    assert query_params({"query_bibliographic": text}) == {"query.bibliographic": text}


def test_a_short_mention_becomes_an_author_query_and_a_one_year_filter():
    # What the resolver sends for "Murakami et al. (2007)" with its sentence.
    params = query_params(
        {"query_author": "Murakami", "query_bibliographic": "lidocaine injections sacroiliac"},
        {"from_pub_date": "2007", "until_pub_date": "2007"},
    )
    assert params == {
        "query.author": "Murakami",
        "query.bibliographic": "lidocaine injections sacroiliac",
        "filter": "from-pub-date:2007,until-pub-date:2007",
    }


def test_filters_spell_booleans_lists_and_dotted_names_as_crossref_does():
    filters = {"has_full_text": True, "type": ["journal-article", "book-chapter"],
               "award_funder": "10.13039/100000002", "license_url": "http://x.org/l"}
    assert query_params({}, filters) == {
        "filter": "has-full-text:true,type:journal-article,type:book-chapter,"
                  "award.funder:10.13039/100000002,license.url:http://x.org/l"
    }
    assert filters["has_full_text"] is True  # the caller's dict is left alone


def test_multi_word_field_queries_keep_crossrefs_hyphens():
    params = query_params({"query_container_title": "J Orthop Sci"})
    assert params == {"query.container-title": "J Orthop Sci"}


def test_a_field_query_crossref_does_not_have_is_an_input_error():
    with pytest.raises(InputError, match="query.nonsense"):
        query_params({"query_nonsense": "x"})


def test_habanero_is_imported_in_exactly_one_module():
    importers = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "habanero" or n.startswith("habanero.") for n in names):
                importers.add(str(path.relative_to(SRC)))
    assert importers == {"_habanero.py"}
