"""Entry module of ``nanofolks-whatsapp``: registers the ``whatsapp`` channel and its config section.

Imported on every ``nanofolks`` start, so it imports only attrs and ``nanofolks_core.api``:
websockets and the bridge's process handling are imported by :mod:`nanofolks_whatsapp.channel`,
when the gateway starts the channel (or ``nanofolks channels login whatsapp`` runs).
"""

from __future__ import annotations

import attrs

from nanofolks_core.api import ChannelConfig, ChannelSpec, Secret, hookimpl, validators

NANOFOLKS_API = "1.0"

#: The runtime the gateway builds: ``WhatsAppChannel(spec=, config=<channels.whatsapp>, services=)``.
CHANNEL_FACTORY = "nanofolks_whatsapp.channel:WhatsAppChannel"

#: How group messages reach the crew (see :class:`WhatsAppConfig`).
GROUP_MODES = ("mention", "all", "off")

__all__ = ["CHANNEL_FACTORY", "GROUP_MODES", "NANOFOLKS_API", "WhatsAppConfig", "nanofolks_register_channels"]


def _websocket_url(_instance: object, attribute: attrs.Attribute, value: str | None) -> None:
    if value is None:
        return
    scheme, _, rest = str(value).partition("://")
    if scheme not in ("ws", "wss") or not rest.strip("/"):
        key = validators.config_key(attribute)
        raise ValueError(f"{key} must be a ws:// or wss:// URL such as ws://127.0.0.1:3001, got {value!r}")


@attrs.define(kw_only=True)
class WhatsAppConfig(ChannelConfig):
    """``channels.whatsapp`` in config.json; ``enabled``, ``allowFrom`` and ``apiBase`` (unused
    here) come from :class:`~nanofolks_core.api.ChannelConfig`::

        {"channels": {"whatsapp": {"enabled": true, "allowFrom": ["+1234567890"]}}}

    * ``allow_from`` (``allowFrom``): phone numbers in international form (``"+1234567890"``;
      spaces and the ``+`` are ignored when comparing), or ``"*"`` for anyone.
    * ``bridge_port`` (``bridgePort``): the port the bridge listens on, on 127.0.0.1; 0 (default)
      lets it pick a free one.
    * ``bridge_url`` (``bridgeUrl``): ``ws://host:port`` of a bridge you run yourself; the plugin
      then starts none and connects there with ``bridge_token``.
    * ``bridge_token`` (``bridgeToken``): the shared secret for ``bridge_url`` (inline, ``env:NAME``
      or ``keyring:NAME``). Not needed otherwise: each start makes a fresh random one.
    * ``node``: the Node.js (>= 20) program, a name on PATH or a path.
    * ``groups``: in group chats, ``"mention"`` (default) hands over only messages that mention
      the linked number or reply to it; ``"all"`` every message; ``"off"`` none.
    """

    bridge_port: int = attrs.field(default=0, validator=validators.between(0, 65535))
    bridge_url: str | None = attrs.field(default=None, validator=_websocket_url)
    bridge_token: Secret | None = None
    node: str = "node"
    groups: str = attrs.field(default="mention", validator=validators.one_of(*GROUP_MODES))


@hookimpl
def nanofolks_register_channels(register):
    register(
        ChannelSpec(
            name="whatsapp",
            summary="WhatsApp: chat with the crew from WhatsApp (a WhatsApp Web bridge, Node.js >= 20)",
            factory=CHANNEL_FACTORY,
            config_class=WhatsAppConfig,
        )
    )
