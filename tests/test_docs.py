"""docs/hooks.md and the hookspecs agree, and every hook has a test (datasette's rule)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from nanofolks_core import hookspecs

REPO = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name in vars(hookspecs) if name.startswith("nanofolks_"))


def test_every_hook_is_documented_with_its_exact_signature():
    doc = (REPO / "docs" / "hooks.md").read_text()
    for name in HOOKS:
        assert f"### `{name}`" in doc, f"{name} has no heading in docs/hooks.md"
        signature = f"{name}{inspect.signature(getattr(hookspecs, name))}".replace("'", "")
        assert signature in doc, f"docs/hooks.md shows a different signature for {name}: expected {signature}"
    documented = set(re.findall(r"^### `(nanofolks_\w+)`", doc, flags=re.M))
    assert documented == set(HOOKS), f"docs/hooks.md documents hooks that do not exist: {documented - set(HOOKS)}"


def test_every_hook_has_a_test():
    test_files = [
        *REPO.glob("tests/**/*.py"),
        *REPO.glob("plugins/*/tests/*.py"),
        *REPO.glob("teams/*/tests/*.py"),
        *REPO.glob("skills/*/tests/*.py"),
        *REPO.glob("tests/fixtures/**/*.py"),
    ]
    text = "\n".join(p.read_text() for p in test_files if p.name != "test_docs.py")
    untested = [name for name in HOOKS if name not in text]
    assert not untested, f"hooks without a test: {untested}"
