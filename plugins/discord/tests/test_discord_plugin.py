"""nanofolks-discord's registration and config: what discovery sees, without discord.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from nanofolks_discord import plugin
from nanofolks_discord.plugin import DiscordConfig

from nanofolks_core.api import ChannelConfig, Secret
from nanofolks_core.testing import structure_section


def test_the_channel_is_registered_under_channels_discord(register_plugin):
    registry = register_plugin(plugin, "discord")
    spec = registry.get("channel", "discord")
    assert spec.config_section() == "channels.discord"
    assert spec.config_class is DiscordConfig
    assert issubclass(DiscordConfig, ChannelConfig)
    from nanofolks_discord.channel import DiscordChannel

    assert spec.load() is DiscordChannel
    assert DiscordChannel.message_limit == 2000


def test_the_config_reads_the_keys_users_write():
    config, issues = structure_section(
        {
            "enabled": True,
            "token": "env:DISCORD_BOT_TOKEN",
            "allowFrom": ["123456789012345678", "ada"],
            "guildMessages": "all",
            "apiBase": "http://127.0.0.1:8080",
        },
        DiscordConfig,
        "channels.discord",
    )
    assert issues == []
    assert config.enabled is True
    assert config.token == Secret("env", "DISCORD_BOT_TOKEN")
    assert config.allow_from == ["123456789012345678", "ada"]
    assert config.guild_messages == "all"
    assert config.api_base == "http://127.0.0.1:8080"


def test_defaults_are_off_nobody_allowed_and_mentions_only():
    config, issues = structure_section({}, DiscordConfig, "channels.discord")
    assert issues == []
    assert (config.enabled, config.token, config.allow_from, config.guild_messages) == (False, None, [], "mention")


def test_a_wrong_guild_messages_value_names_the_key_and_the_choices():
    config, issues = structure_section({"guildMessages": "everything"}, DiscordConfig, "channels.discord")
    assert config is None
    text = " ".join(str(issue) for issue in issues)
    assert "guildMessages" in text and "mention" in text and "all" in text


def test_discovery_does_not_import_discord_py(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        from nanofolks_core.api import App
        app = App()
        app.config
        names = sorted(spec.name for spec in app.registry.all("channel"))
        heavy = sorted(m for m in ("discord", "aiohttp", "nanofolks_discord.channel") if m in sys.modules)
        print("CHANNELS", "discord" in names, "HEAVY", heavy)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    env.update(NANOFOLKS_HOME=str(tmp_path), NANOFOLKS_LOAD_PLUGINS="discord")
    (tmp_path / "config.json").write_text('{"channels": {"discord": {"enabled": true, "token": "env:NOPE"}}}')
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert "CHANNELS True HEAVY []" in proc.stdout, proc.stdout + proc.stderr
