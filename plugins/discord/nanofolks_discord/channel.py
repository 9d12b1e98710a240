"""The Discord channel: discord.py's client, driven the way the nanofolks gateway drives a channel.

``start`` logs in, opens the websocket gateway and returns (or raises) when that connection
ends; discord.py's retry-after-failure loop is switched off (``reconnect=False``) because the
nanofolks gateway restarts a channel with backoff and shows its state. What discord.py still
does itself is the gateway protocol's resume: when Discord asks for a reconnect (op 7, or a
resumable close code such as 4000) it opens a new websocket at once and resumes or identifies
again; if that new connection fails, ``start`` raises. Each ``start`` builds a new
``discord.Client``: a closed client cannot be started again.

``apiBase`` is applied per client, not process-wide: discord.py builds every REST URL from the
class attribute ``discord.http.Route.BASE`` (shared by all clients in the process), so instead
this module wraps the client's own ``http.request`` to move ``https://discord.com/...`` URLs to
``{apiBase}/...``, and its ``http.ws_connect`` to open the gateway URL that ``GET /gateway/bot``
on that server names. Other discord.py clients in the same process are not affected.
"""

from __future__ import annotations

import re

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket

from nanofolks_core.api import InboundMessage, NanofolksError, OutboundMessage, split_message
from nanofolks_discord.plugin import DiscordConfig

#: Discord's own REST origin; every URL discord.py builds starts with it (``Route.BASE``).
DISCORD_ORIGIN = "https://discord.com"

#: Discord rejects a message longer than this many characters.
MESSAGE_LIMIT = 2000

PORTAL = "https://discord.com/developers/applications"


class DiscordChannelError(NanofolksError):
    """The channel cannot connect for a reason the user must fix (token, intents, config)."""


class DiscordChannel:
    """Built by the gateway as ``DiscordChannel(spec=, config=<channels.discord>, services=)``."""

    message_limit = MESSAGE_LIMIT

    def __init__(self, *, spec, config, services):
        """Raises :class:`DiscordChannelError` when the token is not set (and the secret store's
        error when its ``env:``/``keyring:`` value cannot be read): the gateway then marks the
        channel failed at once instead of retrying what only the user can fix."""
        self.name = spec.name
        self.config: DiscordConfig = config or DiscordConfig()
        self.services = services
        self.log = services.log
        if self.config.token is None:
            raise DiscordChannelError(
                "channels.discord.token is not set: put the bot token there "
                '(for example "env:DISCORD_BOT_TOKEN" or "keyring:discord")'
            )
        self._token: str = services.secret(self.config.token)
        self._client: discord.Client | None = None
        self._warned_empty = False

    # -- the Channel protocol ---------------------------------------------------------------

    async def start(self, inbox):
        """Log in, hand each message for the crew to ``inbox``, return when the connection ends.

        Raises :class:`DiscordChannelError` for a rejected token and for a Message
        Content Intent that is not enabled (the user must fix those), ``ConnectionError`` when
        Discord cannot be reached or its gateway closes the connection for good.
        """
        client = _CrewClient(self, inbox)
        self._client = client
        try:
            await client.start(self._token, reconnect=False)
        except discord.LoginFailure:
            raise DiscordChannelError(
                f"Discord rejected the bot token (401 Unauthorized from {self._api_origin()}/api/v10/users/@me): "
                f"copy the token again from {PORTAL} > your app > Bot > Reset Token and update channels.discord.token"
            ) from None
        except (discord.PrivilegedIntentsRequired, discord.ConnectionClosed) as exc:
            # With reconnect=False discord.py raises the bare ConnectionClosed for close code 4014.
            code = getattr(exc, "code", 4014)
            if code == 4014:
                raise DiscordChannelError(
                    f"Discord refused the Message Content Intent (gateway close code 4014): enable it at {PORTAL} "
                    "> your app > Bot > Privileged Gateway Intents > Message Content Intent"
                ) from None
            if code == 4004:
                raise DiscordChannelError(
                    "Discord's gateway rejected the bot token (close code 4004): copy it again from "
                    f"{PORTAL} > your app > Bot > Reset Token and update channels.discord.token"
                ) from None
            raise ConnectionError(f"Discord's gateway closed the connection (close code {code})") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectionError(f"could not reach Discord at {self._api_origin()}: {exc}") from exc
        finally:
            if not client.is_closed():
                await client.close()
            if self._client is client:
                self._client = None
        self.log.info("discord: the gateway connection ended")

    async def send(self, message: OutboundMessage):
        """Post one reply to the chat it came from, as plain text with every mention disabled.

        ``AllowedMentions.none()`` means a reply that contains ``@everyone``, ``<@id>`` or a role
        mention shows the text but pings nobody. Raises ``ConnectionError`` while not connected.
        """
        client = self._connected_client()
        if not message.chat_id:
            raise ValueError("a Discord reply needs the chat_id (channel id) it answers")
        target = client.get_partial_messageable(int(message.chat_id))
        # The gateway already splits to message_limit; this keeps a direct caller's long text whole.
        for piece in split_message(message.text, MESSAGE_LIMIT):
            await target.send(piece, allowed_mentions=discord.AllowedMentions.none())

    async def typing(self, chat_id):
        """Show "typing…" once in the chat (Discord shows it for ~10 s or until a message)."""
        client = self._connected_client()
        await client.get_partial_messageable(int(chat_id)).typing()

    async def stop(self):
        """Close the connection; ``start`` returns soon after."""
        if self._client is not None:
            await self._client.close()

    # -- incoming messages ------------------------------------------------------------------

    async def handle(self, message: discord.Message, inbox) -> None:
        """Turn one Discord message into an ``InboundMessage`` for the crew, or drop it."""
        me = self._client.user if self._client else None
        author = message.author
        if author.bot or message.webhook_id is not None or (me is not None and author.id == me.id):
            return  # the crew's own replies and other bots never start a turn
        text = message.content
        private = isinstance(message.channel, discord.abc.PrivateChannel)
        if not private and me is not None:
            mentioned = me.id in message.raw_mentions or any(user.id == me.id for user in message.mentions)
            if self.config.guild_messages == "mention" and not mentioned:
                return
            text = re.sub(rf"<@!?{me.id}>", "", text).strip()
        if not text.strip():
            if not message.content and not message.attachments and not self._warned_empty:
                self._warned_empty = True
                self.log.warning(
                    "discord: a message arrived with no text; if that keeps happening, enable the Message "
                    "Content Intent at %s > your app > Bot",
                    PORTAL,
                )
            return
        await inbox(
            InboundMessage(
                text=text,
                channel=self.name,
                sender=str(author.id),
                chat_id=str(message.channel.id),
                metadata={
                    # The username is unique on Discord, so allowFrom may name it; display names are not.
                    "aliases": [author.name],
                    "message_id": str(message.id),
                    "sender_name": author.display_name,
                },
            )
        )

    # -- helpers ----------------------------------------------------------------------------

    def _connected_client(self) -> discord.Client:
        client = self._client
        if client is None or client.is_closed() or client.user is None:
            raise ConnectionError(f"channel {self.name} is not connected to Discord")
        return client

    def _api_origin(self) -> str:
        return (self.config.api_base or DISCORD_ORIGIN).rstrip("/")


