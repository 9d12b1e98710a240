"""`nanofolks doctor` without --repair only reads: no default room, no empty memory store, no lock files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _doctor(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NANOFOLKS_HOME": str(home)}
    for name in ("NANOFOLKS_DISABLE_PLUGINS", "NANOFOLKS_LOAD_PLUGINS"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "nanofolks_core", "doctor", *args], capture_output=True, text=True, env=env, timeout=120
    )


def _tree(home: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(home)): (p.read_bytes() if p.is_file() else None) for p in sorted(home.rglob("*"))}


def test_doctor_on_a_fresh_data_folder_creates_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    proc = _doctor(home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no room files yet" in proc.stdout
    assert "nothing remembered yet" in proc.stdout
    assert _tree(home) == {}


def test_doctor_reports_a_damaged_room_without_touching_anything(tmp_path):
    home = tmp_path / "home"
    (home / "rooms").mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    (home / "rooms" / "project.json").write_text("{ not json")
    (home / "rooms" / "project.json").chmod(0o600)
    before = _tree(home)
    proc = _doctor(home)
    assert proc.returncode == 1
    assert "room file project.json" in proc.stdout and "FAIL" in proc.stdout
    assert _tree(home) == before  # no general.json, no lock files, the damaged file as it was


def test_repair_still_creates_the_default_room(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    proc = _doctor(home, "--repair")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (home / "rooms" / "general.json").is_file()
