"""A channel's message to the crew and the replies back:

    allowFrom (strangers stop here: no reply, no model call, logged once) → room of the chat
    (``general`` unless ``nanofolks room link`` mapped it) → typing… every few seconds while the
    crew works → ``Gateway.handle`` (one writer per room) → each reply attributed to its bot,
    split to the channel's ``message_limit`` and sent in order with ``channel.send``.

The inbox returns as soon as the message is taken: the turn runs in a task of its own, so a
channel that awaits its inbox for each message still lets chats in other rooms be answered at
the same time. A crew error (no model, provider down) becomes one short apology in the chat and
a log line; nothing a turn raises reaches the channel's ``start``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import attrs

from nanofolks_core.channels import DEFAULT_MESSAGE_LIMIT, sender_allowed, split_message
from nanofolks_core.errors import NanofolksError
from nanofolks_core.gateway.supervisor import describe_error
from nanofolks_core.messages import InboundMessage, OutboundMessage
from nanofolks_core.text import clean_text, for_terminal

log = logging.getLogger("nanofolks.gateway")

#: Seconds a finished turn waits for a typing request still in flight before it replies.
TYPING_GRACE = 2.0
#: Seconds between two typing indicators (platforms show one for ~5 s).
TYPING_EVERY = 4.0

#: Strangers remembered as already logged (per channel); beyond this the log may name one again.
MAX_STRANGERS_REMEMBERED = 10_000

APOLOGY = "Sorry, the crew could not answer that just now ({reason}). Please try again later."


def attributed(reply: Any) -> str:
    """A reply as the chat shows it: ``<emoji> <name>: <text>``, as the terminal prints it."""
    via = " (for the Leader)" if getattr(reply, "delegated_by", None) else ""
    speaker = " ".join(part for part in (for_terminal(reply.emoji), for_terminal(reply.name)) if part.strip())
    text = "(could not answer just now)" if getattr(reply, "error", None) else reply.text
    return f"{speaker}{via}: {for_terminal(text)}"


def message_limit(channel: Any) -> int:
    """The channel's ``message_limit`` when it has a sensible one, else the default."""
    limit = getattr(channel, "message_limit", DEFAULT_MESSAGE_LIMIT)
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1 else DEFAULT_MESSAGE_LIMIT


async def send_texts(
    channel: Any,
    name: str,
    chat_id: str | None,
    room: str,
    bot: str,
    texts: Iterable[str],
    metadata: dict[str, Any] | None = None,
) -> bool:
    """Send each text, split to the channel's limit, in order; False (and a log line) when a send
    raised: the rest of that text is not sent, out of order pieces would be worse. ``metadata``
    (a reply's: the metadata of the message it answers) goes with every piece."""
    limit = message_limit(channel)
    for text in texts:
        for chunk in split_message(text, limit):
            try:
                await channel.send(
                    OutboundMessage(
                        text=chunk, bot=bot, channel=name, room=room, chat_id=chat_id, metadata=dict(metadata or {})
                    )
                )
            except Exception as exc:  # noqa: BLE001 - plugin code: log it with the channel's name
                log.warning("channel %s: could not send a reply to %s: %s", name, chat_id, describe_error(exc))
                return False
    return True


def _reply_metadata(inbound: InboundMessage) -> dict[str, Any]:
    """What a reply carries of the message it answers (``message_id``, ``thread_ts`` ...), so a
    channel can answer in the same thread or quote it; never the sender's other identities."""
    metadata = inbound.metadata if isinstance(inbound.metadata, dict) else {}
    return {key: value for key, value in metadata.items() if key != "aliases"}


