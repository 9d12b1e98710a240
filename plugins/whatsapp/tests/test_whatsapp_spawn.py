"""The channel's own bridge path, without Node.js: ``node`` is a stand-in program that behaves as
``bridge/index.mjs`` does at its edges (tests/bridge_stand_in.py), and ``npm`` one that
"installs" by making node_modules. What runs for real: the lock, the install step, the spawn
with the token in the environment, reading the ``listening`` line, the websocket, and stopping
the bridge with ``stop()``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from nanofolks_whatsapp import plugin
from nanofolks_whatsapp.bridge_process import BridgeError, bridge_lock
from nanofolks_whatsapp.channel import WhatsAppChannel
from nanofolks_whatsapp.plugin import WhatsAppConfig

from nanofolks_core.api import OutboundMessage

STAND_IN = Path(__file__).with_name("bridge_stand_in.py")


@pytest.fixture
def fake_node(tmp_path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    node = bin_dir / "node"
    node.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$1" = "--version" ]; then echo v20.11.0; exit 0; fi
        exec {sys.executable} {STAND_IN} "$@"
        """)
    )
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\nmkdir -p node_modules\n")
    for program in (node, npm):
        program.chmod(0o755)
    return node


def _log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_channel_runs_its_own_bridge_and_stops_it(
    fake_node, tmp_path, register_plugin, plugin_services, monkeypatch
):
    log_path = tmp_path / "stand-in.jsonl"
    monkeypatch.setenv("STAND_IN_LOG", str(log_path))
    spec = register_plugin(plugin, "whatsapp").get("channel", "whatsapp")
    services = plugin_services("whatsapp")
    auth = services.data_dir / "auth"
    auth.mkdir(mode=0o700)
    (auth / "creds.json").write_text("{}")  # a linked device, as far as the channel can tell
    channel = WhatsAppChannel(spec=spec, config=WhatsAppConfig(enabled=True, node=str(fake_node)), services=services)

    async def scenario():
        inbox: asyncio.Queue = asyncio.Queue()
        running = asyncio.create_task(channel.start(inbox.put))
        received = await asyncio.wait_for(inbox.get(), 30)
        await channel.send(OutboundMessage(text="Ahoy!", bot="leader", channel="whatsapp", chat_id=received.chat_id))
        # While it runs, a second bridge on this login (a login, another gateway) is refused.
        second = WhatsAppChannel(spec=spec, config=WhatsAppConfig(node=str(fake_node)), services=services)
        with pytest.raises(BridgeError, match="already running"):
            await second.login()
        await channel.stop()
        await asyncio.wait_for(running, 10)
        return received

    received = asyncio.run(scenario())
    assert (received.sender, received.chat_id, received.text) == (
        "+1234567890",
        "1234567890@s.whatsapp.net",
        "hello from the phone",
    )
    entries = _log(log_path)
    start = entries[0]
    argv = start["argv"]
    assert len(start["token"]) >= 32  # a fresh random token, handed over in the environment ...
    assert not any(start["token"] in arg for arg in argv)  # ... never on the command line
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--auth-dir") + 1] == str(auth)
    assert "--parent-pipe" in argv and "--login" not in argv
    assert {"sent": {"to": "1234567890@s.whatsapp.net", "text": "Ahoy!"}} in entries
    assert entries[-1]["exit"] in ("stdin closed", "SIGTERM")  # stop() ended the bridge
    assert (services.data_dir / "bridge" / "node_modules").is_dir()
    assert os.stat(services.data_dir / "bridge").st_mode & 0o777 == 0o700


def _login_cli(home: Path, env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    env |= {"NANOFOLKS_HOME": str(home), "NANOFOLKS_LOAD_PLUGINS": "whatsapp", **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "nanofolks_core", "channels", "login", "whatsapp"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_channels_login_prints_the_linked_number_and_exits(fake_node, nanofolks_home, tmp_path):
    config = {"channels": {"whatsapp": {"enabled": True, "allowFrom": ["+1234567890"], "node": str(fake_node)}}}
    (nanofolks_home / "config.json").write_text(json.dumps(config))
    log_path = tmp_path / "stand-in.jsonl"

    done = _login_cli(nanofolks_home, {"STAND_IN_LOG": str(log_path)})

    assert done.returncode == 0, done.stderr
    assert "WhatsApp is linked as +15550001111" in done.stdout
    argv = _log(log_path)[0]["argv"]
    assert "--login" in argv
    assert _log(log_path)[-1]["exit"] in ("stdin closed", "SIGTERM")  # the bridge did not outlive the command


def test_channels_login_while_a_bridge_runs_is_one_line_error(fake_node, nanofolks_home, tmp_path):
    config = {"channels": {"whatsapp": {"enabled": True, "node": str(fake_node)}}}
    (nanofolks_home / "config.json").write_text(json.dumps(config))
    data_dir = nanofolks_home / "plugins" / "whatsapp"
    data_dir.mkdir(parents=True)
    with bridge_lock(data_dir):  # as a running gateway's bridge holds it
        done = _login_cli(nanofolks_home, {"STAND_IN_LOG": str(tmp_path / "unused.jsonl")})
    assert done.returncode != 0
    assert "already running in another nanofolks process" in done.stderr
    assert "Traceback" not in done.stderr
