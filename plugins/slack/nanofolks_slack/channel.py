"""The Slack channel: Socket Mode in, ``chat.postMessage`` out (slack-sdk's asyncio clients).

Imported only when the gateway starts the channel. Both tokens are read when the channel is
built, so a missing one makes the channel ``failed`` at once instead of retried. One
:meth:`SlackChannel.start` is one Socket Mode connection: it checks both tokens with Slack,
opens the websocket, hands each person's message to the inbox, and returns when the socket
closes (the gateway restarts it with backoff), so the SDK's own reconnect loop is switched
off. Every envelope is acknowledged at once (Slack redelivers
unacknowledged ones); the crew's answer comes later as an ordinary message.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from nanofolks_core.api import InboundMessage, NanofolksError, OutboundMessage, sender_allowed
from nanofolks_slack.plugin import SlackConfig

SLACK_API = "https://slack.com/api"
#: Seconds to open the websocket before start() gives up (the SDK alone would retry forever).
CONNECT_TIMEOUT = 30
#: Seconds start() waits at the end for acknowledged events still queued to reach the inbox.
DRAIN_TIMEOUT = 5
# Message subtypes that are still a person writing to the crew; every other subtype
# (message_changed, message_deleted, channel_join, bot_message ...) is not a new message.
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
# Events remembered for de-duplication: a channel mention arrives as `message` and `app_mention`.
SEEN_EVENTS = 1000


class _ConnectFailures(logging.Filter):
    """Catches the SDK's "Failed to connect ... Retrying" log record (a traceback every few
    seconds, forever) so start() can end with that reason instead; the timeout covers an SDK
    that words it differently."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = asyncio.Event()
        self.reason = ""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith("Failed to connect"):
            return True
        self.reason = message.removeprefix("Failed to connect (error: ").split("); Retrying")[0]
        self.failed.set()
        return False


class SlackSetupError(NanofolksError):
    """A token is missing or Slack rejected it; the message names the config key and the fix."""


