"""The code's structure: who may import whom, no import cycles, small modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("jobs", "media_pipeline", "project")
MAX_MODULE_LINES = 400


def _source_files() -> list[Path]:
    files = [*REPO.joinpath("jobs").rglob("*.py"), *REPO.joinpath("media_pipeline").rglob("*.py")]
    return sorted(path for path in files if "migrations" not in path.parts)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected groups of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


@pytest.fixture(scope="module")
def import_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("jobs", "media_pipeline")
    modules = {m for m in graph.modules if not m.startswith("jobs.migrations")}
    return {m: set(graph.find_modules_directly_imported_by(m)) & modules for m in modules}


def _domain(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "jobs" and len(parts) > 1 else parts[0]


def test_no_module_imports_itself_back(import_graph):
    assert _cycles(import_graph) == []


def test_domains_depend_one_way(import_graph):
    packages: dict[str, set[str]] = {}
    for module, targets in import_graph.items():
        source = _domain(module)
        packages.setdefault(source, set()).update(
            _domain(target) for target in targets if _domain(target) != source
        )
    assert _cycles(packages) == []


def test_the_cycle_check_finds_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_import_contracts_hold():
    """The contracts in pyproject.toml: a pure media_pipeline, layers, services below tasks."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_first_party_import_inside_a_function():
    """A function-level import would only hide a cycle from the checks above."""
    hidden = []
    for path in _source_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                if any(name.split(".")[0] in FIRST_PARTY for name in names):
                    hidden.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert hidden == []


def test_modules_stay_small():
    long = {
        str(path.relative_to(REPO)): lines
        for path in _source_files()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_every_domain_package_says_what_lives_there():
    packages = [p.parent for p in REPO.joinpath("jobs").rglob("__init__.py")]
    undocumented = [
        str(package.relative_to(REPO))
        for package in packages
        if "migrations" not in package.parts
        and "management" not in package.parts
        and ast.get_docstring(ast.parse(package.joinpath("__init__.py").read_text())) is None
    ]
    assert undocumented == []
