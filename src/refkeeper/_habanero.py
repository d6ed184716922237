"""The only module that touches habanero: Crossref query parameters built with its helpers.

habanero spells field queries and filters the Pythonic way (``query_author``,
``from_pub_date``, ``award_funder``) and knows Crossref's list of valid field queries;
its helpers turn those into Crossref's parameter syntax. They are internals of
habanero 2.9.2 (not its documented API) and 2.10 renames ``filter`` to ``filters``, so
they are imported here and nowhere else, and tests/test_habanero.py pins the exact
strings they build: an upgrade that moves or changes them fails there, loudly.
"""

from __future__ import annotations

from collections.abc import Mapping

from habanero.field_queries import validate_field_queries
from habanero.filterhandler import filter_handler
from habanero.habanero_utils import rename_query_filters

from ._errors import InputError


def query_params(field_queries: Mapping[str, str], filters: Mapping | None = None) -> dict[str, str]:
    """Crossref ``/works`` parameters for habanero-spelt field queries and filters.

    ``{"query_author": "Murakami"}, {"from_pub_date": "2007"}`` gives
    ``{"query.author": "Murakami", "filter": "from-pub-date:2007"}``. A field query
    Crossref does not have is an ``InputError``, before any request is sent.
    """
    params: dict[str, str] = rename_query_filters(dict(field_queries))
    try:
        validate_field_queries(list(params) or None)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if filters:
        # filter_handler rewrites booleans in the dict it is given: hand it a copy.
        params["filter"] = filter_handler(dict(filters))
    return params
