"""The bridge side: finding Node.js, installing the bridge, the lock on one login, and the real
``bridge/index.mjs`` under Node.js in ``--selftest`` mode (its local websocket with the token
check, without WhatsApp).

The Node tests need ``node`` and the ``ws`` npm package: ``NANOFOLKS_WHATSAPP_NODE_MODULES``
may name a ``node_modules`` folder that has it; otherwise ``ws`` (pinned, no dependencies) is
installed from the npm cache or registry, and the tests are skipped when neither works (offline
CI). baileys is never installed here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from importlib import resources
from pathlib import Path

import pytest
import websockets
from nanofolks_whatsapp import plugin
from nanofolks_whatsapp.bridge_process import (
    INSTALL_STAMP,
    BridgeError,
    BridgeProcess,
    bridge_lock,
    find_node,
    prepare_bridge,
)
from nanofolks_whatsapp.channel import WhatsAppChannel
from nanofolks_whatsapp.plugin import WhatsAppConfig
from websockets.asyncio.client import connect

log = logging.getLogger("test-whatsapp")
TOKEN = "test-token-0123456789abcdef"


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


# -- environment checks (no Node.js needed) ---------------------------------------------------


def test_a_missing_node_is_one_clear_error():
    with pytest.raises(BridgeError, match=r"Node.js was not found .*install Node.js 20 or newer"):
        find_node("/nonexistent/bin/node")


def test_an_old_node_is_refused_with_its_version(tmp_path):
    old = _script(tmp_path / "node", "echo v18.19.0\n")
    with pytest.raises(BridgeError, match=r"Node.js v18.19.0 at .* is too old: .*needs 20 or newer"):
        find_node(str(old))


def test_a_program_that_is_not_node_is_refused(tmp_path):
    other = _script(tmp_path / "node", "echo 'Python 3.11.7'\n")
    with pytest.raises(BridgeError, match="does not look like Node.js"):
        find_node(str(other))


def test_npm_failing_offline_is_one_clear_error_and_nothing_is_marked_installed(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    node = _script(bin_dir / "node", "echo v20.11.0\n")
    _script(
        bin_dir / "npm", "echo 'npm error code ENOTFOUND' >&2\necho 'npm error network request failed' >&2\nexit 1\n"
    )
    bridge_dir = tmp_path / "bridge"
    with pytest.raises(BridgeError, match=r"npm could not install .*network request failed.*registry is reachable"):
        prepare_bridge(bridge_dir, str(node), log)
    assert (bridge_dir / "index.mjs").is_file()
    assert not (bridge_dir / "node_modules" / INSTALL_STAMP).exists()
    assert bridge_dir.stat().st_mode & 0o777 == 0o700


def test_the_bridge_is_installed_once_and_again_when_the_pins_change(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    node = _script(bin_dir / "node", "echo v20.11.0\n")
    calls = tmp_path / "npm-calls"
    _script(bin_dir / "npm", f'echo "$@" >> {calls}\nmkdir -p node_modules\n')
    bridge_dir = tmp_path / "bridge"

    script = prepare_bridge(bridge_dir, str(node), log)
    prepare_bridge(bridge_dir, str(node), log)
    assert calls.read_text().splitlines() == ["ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error"]
    assert script == bridge_dir / "index.mjs"

    (bridge_dir / "node_modules" / INSTALL_STAMP).write_text("an older plugin's pins\n")
    prepare_bridge(bridge_dir, str(node), log)
    assert len(calls.read_text().splitlines()) == 2


def test_a_second_bridge_on_one_login_is_refused_at_once(tmp_path):
    with bridge_lock(tmp_path), pytest.raises(BridgeError, match="already running in another nanofolks process"):
        with bridge_lock(tmp_path):
            pass
    with bridge_lock(tmp_path):  # released when the first one ended
        pass


def test_start_without_a_login_names_the_login_command_and_starts_nothing(register_plugin, plugin_services):
    spec = register_plugin(plugin, "whatsapp").get("channel", "whatsapp")
    services = plugin_services("whatsapp")
    channel = WhatsAppChannel(
        spec=spec, config=WhatsAppConfig(enabled=True, node="/nonexistent/node"), services=services
    )
    with pytest.raises(BridgeError, match=r"not linked yet: run `nanofolks channels login whatsapp`"):
        asyncio.run(channel.start(asyncio.Queue().put))
    assert not (services.data_dir / "bridge").exists()


def test_login_without_node_says_how_to_install_it(register_plugin, plugin_services):
    spec = register_plugin(plugin, "whatsapp").get("channel", "whatsapp")
    channel = WhatsAppChannel(
        spec=spec, config=WhatsAppConfig(node="/nonexistent/node"), services=plugin_services("whatsapp")
    )
    with pytest.raises(BridgeError, match="Node.js was not found"):
        asyncio.run(channel.login())


# -- the real bridge under Node.js ------------------------------------------------------------


@pytest.fixture(scope="module")
def node_modules(tmp_path_factory) -> Path:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    given = os.environ.get("NANOFOLKS_WHATSAPP_NODE_MODULES")
    if given:
        return Path(given)
    pins = json.loads((resources.files("nanofolks_whatsapp") / "bridge" / "package.json").read_text())
    folder = tmp_path_factory.mktemp("bridge-ws")
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    command = [npm, "install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts",
               "--no-package-lock", f"ws@{pins['dependencies']['ws']}"]  # fmt: skip
    try:
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip("npm could not install ws within 120 s (offline?)")
    if done.returncode != 0:
        pytest.skip(f"npm could not install ws (offline?): {done.stderr.strip()[-200:]}")
    return folder / "node_modules"


@pytest.fixture
def bridge_script(tmp_path, node_modules) -> Path:
    folder = tmp_path / "bridge"
    folder.mkdir()
    source = resources.files("nanofolks_whatsapp") / "bridge" / "index.mjs"
    (folder / "index.mjs").write_bytes(source.read_bytes())
    (folder / "node_modules").symlink_to(node_modules)
    return folder / "index.mjs"


def test_the_bridge_hands_on_the_right_messages_with_the_right_sender(bridge_script):
    """bridge_messages.test.mjs: own messages, status and history skipped; lid -> phone jid; groups."""
    test_file = bridge_script.with_name("bridge_messages.test.mjs")
    test_file.write_bytes(Path(__file__).with_name("bridge_messages.test.mjs").read_bytes())
    done = subprocess.run(
        ["node", "--test", str(test_file)], cwd=bridge_script.parent, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout and "# pass 5" in done.stdout, done.stdout


async def _talk(ws, frame: dict) -> dict:
    await ws.send(json.dumps(frame))
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


def test_the_real_bridge_serves_its_protocol_to_the_token_holder_only(bridge_script):
    async def scenario():
        bridge = await BridgeProcess.spawn(node="node", script=bridge_script, token=TOKEN, log=log, selftest=True)
        url = f"ws://127.0.0.1:{bridge.port}"
        try:
            async with connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, proxy=None) as ws:
                status = json.loads(await asyncio.wait_for(ws.recv(), 5))
                pong = await _talk(ws, {"type": "ping", "ref": 7})
                refused_send = await _talk(ws, {"type": "send", "ref": 8, "to": "1@s.whatsapp.net", "text": "hi"})
                nonsense = await _talk(ws, {"type": "launch", "ref": 9})
            refusals = []
            for headers in ({"Authorization": "Bearer wrong-token-0123456789"}, {},
                            {"Authorization": f"Bearer {TOKEN}", "Origin": "https://evil.example"}):  # fmt: skip
                with pytest.raises(websockets.InvalidStatus) as refused:
                    await connect(url, additional_headers=headers, proxy=None)
                refusals.append(refused.value.response.status_code)
        finally:
            await bridge.terminate()
        return status, pong, refused_send, nonsense, refusals, bridge.process.returncode

    status, pong, refused_send, nonsense, refusals, code = asyncio.run(scenario())
    assert status == {"type": "status", "state": "connecting"}
    assert pong["type"] == "pong" and pong["ref"] == 7 and pong["state"] == "connecting"
    assert refused_send == {"ref": 8, "type": "error", "error": "WhatsApp is not connected (state: connecting)"}
    assert nonsense["type"] == "error" and nonsense["ref"] == 9
    assert refusals == [401, 401, 403]
    assert code == 0  # SIGTERM is a clean stop


def test_the_bridge_refuses_to_run_without_a_token(bridge_script):
    env = {k: v for k, v in os.environ.items() if k != "NANOFOLKS_BRIDGE_TOKEN"}
    done = subprocess.run(
        ["node", str(bridge_script), "--selftest"], capture_output=True, text=True, timeout=30, env=env, check=False
    )
    assert done.returncode == 2
    assert "NANOFOLKS_BRIDGE_TOKEN" in done.stderr


def test_a_port_in_use_is_a_clear_error(bridge_script):
    async def scenario():
        first = await BridgeProcess.spawn(node="node", script=bridge_script, token=TOKEN, log=log, selftest=True)
        try:
            with pytest.raises(
                BridgeError, match=rf"stopped before it was ready .*cannot listen on 127.0.0.1:{first.port}"
            ):
                await BridgeProcess.spawn(
                    node="node", script=bridge_script, token=TOKEN, log=log, selftest=True, port=first.port
                )
        finally:
            await first.terminate()

    asyncio.run(scenario())


def test_the_bridge_exits_when_its_parent_is_killed(bridge_script, tmp_path):
    """kill -9 of the gateway must not leave a bridge holding the WhatsApp login."""
    parent = tmp_path / "parent.py"
    parent.write_text(
        textwrap.dedent(f"""
        import asyncio, logging, sys
        from pathlib import Path
        from nanofolks_whatsapp.bridge_process import BridgeProcess

        async def main():
            bridge = await BridgeProcess.spawn(node="node", script=Path({str(bridge_script)!r}), token={TOKEN!r},
                                               log=logging.getLogger("x"), selftest=True)
            print(bridge.process.pid, flush=True)
            await asyncio.sleep(3600)

        asyncio.run(main())
        """)
    )
    proc = subprocess.Popen([sys.executable, str(parent)], stdout=subprocess.PIPE, text=True)
    try:
        bridge_pid = int(proc.stdout.readline())
        os.kill(bridge_pid, 0)  # it runs
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(bridge_pid):
            time.sleep(0.05)
        assert not _alive(bridge_pid), "the bridge outlived its killed parent"
    finally:
        proc.kill()
        proc.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(
    os.environ.get("NANOFOLKS_WHATSAPP_NPM_TESTS") != "1",
    reason="installs baileys from the npm registry: set NANOFOLKS_WHATSAPP_NPM_TESTS=1 to run",
)
def test_login_with_the_real_bridge_ends_clearly_and_leaves_no_bridge_running(register_plugin, plugin_services, capsys):
    """The whole path a user takes: npm ci of the pinned bridge into the data folder, Node.js
    started in login mode. Without a route to WhatsApp (or with no phone to scan the QR code) it
    must end with one clear error and no bridge process left behind."""
    spec = register_plugin(plugin, "whatsapp").get("channel", "whatsapp")
    services = plugin_services("whatsapp")
    channel = WhatsAppChannel(spec=spec, config=WhatsAppConfig(), services=services)
    with pytest.raises(BridgeError, match="WhatsApp was not linked: .*try again"):
        asyncio.run(asyncio.wait_for(channel.login(), 600))
    bridge_dir = services.data_dir / "bridge"
    assert (bridge_dir / "node_modules" / "@whiskeysockets" / "baileys" / "package.json").is_file()
    assert (services.data_dir / "auth").stat().st_mode & 0o777 == 0o700
    assert not _bridges_running(bridge_dir / "index.mjs")
    assert "Starting the WhatsApp bridge" in capsys.readouterr().out


def _bridges_running(script: Path) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(script).encode() in cmdline.read_bytes():
                return True
        except OSError:
            continue
    return False
