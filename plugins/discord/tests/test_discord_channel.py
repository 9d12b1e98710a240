"""The real discord.py against FakeDiscordServer (REST + websocket gateway on 127.0.0.1), driven
the way the nanofolks gateway drives a channel: start(inbox) as a task, send/typing, stop."""

from __future__ import annotations

import asyncio
import time

import pytest
from nanofolks_discord import plugin
from nanofolks_discord.channel import DiscordChannel, DiscordChannelError
from nanofolks_discord.plugin import DiscordConfig
from nanofolks_discord.testing import FakeDiscordServer

from nanofolks_core.api import OutboundMessage, Secret

TOKEN = "MTAx.fake.bot-token"
ADA = 100000000000000042
CHAT = 200000000000000007
GUILD = 300000000000000003


@pytest.fixture
def discord_server():
    with FakeDiscordServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def make_channel(register_plugin, plugin_services, discord_server):
    """``make_channel(**config) -> DiscordChannel`` pointed at the fake server."""
    spec = register_plugin(plugin, "discord").get("channel", "discord")

    def make(*, secrets=None, **overrides):
        settings = {"token": Secret.parse(TOKEN), "api_base": discord_server.api_base, **overrides}
        return DiscordChannel(
            spec=spec, config=DiscordConfig(**settings), services=plugin_services("discord", secrets=secrets)
        )

    return make


class Running:
    """A channel whose start() runs as a task, with a queue as its inbox."""

    def __init__(self, channel: DiscordChannel, server: FakeDiscordServer):
        self.channel, self.server = channel, server
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.channel.start(self.inbox.put))
        await asyncio.to_thread(self.server.wait_until_connected)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.channel.stop()
        await asyncio.wait_for(self.task, 5)

    async def push(self, content: str, **fields) -> dict:
        return await asyncio.to_thread(self.server.push_message, content, **fields)

    async def next(self, timeout: float = 5.0):
        return await asyncio.wait_for(self.inbox.get(), timeout)


def test_logs_in_and_identifies_with_the_message_intents(make_channel, discord_server):
    async def scenario():
        async with Running(make_channel(), discord_server):
            pass

    asyncio.run(scenario())
    assert discord_server.requests[:3] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
        ("GET", "/gateway/bot"),
    ]
    assert discord_server.unhandled == []
    intents = discord_server.identifies[0]["intents"]
    for bit, name in ((1 << 9, "guild messages"), (1 << 12, "direct messages"), (1 << 15, "message content")):
        assert intents & bit, f"{name} intent not requested"
    assert discord_server.gateway_queries[0]["encoding"] == "json"


def test_a_direct_message_reaches_the_inbox_as_the_gateway_expects(make_channel, discord_server):
    async def scenario():
        async with Running(make_channel(), discord_server) as running:
            pushed = await running.push("hello crew", author_id=ADA, author_name="ada", channel_id=CHAT)
            return pushed, await running.next(), running.inbox.qsize()

    pushed, received, left = asyncio.run(scenario())
    assert (received.text, received.channel, received.sender, received.chat_id) == (
        "hello crew",
        "discord",
        str(ADA),
        str(CHAT),
    )
    assert received.room == "general"  # the gateway maps the chat to a room, not the channel
    assert received.metadata == {"aliases": ["ada"], "message_id": pushed["id"], "sender_name": "Ada"}
    assert left == 0


def test_a_reply_is_posted_as_plain_text_that_pings_nobody(make_channel, discord_server):
    reply = "Ahoy! @everyone look, and <@100000000000000099> too"

    async def scenario():
        async with Running(make_channel(), discord_server) as running:
            await running.channel.typing(str(CHAT))
            await running.channel.send(OutboundMessage(text=reply, bot="leader", channel="discord", chat_id=str(CHAT)))

    asyncio.run(scenario())
    [sent] = discord_server.sent
    assert (sent["channel_id"], sent["content"]) == (str(CHAT), reply)
    assert sent["allowed_mentions"] == {"parse": []}  # no @everyone, user or role ping
    assert discord_server.typing == [str(CHAT)]


