"""No import cycles among the cdp modules (the generated stubs in cdp.api aside).

Every import statement counts, wherever it stands: one inside a function or under TYPE_CHECKING
defers a cycle, it does not remove it. Importing a.b.c also imports the packages a.b and a, so it is
an edge to those too; the packages above a module are imported before it and are no edge of its own.
Cycles are looked for between modules, and between packages (each module counted as its package:
cdp.cli.up as cdp.cli), so that cdp.cli and cdp.bench, say, cannot lean on each other through
different modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"
SKIPPED = "cdp.api"


def modules(root: Path = SERVICES) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, whether it is a package's __init__)."""
    found = {}
    for path in sorted((root / "cdp").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if package else parts)
        if name != SKIPPED and not name.startswith(SKIPPED + "."):
            found[name] = (path, package)
    return found


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph(found: dict[str, tuple[Path, bool]]) -> dict[str, set[str]]:
    """Module -> the modules among `found` that it imports."""

    def known(name: str) -> str | None:  # a.b.C (a name from module a.b) is a.b
        while name and name not in found:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, (path, package) in found.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name if package else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                targets.update(f"{base}.{a.name}" for a in node.names)
                targets.add(base)
        edges = set()
        for target in targets:
            module = known(target)
            if module is not None:
                edges.update(a for a in [*_ancestors(module), module] if a in found)
        graph[name] = edges - {name, *_ancestors(name)}
    return graph


def package_graph(graph: dict[str, set[str]], found: dict[str, tuple[Path, bool]]) -> dict[str, set[str]]:
    def package(name: str) -> str:
        return name if found[name][1] else name.rpartition(".")[0]

    packages: dict[str, set[str]] = {}
    for name, edges in graph.items():
        own = package(name)
        packages.setdefault(own, set()).update(p for p in map(package, edges) if p != own and p not in _ancestors(own))
    return packages


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def describe(component: list[str], graph: dict[str, set[str]]) -> str:
    return "; ".join(f"{a} -> {', '.join(sorted(graph[a] & set(component)))}" for a in component)


FOUND = modules()
GRAPH = import_graph(FOUND)


def test_the_modules_and_their_imports_are_read():
    assert "cdp.platform.policy.engine" in FOUND and "cdp.cli.bench" in FOUND
    assert not any(name.startswith("cdp.api") for name in FOUND)
    assert "cdp.bench.report" in GRAPH["cdp.cli.bench"]  # a top-level import
    assert "cdp.bench.pipeline" in GRAPH["cdp.cli.bench"]  # one inside a function
    assert "cdp.bench" in GRAPH["cdp.cli.bench"]  # the package it comes from


def test_no_import_cycle_between_modules():
    assert [describe(c, GRAPH) for c in cycles(GRAPH)] == []


def test_no_import_cycle_between_packages():
    packages = package_graph(GRAPH, FOUND)
    assert {"cdp.cli", "cdp.bench", "cdp.platform.policy"} <= set(packages)
    assert [describe(c, packages) for c in cycles(packages)] == []


def test_a_cycle_is_found(tmp_path: Path):
    files = {
        "cdp/__init__.py": "",
        "cdp/cli/__init__.py": "",
        "cdp/cli/up.py": "def ensure():\n    pass\n",
        "cdp/cli/bench.py": "from cdp.bench.ingest import run\n",
        "cdp/bench/__init__.py": "",
        "cdp/bench/ingest.py": "def run():\n    from cdp.cli.up import ensure\n",
        "cdp/platform/__init__.py": "",
        "cdp/platform/policy/__init__.py": "from .engine import make\n",
        "cdp/platform/policy/engine.py": "def make():\n    from . import regorus\n",
        "cdp/platform/policy/regorus.py": "import typing\nif typing.TYPE_CHECKING:\n    from .engine import make\n",
        "cdp/api/__init__.py": "",
        "cdp/api/x.py": "import cdp.api.y\n",
        "cdp/api/y.py": "import cdp.api.x\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = modules(tmp_path)
    graph = import_graph(found)
    assert cycles(graph) == [["cdp.platform.policy.engine", "cdp.platform.policy.regorus"]]
    assert cycles(package_graph(graph, found)) == [["cdp.bench", "cdp.cli"]]
