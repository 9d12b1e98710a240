"""The Telegram channel with the real python-telegram-bot against a local Bot API server, driven
as the gateway drives it: start(inbox) as a task, send / typing while it runs, stop."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import pytest
from nanofolks_telegram import plugin
from nanofolks_telegram.channel import TelegramChannel, TelegramChannelError
from nanofolks_telegram.config import TelegramConfig
from nanofolks_telegram.testing import FakeTelegramServer

from nanofolks_core.api import OutboundMessage, Secret, SecretUnavailable
from nanofolks_core.testing import structure_section


@pytest.fixture
def telegram():
    with FakeTelegramServer() as server:
        yield server


@pytest.fixture
def make_channel(telegram, plugin_services, register_plugin):
    spec = register_plugin(plugin, "telegram").get("channel", "telegram")

    def make(*, token: str | None = None, secrets: dict | None = None, **settings) -> TelegramChannel:
        config = TelegramConfig(
            enabled=True, token=Secret.parse(token or telegram.token), api_base=telegram.url, **settings
        )
        return TelegramChannel(spec=spec, config=config, services=plugin_services("telegram", secrets=secrets))

    make.spec = spec
    return make


class Running:
    """A channel's start() running as a task with a queue as its inbox."""

    def __init__(self, channel: TelegramChannel):
        self.channel = channel
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.create_task(channel.start(self.inbox.put))

    async def next(self, timeout: float = 10):
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def stop(self) -> float:
        """Stop the channel; returns the seconds until start() returned."""
        started = time.monotonic()
        await self.channel.stop()
        await asyncio.wait_for(self.task, 5)
        return time.monotonic() - started


def test_registered_as_telegram_with_its_config_section(register_plugin):
    spec = register_plugin(plugin, "telegram").get("channel", "telegram")
    assert spec.config_section() == "channels.telegram"
    assert spec.load() is TelegramChannel

    data = {"enabled": True, "token": "env:TELEGRAM_BOT_TOKEN", "allowFrom": ["42", "@ada"], "pollTimeout": 10}
    section, issues = structure_section(data, TelegramConfig, "channels.telegram")
    assert issues == []
    assert section.token == Secret("env", "TELEGRAM_BOT_TOKEN")
    assert (section.allow_from, section.poll_timeout, section.groups) == (["42", "@ada"], 10, "mention")

    _, issues = structure_section({"groups": "some", "apiBase": "api.example.org"}, TelegramConfig, "channels.telegram")
    messages = " ".join(str(issue) for issue in issues)
    assert "groups" in messages and "'mention', 'all', 'off'" in messages
    assert "apiBase" in messages and "http://" in messages


def test_a_private_message_reaches_the_inbox_with_who_wrote_it(telegram, make_channel):
    async def scenario():
        running = Running(make_channel())
        telegram.push_message(42, "hello crew", username="ada", first_name="Ada", last_name="Lovelace")
        received = await running.next()
        stopped_in = await running.stop()
        return received, stopped_in

    received, stopped_in = asyncio.run(scenario())
    assert (received.text, received.channel) == ("hello crew", "telegram")
    assert (received.sender, received.chat_id) == ("42", "42")
    assert received.metadata["aliases"] == ["ada"]
    assert received.metadata["sender_name"] == "Ada Lovelace"
    assert isinstance(received.metadata["message_id"], int)
    assert received.room == "general"  # the channel never picks a room: the gateway maps chats
    assert stopped_in < 2  # stop ends the 30 s long poll at once
    assert telegram.pending_updates() == 0  # confirmed: a restart does not hand it over again
    assert any(r["method"] == "deleteWebhook" for r in telegram.requests)


