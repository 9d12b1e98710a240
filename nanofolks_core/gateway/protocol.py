"""The control socket's wire format: JSON lines between the CLI (thin client) and the gateway.

One JSON object per line, UTF-8, ``\\n``-terminated, written with ``ensure_ascii`` so any text
(even a lone surrogate a model produced) survives the trip exactly.

A request is ``{"op": NAME, "id": N, ...arguments}``; every response line carries the request's
``id`` and a ``type``:

* ``event`` - progress of a chat turn (``kind`` ``start``/``delta``/``reply``, ``bot``, ``text``,
  ``reply``), as the crew's ``on_event`` sink saw it;
* ``result`` - the end of a chat turn: ``turn`` is the encoded :class:`TurnResult`;
* ``ok`` - the answer to any other operation;
* ``error`` - ``message`` (what a user is shown after ``Error: ``), ``exit_code`` (what the CLI
  exits with) and ``kind`` (``usage``, ``error``, ``protocol``, ``internal``).

``result``, ``ok`` and ``error`` end a request. The decoded records have the same attribute
names as the in-process ones (:class:`~nanofolks_core.pipeline.records.CrewEvent`,
``BotReply``, ``TurnResult``), so the CLI feeds them to the very printer it uses in process.
This module imports only the standard library: the thin client pays nothing for it.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

#: Bumped whenever a message changes shape; a client and a gateway that differ do not talk.
PROTOCOL = 1
#: Longest request or response line accepted (a reply, a history page or a search result).
MAX_LINE = 16 * 1024 * 1024

TERMINAL_TYPES = frozenset({"result", "ok", "error"})


def encode(message: dict[str, Any]) -> bytes:
    """One wire line for ``message``."""
    return json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """The object on one wire line; ``ValueError`` when it is not a JSON object."""
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError("a protocol line must be a JSON object")
    return message


# -- server side: records -> plain JSON --------------------------------------------------


def reply_to_wire(reply: Any) -> dict[str, Any]:
    usage = reply.usage
    return {
        "bot": reply.bot,
        "name": reply.name,
        "emoji": reply.emoji,
        "text": reply.text,
        "model": reply.model,
        "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
        "delegated_by": reply.delegated_by,
        "error": reply.error,
    }


def event_to_wire(event: Any) -> dict[str, Any]:
    """A :class:`CrewEvent` as the fields of an ``event`` line."""
    return {
        "kind": event.kind,
        "bot": event.bot,
        "text": event.text,
        "reply": reply_to_wire(event.reply) if event.reply is not None else None,
    }


def turn_to_wire(result: Any) -> dict[str, Any]:
    """A :class:`TurnResult` as plain JSON."""
    route = result.route
    return {
        "room": result.room,
        "replies": [reply_to_wire(r) for r in result.replies],
        "intent": {"kind": result.intent.kind, "confidence": result.intent.confidence, "source": result.intent.source},
        "assignment": {
            "bots": list(result.assignment.bots),
            "mode": result.assignment.mode,
            "joined": list(result.assignment.joined),
        },
        "route": None
        if route is None
        else {
            "tier": route.tier,
            "model": route.model,
            "confidence": route.confidence,
            "layer": route.layer,
            "reason": route.reason,
        },
        "warnings": list(result.warnings),
        "context_tokens": result.context_tokens,
        "context_window": result.context_window,
        "timings": dict(result.timings),
    }


# -- client side: plain JSON -> records with the in-process attribute names ---------------


def reply_from_wire(data: dict[str, Any]) -> SimpleNamespace:
    """A ``BotReply`` look-alike: ``bot``, ``name``, ``emoji``, ``text``, ``model``, ``usage``,
    ``delegated_by``, ``error``."""
    usage = data.get("usage") or {}
    return SimpleNamespace(
        bot=data["bot"],
        name=data["name"],
        emoji=data["emoji"],
        text=data["text"],
        model=data.get("model", ""),
        usage=SimpleNamespace(
            prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0)
        ),
        delegated_by=data.get("delegated_by"),
        error=data.get("error"),
    )


def event_from_wire(data: dict[str, Any]) -> SimpleNamespace:
    """A ``CrewEvent`` look-alike: ``kind``, ``bot``, ``text``, ``reply``."""
    reply = data.get("reply")
    return SimpleNamespace(
        kind=data["kind"],
        bot=data["bot"],
        text=data.get("text", ""),
        reply=reply_from_wire(reply) if reply is not None else None,
    )


def turn_from_wire(data: dict[str, Any]) -> SimpleNamespace:
    """A ``TurnResult`` look-alike (``intent``, ``assignment`` and ``route`` are namespaces too)."""
    route = data.get("route")
    return SimpleNamespace(
        room=data["room"],
        replies=tuple(reply_from_wire(r) for r in data["replies"]),
        intent=SimpleNamespace(**data["intent"]),
        assignment=SimpleNamespace(
            bots=tuple(data["assignment"]["bots"]),
            mode=data["assignment"]["mode"],
            joined=tuple(data["assignment"].get("joined", ())),
        ),
        route=SimpleNamespace(**route) if route is not None else None,
        warnings=tuple(data.get("warnings", ())),
        context_tokens=data.get("context_tokens", 0),
        context_window=data.get("context_window", 0),
        timings=dict(data.get("timings", {})),
    )


def team_to_wire(team: Any) -> dict[str, dict[str, str]]:
    """What the CLI needs of the team to print like the in-process path: names, emoji, greetings."""
    return {role: {"name": c.name, "emoji": c.emoji, "greeting": c.greeting} for role, c in team.characters.items()}


class WireTeam:
    """The part of a ``Team`` the chat printer uses: ``character(role)`` with ``name``, ``emoji``,
    ``greeting``."""

    def __init__(self, characters: dict[str, dict[str, str]]) -> None:
        self.characters = {role: SimpleNamespace(role=role, **fields) for role, fields in characters.items()}

    def character(self, role: str) -> SimpleNamespace:
        return self.characters[role]
