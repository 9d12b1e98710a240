"""The core's shape: no import cycles between its modules, and no module a reader cannot hold in mind.

Cycles are found from each module's top-level ``from nanofolks_core... import`` / ``import
nanofolks_core...`` statements; imports under ``if TYPE_CHECKING:``, under
``if __name__ == "__main__":`` and inside functions are left out (they run late, so they are how
a module legitimately reaches a dependent).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nanofolks_core"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _runs_late(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` (never at run time) or ``if __name__ == "__main__":`` (not on import)."""
    if isinstance(test, ast.Name | ast.Attribute):
        return getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def top_level_imports(tree: ast.Module, name: str, is_package: bool, known: set[str]) -> set[str]:
    """Modules of the core that ``name`` imports when it is imported."""
    found: set[str] = set()

    def resolve(target: str) -> str | None:
        # The nearest module that exists: ``a.b.c`` may name an attribute of ``a.b``.
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If):
                if not _runs_late(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                    visit(block)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("nanofolks_core"):
                        found.add(resolve(alias.name))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                if not base.startswith("nanofolks_core"):
                    continue
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    found.add(submodule if submodule in known else resolve(base))

    visit(tree.body)
    found.discard(None)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {
        name: top_level_imports(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py", known)
        for name, path in mods.items()
    }


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One example cycle per strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
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

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def test_the_cycle_finder_finds_a_cycle_and_ignores_late_imports():
    source = (
        "from typing import TYPE_CHECKING\n"
        "from nanofolks_core.b import thing\n"
        "if TYPE_CHECKING:\n    from nanofolks_core.c import Other\n"
        "def late():\n    from nanofolks_core.c import x\n"
        "if __name__ == '__main__':\n    from nanofolks_core.c import main\n"
    )
    known = {"nanofolks_core.a", "nanofolks_core.b", "nanofolks_core.c"}
    edges = top_level_imports(ast.parse(source), "nanofolks_core.a", False, known)
    assert edges == {"nanofolks_core.b"}
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_inside_nanofolks_core():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles (break them with a third module for what both need): " + "; ".join(
        " <-> ".join(group) for group in cycles
    )


def test_pipeline_and_crew_modules_import_what_they_should():
    graph = import_graph()
    assert "nanofolks_core.builtins.core" not in graph["nanofolks_core.crew.team"]
    assert "nanofolks_core.crew.identity" not in graph["nanofolks_core.crew.team"]
    assert not any(target.startswith("nanofolks_core.pipeline") for target in graph["nanofolks_core.llm"])
    assert "nanofolks_core.crew.crew" not in graph["nanofolks_core.pipeline.turn"]  # no back-reference


def test_no_module_over_400_lines():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
    too_long = sorted((lines, name) for name, lines in sizes.items() if lines > MAX_LINES)
    assert not too_long, f"modules over {MAX_LINES} lines (split them by responsibility): " + ", ".join(
        f"{name} ({lines})" for lines, name in too_long
    )


def test_roles_and_teams_import_without_the_pipeline():
    """``nanofolks_core.crew`` is imported by cheap commands (team list, rooms); the Crew class and
    the pipeline behind it load only when a command runs a turn."""
    import subprocess
    import sys

    code = (
        "import sys, nanofolks_core.crew.roles, nanofolks_core.crew;"
        "print(sorted(m for m in sys.modules if m.startswith(('nanofolks_core.pipeline', 'nanofolks_core.crew.crew'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = "import nanofolks_core.crew as c; from nanofolks_core.crew.crew import Crew; print(c.Crew is Crew)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "True\n"