def test_groups_only_when_the_bot_is_mentioned_or_replied_to_and_never_other_bots(telegram, make_channel):
    async def scenario():
        running = Running(make_channel())
        telegram.push_message(7, "chatter between people", chat_id=-100)
        telegram.push_message(7, "what do you think?", chat_id=-100, mention_bot=True, username="bo")
        telegram.push_message(8, "and you?", chat_id=-100, reply_to_bot=True)
        telegram.push_message(9, "I am a bot", is_bot=True, mention_bot=True, chat_id=-100)
        telegram.push_message(7, "@nanofolks_test_bot_two is another bot", chat_id=-100)
        telegram.push_message(7, "mail me at bo@nanofolks_test_bot.example", chat_id=-100)
        telegram.push_message(8, "/help@nanofolks_test_bot", chat_id=-100)
        telegram.push_message(42, "private still works")
        got = [await running.next() for _ in range(4)]
        await asyncio.sleep(0.3)
        extra = running.inbox.qsize()
        await running.stop()
        return got, extra

    got, extra = asyncio.run(scenario())
    assert [(m.text, m.sender, m.chat_id) for m in got] == [
        ("what do you think?", "7", "-100"),  # the bot's @mention is taken out
        ("and you?", "8", "-100"),
        ("/help", "8", "-100"),  # a command for this bot
        ("private still works", "42", "42"),
    ]
    assert got[0].metadata["chat_type"] == "group"
    assert extra == 0


def test_captions_count_as_text_and_edits_stickers_and_joins_are_skipped(telegram, make_channel):
    chat = {"id": 42, "type": "private", "first_name": "Ada"}
    person = {"id": 42, "is_bot": False, "first_name": "Ada"}

    def message(**fields):
        return {"message_id": 900 + len(telegram.requests), "date": 1, "chat": chat, "from": person, **fields}

    async def scenario():
        running = Running(make_channel())
        telegram.push_update({"edited_message": message(text="an edit", edit_date=2)})
        telegram.push_update({"message": message(sticker=None, new_chat_members=[person])})
        sticker = {"file_id": "s", "file_unique_id": "s", "width": 1, "height": 1, "is_animated": False}
        telegram.push_update({"message": message(sticker={**sticker, "is_video": False, "type": "regular"})})
        photo = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
        telegram.push_update({"message": message(photo=photo, caption="what is in this picture?")})
        telegram.push_message(42, "and plain text")
        got = [(await running.next()).text for _ in range(2)]
        await asyncio.sleep(0.3)
        await running.stop()
        return got, running.inbox.qsize()

    assert asyncio.run(scenario()) == (["what is in this picture?", "and plain text"], 0)
    assert telegram.pending_updates() == 0


def test_a_forum_topic_is_a_chat_of_its_own_and_the_reply_goes_into_it(telegram, make_channel):
    async def scenario():
        running = Running(make_channel())
        telegram.push_message(7, "plans for the release?", chat_id=-1007, topic=12, mention_bot=True)
        inbound = await running.next()
        await running.channel.typing(inbound.chat_id)
        await running.channel.send(OutboundMessage(text="Ship it Friday.", bot="leader", chat_id=inbound.chat_id))
        await running.stop()
        return inbound

    inbound = asyncio.run(scenario())
    assert (inbound.text, inbound.chat_id) == ("plans for the release?", "-1007:12")
    [reply] = telegram.sent
    assert (reply["chat_id"], reply["params"]["message_thread_id"], reply["text"]) == (-1007, 12, "Ship it Friday.")
    assert any(
        r["method"] == "sendChatAction" and r["params"].get("message_thread_id") == 12 for r in telegram.requests
    )


@pytest.mark.parametrize(("groups", "expected"), [("all", ["chatter", "private"]), ("off", ["private"])])
def test_the_groups_setting(telegram, make_channel, groups, expected):
    async def scenario():
        running = Running(make_channel(groups=groups))
        telegram.push_message(7, "chatter", chat_id=-100)
        telegram.push_message(42, "private")
        got = [(await running.next()).text for _ in expected]
        await asyncio.sleep(0.3)
        await running.stop()
        return got, running.inbox.qsize()

    assert asyncio.run(scenario()) == (expected, 0)