class ChannelInbox:
    """The ``inbox`` handed to one channel's ``start``."""

    def __init__(self, gateway: Any, name: str, channel: Any, config: Any) -> None:
        self.gateway = gateway
        self.name = name
        self.channel = channel
        self.allow_from = list(getattr(config, "allow_from", None) or [])
        self._strangers_logged: set[str] = set()

    async def __call__(self, message: InboundMessage) -> None:
        metadata = message.metadata if isinstance(message.metadata, dict) else {}
        aliases = metadata.get("aliases") or []
        if isinstance(aliases, str):
            aliases = [aliases]
        sender = str(message.sender)
        if not sender_allowed(self.allow_from, sender, *aliases):
            self._log_stranger(sender, aliases)
            return
        chat_id = str(message.chat_id) if message.chat_id not in (None, "") else sender
        room = self.gateway.crew.rooms.room_for_channel(self.name, chat_id)
        inbound = attrs.evolve(
            message, channel=self.name, sender=sender, chat_id=chat_id, room=room, text=clean_text(str(message.text))
        )
        if not inbound.text.strip():
            return  # a photo, a sticker, a join notice: nothing for the crew to read
        if not self.gateway.accepting:
            log.warning("channel %s: the gateway is stopping; a message from %s was not taken", self.name, sender)
            return
        # No content in the log; the chat id is what `nanofolks room link` needs.
        shown = for_terminal(sender), for_terminal(chat_id)
        log.info("channel %s: message from %s in chat %s -> room %s", self.name, *shown, room)
        self.gateway.spawn(self._answer(inbound), f"{self.name}:{chat_id}->{room}")

    def _log_stranger(self, sender: str, aliases: list) -> None:
        if sender in self._strangers_logged:
            return
        if len(self._strangers_logged) >= MAX_STRANGERS_REMEMBERED:
            self._strangers_logged.clear()  # a flood of strangers must not grow memory without end
        self._strangers_logged.add(sender)
        known = f" (also known as {', '.join(map(str, aliases))})" if aliases else ""
        log.warning(
            "channel %s: ignored a message from %s%s: not in channels.%s.allowFrom; "
            'add "%s" there to let them talk to the crew (further messages from them are ignored silently)',
            self.name,
            for_terminal(sender),
            for_terminal(known),
            self.name,
            for_terminal(sender),
        )

    async def _answer(self, inbound: InboundMessage) -> None:
        answered = asyncio.Event()
        typing = asyncio.create_task(self._keep_typing(inbound.chat_id, answered))
        try:
            try:
                result = await self.gateway.handle(inbound)
            finally:
                # Never cancel a typing request in flight: an HTTP client cancelled mid-request can
                # leave its pooled connection stuck (after ~50 messages every send failed with a
                # pool timeout). Let it finish, briefly, so the reply comes after the indicator.
                answered.set()
                await asyncio.wait({typing}, timeout=TYPING_GRACE)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any crew failure is an apology, never a dead channel
            reason = _reason(exc)
            log.error(
                "channel %s: no answer for %s in room %s: %s",
                self.name,
                inbound.chat_id,
                inbound.room,
                describe_error(exc),
                exc_info=not isinstance(exc, NanofolksError),
            )
            await send_texts(
                self.channel,
                self.name,
                inbound.chat_id,
                inbound.room,
                "leader",
                [APOLOGY.format(reason=reason)],
                _reply_metadata(inbound),
            )
            return
        for warning in result.warnings:
            log.warning("room %s: %s", result.room, warning)
        for reply in result.replies:
            if not await send_texts(
                self.channel, self.name, inbound.chat_id, result.room, reply.bot, [attributed(reply)],
                _reply_metadata(inbound),
            ):  # fmt: skip
                return

    async def _keep_typing(self, chat_id: str | None, answered: asyncio.Event) -> None:
        typing = getattr(self.channel, "typing", None)
        if not callable(typing):
            return
        while not answered.is_set():
            try:
                await typing(chat_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - typing is a nicety: never stop a turn for it
                log.debug("channel %s: typing failed: %s", self.name, describe_error(exc))
                return
            try:
                await asyncio.wait_for(answered.wait(), TYPING_EVERY)
            except TimeoutError:
                continue


def _reason(exc: BaseException) -> str:
    from nanofolks_core.gateway.server import GatewayStopping
    from nanofolks_core.pipeline.window import MessageTooLong
    from nanofolks_core.provider import ProviderError, ProviderNotConfigured

    if isinstance(exc, GatewayStopping):  # taken a moment before a shutdown began
        return "the crew is restarting"
    if isinstance(exc, ProviderNotConfigured):
        return "no model is configured"
    if isinstance(exc, MessageTooLong):
        return "the message is too long"
    if isinstance(exc, ProviderError):
        return "the model did not answer"
    return "an error on the crew's side"
