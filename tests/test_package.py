"""The package's shape: a light import, public names in __init__, no private names shared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import refkeeper
from refkeeper import InputError, parse_doi

SRC = Path(__file__).resolve().parent.parent / "src" / "refkeeper"
HEAVY = ("pybtex", "rispy", "latexcodec", "refkeeper.workflow", "refkeeper.verify", "refkeeper.export",
         "refkeeper.bibimport")


def loaded_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys\nprint('\\n' + ' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFKEEPER_")}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()[-1].split() if proc.stdout.strip() else []


def test_import_refkeeper_loads_neither_the_exporters_nor_the_workflow():
    assert loaded_after("import refkeeper") == []


def test_refkeeper_help_loads_neither_the_exporters_nor_the_workflow():
    code = ("from refkeeper.cli import cli\n"
            "try:\n    cli(['--help'], prog_name='refkeeper')\nexcept SystemExit:\n    pass")
    assert loaded_after(code) == []


def test_the_lazy_names_load_on_first_use():
    assert loaded_after("from refkeeper import export_works") == ["pybtex", "latexcodec", "refkeeper.export"]
    assert "rispy" in loaded_after("from refkeeper import read_bibliography")
    assert "refkeeper.workflow" in loaded_after("import refkeeper\nrefkeeper.workflow.link")


def test_every_public_name_is_importable_from_the_package():
    for name in refkeeper.__all__:
        assert getattr(refkeeper, name) is not None, name
    from refkeeper import Resolver, Store, export_works, verify, workflow  # noqa: F401

    assert callable(verify.verify) and callable(workflow.link)
    with pytest.raises(AttributeError):
        refkeeper.no_such_name  # noqa: B018


@pytest.mark.parametrize("written", [
    "10.1007/s00776-007-1126-1", "10.1007/S00776-007-1126-1", "doi:10.1007/s00776-007-1126-1",
    "https://doi.org/10.1007/s00776-007-1126-1", " http://dx.doi.org/10.1007/s00776-007-1126-1. ",
])
def test_a_doi_is_read_in_every_form_people_write_it(written):
    assert parse_doi(written) == "10.1007/s00776-007-1126-1"


def test_parentheses_that_belong_to_a_doi_are_kept():
    assert parse_doi("(10.1016/S0140-6736(05)67402-8)") == "10.1016/s0140-6736(05)67402-8"


@pytest.mark.parametrize("text", ["", "not a doi", "11.1007/x", "10.12/too-short-prefix", "doi:"])
def test_text_without_a_doi_is_an_input_error_with_exit_code_2(text):
    with pytest.raises(InputError, match="not a DOI") as caught:
        parse_doi(text)
    assert caught.value.exit_code == 2
