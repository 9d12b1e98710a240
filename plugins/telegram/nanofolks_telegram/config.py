"""``channels.telegram`` in config.json (light: attrs and ``nanofolks_core.api`` only)::

{"channels": {"telegram": {"enabled": true, "token": "env:TELEGRAM_BOT_TOKEN",
                           "allowFrom": ["123456789", "@ada"]}}}
"""

from __future__ import annotations

import attrs

from nanofolks_core.api import ChannelConfig, Secret, validators

#: How group messages reach the crew (see :class:`TelegramConfig`).
GROUP_MODES = ("mention", "all", "off")


@attrs.define(kw_only=True)
class TelegramConfig(ChannelConfig):
    """The Telegram channel's settings; ``enabled``, ``allowFrom`` and ``apiBase`` come from
    :class:`~nanofolks_core.api.ChannelConfig`.

    * ``token``: the bot token from @BotFather: inline, ``env:NAME`` or ``keyring:NAME``.
    * ``api_base`` (``apiBase``): a Bot API server other than ``https://api.telegram.org``
      (a local Bot API server, a proxy, a test server); requests go to
      ``{apiBase}/bot{token}/{method}``.
    * ``groups``: in group chats, ``"mention"`` (default) hands over only messages that mention
      the bot (``@yourbot``), reply to one of its messages or are a command for it; ``"all"``
      hands over every message the bot sees; ``"off"`` ignores groups.
    * ``poll_timeout`` (``pollTimeout``): seconds one long poll (getUpdates) waits for news.
    """

    token: Secret | None = None
    api_base: str | None = attrs.field(default=None, validator=validators.http_url())
    groups: str = attrs.field(default="mention", validator=validators.one_of(*GROUP_MODES))
    poll_timeout: int = attrs.field(default=30, validator=validators.between(1, 50))
