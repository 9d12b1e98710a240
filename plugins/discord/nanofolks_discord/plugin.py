"""Entry module of ``nanofolks-discord``: the ``channels.discord`` config and the channel spec.

Imported on every start (plugin discovery), so it imports only attrs and ``nanofolks_core.api``;
discord.py is imported by :mod:`nanofolks_discord.channel` when the gateway starts the channel.
"""

from __future__ import annotations

import attrs

from nanofolks_core.api import ChannelConfig, ChannelSpec, Secret, hookimpl, validators

NANOFOLKS_API = "1.0"

#: The runtime the gateway builds: ``DiscordChannel(spec=, config=<channels.discord>, services=)``.
CHANNEL_FACTORY = "nanofolks_discord.channel:DiscordChannel"

__all__ = ["CHANNEL_FACTORY", "NANOFOLKS_API", "DiscordConfig", "nanofolks_register_channels"]


@attrs.define(kw_only=True)
class DiscordConfig(ChannelConfig):
    """The ``channels.discord`` section of config.json.

    * ``enabled``, ``allow_from`` (``allowFrom``: Discord user ids, or usernames), ``api_base``
      (``apiBase``): as for every channel (:class:`nanofolks_core.api.ChannelConfig`). With
      ``apiBase`` set, REST calls go to ``{apiBase}/api/v10/...`` instead of
      ``https://discord.com/api/v10/...`` and the websocket gateway is the URL that server's
      ``GET /gateway/bot`` names.
    * ``token``: the bot token: ``"env:DISCORD_BOT_TOKEN"``, ``"keyring:discord"`` or the token.
    * ``guild_messages`` (``guildMessages``): in server channels, ``"mention"`` (default) hands
      the crew only messages that @mention the bot; ``"all"`` hands it every message the bot can
      read. Direct messages always reach the crew.
    """

    token: Secret | None = None
    api_base: str | None = attrs.field(default=None, validator=validators.http_url())
    guild_messages: str = attrs.field(default="mention", validator=validators.one_of("mention", "all"))


@hookimpl
def nanofolks_register_channels(register):
    register(
        ChannelSpec(
            name="discord",
            summary="Discord: DMs and @mentions in server channels reach the crew (discord.py).",
            factory=CHANNEL_FACTORY,
            config_class=DiscordConfig,
        )
    )
