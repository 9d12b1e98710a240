"""The example plugin in docs/plugin-authoring.md, built only from the doc, really works."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FILE_BLOCK = re.compile(r"File: `([^`]+)`\n\n```[a-z]*\n(.*?)```", re.S)


def write_example(target: Path) -> Path:
    doc = (REPO / "docs" / "plugin-authoring.md").read_text()
    files = FILE_BLOCK.findall(doc)
    assert len(files) >= 5, "the guide should spell out every file of the example plugin"
    for rel, body in files:
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return target / "nanofolks-hello"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """(project folder, site folder): the guide's files written out and pip-installed."""
    root = tmp_path_factory.mktemp("hello")
    project = write_example(root / "src")
    site = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(site),
            str(project),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return project, site


def test_example_plugin_from_the_guide_installs_lists_and_runs(installed_example, home, nanofolks_proc):
    _project, site = installed_example

    listed = nanofolks_proc(["plugins", "list", "--json"], home, extra_path=site)
    row = {r["name"]: r for r in json.loads(listed.out)}["hello"]
    assert row["state"] == "enabled"
    assert row["distribution"] == "nanofolks-hello"
    assert row["kinds"] == ["command", "config-section", "secret-pattern"]

    (home / "config.json").write_text(json.dumps({"hello": {"name": "Ada", "exclamations": 3}}))
    assert nanofolks_proc(["hello"], home, extra_path=site).out.strip() == "Hello, Ada!!!"
    info = json.loads(nanofolks_proc(["plugins", "info", "hello", "--json"], home, extra_path=site).out)
    assert "nanofolks_before_llm_call" in info["hooks"]

    (home / "config.json").write_text(json.dumps({"hello": {"nmae": "Ada"}}))
    bad = nanofolks_proc(["hello"], home, extra_path=site)
    assert bad.code == 2 and "hello.nmae: unknown key (did you mean 'name'?)" in bad.err


def test_example_plugin_tests_from_the_guide_pass(installed_example):
    project, site = installed_example
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project / "tests")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=project,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
