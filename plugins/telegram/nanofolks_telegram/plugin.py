"""Entry module of ``nanofolks-telegram``: registers the ``telegram`` channel and its config section.

Imported on every ``nanofolks`` start, so it imports only attrs and ``nanofolks_core.api``:
python-telegram-bot is imported by :mod:`nanofolks_telegram.channel`, when the gateway starts
the channel.
"""

from __future__ import annotations

from nanofolks_core.api import ChannelSpec, hookimpl
from nanofolks_telegram.config import TelegramConfig

NANOFOLKS_API = "1.0"

#: The runtime the gateway builds: ``TelegramChannel(spec=, config=<channels.telegram>, services=)``.
CHANNEL_FACTORY = "nanofolks_telegram.channel:TelegramChannel"

__all__ = ["CHANNEL_FACTORY", "NANOFOLKS_API", "TelegramConfig", "nanofolks_register_channels"]


@hookimpl
def nanofolks_register_channels(register):
    register(
        ChannelSpec(
            name="telegram",
            summary="Telegram: chat with the crew through a bot (python-telegram-bot, long polling)",
            factory=CHANNEL_FACTORY,
            config_class=TelegramConfig,
        )
    )
