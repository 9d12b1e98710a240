"""nanofolks-whatsapp: the channel's real websocket client against FakeBridge (the bridge protocol
on 127.0.0.1, token check included), driven as the gateway drives a channel."""

from __future__ import annotations

import asyncio

import pytest
from nanofolks_whatsapp import plugin
from nanofolks_whatsapp.bridge_process import BridgeError
from nanofolks_whatsapp.channel import WhatsAppChannel, phone_from_jid
from nanofolks_whatsapp.plugin import WhatsAppConfig
from nanofolks_whatsapp.testing import FakeBridge

from nanofolks_core.api import OutboundMessage, sender_allowed


@pytest.fixture
def bridge():
    with FakeBridge() as fake:
        yield fake


@pytest.fixture
def make_channel(register_plugin, plugin_services):
    spec = register_plugin(plugin, "whatsapp").get("channel", "whatsapp")

    def make(config: WhatsAppConfig) -> WhatsAppChannel:
        return WhatsAppChannel(spec=spec, config=config, services=plugin_services("whatsapp"))

    return make


def _config(bridge: FakeBridge, **extra) -> WhatsAppConfig:
    return WhatsAppConfig(enabled=True, bridge_url=bridge.url, bridge_token=bridge.token, **extra)


async def _connected(channel: WhatsAppChannel, bridge: FakeBridge, timeout: float = 5) -> None:
    """Both ends of the websocket are up (the bridge may see it a moment before the channel)."""
    assert await asyncio.to_thread(bridge.wait_for_client, timeout)
    deadline = asyncio.get_running_loop().time() + timeout
    while not channel.connected:
        assert asyncio.get_running_loop().time() < deadline, "the channel did not connect"
        await asyncio.sleep(0.01)


def test_the_channel_is_registered_with_its_config_section(register_plugin):
    spec = register_plugin(plugin, "whatsapp").get("channel", "whatsapp")
    assert spec.config_section() == "channels.whatsapp"
    assert spec.load() is WhatsAppChannel
    assert spec.config_class is WhatsAppConfig


def test_config_rejects_a_bridge_url_that_is_not_a_websocket():
    with pytest.raises(ValueError, match="bridgeUrl must be a ws:// or wss:// URL"):
        WhatsAppConfig(bridge_url="http://127.0.0.1:3001")
    with pytest.raises(ValueError, match="bridgePort"):
        WhatsAppConfig(bridge_port=70000)


@pytest.mark.parametrize(
    ("jid", "phone"),
    [
        ("1234567890@s.whatsapp.net", "+1234567890"),
        ("1234567890:12@s.whatsapp.net", "+1234567890"),
        ("1234567890@c.us", "+1234567890"),
        ("120363025246125486@g.us", None),
        ("98765432101234@lid", None),
    ],
)
def test_phone_numbers_come_from_person_jids_only(jid, phone):
    assert phone_from_jid(jid) == phone


def test_a_message_reaches_the_inbox_with_a_phone_number_allowFrom_can_name(bridge, make_channel):
    async def scenario():
        channel = make_channel(_config(bridge))
        inbox: asyncio.Queue = asyncio.Queue()
        running = asyncio.create_task(channel.start(inbox.put))
        await _connected(channel, bridge)
        # Our own message and a status update come first: neither may reach the crew.
        bridge.push_message("my own note", sender="+15550001111", from_me=True)
        bridge.push_message("status post", sender="+1234567890", chat="status@broadcast")
        sent = bridge.push_message("hi crew", sender="+1234567890", push_name="Ada", message_id="ABC1")
        received = await asyncio.wait_for(inbox.get(), 5)
        await channel.stop()
        await asyncio.wait_for(running, 5)
        return received, sent, inbox.qsize()

    received, sent, left = asyncio.run(scenario())
    assert (received.text, received.channel, received.sender) == ("hi crew", "whatsapp", "+1234567890")
    assert received.chat_id == "1234567890@s.whatsapp.net"
    assert received.metadata == {"aliases": [sent["from"]], "message_id": "ABC1", "sender_name": "Ada"}
    assert received.room == "general"  # the gateway maps chats to rooms, the channel does not
    assert left == 0
    # What the gateway checks before anything reaches the pipeline:
    identities = (received.sender, *received.metadata["aliases"])
    assert sender_allowed(["+1234567890"], *identities)
    assert sender_allowed(["+1 234 567 890"], *identities)
    assert not sender_allowed(["+1999999999"], *identities)


def test_group_messages_follow_the_groups_setting(bridge, make_channel):
    group = "120363025246125486@g.us"

    async def scenario(groups: str) -> list[str]:
        channel = make_channel(_config(bridge, groups=groups))
        inbox: asyncio.Queue = asyncio.Queue()
        running = asyncio.create_task(channel.start(inbox.put))
        await _connected(channel, bridge)
        bridge.push_message("chatter", sender="+1234567890", chat=group)
        bridge.push_message("@crew help", sender="+1234567890", chat=group, mentioned=True)
        bridge.push_message("direct", sender="+1234567890")
        texts = []
        while len(texts) < 3:
            try:
                message = await asyncio.wait_for(inbox.get(), 1)
            except TimeoutError:
                break
            texts.append(message.text)
            if message.text == "direct":
                break
        await channel.stop()
        await asyncio.wait_for(running, 5)
        return texts

    assert asyncio.run(scenario("mention")) == ["@crew help", "direct"]
    assert asyncio.run(scenario("all")) == ["chatter", "@crew help", "direct"]
    assert asyncio.run(scenario("off")) == ["direct"]