class _CrewClient(discord.Client):
    """A discord.Client that passes messages to the channel and honours ``apiBase``."""

    def __init__(self, channel: DiscordChannel, inbox):
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.dm_messages = True
        intents.message_content = True
        # discord.py warns once per process that voice needs PyNaCl/davey; the crew never uses
        # voice, so that warning would only be noise in the gateway's log.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            max_messages=None,  # no message cache: the crew keeps its own history
            chunk_guilds_at_startup=False,
        )
        self._channel = channel
        self._inbox = inbox
        if channel.config.api_base:
            self._rebase_rest(channel.config.api_base.rstrip("/"))

    def _rebase_rest(self, api_base: str) -> None:
        request = self.http.request

        async def rebased_request(route, **kwargs):
            if route.url.startswith(DISCORD_ORIGIN + "/"):
                route.url = api_base + route.url[len(DISCORD_ORIGIN) :]
            return await request(route, **kwargs)

        self.http.request = rebased_request

    async def setup_hook(self) -> None:
        # Runs after the token is accepted, before the websocket opens: with apiBase set, the
        # gateway is whatever that server says (discord.py's plain Client would use Discord's).
        if not self._channel.config.api_base:
            return
        _shards, gateway_url, _limits = await self.http.get_bot_gateway()
        gateway = yarl.URL(gateway_url)
        default = str(DiscordWebSocket.DEFAULT_GATEWAY)
        ws_connect = self.http.ws_connect

        async def rebased_ws_connect(url, **kwargs):
            if url.startswith(default):
                url = str(gateway.with_query(yarl.URL(url).query))
            return await ws_connect(url, **kwargs)

        self.http.ws_connect = rebased_ws_connect

    async def on_message(self, message: discord.Message) -> None:
        await self._channel.handle(message, self._inbox)

    async def on_error(self, event_method: str, /, *args, **kwargs) -> None:
        # discord.py runs each event in its own task; a failure there must reach our log.
        self._channel.log.exception("discord: handling %s failed", event_method)
