"""The record stored in a room's session history."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

#: Who wrote a message of the chat format (not a crew role: those are ``nanofolks_core.crew.roles.ROLES``).
MESSAGE_ROLES = frozenset({"user", "assistant", "system", "tool"})

_opt_str = attrs.validators.optional(attrs.validators.instance_of(str))


def _new_id() -> str:
    return uuid.uuid4().hex


def _check_id(_inst: object, _attr: attrs.Attribute, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"SessionMessage.id must be a non-empty string, got {value!r}")


@attrs.frozen
class SessionMessage:
    """One message of a room's history.

    ``id`` is unique per message; the store uses it to drop duplicates when it merges
    concurrent appends. ``meta`` holds small JSON-able extras (``tool_call_id``,
    ``tool_calls``, token counts ...); it is stored as JSON, so tuples come back as lists.
    """

    role: str = attrs.field(validator=attrs.validators.in_(MESSAGE_ROLES))
    content: str = attrs.field(validator=attrs.validators.instance_of(str))
    bot: str | None = attrs.field(default=None, validator=_opt_str)
    channel: str | None = attrs.field(default=None, validator=_opt_str)
    ts: float = attrs.field(factory=time.time, converter=float)
    id: str = attrs.field(factory=_new_id, validator=_check_id)
    meta: dict[str, Any] = attrs.field(factory=dict, hash=False, validator=attrs.validators.instance_of(dict))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; ``from_dict`` turns it back into an equal message."""
        return {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "bot": self.bot,
            "channel": self.channel,
            "ts": self.ts,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionMessage:
        """Build a message from ``to_dict`` output. Unknown keys are ignored.

        Raises ``ValueError`` when a required key is missing or a value has the wrong type.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a session message must be a JSON object, got {type(data).__name__}")
        missing = [k for k in ("id", "role", "content") if k not in data]
        if missing:
            raise ValueError(f"session message is missing {', '.join(missing)}")
        kwargs: dict[str, Any] = {
            "role": data["role"],
            "content": data["content"],
            "bot": data.get("bot"),
            "channel": data.get("channel"),
            "id": data["id"],
            "meta": data.get("meta") or {},
        }
        if data.get("ts") is not None:
            kwargs["ts"] = data["ts"]
        try:
            return cls(**kwargs)
        except TypeError as exc:  # attrs type validators raise TypeError
            raise ValueError(f"invalid session message: {exc}") from exc
