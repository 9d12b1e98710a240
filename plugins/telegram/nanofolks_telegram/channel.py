"""The Telegram channel: long-polls the Bot API with python-telegram-bot and sends plain-text replies.

Imported only when the gateway starts the channel (python-telegram-bot and httpx load here).
The gateway enforces ``allowFrom``, maps each chat to a room, splits replies to
:attr:`TelegramChannel.message_limit` and repeats :meth:`TelegramChannel.typing` while the crew
works; this module only talks to Telegram.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import re
import warnings
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import httpx
from telegram import Bot, Message, MessageEntity, Update
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from nanofolks_core.api import InboundMessage, NanofolksError, OutboundMessage, split_message
from nanofolks_telegram.config import TelegramConfig

#: Telegram's limit on one message's text, in characters.
MESSAGE_LIMIT = 4096

#: Seconds to wait for Telegram to accept a connection or answer an ordinary call.
CALL_TIMEOUT = 20.0

#: Seconds :meth:`TelegramChannel.stop` waits for ``start`` to finish the message in hand.
STOP_WAIT = 5.0

#: The longest flood-control pause (429 ``retry_after``) honoured in place; longer ends the poll.
MAX_RETRY_AFTER = 60.0


class TelegramChannelError(NanofolksError):
    """The channel cannot run: a rejected token, another poller on the same bot, Telegram unreachable."""


class _TokenFilter(logging.Filter):
    """Masks the bot token in log records of httpx and python-telegram-bot: both log request URLs,
    and every Bot API URL contains the token."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        return True


_MASKED_TOKENS: set[str] = set()


def _mask_token_in_logs(token: str) -> None:
    """Put a :class:`_TokenFilter` on every logger of httpx, httpcore and python-telegram-bot.

    A filter acts only on records logged to its own logger (not on those a child passes up), so
    each one gets it; their loggers exist once the modules are imported, as they are here."""
    if token in _MASKED_TOKENS:
        return
    _MASKED_TOKENS.add(token)
    token_filter = _TokenFilter(token)
    names = [*logging.root.manager.loggerDict, "telegram.Bot", "telegram.ext.Updater"]
    for name in names:
        if name.split(".")[0] in ("httpx", "httpcore", "telegram"):
            logging.getLogger(name).addFilter(token_filter)


