"""Every distribution in the repository is installed by README's set-up command and tested by nox."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def distribution_folders() -> list[Path]:
    return sorted(p.parent for group in ("plugins", "teams", "skills") for p in (REPO / group).glob("*/pyproject.toml"))


def test_requirements_dev_installs_every_distribution():
    lines = {line.strip() for line in (REPO / "requirements-dev.txt").read_text().splitlines()}
    missing = [str(p.relative_to(REPO)) for p in distribution_folders() if f"-e ./{p.relative_to(REPO)}" not in lines]
    assert not missing, f"add these to requirements-dev.txt: {missing}"


def test_each_distribution_is_a_proper_plugin():
    for folder in distribution_folders():
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        assert project["name"].startswith("nanofolks-"), folder
        depends_on_core = any(dep.startswith("nanofolks-core>=") for dep in project["dependencies"])
        assert depends_on_core, f"{folder}: depend on the core"
        entry = project["entry-points"]["nanofolks.plugins"]
        assert len(entry) == 1, f"{folder}: one entry point per distribution"
        assert "nanofolks" in project.get("keywords", []), f"{folder}: keywords tell plugins list its kinds"
        assert list((folder / "tests").glob("test_*.py")), f"{folder}: has no tests"
