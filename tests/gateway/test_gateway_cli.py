"""The gateway's commands as a user types them: channels list|status|login, room link|unlink,
and that the other commands never import the gateway."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from gateway_helpers import install_test_channel


@pytest.fixture
def installed(tmp_path, nanofolks_home, monkeypatch):
    """The test channels installed (a distribution on sys.path), and only them loaded."""
    env = install_test_channel(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("NANOFOLKS_LOAD_PLUGINS", env["NANOFOLKS_LOAD_PLUGINS"])
    return env


def _write_config(home, config):
    (home / "config.json").write_text(json.dumps(config), encoding="utf-8")


def test_channels_list_shows_installed_channels_with_enabled_and_configured(installed, nanofolks_home, cli_runner):
    _write_config(nanofolks_home, {"channels": {"testchat": {"enabled": True, "allowFrom": ["ada", "bob"]}}})
    result = cli_runner(["channels", "list"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    assert rows["testchat"][:5] == ["testchat", "testchat", "yes", "yes", "2"]
    assert rows["otherchat"][:5] == ["otherchat", "testchat", "no", "no", "nobody"]

    shown = json.loads(cli_runner(["channels", "list", "--json"]).output)
    assert [c["name"] for c in shown] == ["otherchat", "testchat"]
    assert shown[1]["enabled"] is True and shown[1]["allowFrom"] == ["ada", "bob"]


def test_channels_status_without_a_gateway_says_so(installed, nanofolks_home, cli_runner):
    result = cli_runner(["channels", "status"])
    assert result.exit_code == 1
    assert f"no gateway is running for {nanofolks_home}" in result.output


def test_channels_login_runs_the_channels_login_or_says_none_is_needed(installed, nanofolks_home, cli_runner):
    _write_config(nanofolks_home, {"channels": {"testchat": {"interactiveLogin": True}}})
    result = cli_runner(["channels", "login", "testchat"])
    assert result.exit_code == 0 and "testchat: scan the code" in result.output
    result = cli_runner(["channels", "login", "otherchat"])
    assert result.exit_code == 0 and "needs no interactive login" in result.output


def test_channels_login_of_an_unknown_or_unbuildable_channel_is_one_line(installed, nanofolks_home):
    from nanofolks_core.cli import main

    _write_config(nanofolks_home, {"channels": {"otherchat": {"broken": True}}})
    assert main(["channels", "login", "telegrm"]) == 2
    assert main(["channels", "login", "otherchat"]) == 1


def test_room_link_rejects_bad_addresses_and_unknown_rooms(nanofolks_home, capsys):
    from nanofolks_core.cli import main

    assert main(["room", "link", "general", "telegram"]) == 2
    assert "expected CHANNEL:CHAT_ID" in capsys.readouterr().err
    assert main(["room", "link", "nowhere", "telegram:1"]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert not (nanofolks_home / "rooms" / "channel_mappings.json").exists()


def test_room_link_shows_in_room_show_and_unlink_of_an_unlinked_chat_is_harmless(nanofolks_home, cli_runner):
    assert cli_runner(["room", "create", "ops"]).exit_code == 0
    assert cli_runner(["room", "link", "ops", "Telegram:-100123"]).exit_code == 0
    shown = json.loads(cli_runner(["room", "show", "ops", "--json"]).output)
    assert shown["channels"] == [{"channel": "telegram", "chat_id": "-100123"}]
    result = cli_runner(["room", "unlink", "telegram:999"])
    assert result.exit_code == 0 and "was not linked" in result.output


def test_other_commands_do_not_import_the_gateway(nanofolks_home):
    code = (
        "import sys\n"
        "from nanofolks_core.cli import main\n"
        "for args in (['room', 'list'], ['channels', 'list'], ['config', 'path']):\n"
        "    main(args)\n"
        "print(sorted(m for m in sys.modules if m.startswith('nanofolks_core.gateway')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_channels_login_without_a_name_needs_exactly_one_channel_with_a_login(installed, nanofolks_home, capsys):
    from nanofolks_core.cli import main

    # The test channels add login() per instance only, so none offers one up front.
    assert main(["channels", "login"]) == 2
    assert "name the channel to log in" in capsys.readouterr().err