def escape(text: str) -> str:
    """Text shown literally by Slack: ``&``, ``<`` and ``>`` escaped, as Slack's API asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """The text a person typed, from Slack's escaped form."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class SlackChannel:
    """Built by the gateway as ``SlackChannel(spec=, config=, services=)``.

    Replies go to the conversation (``chat_id`` = Slack channel id) and, when the person wrote in
    a thread, into that thread. Slack shows no typing indicator for bots over the Web API, so
    there is no ``typing`` method (a reaction would need another scope and leave marks behind).
    """

    #: Characters per reply message: Slack accepts ~40,000, but long walls of text read badly.
    message_limit = 3000

    def __init__(self, *, spec: Any, config: SlackConfig | None, services: Any) -> None:
        """Raises :class:`SlackSetupError` when a token is not set (and the secret store's error
        when its ``env:``/``keyring:`` value cannot be read), so the gateway marks the channel
        failed instead of retrying something only the user can fix."""
        self.name = spec.name
        self.config = config or SlackConfig()
        self.log = services.log
        self._services = services
        self._bot_token = self._token("bot_token", "botToken", "xoxb-")
        self._app_token = self._token("app_token", "appToken", "xapp-")
        self._web: AsyncWebClient | None = None
        self._bot_user_id = ""
        self._team_id = ""
        self._stopping = asyncio.Event()
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._threads: dict[str, str | None] = {}
        self._identities: dict[str, tuple[list[str], str]] = {}
        self._users_read = True

    # -- the Channel protocol ------------------------------------------------------------------

    async def start(self, inbox: Any) -> None:
        """Connect over Socket Mode and hand each message to ``inbox``; return when the socket closes.

        Raises :class:`SlackSetupError` when a token is rejected, ``ConnectionError``
        when Slack (or ``apiBase``) cannot be reached.
        """
        web = self._web_client()
        app_token = self._app_token
        auth = await self._api(web.auth_test(), "botToken", "a bot token (xoxb-...) from OAuth & Permissions")
        self._bot_user_id = auth.get("user_id") or ""
        self._team_id = auth.get("team_id") or ""
        opened = await self._api(
            web.apps_connections_open(app_token=app_token),
            "appToken",
            "an app-level token (xapp-...) with the connections:write scope, and Socket Mode switched on",
        )

        client = SocketModeClient(
            app_token=app_token, web_client=web, logger=self._sdk_logger("socket"), auto_reconnect_enabled=False
        )
        client.wss_uri = opened["url"]
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def on_request(client: SocketModeClient, request: SocketModeRequest) -> None:
            # The SDK runs each envelope in a task of its own; queueing before the first await
            # keeps Slack's order, and one reader below hands them over in that order.
            if request.type == "events_api":
                events.put_nowait(request.payload.get("event") or {})
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

        client.socket_mode_request_listeners.append(on_request)
        woken = asyncio.Event()

        async def on_close(_message: Any) -> None:
            woken.set()

        client.on_close_listeners.append(on_close)
        client.on_error_listeners.append(on_close)
        reader = asyncio.create_task(self._read_events(events, inbox))
        failures = _ConnectFailures()
        client.logger.addFilter(failures)
        try:
            await self._connect(client, failures)
            self.log.info("%s connected over Socket Mode as %s", self.name, auth.get("user") or self._bot_user_id)
            while not self._stopping.is_set():
                session = client.current_session
                # A `disconnect` envelope makes the SDK swap sockets under its lock: not an end.
                if (session is None or session.closed) and not client.connect_operation_lock.locked():
                    self.log.info("%s: the Socket Mode connection closed", self.name)
                    return
                woken.clear()
                waits = [asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(woken.wait())]
                await asyncio.wait(waits, timeout=0.5)
                for waiting in waits:
                    waiting.cancel()
        finally:
            # Envelopes already acknowledged are Slack's no longer: hand them over before leaving.
            try:
                await asyncio.wait_for(events.join(), DRAIN_TIMEOUT)
            except TimeoutError:
                self.log.warning("%s: %d Slack message(s) not passed on at disconnect", self.name, events.qsize())
            reader.cancel()
            client.logger.removeFilter(failures)
            await client.close()

    async def _connect(self, client: SocketModeClient, failures: _ConnectFailures) -> None:
        """Open the websocket once: the SDK's ``connect`` would retry forever on failure."""
        connecting = asyncio.ensure_future(client.connect())
        failed = asyncio.ensure_future(failures.failed.wait())
        await asyncio.wait([connecting, failed], timeout=CONNECT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        failed.cancel()
        if connecting.done():
            connecting.result()
            return
        connecting.cancel()
        reason = failures.reason or f"no connection within {CONNECT_TIMEOUT} s"
        raise ConnectionError(f"could not open Slack's Socket Mode websocket: {reason}")

    async def send(self, message: OutboundMessage) -> None:
        """Post one reply chunk as plain text; in the thread the person wrote in, if any."""
        if not message.chat_id:
            raise ValueError(f"{self.name}: a reply needs the chat_id of a Slack conversation")
        thread_ts = message.metadata.get("thread_ts") or self._threads.get(message.chat_id)
        extra = {"thread_ts": thread_ts} if thread_ts else {}
        web = self._web_client()
        try:
            await web.chat_postMessage(channel=message.chat_id, text=escape(message.text), mrkdwn=False, **extra)
        except SlackApiError as error:
            raise ConnectionError(
                f"Slack refused the reply to {message.chat_id}: {error.response.get('error', error)}"
            ) from None
        except (aiohttp.ClientError, OSError) as error:
            raise ConnectionError(f"could not reach Slack at {self._base_url()}: {error}") from None

    async def stop(self) -> None:
        """Close the connection; ``start`` returns within half a second."""
        self._stopping.set()

    # -- incoming events -----------------------------------------------------------------------

    async def _read_events(self, events: asyncio.Queue[dict[str, Any]], inbox: Any) -> None:
        """Hand queued events to the inbox one at a time, in the order Slack sent them."""
        while True:
            event = await events.get()
            try:
                await self._pass_on(event, inbox)
            except Exception:  # noqa: BLE001 - one odd event must not stop the ones after it
                self.log.exception("%s: could not pass on a Slack event of type %s", self.name, event.get("type"))
            finally:
                events.task_done()

    async def _pass_on(self, event: dict[str, Any], inbox: Any) -> None:
        if event.get("subtype") not in PERSON_SUBTYPES or event.get("bot_id") or event.get("bot_profile"):
            return  # edits, joins, and every bot's messages, ours included
        user, chat, ts = event.get("user"), event.get("channel"), event.get("ts")
        if not user or not chat or not ts or user == self._bot_user_id:
            return
        if (chat, ts) in self._seen:
            return  # the same message as `message` and as `app_mention`, or a redelivery
        self._seen[(chat, ts)] = None
        while len(self._seen) > SEEN_EVENTS:
            self._seen.popitem(last=False)
        text = unescape(re.sub(rf"<@{re.escape(self._bot_user_id)}(\|[^>]*)?>", "", event.get("text") or "")).strip()
        if not text:
            return  # a bare @mention says nothing to answer
        thread_ts = event.get("thread_ts")
        aliases, name = await self._identity(user)
        if sender_allowed(self.config.allow_from, user, *aliases):
            # Replies follow the last thread the crew was spoken to in; the gateway drops a
            # stranger's message, and it must not steer where the crew's replies go either.
            self._threads[chat] = thread_ts
        metadata: dict[str, Any] = {"aliases": aliases, "message_id": ts, "sender_name": name}
        if thread_ts:
            metadata["thread_ts"] = thread_ts
        await inbox(InboundMessage(text=text, channel=self.name, sender=user, chat_id=chat, metadata=metadata))

    async def _identity(self, user: str) -> tuple[list[str], str]:
        """The user's alias for allowFrom entries written as names, and the name to show.

        The alias is the unique handle (``name``) of a member of our own workspace only: display
        and real names can be set to anything by anyone (``Ada``), and a Slack Connect guest's
        handle is unique only in their own organisation, so those never let anyone in. Needs the
        optional ``users:read`` scope; without it the user id alone identifies them.
        """
        if user in self._identities:
            return self._identities[user]
        found: tuple[list[str], str] = ([], user)
        if self._users_read:
            try:
                info = (await self._web_client().users_info(user=user))["user"]
                profile = info.get("profile") or {}
                ours = bool(self._team_id) and info.get("team_id") == self._team_id and not info.get("is_stranger")
                aliases = [info["name"]] if ours and info.get("name") else []
                found = (aliases, profile.get("display_name") or info.get("real_name") or info.get("name") or user)
            except SlackApiError as error:
                if error.response.get("error") == "missing_scope":
                    self._users_read = False
                    self.log.info("%s: no users:read scope, so allowFrom must list user ids", self.name)
            except (aiohttp.ClientError, OSError) as error:
                self.log.warning("%s: users.info failed: %s", self.name, error)
                return found  # not cached: try again next message
        self._identities[user] = found
        return found

    # -- helpers -------------------------------------------------------------------------------

    def _base_url(self) -> str:
        return (self.config.api_base or SLACK_API).rstrip("/") + "/"

    def _token(self, field: str, key: str, prefix: str) -> str:
        value = getattr(self.config, field)
        if value is None:
            raise SlackSetupError(
                f"channels.slack.{key} is not set: add the {prefix}... token (see docs/channels/slack.md)"
            )
        return self._services.secret(value)

    def _web_client(self) -> AsyncWebClient:
        if self._web is None:
            self._web = AsyncWebClient(token=self._bot_token, base_url=self._base_url(), logger=self._sdk_logger("web"))
            self._web.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
        return self._web

    def _sdk_logger(self, part: str) -> logging.Logger:
        # The SDKs log request details at DEBUG; keep them at INFO so no token reaches a log.
        logger = self.log.getChild(part)
        logger.setLevel(max(logging.INFO, self.log.getEffectiveLevel()))
        return logger

    async def _api(self, call: Any, key: str, wanted: str) -> Any:
        """Await a Web API call made at start-up; a rejection names the config key to fix."""
        try:
            return await call
        except SlackApiError as error:
            code = error.response.get("error", "error")
            raise SlackSetupError(f"Slack rejected channels.slack.{key} ({code}): it must be {wanted}") from None
        except (aiohttp.ClientError, OSError) as error:
            raise ConnectionError(f"could not reach Slack at {self._base_url()}: {error}") from None