def test_replies_go_out_as_plain_text_and_typing_is_shown(telegram, make_channel):
    async def scenario():
        running = Running(make_channel())
        telegram.push_message(42, "hi", username="ada")
        inbound = await running.next()
        channel = running.channel
        await channel.typing(inbound.chat_id)
        await channel.send(OutboundMessage(text="🏴‍☠️ Captain: *Ahoy* <b>Ada</b>", bot="leader", chat_id="42"))
        await channel.send(OutboundMessage(text="x " * 5000, bot="leader", chat_id="42"))  # 10000 characters
        await channel.send(OutboundMessage(text="🦜 " * 3000, bot="leader", chat_id="42"))  # 12000 UTF-16 units
        await running.stop()

    asyncio.run(scenario())
    first, *long_parts = [m for m in telegram.sent if "🦜" not in m["text"]]
    parrots = [m["text"] for m in telegram.sent if "🦜" in m["text"]]
    assert first["chat_id"] == 42 and first["text"] == "🏴‍☠️ Captain: *Ahoy* <b>Ada</b>"
    assert len(parrots) >= 3 and "".join(parrots).count("🦜") == 3000  # none refused as too long
    assert "parse_mode" not in first["params"]  # markup is never interpreted: nothing can make Telegram refuse it
    assert len(long_parts) == 3 and all(len(part["text"]) <= 4096 for part in long_parts)
    assert "".join(part["text"] for part in long_parts).replace(" ", "") == "x" * 5000
    assert [(a["chat_id"], a["action"]) for a in telegram.chat_actions] == [(42, "typing")]
    assert TelegramChannel.message_limit == 4096


def test_typing_cancelled_mid_request_hundreds_of_times_leaves_send_working(telegram, make_channel):
    """The gateway cancels its "typing…" task the moment a reply is ready, often while the
    sendChatAction request is in flight. That must not use up the HTTP connection pool."""
    rng = random.Random(9)

    async def scenario():
        running = Running(make_channel())
        telegram.push_message(42, "hi")
        await running.next()
        for _ in range(300):
            typing = asyncio.create_task(running.channel.typing("42"))
            for _ in range(rng.randint(0, 12)):
                await asyncio.sleep(0)
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await typing
        await asyncio.wait_for(
            running.channel.send(OutboundMessage(text="still sending", bot="leader", chat_id="42")), 10
        )
        await running.stop()

    asyncio.run(scenario())
    assert telegram.sent[-1]["text"] == "still sending"


def test_a_rejected_token_is_a_clear_error_without_the_token(telegram, make_channel):
    bad = "999:not-the-right-token"

    async def scenario():
        channel = make_channel(token=bad)
        with pytest.raises(TelegramChannelError) as failure:
            await asyncio.wait_for(channel.start(asyncio.Queue().put), 10)
        await channel.stop()
        return str(failure.value)

    message = asyncio.run(scenario())
    assert "token was rejected" in message and "channels.telegram.token" in message and "@BotFather" in message
    assert bad not in message and "not-the-right" not in message
    assert telegram.requests == []  # the server saw no call with its token


def test_the_token_comes_from_the_environment_or_the_secret_store(telegram, make_channel, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram.token)

    async def scenario(channel):
        running = Running(channel)
        telegram.push_message(42, "hi")
        received = await running.next()
        await running.stop()
        return received.text

    assert asyncio.run(scenario(make_channel(token="env:TELEGRAM_BOT_TOKEN"))) == "hi"
    assert asyncio.run(scenario(make_channel(token="keyring:telegram", secrets={"telegram": telegram.token}))) == "hi"


def test_a_missing_token_fails_when_the_channel_is_built(make_channel, plugin_services):
    # The gateway shows a channel it cannot build as "failed" with this message, and does not retry it.
    with pytest.raises(SecretUnavailable, match="NO_SUCH_TELEGRAM_TOKEN"):
        make_channel(token="env:NO_SUCH_TELEGRAM_TOKEN")
    with pytest.raises(TelegramChannelError, match=r"channels\.telegram\.token is not set.*@BotFather"):
        TelegramChannel(
            spec=make_channel.spec, config=TelegramConfig(enabled=True), services=plugin_services("telegram")
        )


