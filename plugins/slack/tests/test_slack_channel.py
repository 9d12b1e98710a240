"""nanofolks-slack: the real slack-bolt / slack-sdk against the local FakeSlackServer, as the gateway drives it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
from nanofolks_slack import plugin
from nanofolks_slack.channel import SlackChannel, SlackSetupError
from nanofolks_slack.testing import FakeSlackServer

from nanofolks_core.api import OutboundMessage, Secret, sender_allowed
from nanofolks_core.testing import structure_section


@pytest.fixture
def slack():
    with FakeSlackServer() as server:
        yield server


@pytest.fixture
def make_channel(slack, plugin_services, register_plugin):
    spec = register_plugin(plugin, "slack").get("channel", "slack")

    def make(**overrides):
        fields = {
            "enabled": True,
            "allow_from": ["U0001"],
            "bot_token": Secret.parse(slack.bot_token),
            "app_token": Secret.parse("keyring:slack-app"),
            "api_base": slack.api_base,
        } | overrides
        services = plugin_services("slack", secrets={"slack-app": slack.app_token})
        return SlackChannel(spec=spec, config=plugin.SlackConfig(**fields), services=services)

    return make


async def _connected(channel, slack):
    """Start ``channel`` as the gateway does; returns (start task, inbox queue) once connected."""
    inbox: asyncio.Queue = asyncio.Queue()
    before = slack.connections
    running = asyncio.create_task(channel.start(inbox.put))
    waiting = asyncio.create_task(asyncio.to_thread(slack.wait_connected, before + 1))
    done, _ = await asyncio.wait([running, waiting], return_when=asyncio.FIRST_COMPLETED)
    if running in done:
        running.result()  # raises what start() raised
    await waiting
    return running, inbox


async def _stop(channel, running):
    await channel.stop()
    await asyncio.wait_for(running, 5)


def test_registered_with_camel_case_config_and_no_sdk_at_discovery():
    config, issues = structure_section(
        {"enabled": True, "botToken": "env:SLACK_BOT", "appToken": "keyring:slack", "allowFrom": ["U0001"]},
        plugin.SlackConfig,
        "channels.slack",
    )
    assert issues == []
    assert (config.bot_token.display(), config.app_token.display()) == ("env:SLACK_BOT", "keyring:slack")
    assert config.allow_from == ["U0001"]
    heavy = "('slack_sdk', 'slack_bolt', 'aiohttp')"
    code = f"import sys, nanofolks_slack.plugin; print([m for m in {heavy} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_message_reaches_the_inbox_is_acked_and_the_reply_is_posted_plain(make_channel, slack):
    async def run():
        channel = make_channel()
        running, inbox = await _connected(channel, slack)
        [envelope] = slack.send_message("what is 2 < 3 & 4 > 1?", user="U0001", channel="D0001")
        message = await asyncio.wait_for(inbox.get(), 5)
        await asyncio.to_thread(slack.wait_ack, envelope)
        await channel.send(OutboundMessage(text="*Yes* <@U0002> & <b>", bot="leader", channel="slack", chat_id="D0001"))
        posted = await asyncio.to_thread(slack.wait_posted, 1)
        await _stop(channel, running)
        return message, posted

    message, posted = asyncio.run(run())
    assert (message.channel, message.sender, message.chat_id) == ("slack", "U0001", "D0001")
    assert message.text == "what is 2 < 3 & 4 > 1?"  # Slack's &lt; &amp; &gt; undone
    assert message.room == "general"
    assert message.metadata["aliases"] == ["ada"]  # the unique handle only, never a display name
    assert message.metadata["sender_name"] == "Ada"
    assert message.metadata["message_id"]
    assert "thread_ts" not in message.metadata
    # Escaped and with mrkdwn off, so Slack shows exactly the text (no mention, no bold).
    assert posted == [
        {"channel": "D0001", "text": "*Yes* &lt;@U0002&gt; &amp; &lt;b&gt;", "thread_ts": None, "mrkdwn": False}
        | {"ts": posted[0]["ts"]}
    ]


def test_a_message_in_a_thread_is_answered_in_that_thread(make_channel, slack):
    async def run():
        channel = make_channel()
        running, inbox = await _connected(channel, slack)
        slack.send_message("in a thread", channel="C0001", channel_type="channel", thread_ts="1700000000.000100")
        message = await asyncio.wait_for(inbox.get(), 5)
        await channel.send(OutboundMessage(text="threaded answer", bot="coder", channel="slack", chat_id="C0001"))
        posted = await asyncio.to_thread(slack.wait_posted, 1)
        await _stop(channel, running)
        return message, posted

    message, posted = asyncio.run(run())
    assert message.chat_id == "C0001"
    assert message.metadata["thread_ts"] == "1700000000.000100"
    assert (posted[0]["channel"], posted[0]["thread_ts"]) == ("C0001", "1700000000.000100")


def test_a_strangers_thread_does_not_pull_the_crews_reply_into_it(make_channel, slack):
    async def run():
        channel = make_channel()
        running, inbox = await _connected(channel, slack)
        slack.send_message("top level", user="U0001", channel="C0001", channel_type="channel")
        slack.send_message("psst", user="U0002", channel="C0001", channel_type="channel", thread_ts="1700000000.1")
        [await asyncio.wait_for(inbox.get(), 5) for _ in range(2)]
        await channel.send(OutboundMessage(text="to the top", bot="leader", channel="slack", chat_id="C0001"))
        posted = await asyncio.to_thread(slack.wait_posted, 1)
        await _stop(channel, running)
        return posted

    assert asyncio.run(run())[0]["thread_ts"] is None


def test_bot_own_and_edited_messages_are_acked_but_not_passed_on(make_channel, slack):
    async def run():
        channel = make_channel()
        running, inbox = await _connected(channel, slack)
        ignored = [
            *slack.send_message("from another bot", user="U0009", bot_id="B0009"),
            *slack.send_message("from ourselves", user=slack.bot_user_id),
            *slack.send_message("bot_message", user="U0001", subtype="bot_message"),
            *slack.send_message("edited", user="U0001", subtype="message_changed"),
            *slack.send_message("joined", user="U0001", subtype="channel_join"),
        ]
        slack.send_message("the real one", user="U0001")
        message = await asyncio.wait_for(inbox.get(), 5)
        for envelope in ignored:
            await asyncio.to_thread(slack.wait_ack, envelope)
        await asyncio.sleep(0.3)  # time for a wrongly passed-on event to arrive
        await _stop(channel, running)
        return message, inbox.qsize()

    message, left = asyncio.run(run())
    assert message.text == "the real one"
    assert left == 0


def test_a_mention_delivered_as_message_and_app_mention_reaches_the_crew_once(make_channel, slack):
    async def run():
        channel = make_channel()
        running, inbox = await _connected(channel, slack)
        envelopes = slack.send_message("hi crew", user="U0001", channel="C0001", channel_type="channel", mention=True)
        message = await asyncio.wait_for(inbox.get(), 5)
        for envelope in envelopes:
            await asyncio.to_thread(slack.wait_ack, envelope)
        await asyncio.sleep(0.3)
        await _stop(channel, running)
        return envelopes, message, inbox.qsize()

    envelopes, message, left = asyncio.run(run())
    assert len(envelopes) == 2
    assert message.text == "hi crew"  # the bot's own <@UBOT> is not part of what was said
    assert left == 0


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"bot_token": Secret.parse("xoxb-wrong")}, "Slack rejected channels.slack.botToken (invalid_auth)"),
        ({"app_token": Secret.parse("xapp-wrong")}, "Slack rejected channels.slack.appToken (invalid_auth)"),
    ],
)
def test_a_rejected_token_fails_start_with_the_key_to_fix(make_channel, slack, overrides, expected):
    channel = make_channel(**overrides)
    with pytest.raises(SlackSetupError) as failure:
        asyncio.run(asyncio.wait_for(channel.start(lambda message: None), 10))
    assert str(failure.value).startswith(expected)
    assert "wrong" not in str(failure.value)  # the token itself is never shown
    assert slack.connections == 0


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"app_token": None}, r"channels\.slack\.appToken is not set"),
        ({"bot_token": None}, r"channels\.slack\.botToken is not set"),
        ({"bot_token": Secret.parse("env:NANOFOLKS_TEST_SLACK_UNSET")}, "NANOFOLKS_TEST_SLACK_UNSET"),
    ],
)
def test_a_missing_token_fails_when_the_channel_is_built_not_at_each_start(
    make_channel, slack, monkeypatch, overrides, expected
):
    # Raised by the constructor, the gateway marks the channel failed once (a missing token is
    # the user's to fix) instead of restarting it with backoff forever.
    monkeypatch.delenv("NANOFOLKS_TEST_SLACK_UNSET", raising=False)
    with pytest.raises(Exception, match=expected) as failure:
        make_channel(**overrides)
    assert failure.type.__name__ in ("SlackSetupError", "SecretUnavailable")
    assert slack.calls == []


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        ({"name": "eve", "display_name": "Ada", "real_name": "Ada"}, "a member named herself Ada"),
        ({"name": "ada", "team_id": "TOTHER"}, "a Slack Connect user whose handle is ada in her own org"),
        ({"name": "ada", "is_stranger": True}, "a stranger"),
    ],
)
def test_a_display_name_or_an_outside_handle_never_passes_allow_from(make_channel, slack, user, reason):
    slack.users["U0003"] = user

    async def run():
        channel = make_channel(allow_from=["ada"])
        running, inbox = await _connected(channel, slack)
        slack.send_message("let me in", user="U0003", channel="D0003")
        message = await asyncio.wait_for(inbox.get(), 5)
        await _stop(channel, running)
        return message

    message = asyncio.run(run())
    # What the gateway's inbox checks before anything reaches the crew:
    assert not sender_allowed(["ada"], message.sender, *message.metadata["aliases"]), reason
    assert "Ada" not in message.metadata["aliases"] and "ada" not in message.metadata["aliases"]
    assert sender_allowed(["U0003"], message.sender, *message.metadata["aliases"])  # the id still works


def test_an_unreachable_api_base_is_a_connection_error(make_channel):
    channel = make_channel(api_base="http://127.0.0.1:9/api")
    with pytest.raises(ConnectionError, match="could not reach Slack at http://127.0.0.1:9/api/"):
        asyncio.run(asyncio.wait_for(channel.start(lambda message: None), 10))


def test_an_unreachable_socket_url_fails_start_at_once_with_the_reason(plugin_services, register_plugin):
    spec = register_plugin(plugin, "slack").get("channel", "slack")

    async def run(slack):
        config = plugin.SlackConfig(
            bot_token=Secret.parse(slack.bot_token), app_token=Secret.parse(slack.app_token), api_base=slack.api_base
        )
        channel = SlackChannel(spec=spec, config=config, services=plugin_services("slack"))
        began = time.monotonic()
        with pytest.raises(ConnectionError) as failure:
            await channel.start(lambda message: None)
        return str(failure.value), time.monotonic() - began

    with FakeSlackServer(socket_url="ws://127.0.0.1:9/link/") as slack:
        message, took = asyncio.run(run(slack))
    assert message.startswith("could not open Slack's Socket Mode websocket: Cannot connect to host 127.0.0.1:9")
    assert took < 5  # not the SDK's endless retry, nor the 30 s timeout


def test_start_returns_when_the_socket_drops_and_works_again_when_restarted(make_channel, slack):
    async def run():
        channel = make_channel()
        running, inbox = await _connected(channel, slack)
        slack.drop_connections()
        await asyncio.wait_for(running, 5)  # the gateway sees the end and restarts with backoff
        # The same channel object, started again (as the gateway's supervisor does).
        running, inbox = await _connected(channel, slack)
        slack.send_message("after the drop", user="U0001")
        message = await asyncio.wait_for(inbox.get(), 5)
        await _stop(channel, running)
        return message

    assert asyncio.run(run()).text == "after the drop"
    assert slack.connections == 2


def test_messages_acknowledged_before_a_drop_still_reach_the_crew(make_channel, slack):
    async def run():
        channel = make_channel()
        received = []

        async def slow_inbox(message):
            await asyncio.sleep(0.1)  # a busy gateway
            received.append(message.text)

        before = slack.connections
        running = asyncio.create_task(channel.start(slow_inbox))
        await asyncio.to_thread(slack.wait_connected, before + 1)
        envelopes = [slack.send_message(f"quick {n}", user="U0001")[0] for n in range(5)]
        for envelope in envelopes:
            await asyncio.to_thread(slack.wait_ack, envelope)
        slack.drop_connections()
        await asyncio.wait_for(running, 10)
        return received

    assert asyncio.run(run()) == [f"quick {n}" for n in range(5)]


def test_a_refresh_requested_by_slack_moves_to_a_new_socket_without_ending_start(make_channel, slack):
    async def run():
        channel = make_channel()
        running, inbox = await _connected(channel, slack)
        slack.request_refresh()
        await asyncio.to_thread(slack.wait_connected, 2)
        await asyncio.sleep(1)  # two rounds of start()'s watch over the socket
        still_running = not running.done()
        slack.send_message("after the refresh", user="U0001")
        message = await asyncio.wait_for(inbox.get(), 5)
        await _stop(channel, running)
        return still_running, message

    still_running, message = asyncio.run(run())
    assert still_running
    assert message.text == "after the refresh"


def test_without_users_read_the_user_id_alone_identifies_the_sender(plugin_services, register_plugin):
    spec = register_plugin(plugin, "slack").get("channel", "slack")

    async def run(slack):
        config = plugin.SlackConfig(
            bot_token=Secret.parse(slack.bot_token), app_token=Secret.parse(slack.app_token), api_base=slack.api_base
        )
        channel = SlackChannel(spec=spec, config=config, services=plugin_services("slack"))
        running, inbox = await _connected(channel, slack)
        slack.send_message("one", user="U0001")
        slack.send_message("two", user="U0001")
        messages = [await asyncio.wait_for(inbox.get(), 5) for _ in range(2)]
        await _stop(channel, running)
        return messages

    with FakeSlackServer(users_read=False) as slack:
        messages = asyncio.run(run(slack))
        calls = slack.calls
    seen = [(m.sender, m.metadata["aliases"], m.metadata["sender_name"]) for m in messages]
    assert seen == [("U0001", [], "U0001")] * 2
    assert calls.count("users.info") == 1  # missing_scope is remembered, not asked per message


def test_quick_messages_reach_the_crew_in_the_order_they_were_written(make_channel, slack):
    async def run():
        channel = make_channel()
        running, inbox = await _connected(channel, slack)
        for number in range(20):
            slack.send_message(f"message {number}", user=("U0001", "U0002")[number % 2])
        texts = [(await asyncio.wait_for(inbox.get(), 5)).text for _ in range(20)]
        await _stop(channel, running)
        return texts

    assert asyncio.run(run()) == [f"message {number}" for number in range(20)]
