"""The run folder: one gateway per data folder, and finding it (or not) from another process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from nanofolks_core.gateway import state


def test_the_lock_makes_one_gateway_per_home_and_names_the_holder(nanofolks_home):
    first = state.GatewayLock(nanofolks_home)
    first.acquire()
    try:
        assert stat.S_IMODE(os.stat(nanofolks_home / "run").st_mode) == 0o700
        with pytest.raises(state.GatewayAlreadyRunning, match=rf"for {nanofolks_home} \(pid {os.getpid()}\)$"):
            state.GatewayLock(nanofolks_home).acquire(wait=0.1)
    finally:
        first.release()
    second = state.GatewayLock(nanofolks_home)
    second.acquire()  # released: free again
    second.release()


def test_running_gateway_needs_the_lock_held_not_just_a_live_pid(nanofolks_home):
    # gateway.json naming a live pid (ours) but no lock held: a pid reused after a crash.
    state.write_state(nanofolks_home, pid=os.getpid(), port=1, socket=None)
    assert stat.S_IMODE(os.stat(state.state_path(nanofolks_home)).st_mode) == 0o600
    assert state.running_gateway(nanofolks_home) is None
    assert not state.state_path(nanofolks_home).exists()  # the stale file is cleaned


def test_running_gateway_finds_a_gateway_holding_the_lock_in_another_process(nanofolks_home):
    code = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from nanofolks_core.gateway import state\n"
        "home = Path(sys.argv[1])\n"
        "lock = state.GatewayLock(home); lock.acquire()\n"
        "state.write_state(home, pid=os.getpid(), port=4242, socket=None)\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(nanofolks_home)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        found = state.running_gateway(nanofolks_home)
        assert found == {"pid": holder.pid, "port": 4242, "socket": None}
    finally:
        holder.kill()  # as kill -9: no clean-up, the kernel drops the lock
        holder.wait()
    assert json.loads(state.state_path(nanofolks_home).read_text())["pid"] == holder.pid
    assert state.running_gateway(nanofolks_home) is None
    assert not state.state_path(nanofolks_home).exists()


def test_a_damaged_state_file_is_not_a_gateway(nanofolks_home):
    (nanofolks_home / "run").mkdir()
    state.state_path(nanofolks_home).write_text("{not json")
    assert state.running_gateway(nanofolks_home) is None


def test_the_control_socket_moves_to_a_short_path_when_the_home_is_too_deep(tmp_path, monkeypatch):
    short = tmp_path / "h"
    assert state.control_socket_path(short) == short / "run" / "gateway.sock"
    deep = tmp_path / ("d" * 120)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    moved = state.control_socket_path(deep)
    assert len(str(moved)) <= state.MAX_SOCKET_PATH
    assert moved.parent == state.Path("/tmp") / f"nanofolks-{os.getuid()}"
    assert moved != state.control_socket_path(tmp_path / ("e" * 120))  # two homes never share one
