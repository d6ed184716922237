"""The package's shape: a light import, public names in __init__, no private names shared."""

from __future__ import annotations

import ast
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


def _own_modules() -> list[Path]:
    # The core modules and the CLI; the packages (workflow, verify, export, standin) follow
    # the same rule under their own owners.
    return sorted(SRC.glob("_*.py")) + sorted((SRC / "cli").glob("*.py"))


def is_module(here: Path, node: ast.ImportFrom, name: str) -> bool:
    """``from . import _match``: a private module, not a private name (``__version__`` is
    public by convention)."""
    base = here
    for _ in range(node.level - 1):
        base = base.parent
    for part in (node.module or "").split(".") if node.module else []:
        base = base / part
    return name == "__version__" or (base / f"{name}.py").exists()


def test_no_private_name_is_imported_from_another_module():
    offenders = []
    for path in _own_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                offenders += [f"{path.relative_to(SRC)}: {a.name} from {node.module}" for a in node.names
                              if a.name.startswith("_") and not is_module(path.parent, node, a.name)]
    assert offenders == []


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


def test_every_third_party_import_is_a_declared_dependency():
    import re

    declared = set()
    pyproject = (SRC.parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    deps = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    for spec in re.findall(r'^\s*"([A-Za-z0-9_.\-]+)', deps, re.MULTILINE):
        declared.add(spec.lower().replace("-", "_"))
    imported = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "refkeeper"}
    assert third_party - declared == set()
