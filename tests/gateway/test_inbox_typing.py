"""Typing while the crew works: a typing request in flight is never cancelled (an HTTP client
cancelled mid-request can leave its pooled connection stuck, and every later send then fails)."""

from __future__ import annotations

import asyncio
import types

from nanofolks_core.gateway import inbox as inbox_module
from nanofolks_core.gateway.inbox import ChannelInbox
from nanofolks_core.messages import InboundMessage


class SlowTypingChannel:
    message_limit = 4000

    def __init__(self) -> None:
        self.events: list[str] = []
        self.cancelled = 0

    async def typing(self, chat_id):
        self.events.append("typing-start")
        try:
            await asyncio.sleep(0.3)  # a slow platform API
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.events.append("typing-done")

    async def send(self, message):
        self.events.append(f"send:{message.text}")


class QuickCrewGateway:
    """Answers at once, while the first typing request is still on its way."""

    def __init__(self) -> None:
        self.crew = types.SimpleNamespace(rooms=types.SimpleNamespace(room_for_channel=lambda channel, chat: "general"))
        self.accepting = True
        self.tasks: list[asyncio.Task] = []

    def spawn(self, coro, name):
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.append(task)
        return task

    async def handle(self, inbound):
        await asyncio.sleep(0.05)
        reply = types.SimpleNamespace(bot="leader", emoji="", name="Leader", text="hi", error=None, delegated_by=None)
        return types.SimpleNamespace(room="general", warnings=(), replies=(reply,))


def test_a_typing_request_in_flight_finishes_before_the_reply_and_is_never_cancelled(monkeypatch):
    monkeypatch.setattr(inbox_module, "TYPING_EVERY", 0.05)

    async def main():
        channel, gateway = SlowTypingChannel(), QuickCrewGateway()
        inbox = ChannelInbox(gateway, "slowchat", channel, types.SimpleNamespace(allow_from=["*"]))
        for n in range(20):
            await inbox(InboundMessage(text=f"message {n}", channel="slowchat", sender="1", chat_id="c"))
        await asyncio.gather(*gateway.tasks)
        await asyncio.sleep(0.4)  # any typing loop still running would call typing() again here
        return channel

    channel = asyncio.run(main())
    assert channel.cancelled == 0
    assert channel.events.count("send:Leader: hi") == 20
    assert channel.events.count("typing-start") == channel.events.count("typing-done") == 20
    # Each reply comes after a typing indicator finished, not in the middle of one.
    sends = [i for i, event in enumerate(channel.events) if event.startswith("send:")]
    assert all(channel.events[:i].count("typing-done") >= k + 1 for k, i in enumerate(sends))