def test_a_reply_longer_than_2000_characters_is_posted_in_pieces(make_channel, discord_server):
    words = " ".join(f"word{i}" for i in range(900))  # ~6000 characters

    async def scenario():
        async with Running(make_channel(), discord_server) as running:
            await running.channel.send(OutboundMessage(text=words, bot="leader", channel="discord", chat_id="5"))

    asyncio.run(scenario())
    pieces = [sent["content"] for sent in discord_server.sent]
    assert len(pieces) >= 3 and all(len(piece) <= 2000 for piece in pieces)
    assert " ".join(pieces) == words


def test_bots_and_the_crews_own_messages_are_ignored(make_channel, discord_server):
    async def scenario():
        async with Running(make_channel(), discord_server) as running:
            await running.push("I am another bot", author_id=555000000000000001, bot=True)
            bot_id = int(discord_server.bot_user["id"])
            await running.push("I am the crew itself", author_id=bot_id, author_name="crew")
            await running.push("and I am a person", author_id=ADA)
            first = await running.next()
            await asyncio.sleep(0.2)
            return first, running.inbox.qsize()

    first, left = asyncio.run(scenario())
    assert first.text == "and I am a person"  # events arrive in order: the two before were dropped
    assert left == 0


def test_in_a_server_channel_only_mentions_reach_the_crew(make_channel, discord_server):
    bot = discord_server.bot_user

    async def scenario():
        async with Running(make_channel(), discord_server) as running:
            await running.push("just chatting", guild_id=GUILD, channel_id=CHAT)
            await running.push("@everyone meeting!", guild_id=GUILD, channel_id=CHAT, mention_everyone=True)
            await running.push(f"<@{bot['id']}> what's the plan?", guild_id=GUILD, channel_id=CHAT, mentions=[bot])
            first = await running.next()
            await asyncio.sleep(0.2)
            return first, running.inbox.qsize()

    first, left = asyncio.run(scenario())
    assert (first.text, first.chat_id) == ("what's the plan?", str(CHAT))  # the mention itself is taken out
    assert left == 0


def test_guild_messages_all_hands_every_server_message_to_the_crew(make_channel, discord_server):
    async def scenario():
        async with Running(make_channel(guild_messages="all"), discord_server) as running:
            await running.push("just chatting", guild_id=GUILD, channel_id=CHAT)
            return await running.next()

    assert asyncio.run(scenario()).text == "just chatting"


def test_a_message_without_text_is_dropped_and_the_intent_hint_logged_once(make_channel, discord_server, caplog):
    async def scenario():
        async with Running(make_channel(guild_messages="all"), discord_server) as running:
            await running.push("", guild_id=GUILD)  # what Discord sends without the Message Content Intent
            await running.push("", guild_id=GUILD)
            await running.push("words", guild_id=GUILD)
            return await running.next(), running.inbox.qsize()

    with caplog.at_level("WARNING", logger="nanofolks.discord"):
        first, left = asyncio.run(scenario())
    assert (first.text, left) == ("words", 0)
    hints = [record for record in caplog.records if "Message Content Intent" in record.getMessage()]
    assert len(hints) == 1


def test_the_token_can_come_from_the_secret_store(make_channel, discord_server):
    async def scenario():
        channel = make_channel(token=Secret.parse("keyring:discord"), secrets={"discord": TOKEN})
        async with Running(channel, discord_server) as running:
            await running.push("hi")
            return await running.next()

    assert asyncio.run(scenario()).text == "hi"


def test_a_wrong_token_fails_start_with_a_clear_error(make_channel, discord_server):
    channel = make_channel(token=Secret.parse("not-the-token"))
    with pytest.raises(DiscordChannelError) as caught:
        asyncio.run(asyncio.wait_for(channel.start(lambda message: None), 10))
    message = str(caught.value)
    assert "Discord rejected the bot token" in message and "Reset Token" in message
    assert "not-the-token" not in message
    assert discord_server.identifies == []  # it never reached the websocket


def test_no_token_configured_fails_when_the_channel_is_built_and_says_which_key_to_set(make_channel):
    # Raised by the constructor, the gateway marks the channel failed once instead of
    # restarting it with backoff forever.
    with pytest.raises(DiscordChannelError, match=r"channels\.discord\.token is not set"):
        make_channel(token=None)


def test_an_unset_token_variable_fails_when_the_channel_is_built(make_channel, monkeypatch):
    monkeypatch.delenv("NANOFOLKS_TEST_DISCORD_UNSET", raising=False)
    with pytest.raises(Exception, match="NANOFOLKS_TEST_DISCORD_UNSET") as caught:
        make_channel(token=Secret.parse("env:NANOFOLKS_TEST_DISCORD_UNSET"))
    assert caught.type.__name__ == "SecretUnavailable"


