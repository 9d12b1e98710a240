"""allowFrom: the sender's id matches any entry, an alias (username ...) only a name.

A Discord username may be all digits, so an alias equal to the owner's numeric id must not let
its holder in; ids and phone numbers are matched against the sender alone.
"""

from __future__ import annotations

import asyncio
import types

import pytest

from nanofolks_core.api import sender_allowed
from nanofolks_core.gateway.inbox import ChannelInbox
from nanofolks_core.messages import InboundMessage

OWNER_ID = "123456789012345678"


class RecordingGateway:
    """Stands in for the crew: records what got past the inbox's allowFrom check."""

    def __init__(self) -> None:
        self.crew = types.SimpleNamespace(rooms=types.SimpleNamespace(room_for_channel=lambda channel, chat: "general"))
        self.accepting = True
        self.handled: list[InboundMessage] = []
        self.tasks: list[asyncio.Task] = []

    def spawn(self, coro, name):
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.append(task)
        return task

    async def handle(self, inbound):
        self.handled.append(inbound)
        return types.SimpleNamespace(room="general", warnings=(), replies=())


class SilentChannel:
    message_limit = 4000

    async def send(self, message):
        pass


def _reaches_crew(allow_from: list[str], sender: str, *aliases: str) -> bool:
    async def main():
        gateway = RecordingGateway()
        inbox = ChannelInbox(gateway, "chat", SilentChannel(), types.SimpleNamespace(allow_from=allow_from))
        message = InboundMessage(
            text="hello", channel="chat", sender=sender, chat_id="c1", metadata={"aliases": list(aliases)}
        )
        await inbox(message)
        if gateway.tasks:
            await asyncio.wait_for(asyncio.gather(*gateway.tasks), 5)
        return bool(gateway.handled)

    return asyncio.run(main())


def test_a_username_equal_to_the_owners_numeric_id_is_refused():
    # Discord: the attacker (id 999...) renamed themself to the owner's id.
    assert not _reaches_crew([OWNER_ID], "999999999999999999", OWNER_ID)
    assert not sender_allowed([OWNER_ID], "999999999999999999", OWNER_ID)
    assert not sender_allowed(["+1234567890"], "+1999999999", "1234567890")  # nor a phone entry


def test_the_owners_own_id_gets_in():
    assert _reaches_crew([OWNER_ID], OWNER_ID, "ada")


@pytest.mark.parametrize("entry", ["@ada", "ada", "@Ada", " ADA "])
def test_a_username_entry_matches_the_username_alias(entry):
    assert _reaches_crew([entry], "555001", "ada")  # Telegram: numeric id, alias username


def test_a_stranger_with_another_username_is_refused():
    assert not _reaches_crew(["@ada"], "555002", "mallory")


@pytest.mark.parametrize("entry", ["+1234567890", "+1 234 567 890", "1234567890"])
def test_a_phone_number_matches_the_sender(entry):
    # WhatsApp: the sender is the "+number", aliases are the JID and lid.
    assert _reaches_crew([entry], "+1234567890", "1234567890@s.whatsapp.net", "98765@lid")


def test_a_lid_entry_matches_the_lid_alias():
    assert _reaches_crew(["98765@lid"], "+1234567890", "1234567890@s.whatsapp.net", "98765@lid")


def test_star_lets_anyone_in_and_an_empty_list_nobody():
    assert _reaches_crew(["*"], "anyone", "whoever")
    assert not _reaches_crew([], OWNER_ID, "ada")
    assert not sender_allowed([], OWNER_ID)
    assert not sender_allowed(["", "  "], "", "")
