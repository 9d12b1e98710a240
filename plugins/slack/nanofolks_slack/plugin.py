"""Entry module of nanofolks-slack: the spec and its config only (imported on every start, so no SDK here)."""

from __future__ import annotations

import attrs

from nanofolks_core.api import ChannelConfig, ChannelSpec, Secret, hookimpl

NANOFOLKS_API = "1.0"


@attrs.define(kw_only=True)
class SlackConfig(ChannelConfig):
    """The ``channels.slack`` section of config.json.

    ``bot_token`` (``botToken``, ``xoxb-...``) posts replies; ``app_token`` (``appToken``,
    ``xapp-...``, scope ``connections:write``) opens the Socket Mode connection. Both may be
    ``env:NAME`` or ``keyring:NAME``. ``allow_from`` lists Slack user ids (``U0123ABCD``), or
    user names when the bot has ``users:read``. ``api_base`` replaces ``https://slack.com/api``.
    """

    bot_token: Secret | None = None
    app_token: Secret | None = None


@hookimpl
def nanofolks_register_channels(register):
    register(
        ChannelSpec(
            name="slack",
            summary="Slack: DMs, channels the bot is in, and @mentions, over Socket Mode.",
            factory="nanofolks_slack.channel:SlackChannel",
            config_class=SlackConfig,
        )
    )