class TelegramChannel:
    """Built by the gateway as ``TelegramChannel(spec=, config=<channels.telegram>, services=)``."""

    #: The gateway splits replies to this many characters (Telegram's limit).
    message_limit = MESSAGE_LIMIT

    def __init__(self, *, spec: Any, config: TelegramConfig | None, services: Any) -> None:
        self.name = spec.name
        self.config = config or TelegramConfig()
        self.services = services
        self.log = services.log
        if self.config.token is None:
            raise TelegramChannelError(
                f"channels.{self.name}.token is not set: create a bot with @BotFather and set its token "
                f'(e.g. "token": "env:TELEGRAM_BOT_TOKEN")'
            )
        # Resolved now: a missing env variable or secret makes the channel "failed" with the
        # reason at once, instead of a retry loop that cannot succeed until the gateway restarts.
        self._token: str = services.secret(self.config.token)
        self._bot: Bot | None = None
        self._me: Any = None
        self._offset: int | None = None  # next update to ask for; kept across restarts of start()
        self._stopping = asyncio.Event()
        self._poll: asyncio.Future | None = None
        self._idle = asyncio.Event()  # set while start() is not running
        self._connecting = asyncio.Lock()
        self._idle.set()

    # -- the Channel protocol ---------------------------------------------------------------

    async def start(self, inbox: Callable[[InboundMessage], Awaitable[None]]) -> None:
        """Long-poll Telegram and hand every message for the crew to ``inbox``.

        Returns after :meth:`stop`; raises :class:`TelegramChannelError` when polling cannot go
        on (rejected token, another program polling the same bot, Telegram unreachable): the
        gateway restarts the channel with backoff.
        """
        self._idle.clear()
        try:
            bot = await self._connected_bot()
            # getUpdates is refused while a webhook is set (a bot moved from another host).
            await self._call("deleteWebhook", bot.delete_webhook)
            self.log.info("%s: polling as @%s", self.name, self._me.username)
            while not self._stopping.is_set():
                for update in await self._next_updates(bot):
                    self._offset = update.update_id + 1
                    inbound = self._inbound(update)
                    if inbound is not None:
                        await inbox(inbound)
            await self._confirm(bot)
        finally:
            self._idle.set()

    async def send(self, message: OutboundMessage) -> None:
        """Send one reply to ``message.chat_id`` as plain text (no parse mode: markup a model
        writes can never make Telegram refuse a reply). Raises :class:`TelegramChannelError`
        when Telegram refuses it (the user blocked the bot, an unknown chat ...)."""
        if not message.chat_id:
            raise TelegramChannelError(f"{self.name}: a reply without a chat_id cannot be delivered")
        bot = await self._connected_bot()
        chat, topic = _address(message.chat_id)
        # The gateway already splits to message_limit; this keeps a direct caller within it too,
        # and cuts again where emoji and other astral characters make a piece too long for Telegram.
        for chunk in _pieces(message.text, self.message_limit):
            if chunk.strip():
                send = partial(bot.send_message, chat, chunk, message_thread_id=topic)  # a new call per attempt
                await self._call("sendMessage", send, retry=True)

    async def typing(self, chat_id: str) -> None:
        """Show "typing…" in the chat once (Telegram shows it for about 5 s)."""
        bot = await self._connected_bot()
        chat, topic = _address(chat_id)
        await self._call(
            "sendChatAction",
            lambda: bot.send_chat_action(chat_id=chat, action=ChatAction.TYPING, message_thread_id=topic),
        )

    async def stop(self) -> None:
        """End polling (``start`` returns promptly) and close the HTTP connections."""
        self._stopping.set()
        if self._poll is not None:
            self._poll.cancel()
        try:
            # start() confirms the updates it handed over before it returns.
            await asyncio.wait_for(self._idle.wait(), STOP_WAIT)
        except TimeoutError:
            self.log.warning("%s: still busy with a message %.0f s after stop", self.name, STOP_WAIT)
        bot, self._bot = self._bot, None
        if bot is not None:
            await bot.shutdown()

    # -- talking to the Bot API -----------------------------------------------------------------

    async def _connected_bot(self) -> Bot:
        if self._bot is not None:
            return self._bot
        async with self._connecting:  # start, send and typing may all ask first
            if self._bot is None:
                if self._stopping.is_set():
                    raise TelegramChannelError(f"{self.name}: the channel is stopped")
                await self._connect()
            return self._bot

    async def _connect(self) -> None:
        token = self._token
        _mask_token_in_logs(token)
        # Two connections: the poll :meth:`stop` cancels may leave one stuck, and the final
        # confirmation (:meth:`_confirm`) needs another.
        poll_request = HTTPXRequest(connection_pool_size=2, connect_timeout=CALL_TIMEOUT, read_timeout=CALL_TIMEOUT)
        request = HTTPXRequest(connection_pool_size=8, connect_timeout=CALL_TIMEOUT, read_timeout=CALL_TIMEOUT)
        bot = Bot(token, base_url=f"{self._api_base}/bot", request=request, get_updates_request=poll_request)
        try:
            await self._call("getMe", bot.initialize)  # checks the token
        except BaseException:
            await bot.shutdown()
            raise
        self._bot, self._me = bot, bot.bot

    @property
    def _api_base(self) -> str:
        return (self.config.api_base or "https://api.telegram.org").rstrip("/")

    async def _next_updates(self, bot: Bot) -> tuple[Update, ...]:
        """One long poll; :meth:`stop` ends it early (then no updates)."""

        def poll() -> asyncio.Future:
            self._poll = asyncio.ensure_future(
                bot.get_updates(offset=self._offset, timeout=self.config.poll_timeout, allowed_updates=["message"])
            )
            return self._poll

        try:
            return await self._call("getUpdates", poll, retry=True, shield=False)
        except asyncio.CancelledError:
            if self._stopping.is_set() and asyncio.current_task().cancelling() == 0:
                return ()
            raise
        except TelegramChannelError as exc:
            # A long poll answered late is no failure: ask again. Not connecting at all is one.
            if isinstance(exc.__cause__, TimedOut) and isinstance(exc.__cause__.__cause__, httpx.ReadTimeout):
                return ()
            raise
        finally:
            self._poll = None

    async def _confirm(self, bot: Bot) -> None:
        """Tell Telegram the handed-over updates are done, so the next start does not get them again."""
        if self._offset is None:
            return
        try:
            await bot.get_updates(offset=self._offset, timeout=0, limit=1)
        except TelegramError as exc:
            self.log.debug("%s: could not confirm the last updates: %s", self.name, self._masked(str(exc)))

    async def _call(
        self, method: str, make: Callable[[], Awaitable[Any]], *, retry: bool = False, shield: bool = True
    ) -> Any:
        """Await ``make()`` (one Bot API call); Telegram's errors become :class:`TelegramChannelError`.
        With ``retry``, a flood-control answer (429) of at most :data:`MAX_RETRY_AFTER` seconds
        is waited out once and the call made again.

        With ``shield`` (all calls but the long poll), cancelling the caller (the gateway stops
        "typing…" the moment a reply is ready) lets the request finish in the background: httpx
        cancelled mid-request can leave the connection marked busy in its pool, and after a few
        dozen of those every call fails with "Pool timeout" (measured: 48 messages in)."""
        for attempt in (1, 2):
            try:
                return await (_uncancelled(make()) if shield else make())
            except RetryAfter as exc:
                seconds = _seconds(exc)
                if not retry or attempt == 2 or seconds > MAX_RETRY_AFTER:
                    raise self._error(method, exc) from exc
                self.log.warning("%s: flood control: Telegram asks to wait %.0f s (%s)", self.name, seconds, method)
                await asyncio.sleep(seconds)
            except TelegramError as exc:
                raise self._error(method, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, method: str, exc: TelegramError) -> TelegramChannelError:
        if isinstance(exc, InvalidToken):
            return TelegramChannelError(
                f"{self.name}: the bot token was rejected by {self._api_base} (channels.{self.name}.token): "
                "copy it again from @BotFather (/token)"
            )
        text = self._masked(exc.message)
        if isinstance(exc, Conflict):
            hint = "another program is polling this bot (one gateway per bot token) or a webhook is set"
        elif isinstance(exc, Forbidden):
            hint = "the user blocked the bot, or the bot is no longer in the chat"
        elif isinstance(exc, TimedOut):
            hint = "Telegram did not answer in time"
        elif isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
            hint = f"is {self._api_base} reachable? check the network or channels.{self.name}.apiBase"
        else:
            hint = ""
        return TelegramChannelError(f"{self.name}: {method} failed: {text}" + (f" ({hint})" if hint else ""))

    def _masked(self, text: str) -> str:
        return text.replace(self._token, "<token>")

    # -- incoming messages ----------------------------------------------------------------------

    def _inbound(self, update: Update) -> InboundMessage | None:
        """The message for the crew in ``update``, or None (another bot, not for us in a group,
        no text)."""
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return None
        text = message.text or message.caption
        if not text:
            return None
        if message.chat.type != "private":
            text = self._group_text(message, text)
            if text is None:
                return None
        user = message.from_user
        chat_id = str(message.chat.id)
        if message.is_topic_message and message.message_thread_id:
            # Each topic of a forum group is a conversation of its own: "<chat>:<topic>" gets the
            # reply into the topic, and `room link` can map one topic to a room.
            chat_id = f"{chat_id}:{message.message_thread_id}"
        return InboundMessage(
            text=text,
            channel=self.name,
            sender=str(user.id),
            chat_id=chat_id,
            metadata={
                "aliases": [user.username] if user.username else [],
                "message_id": message.message_id,
                "sender_name": user.full_name,
                "chat_type": message.chat.type,
            },
        )

    def _group_text(self, message: Message, text: str) -> str | None:
        """A group message's text for the crew, without the bot's own @mention; None when the
        ``groups`` setting says the crew should not see it."""
        mode = self.config.groups
        if mode == "off":
            return None
        mention = f"@{self._me.username}".casefold()
        # Telegram marks @mentions and /commands as entities: "@mybot_two" or an address in a
        # URL is not a mention of @mybot.
        entities = message.parse_entities if message.text else message.parse_caption_entities
        found = entities([MessageEntity.MENTION, MessageEntity.BOT_COMMAND]).values()
        mentioned = any(part.casefold() == mention or part.casefold().endswith(mention) for part in found)
        replied = message.reply_to_message is not None and (
            message.reply_to_message.from_user is not None and message.reply_to_message.from_user.id == self._me.id
        )
        if mode == "mention" and not (mentioned or replied):
            return None
        if mentioned:
            # "@mybot what's up" reaches the crew as "what's up" ("/help@mybot" as "/help"); the
            # crew's own @names still work.
            text = re.sub(re.escape(mention), "", text, count=1, flags=re.IGNORECASE).strip()
        return text or None


async def _uncancelled(call: Awaitable[Any]) -> Any:
    """``await call``, except that cancelling the caller does not cancel ``call``: it runs to its
    end in the background (its outcome is then dropped)."""
    task = asyncio.ensure_future(call)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_drop_outcome)
        raise


def _drop_outcome(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log "exception was never retrieved"


def _address(chat_id: str) -> tuple[str, int | None]:
    """``"<chat>"`` or ``"<chat>:<topic>"`` (a forum topic) as (chat id, topic id or None)."""
    chat, _, topic = str(chat_id).partition(":")
    return chat, int(topic) if topic.lstrip("-").isdigit() else None


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _pieces(text: str, limit: int) -> list[str]:
    """``text`` split to ``limit`` characters counted as Telegram may count them: in UTF-16 code
    units, where an emoji is two. A piece over the limit that way is split again, finer."""
    pieces = []
    for piece in split_message(text, limit):
        if _utf16_length(piece) <= limit:
            pieces.append(piece)
        else:
            pieces.extend(_pieces(piece, max(1, len(piece) // 2)) if len(piece) > 1 else [piece])
    return pieces


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the int form of retry_after is deprecated in 22.x
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)
