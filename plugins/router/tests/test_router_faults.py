"""The routing database damaged, unwritable or raced for: routing goes on (issue 8 rows 6, 7, 11; issue 7 item 6).

Real SQLite files on disk and real processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nanofolks_router.config import RoutingConfig
from nanofolks_router.router import TierRouterImpl

from nanofolks_core.api import LLMRequest, LLMResponse, Services, Usage
from nanofolks_core.testing import structure_section

TIERS = {"simple": {"model": "vllm/small"}, "complex": {"model": "vllm/large"}, "coding": {"model": "vllm/coder"}}


def make_router(data_root: Path) -> TierRouterImpl:
    from nanofolks_router.plugin import TIERS as REGISTERED

    section, issues = structure_section({"tiers": TIERS}, RoutingConfig, "routing")
    assert not issues, issues
    services = Services(
        plugin="router",
        data_root=data_root,
        registered=lambda kind: list(REGISTERED) if kind == "router-tier" else [],
    )
    return TierRouterImpl(config=section, services=services)


async def _ask(prompt: str, model: str | None = None, tier: str | None = None) -> str:
    return "simple"


def route(router: TierRouterImpl, text: str = "Write a Python function that parses CSV", room: str = "general"):
    return asyncio.run(router.route(text, room=room, default_model="vllm/default", ask=_ask))


def record(router: TierRouterImpl) -> None:
    request = LLMRequest(model="vllm/coder", messages=(), metadata={"tier": "coding", "room": "general"})
    router.record(
        request, LLMResponse(content="ok", model="vllm/coder", usage=Usage(prompt_tokens=5, completion_tokens=7))
    )


def test_a_garbage_routing_db_is_moved_aside_and_routing_goes_on(tmp_path, caplog):
    router = make_router(tmp_path)
    route(router)
    router.close()
    database = tmp_path / "routing" / "routing.db"
    database.write_bytes(b"garbage, not SQLite " * 200)
    router = make_router(tmp_path)
    with caplog.at_level(logging.WARNING):
        decision = route(router)
        record(router)
    try:
        assert decision is not None and decision.tier == "coding"
        [moved] = sorted(database.parent.glob("routing.db.damaged-*"))
        assert moved.read_bytes().startswith(b"garbage, not SQLite")  # kept, never deleted
        [warning] = [r.getMessage() for r in caplog.records if "was damaged" in r.getMessage()]
        assert str(database) in warning and moved.name in warning
        assert [row.tier for row in router.store.calls()] == ["coding"]  # the new database works
        assert all(check.ok for check in router.doctor())
    finally:
        router.close()


def test_doctor_reports_damage_found_later_and_repair_moves_it_aside(tmp_path):
    router = make_router(tmp_path)
    for number in range(300):
        record(router)
        route(router, room=f"room-{number}")
    router.close()
    database = tmp_path / "routing" / "routing.db"
    data = bytearray(database.read_bytes())
    page = 4096
    data[page * 3 : page * 4] = b"\xff" * page  # one page of a table garbled; the header intact
    database.write_bytes(bytes(data))
    router = make_router(tmp_path)
    try:
        [check] = router.doctor()
        if check.ok:  # the damage was in pages the open reads: found and handled then
            assert check.repaired and "routing.db.damaged-" in check.detail
        else:
            assert "--repair" in check.detail
            [fixed] = router.doctor(repair=True)
            assert fixed.ok and fixed.repaired and "damaged" in fixed.detail
        assert sorted(database.parent.glob("routing.db.damaged-*"))
        assert route(router) is not None and all(check.ok for check in router.doctor())
    finally:
        router.close()


def test_routing_files_are_owner_only_and_old_modes_are_fixed(tmp_path):
    router = make_router(tmp_path)
    route(router)
    router.close()
    folder = tmp_path / "routing"
    folder.chmod(0o755)
    (folder / "routing.db").chmod(0o644)
    router = make_router(tmp_path)
    route(router)
    record(router)
    router.close()
    for item in [folder, *folder.iterdir()]:
        mode = stat.S_IMODE(item.stat().st_mode)
        assert mode == (0o700 if item.is_dir() else 0o600), f"{item}: {oct(mode)}"


_FIRST_USE = """
import sys, time, asyncio
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from test_router_faults import make_router, record, route
root, start = Path(sys.argv[1]), float(sys.argv[2])
while time.time() < start:
    time.sleep(0.002)
router = make_router(root)
route(router, room=sys.argv[4])
record(router)
router.close()
"""


def test_processes_starting_together_on_a_fresh_folder_all_succeed(tmp_path):
    start = time.time() + 4
    here = str(Path(__file__).parent)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _FIRST_USE, str(tmp_path), str(start), here, f"room-{n}"], stderr=subprocess.PIPE
        )
        for n in range(6)
    ]
    errors = [proc.communicate(timeout=300)[1].decode() for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 6, errors
    router = make_router(tmp_path)
    try:
        assert len(router.store.calls()) == 6 and len(router.store.room_tiers()) == 6
    finally:
        router.close()


def _can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path(f"/tmp/nanofolks-router-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True)
        if done.returncode == 0:
            subprocess.run(["umount", str(probe)], check=True)
        return done.returncode == 0
    finally:
        probe.rmdir()


def test_a_read_only_routing_folder_still_routes_and_warns_once(tmp_path, caplog):
    if not _can_mount():
        pytest.skip("needs root with mount to make a read-only file system")
    router = make_router(tmp_path)
    route(router)
    router.close()
    folder = tmp_path / "routing"
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        router = make_router(tmp_path)
        with caplog.at_level(logging.WARNING):
            decisions = [route(router, room=f"r{n}") for n in range(3)]
            record(router)
        router.close()
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
    assert all(d is not None and d.tier == "coding" for d in decisions)
    warnings = [r.getMessage() for r in caplog.records if "routing goes on" in r.getMessage()]
    assert len(warnings) == 1 and str(folder) in warnings[0]