def test_replies_and_typing_go_to_the_bridge(bridge, make_channel):
    async def scenario():
        channel = make_channel(_config(bridge))
        running = asyncio.create_task(channel.start(asyncio.Queue().put))
        await _connected(channel, bridge)
        await channel.typing("1234567890@s.whatsapp.net")
        await channel.send(
            OutboundMessage(text="Ahoy, Ada!", bot="leader", channel="whatsapp", chat_id="1234567890@s.whatsapp.net")
        )
        bridge.fail_sends("WhatsApp is not connected (state: disconnected)")
        with pytest.raises(BridgeError, match="not connected"):
            await channel.send(
                OutboundMessage(text="lost", bot="leader", channel="whatsapp", chat_id="1@s.whatsapp.net")
            )
        await channel.stop()
        await asyncio.wait_for(running, 5)

    asyncio.run(scenario())
    assert channel_limit() == 4096
    assert bridge.typing == ["1234567890@s.whatsapp.net"]
    assert bridge.sent == [{"to": "1234567890@s.whatsapp.net", "text": "Ahoy, Ada!"}]


def channel_limit() -> int:
    return WhatsAppChannel.message_limit


def test_a_send_made_while_the_inbox_is_busy_is_answered(bridge, make_channel):
    """The gateway may reply from inside ``inbox``; the bridge's answer must still be read."""

    async def scenario():
        channel = make_channel(_config(bridge))

        async def inbox(message):
            await channel.send(
                OutboundMessage(text=f"re: {message.text}", bot="leader", channel="whatsapp", chat_id=message.chat_id)
            )

        running = asyncio.create_task(channel.start(inbox))
        await _connected(channel, bridge)
        bridge.push_message("ping", sender="+1234567890")
        await asyncio.to_thread(bridge.wait_for_sent, 1)
        await channel.stop()
        await asyncio.wait_for(running, 5)

    asyncio.run(scenario())
    assert bridge.sent == [{"to": "1234567890@s.whatsapp.net", "text": "re: ping"}]


def test_a_wrong_token_is_refused(bridge, make_channel):
    channel = make_channel(WhatsAppConfig(enabled=True, bridge_url=bridge.url, bridge_token="not-the-token"))
    with pytest.raises(BridgeError, match="refused the token"):
        asyncio.run(asyncio.wait_for(channel.start(asyncio.Queue().put), 10))
    assert bridge.refused == 1
    assert bridge.connections == 0


def test_a_bridge_url_without_a_token_is_one_clear_error(bridge, make_channel):
    channel = make_channel(WhatsAppConfig(enabled=True, bridge_url=bridge.url))
    with pytest.raises(BridgeError, match="bridgeToken is not set"):
        asyncio.run(channel.start(asyncio.Queue().put))
    assert bridge.refused == 0  # refused before any connection was tried


def test_start_returns_when_the_bridge_closes_the_socket(bridge, make_channel):
    async def scenario():
        channel = make_channel(_config(bridge))
        running = asyncio.create_task(channel.start(asyncio.Queue().put))
        await _connected(channel, bridge)
        await asyncio.to_thread(bridge.close_clients, 1001, "bridge stopping")
        await asyncio.wait_for(running, 5)  # returns, so the gateway restarts it with backoff
        with pytest.raises(ConnectionError, match="not connected"):
            await channel.send(OutboundMessage(text="x", bot="leader", channel="whatsapp", chat_id="1@s.whatsapp.net"))

    asyncio.run(scenario())


def test_a_bridge_that_ends_with_its_goodbye_code_ends_start_with_the_reason(bridge, make_channel):
    async def scenario():
        channel = make_channel(_config(bridge))
        running = asyncio.create_task(channel.start(asyncio.Queue().put))
        await _connected(channel, bridge)
        await asyncio.to_thread(bridge.close_clients, 4000, "WhatsApp connection closed: Stream Errored")
        with pytest.raises(ConnectionError, match=r"^WhatsApp connection closed: Stream Errored$"):
            await asyncio.wait_for(running, 5)

    asyncio.run(scenario())


def test_an_unlinked_bridge_ends_start_with_the_login_command(make_channel):
    with FakeBridge(state="qr") as unlinked:
        channel = make_channel(_config(unlinked))
        with pytest.raises(BridgeError, match="nanofolks channels login whatsapp"):
            asyncio.run(asyncio.wait_for(channel.start(asyncio.Queue().put), 10))


def test_a_lost_whatsapp_connection_ends_start_with_the_reason(bridge, make_channel):
    async def scenario():
        channel = make_channel(_config(bridge))
        running = asyncio.create_task(channel.start(asyncio.Queue().put))
        await _connected(channel, bridge)
        bridge.push_status("disconnected", reason="Connection Failure")
        with pytest.raises(ConnectionError, match="Connection Failure"):
            await asyncio.wait_for(running, 5)

    asyncio.run(scenario())


def test_an_unreachable_bridge_is_a_connection_error(make_channel):
    with FakeBridge() as gone:
        url, token = gone.url, gone.token
    channel = make_channel(WhatsAppConfig(enabled=True, bridge_url=url, bridge_token=token))
    with pytest.raises(ConnectionError, match="cannot reach the WhatsApp bridge"):
        asyncio.run(channel.start(asyncio.Queue().put))


def test_login_is_refused_for_a_bridge_run_elsewhere(bridge, make_channel):
    channel = make_channel(_config(bridge))
    with pytest.raises(BridgeError, match="log in where that bridge runs"):
        asyncio.run(channel.login())