def test_a_lost_server_ends_start_with_an_error_and_a_restart_does_not_repeat_messages(telegram, make_channel):
    async def scenario():
        channel = make_channel()
        running = Running(channel)
        telegram.push_message(42, "first")
        first = await running.next()
        await asyncio.sleep(0.2)  # the next long poll (which confirms "first") is under way
        telegram.stop()  # Telegram goes away
        with pytest.raises(TelegramChannelError) as failure:
            await asyncio.wait_for(running.task, 30)

        telegram.push_message(42, "second")
        telegram.start()  # ... and comes back; the gateway starts the channel again
        running = Running(channel)
        second = await running.next()
        await asyncio.sleep(0.3)
        await running.stop()
        return first.text, str(failure.value), second.text, running.inbox.qsize()

    first, error, second, left = asyncio.run(scenario())
    assert (first, second, left) == ("first", "second", 0)  # "first" was not handed over twice
    assert error.startswith("telegram: getUpdates failed") and "reachable" in error


def test_a_long_poll_answered_late_is_asked_again_not_a_failure(telegram, make_channel, monkeypatch):
    from nanofolks_telegram import channel as channel_module

    monkeypatch.setattr(channel_module, "CALL_TIMEOUT", 0.5)  # read timeout = pollTimeout + 0.5 s

    async def scenario():
        telegram.delay_next("getUpdates", 3)  # the first poll is answered after the client gave up
        running = Running(make_channel(poll_timeout=1))
        polls = len(await asyncio.to_thread(telegram.wait_for_request, "getUpdates", 2, timeout=10))
        telegram.push_message(42, "still there?")
        received = await running.next(timeout=15)
        done = running.task.done()
        await running.stop()
        return polls, received.text, done

    polls, text, done = asyncio.run(scenario())
    assert polls == 2  # after the late one, the channel polled again
    assert (text, done) == ("still there?", False)


def test_another_poller_on_the_same_bot_ends_start_with_the_reason(telegram, make_channel):
    telegram.fail_next(
        "getUpdates",
        409,
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    )

    async def scenario():
        channel = make_channel()
        with pytest.raises(TelegramChannelError) as failure:
            await asyncio.wait_for(channel.start(asyncio.Queue().put), 10)
        await channel.stop()
        await channel.stop()  # stopping twice (or a channel that is not running) is harmless
        return str(failure.value)

    message = asyncio.run(scenario())
    assert message.startswith("telegram: getUpdates failed: Conflict: terminated by other getUpdates request")
    assert "one gateway per bot token" in message


def test_flood_control_is_waited_out_and_a_blocked_user_is_a_clear_error(telegram, make_channel):
    async def scenario():
        running = Running(make_channel())
        telegram.push_message(42, "hi")
        await running.next()
        telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
        started = time.monotonic()
        await running.channel.send(OutboundMessage(text="after the pause", bot="leader", chat_id="42"))
        waited = time.monotonic() - started
        telegram.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
        with pytest.raises(TelegramChannelError) as blocked:
            await running.channel.send(OutboundMessage(text="lost", bot="leader", chat_id="42"))
        with pytest.raises(TelegramChannelError) as unknown:
            await running.channel.send(OutboundMessage(text="to nobody", bot="leader", chat_id="31337"))
        await running.stop()
        return waited, str(blocked.value), str(unknown.value)

    waited, blocked, unknown = asyncio.run(scenario())
    assert waited >= 1
    assert [m["text"] for m in telegram.sent] == ["after the pause"]
    assert "blocked" in blocked
    assert "chat not found" in unknown.lower()


def test_the_token_never_reaches_the_logs(telegram, make_channel, caplog):
    caplog.set_level("DEBUG")

    async def scenario():
        running = Running(make_channel())
        telegram.push_message(42, "hi")
        await running.next()
        await running.channel.send(OutboundMessage(text="hello", bot="leader", chat_id="42"))
        await running.stop()

    asyncio.run(scenario())
    # httpx logs every request URL (which holds the token) at INFO: they are there, masked.
    assert any("/bot<token>/getUpdates" in record.getMessage() for record in caplog.records)
    assert telegram.token not in caplog.text
