"""The in-repo plugins use the core only through ``nanofolks_core.api``, as any outside plugin must.

A plugin importing ``nanofolks_core.app`` or ``nanofolks_core.provider`` works today and breaks on the
next internal rename; this test fails first. Plugin tests may also use the testing kit, and nothing
else of the core: what a test needs from the core (``main``, ``build_config``, ``PluginHost`` ...)
the kit hands over.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_FOLDERS = ("plugins", "teams", "skills")
ALLOWED = {"nanofolks_core.api"}
ALLOWED_IN_TESTS = ALLOWED | {"nanofolks_core.testing"}


def plugin_sources() -> list[Path]:
    files = []
    for folder in PLUGIN_FOLDERS:
        base = ROOT / folder
        if base.is_dir():
            files += [p for p in base.rglob("*.py") if not {".venv", "build", "__pycache__"} & set(p.parts)]
    return sorted(files)


def is_test(path: Path) -> bool:
    return "tests" in path.relative_to(ROOT).parts or path.name.startswith("test_") or path.name == "conftest.py"


def core_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every import of ``nanofolks_core`` or a module under it, anywhere in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from nanofolks_core import app" imports the module nanofolks_core.app
            names = (
                [f"{node.module}.{alias.name}" for alias in node.names]
                if node.module == "nanofolks_core"
                else [node.module]
            )
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] == "nanofolks_core"]
    return found


def allowed(module: str, *, in_tests: bool) -> bool:
    return any(module == ok or module.startswith(ok + ".") for ok in (ALLOWED_IN_TESTS if in_tests else ALLOWED))


def test_plugins_import_only_the_public_api():
    sources = [path for path in plugin_sources() if not is_test(path)]
    assert len(sources) > 10, "the plugin sources were not found"
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sources
        for line, module in core_imports(path)
        if not allowed(module, in_tests=False)
    ]
    assert not offending, "plugins must import only nanofolks_core.api:\n" + "\n".join(offending)


def test_plugin_tests_import_only_the_api_and_the_testing_kit():
    tests = [path for path in plugin_sources() if is_test(path)]
    assert len(tests) > 10, "the plugin tests were not found"
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in tests
        for line, module in core_imports(path)
        if not allowed(module, in_tests=True)
    ]
    assert not offending, "plugin tests must import only nanofolks_core.api and nanofolks_core.testing:\n" + "\n".join(
        offending
    )


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("from nanofolks_core.app import App\n", ["nanofolks_core.app"]),
        ("from nanofolks_core import paths, api\n", ["nanofolks_core.paths"]),
        ("def f():\n    import nanofolks_core.provider as p\n", ["nanofolks_core.provider"]),
        ("from nanofolks_core.api import hookimpl\nimport nanofolks_core.api\n", []),
        ("from nanofolks_core.testing import FakeLLMServer\n", ["nanofolks_core.testing"]),
    ],
)
def test_the_check_catches_every_import_form(tmp_path, source, bad):
    path = tmp_path / "mod.py"
    path.write_text(source)
    assert [module for _, module in core_imports(path) if not allowed(module, in_tests=False)] == bad


def test_the_testing_kit_is_allowed_in_tests_only():
    assert allowed("nanofolks_core.testing.llm_server", in_tests=True)
    assert not allowed("nanofolks_core.testing.llm_server", in_tests=False)
    assert not allowed("nanofolks_core.config", in_tests=True)