def test_an_unreachable_discord_is_a_connection_error_naming_the_address(make_channel, discord_server):
    discord_server.stop()  # nothing listens on that port any more
    with pytest.raises(ConnectionError, match=f"could not reach Discord at {discord_server.api_base}"):
        asyncio.run(asyncio.wait_for(make_channel().start(lambda message: None), 10))


def test_a_disabled_message_content_intent_is_named(make_channel, discord_server):
    discord_server.privileged_intents = False
    with pytest.raises(DiscordChannelError, match="Message Content Intent"):
        asyncio.run(asyncio.wait_for(make_channel().start(lambda message: None), 10))


def test_start_raises_when_the_gateway_connection_is_lost_and_a_new_start_reconnects(make_channel, discord_server):
    channel = make_channel()

    async def scenario():
        inbox: asyncio.Queue = asyncio.Queue()
        first = asyncio.create_task(channel.start(inbox.put))
        await asyncio.to_thread(discord_server.wait_until_connected)
        discord_server.accept_gateway = False  # the network is gone: the reconnect fails too
        await asyncio.to_thread(discord_server.close_gateway, 4000)
        # start() ends (here it raises), for the gateway to restart it with backoff; it does not
        # keep retrying on its own.
        done, _ = await asyncio.wait([first], timeout=10)
        assert done, "start() kept running after the gateway connection was lost"
        with pytest.raises(ConnectionError):
            await channel.send(OutboundMessage(text="x", bot="leader", channel="discord", chat_id=str(CHAT)))

        discord_server.accept_gateway = True
        second = asyncio.create_task(channel.start(inbox.put))  # what the gateway's restart does
        await asyncio.to_thread(discord_server.wait_until_connected)
        await asyncio.to_thread(discord_server.push_message, "back again")
        received = await asyncio.wait_for(inbox.get(), 5)
        await channel.stop()
        await asyncio.wait_for(second, 5)
        return first, received

    first, received = asyncio.run(scenario())
    assert first.exception() is not None
    assert len(discord_server.identifies) == 2
    assert received.text == "back again"


def test_a_reconnect_asked_by_the_gateway_is_done_by_discord_py_without_ending_start(make_channel, discord_server):
    async def scenario():
        async with Running(make_channel(), discord_server) as running:
            await asyncio.to_thread(discord_server.close_gateway, 4000)  # resumable: "reconnect, please"
            deadline = time.monotonic() + 10
            while len(discord_server.identifies) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await running.push("still here?")
            received = await running.next()
            return received, running.task.done()

    received, ended = asyncio.run(scenario())
    assert received.text == "still here?"
    assert ended is False
    assert len(discord_server.identifies) == 2  # RESUME got INVALID_SESSION, so it identified again


def test_a_non_resumable_gateway_close_ends_start_with_the_reason(make_channel, discord_server):
    async def scenario():
        channel = make_channel()
        task = asyncio.create_task(channel.start(asyncio.Queue().put))
        await asyncio.to_thread(discord_server.wait_until_connected)
        await asyncio.to_thread(discord_server.close_gateway, 4004)  # authentication failed
        return await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)

    [error] = asyncio.run(scenario())
    assert isinstance(error, DiscordChannelError)
    assert "4004" in str(error) and "Reset Token" in str(error)


def test_stop_makes_start_return_promptly(make_channel, discord_server):
    async def scenario():
        channel = make_channel()
        task = asyncio.create_task(channel.start(asyncio.Queue().put))
        await asyncio.to_thread(discord_server.wait_until_connected)
        began = time.monotonic()
        await channel.stop()
        result = await asyncio.wait_for(task, 5)
        return result, time.monotonic() - began

    result, took = asyncio.run(scenario())
    assert result is None
    assert took < 3
    discord_server.wait_until_disconnected()
    # The client sent a close frame, the connection did not just drop: discord.py sends 1000, or 4000
    # when its reader is waiting (aiohttp hands the close to the reader, which closes with 4000).
    assert len(discord_server.closes) == 1 and discord_server.closes[0] in (1000, 4000), discord_server.closes
