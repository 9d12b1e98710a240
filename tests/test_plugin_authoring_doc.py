"""The example plugins in docs/, built only from the docs, really work.

* docs/plugin-authoring.md: nanofolks-hello, installed, listed, run, and its tests pass;
* docs/writing-a-tool.md + docs/testing-your-plugin.md: nanofolks-handy (both tool forms) and
  its tests, including the full chat tests against the local LLM server, pass;
* docs/writing-a-channel.md: its code is exactly what `nanofolks plugins new relay --kind channel` writes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FILE_BLOCK = re.compile(r"File: `([^`]+)`\n\n```[a-z]*\n(.*?)```", re.S)


def doc_files(*pages: str) -> list[tuple[str, str]]:
    """``(relative path, text)`` of every ``File: `path` `` block in these docs/ pages."""
    return [pair for page in pages for pair in FILE_BLOCK.findall((REPO / "docs" / page).read_text())]


def write_example(target: Path, *pages: str, project: str = "nanofolks-hello", min_files: int = 5) -> Path:
    files = doc_files(*(pages or ("plugin-authoring.md",)))
    assert len(files) >= min_files, "the guide should spell out every file of the example plugin"
    for rel, body in files:
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return target / project


def pip_install_into(project: Path, site: Path) -> None:
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


def run_tests(project: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project / "tests")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=project,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """(project folder, site folder): the guide's files written out and pip-installed."""
    root = tmp_path_factory.mktemp("hello")
    project = write_example(root / "src")
    site = root / "site"
    pip_install_into(project, site)
    return project, site


def test_example_plugin_from_the_guide_installs_lists_and_runs(installed_example, home, nanofolks_proc):
    _project, site = installed_example

    listed = nanofolks_proc(["plugins", "list", "--json"], home, extra_path=site)
    row = {r["name"]: r for r in json.loads(listed.out)}["hello"]
    assert row["state"] == "enabled"
    assert row["distribution"] == "nanofolks-hello"
    assert row["kinds"] == ["command", "config-section", "events", "secret-pattern"]

    (home / "config.json").write_text(json.dumps({"hello": {"name": "Ada", "exclamations": 3}}))
    assert nanofolks_proc(["hello"], home, extra_path=site).out.strip() == "Hello, Ada!!!"
    info = json.loads(nanofolks_proc(["plugins", "info", "hello", "--json"], home, extra_path=site).out)
    assert "nanofolks_before_llm_call" in info["hooks"]

    (home / "config.json").write_text(json.dumps({"hello": {"nmae": "Ada"}}))
    bad = nanofolks_proc(["hello"], home, extra_path=site)
    assert bad.code == 2 and "hello.nmae: unknown key (did you mean 'name'?)" in bad.err


def test_example_plugin_tests_from_the_guide_pass(installed_example):
    project, site = installed_example
    proc = run_tests(project, site)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout


def test_the_tool_guide_plugin_and_the_testing_guide_chat_tests_pass(tmp_path):
    project = write_example(
        tmp_path / "src", "writing-a-tool.md", "testing-your-plugin.md", project="nanofolks-handy", min_files=6
    )
    assert (project / "tests" / "test_chat.py").exists(), "the testing guide's chat test was not extracted"
    pip_install_into(project, tmp_path / "site")
    proc = run_tests(project, tmp_path / "site")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "7 passed" in proc.stdout, proc.stdout


def test_the_channel_guide_shows_exactly_what_plugins_new_writes():
    from nanofolks_core.scaffold import Names, render

    generated = render(Names.parse("relay", "channel"))
    shown = doc_files("writing-a-channel.md")
    assert len(shown) == 3
    for rel, body in shown:
        inner = rel.removeprefix("nanofolks-relay/")
        assert body == generated[inner], f"docs/writing-a-channel.md differs from `plugins new` in {inner}"
