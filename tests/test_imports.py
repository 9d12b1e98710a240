"""Discovery and listing must not import any heavy dependency (ARCHITECTURE §2)."""

from __future__ import annotations

import subprocess
import sys

from nanofolks_core.testing.checks import heavy_modules_after


def _imported_after(commands: list[list[str]], home) -> list[str]:
    return heavy_modules_after(commands, {"NANOFOLKS_HOME": str(home), "PATH": "/usr/bin:/bin"})


def test_version_list_and_help_import_no_heavy_dependency(tmp_path):
    commands = [
        ["--version"],
        ["plugins", "list", "--all"],
        ["plugins", "list", "--json"],
        ["--help"],
        ["config", "lint"],
        ["plugins", "info", "core"],
    ]
    assert _imported_after(commands, tmp_path) == []


def test_every_installed_plugin_loads(tmp_path):
    """All in-repo plugins installed by the README set-up command load without failure."""
    import json

    proc = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", "plugins", "list", "--all", "--json"],
        capture_output=True,
        text=True,
        env={"NANOFOLKS_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    rows = json.loads(proc.stdout)
    assert [r["name"] for r in rows if r["state"] != "enabled"] == []
