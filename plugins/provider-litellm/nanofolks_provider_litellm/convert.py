"""Translation between nanofolks' records and litellm's OpenAI-shaped data.

Requests go out as plain dicts; responses and stream chunks come back as litellm
objects, read by attribute. No litellm import here: the objects arrive from the caller.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from nanofolks_core.api import ChatMessage, ToolCall, Usage

#: Key under which a tool call's arguments are kept when the model sent invalid JSON, so the
#: tool loop can tell the model instead of silently calling the tool with nothing.
RAW_ARGUMENTS_KEY = "_raw_arguments"


def to_litellm_messages(messages: tuple[ChatMessage, ...]) -> list[dict[str, Any]]:
    """Messages in OpenAI's chat format, which litellm translates for every provider."""
    result: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.name:
            item["name"] = message.name
        if message.tool_calls:
            item["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in message.tool_calls
            ]
            # Anthropic (through litellm) rejects empty text blocks; "no text" is None.
            if not message.content:
                item["content"] = None
        if message.tool_call_id:
            item["tool_call_id"] = message.tool_call_id
        result.append(item)
    return result


def parse_arguments(raw: str | None) -> dict[str, Any]:
    """A tool call's JSON argument string as a dict (``{}`` when empty).

    Invalid JSON, or JSON that is not an object, is kept as ``{RAW_ARGUMENTS_KEY: raw}``.
    """
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {RAW_ARGUMENTS_KEY: raw}
    return value if isinstance(value, dict) else {RAW_ARGUMENTS_KEY: raw}


def usage_from(raw_usage: Any) -> Usage:
    """litellm's usage object (or None) as a :class:`Usage`."""
    if raw_usage is None:
        return Usage()
    return Usage(
        prompt_tokens=int(getattr(raw_usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(raw_usage, "completion_tokens", 0) or 0),
    )


@attrs.frozen(kw_only=True)
class Completion:
    """What a provider call produced, before the provider adds model name and cost."""

    content: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    finish_reason: str | None
    reported_model: str | None


def completion_from_response(response: Any) -> Completion | None:
    """Read a non-streamed litellm ``ModelResponse``; None if it carries no choice."""
    if not response.choices:
        return None
    choice = response.choices[0]
    message = choice.message
    calls = tuple(
        ToolCall(
            id=call.id or f"call_{index}",
            name=call.function.name or "",
            arguments=parse_arguments(call.function.arguments),
        )
        for index, call in enumerate(message.tool_calls or ())
    )
    return Completion(
        content=message.content or "",
        tool_calls=calls,
        usage=usage_from(getattr(response, "usage", None)),
        finish_reason=choice.finish_reason,
        reported_model=response.model,
    )


@attrs.define
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: list[str] = attrs.Factory(list)


class StreamAssembler:
    """Collects streamed chunks into one :class:`Completion`.

    Tool calls arrive in pieces keyed by ``index``: the first piece has the id and name,
    later ones carry fragments of the JSON arguments that must be concatenated.
    """

    def __init__(self) -> None:
        self._text: list[str] = []
        self._calls: dict[int, _PartialCall] = {}
        self._usage: Any = None
        self._finish_reason: str | None = None
        self._model: str | None = None

    @property
    def text_so_far(self) -> str:
        return "".join(self._text)

    def add(self, chunk: Any) -> str | None:
        """Take one chunk; return its text delta (None if it has none)."""
        self._model = getattr(chunk, "model", None) or self._model
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self._usage = usage
        if not chunk.choices:
            return None
        choice = chunk.choices[0]
        if choice.finish_reason:
            self._finish_reason = choice.finish_reason
        delta = choice.delta
        for piece in getattr(delta, "tool_calls", None) or ():
            index = piece.index if piece.index is not None else len(self._calls)
            partial = self._calls.setdefault(index, _PartialCall())
            partial.id = piece.id or partial.id
            function = piece.function
            if function is not None:
                partial.name = function.name or partial.name
                if function.arguments:
                    partial.arguments.append(function.arguments)
        text = getattr(delta, "content", None)
        if text:
            self._text.append(text)
            return text
        return None

    def result(self) -> Completion:
        calls = tuple(
            ToolCall(
                id=partial.id or f"call_{index}",
                name=partial.name,
                arguments=parse_arguments("".join(partial.arguments)),
            )
            for index, partial in sorted(self._calls.items())
        )
        return Completion(
            content=self.text_so_far,
            tool_calls=calls,
            usage=usage_from(self._usage),
            finish_reason=self._finish_reason,
            reported_model=self._model,
        )
