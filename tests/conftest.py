"""Shared fixtures for the cross-package tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURE_PLUGINS = REPO / "tests" / "fixtures" / "plugins"


@attrs.frozen
class Run:
    code: int
    out: str
    err: str


def run_nanofolks(
    args: list[str], home: Path, *, extra_path: Path | None = None, env: dict | None = None, timeout: float = 120
) -> Run:
    """Run the real CLI in a fresh process, as a user would."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    environ["NANOFOLKS_HOME"] = str(home)
    if extra_path is not None:
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), environ.get("PYTHONPATH")]))
    environ.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def fixture_site(tmp_path_factory) -> Path:
    """The fixture plugin distributions, really installed with pip into a folder of their own."""
    target = tmp_path_factory.mktemp("fixture-site")
    dists = sorted(str(p) for p in FIXTURE_PLUGINS.iterdir() if (p / "pyproject.toml").exists())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            *dists,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return target


@pytest.fixture
def home(tmp_path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def nanofolks_proc():
    """``nanofolks_proc(args, home, extra_path=..., env=...)`` runs the CLI in a fresh process."""
    return run_nanofolks
