"""The import graph: what may depend on what (docs/architecture.md).

* `qldb_dr.local` is the emulator: no production module imports it — only its own modules,
  the `local` command that starts it (`qldb_dr.cli.local`), and tests.
* No import cycles: not between modules (imports inside functions count), nor between the
  top-level packages of `qldb_dr`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EMULATOR = "qldb_dr.local"
EMULATOR_ENTRY = {"qldb_dr.cli.local"}


def _modules() -> dict[str, Path]:
    modules = {}
    for root, base in ((REPO / "src", REPO / "src"), (REPO / "tasks", REPO)):
        for path in root.rglob("*.py"):
            name = ".".join(path.relative_to(base).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    return modules


MODULES = _modules()


def imports(path: Path) -> set[str]:
    """The project's modules `path` imports, anywhere in it (`from pkg import mod` is `pkg.mod`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{a.name}" for a in node.names} & MODULES.keys()
            names = {a.name for a in node.names}
            found |= submodules or {node.module}
            if names - {s.rsplit(".", 1)[1] for s in submodules}:
                found.add(node.module)
    return {m for m in found if m in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _edges(modules: Iterable[str]) -> dict[str, set[str]]:
    return {m: {i for i in imports(MODULES[m]) if i != m} for m in modules}


def test_nothing_in_production_imports_the_emulator() -> None:
    offenders = {
        module: sorted(i for i in imports(path) if i == EMULATOR or i.startswith(EMULATOR + "."))
        for module, path in MODULES.items()
        if not (module == EMULATOR or module.startswith(EMULATOR + ".")) and module not in EMULATOR_ENTRY
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_no_import_cycles_between_modules() -> None:
    assert _cycles(_edges(MODULES)) == []


def test_no_import_cycles_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    for module, targets in _edges(MODULES).items():
        graph.setdefault(_package(module), set()).update(
            _package(t) for t in targets if _package(t) != _package(module)
        )
    assert _cycles(graph) == []
