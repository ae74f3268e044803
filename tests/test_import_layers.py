"""The modules of moss_ref import each other without cycles, and the layers show in the folders.

Every ``import`` statement of every module counts — at module level, inside functions and under
``if TYPE_CHECKING:`` — so a cycle cannot hide behind a late import, and importing
``a.b.c`` counts as importing the packages ``a.b`` and ``a`` too (their ``__init__`` runs first).
Layers, bottom to top: the core modules, ``moss_ref.stores``, sessions and the client with its cloud
API, then ``moss_ref.server`` and ``moss_ref.cli``; nothing imports a layer above its own.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "moss_ref"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _with_parents(name: str) -> list[str]:
    """``name`` and the packages above it except ``moss_ref`` itself, whose ``__init__`` always runs first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts) + 1)] or [name]


def _imports(name: str, path: Path) -> tuple[set[str], list[str]]:
    """moss_ref modules ``name`` imports (with their parent packages), and imports found inside functions."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    nested: list[str] = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inside = {id(n) for f in functions for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        targets = [t for t in targets if t in MODULES]
        if targets and id(node) in inside:
            nested.extend(targets)
        for target in targets:
            # a package's own modules may import each other while its __init__ runs
            found.update(p for p in _with_parents(target) if p in MODULES and not (name + ".").startswith(p + "."))
        found.discard(name)
    return found, nested


GRAPH = {name: _imports(name, path)[0] for name, path in MODULES.items()}


def _cycle() -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(GRAPH):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_no_import_cycles_between_moss_ref_modules() -> None:
    """Issue 10: _client, _session, _cloud and _jobs (and everything else) form no import cycle."""
    assert "moss_ref._client" in GRAPH and "moss_ref._jobs" in GRAPH
    assert _cycle() == [], " -> ".join(_cycle())


def test_no_function_level_imports_of_moss_ref_modules() -> None:
    """A late import only dodges a cycle; moss_ref imports its own modules at the top."""
    late = {name: _imports(name, path)[1] for name, path in MODULES.items()}
    assert {name: found for name, found in late.items() if found} == {}


#: What sessions and clients are made of; the stores sit below them and never import them.
CLIENT_LEVEL = {
    "moss_ref",
    "moss_ref._client",
    "moss_ref._cloud",
    "moss_ref._disk",
    "moss_ref._jobs",
    "moss_ref._loaded",
    "moss_ref._session",
    "moss_ref._snapshot",
    "moss_ref._unsupported",
    "moss_ref.demo",
    "moss_ref.plugins",
}
TOP_LEVEL = ("moss_ref.server", "moss_ref.cli")


def test_layers_only_import_downwards() -> None:
    """Stores never import the client's modules; nothing below the service imports the service or the CLI."""
    upward = set()
    for name, targets in GRAPH.items():
        for target in targets:
            if name.startswith("moss_ref.stores") and target in CLIENT_LEVEL:
                upward.add((name, target))
            if not name.startswith(TOP_LEVEL) and target.startswith(TOP_LEVEL):
                upward.add((name, target))
    assert upward == set()


#: The modules the issue named, and the ones most likely to grow a cycle (importing them first).
FIRST_IMPORTS = ("moss_ref._client", "moss_ref._session", "moss_ref._cloud", "moss_ref._jobs", "moss_ref.stores.base")


#: ``__main__`` modules run the command line when imported, so they are not imported here; the
#: import graph above still covers their imports.
SERVER_MODULES = [m for m in MODULES if m.startswith("moss_ref.server.") and not m.endswith("__main__")]


@pytest.mark.parametrize("name", [*FIRST_IMPORTS, *SERVER_MODULES])
def test_these_modules_import_first_in_a_fresh_interpreter(name: str) -> None:
    """Imported before anything else of moss_ref, each works (a cycle breaks the one imported first)."""
    done = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
