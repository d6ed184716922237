"""The package keeps the shape issue 9 gave it; each test lists every place that breaks it.

Read from the source with ``ast`` (nothing is executed but the package imports that
check ``__all__``):

- private modules, public names: no ``_name`` is imported from another module, a
  package's modules are imported from the package (its ``__init__``) by other packages,
  and only the top-level ``refkeeper/_x.py`` core modules may be imported anywhere;
- every package has an ``__init__.py`` whose ``__all__`` names all exist, and every other
  module in it is private (``_name.py``);
- every third-party import is a declared dependency;
- only the edges (``cli/``, ``web/``) read the environment;
- the Crossref stand-in is test support, not part of the package.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from conftest import ROOT

SRC = ROOT / "src"
PACKAGE = SRC / "refkeeper"
# The edges: the only modules that may read os.environ (issue 9).
EDGES = ("refkeeper.cli", "refkeeper.web")
ENVIRONMENT_READERS = {"environ", "environb", "getenv", "getenvb"}


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. "refkeeper.export._bibtex"; a package is named by its __init__
    path: Path
    package: str  # the package it belongs to: its own name for an __init__
    tree: ast.Module

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(SRC)}:{node.lineno}"


def source_modules() -> list[Module]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
            package = ".".join(parts)
        else:
            package = ".".join(parts[:-1])
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        modules.append(Module(".".join(parts), path, package, tree))
    return modules


MODULES = source_modules()
MODULE_NAMES = {m.name for m in MODULES}
PACKAGES = {m.name for m in MODULES if m.path.name == "__init__.py"}


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def absolute(module: Module, node: ast.ImportFrom) -> str:
    """The dotted module a ``from ... import`` reads from, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = module.package.split(".")
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imported_modules(module: Module) -> list[tuple[ast.AST, str]]:
    """(node, dotted name) of every refkeeper module an import statement loads by name."""
    found = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found += [(node, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, node)
            found.append((node, source))
            # `from pkg import _mod` loads a module too
            found += [(node, f"{source}.{a.name}") for a in node.names
                      if f"{source}.{a.name}" in MODULE_NAMES]
    return [(n, name) for n, name in found if name in MODULE_NAMES]


def package_of(name: str) -> str:
    return name if name in PACKAGES else name.rpartition(".")[0]


def test_no_private_name_is_imported_from_another_module():
    # `from ._common import _check`: if two modules need it, it is public in a private module.
    violations = []
    for module in MODULES:
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = absolute(module, node)
            if source.split(".")[0] != "refkeeper":
                continue
            for alias in node.names:
                if is_private(alias.name) and f"{source}.{alias.name}" not in MODULE_NAMES:
                    violations.append(f"{module.where(node)} {alias.name} (from {source})")
    assert not violations, "private names imported across modules:\n" + "\n".join(violations)


def test_other_packages_import_a_package_from_its_init_only():
    # `from ..export._bibtex import x` reaches into another package; `from ..export import x`
    # does not. The top-level core modules (refkeeper/_store.py, ...) are for everyone.
    violations = []
    for module in MODULES:
        for node, name in imported_modules(module):
            owner = package_of(name)
            if name == owner or owner == "refkeeper" or owner == module.package:
                continue
            violations.append(
                f"{module.where(node)} {name} (a module of {owner}: import from {owner})"
            )
    assert not violations, "modules of another package imported:\n" + "\n".join(violations)


def test_every_module_in_a_package_is_private():
    public = [
        f"{m.path.relative_to(SRC)} (rename to _{m.path.name})"
        for m in MODULES
        if m.path.name not in ("__init__.py", "__main__.py") and not m.path.name.startswith("_")
    ]
    assert not public, "public module files (their names belong in __init__):\n" + "\n".join(public)


def test_every_directory_of_modules_is_a_package():
    missing = sorted(
        str(d.relative_to(SRC)) for d in {p.parent for p in PACKAGE.rglob("*.py")}
        if not (d / "__init__.py").is_file()
    )
    assert not missing, "directories of modules without __init__.py:\n" + "\n".join(missing)


def test_every_package_lists_its_public_names_in_all_and_they_exist():
    problems = []
    for name in sorted(PACKAGES):
        init = next(m for m in MODULES if m.name == name)
        if not any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in n.targets)
                   for n in init.tree.body):
            problems.append(f"{init.path.relative_to(SRC)}: no __all__")
            continue
        package = importlib.import_module(name)
        names = list(package.__all__)
        problems += [f"{init.path.relative_to(SRC)}: {n!r} listed twice in __all__"
                     for n in sorted({n for n in names if names.count(n) > 1})]
        problems += [f"{init.path.relative_to(SRC)}: __all__ lists {n!r}, which it does not define"
                     for n in names if not hasattr(package, n)]
        problems += [f"{init.path.relative_to(SRC)}: __all__ lists private {n!r}"
                     for n in names if is_private(n)]
    assert not problems, "packages and their __all__:\n" + "\n".join(problems)


def declared_dependencies() -> set[str]:
    """The normalised distribution names of pyproject.toml's [project] dependencies."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the installed metadata says the same
        specs = [r for r in importlib.metadata.requires("refkeeper") or [] if "extra ==" not in r]
    else:
        specs = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {normalise(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", s.strip()).group()) for s in specs}


def normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def test_every_third_party_import_is_a_declared_dependency():
    # A package that is only there because a dependency pulls it in (latexcodec under
    # pybtex, say) can go away with that dependency's next release.
    declared = declared_dependencies()
    providers = importlib.metadata.packages_distributions()
    violations = []
    for module in MODULES:
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                tops = [(node.module or "").split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top in ("refkeeper", "__future__"):
                    continue
                dists = sorted({normalise(d) for d in providers.get(top, [])})
                if not set(dists) & declared:
                    given_by = f"installed from {', '.join(dists)}" if dists else "not installed"
                    violations.append(f"{module.where(node)} {top} ({given_by}; not in dependencies)")
    assert not violations, "undeclared third-party imports:\n" + "\n".join(violations)


def test_only_the_edges_read_the_environment():
    # Library constructors take explicit keyword arguments; cli/ (and web/) read REFKEEPER_*.
    violations = []
    for module in MODULES:
        if module.name.startswith(EDGES):
            continue
        os_names = {a.asname or a.name for n in ast.walk(module.tree) if isinstance(n, ast.Import)
                    for a in n.names if a.name == "os"}
        for node in ast.walk(module.tree):
            if (isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_READERS
                    and isinstance(node.value, ast.Name) and node.value.id in os_names):
                violations.append(f"{module.where(node)} {node.value.id}.{node.attr}")
            elif isinstance(node, ast.ImportFrom) and node.module == "os" and not node.level:
                violations += [f"{module.where(node)} from os import {a.name}"
                               for a in node.names if a.name in ENVIRONMENT_READERS]
    assert not violations, "the environment read outside cli/ and web/:\n" + "\n".join(violations)


def test_the_crossref_stand_in_is_not_part_of_the_package():
    assert not (PACKAGE / "standin").exists(), "the stand-in lives in tests/support/standin"
    violations = []
    for module in MODULES:
        for node in ast.walk(module.tree):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [absolute(module, node)] if isinstance(node, ast.ImportFrom)
                else []
            )
            violations += [f"{module.where(node)} {n}" for n in names
                           if n.split(".")[0] == "standin" or n.startswith("refkeeper.standin")]
    assert not violations, "the package imports the stand-in:\n" + "\n".join(violations)
