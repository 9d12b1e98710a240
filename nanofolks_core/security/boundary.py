"""The sanitizer as the last line before a model: every request's messages are masked.

The reference guard has already turned credentials in user messages and tool output into
``{{name}}``; whatever reached a request some other way (memory context written before the
guard, a plugin's hook, a routine) is masked here (``sk-or-v1-ab***``). Masking is cached per
text, so a long room history costs one scan per new message, not one per request.
"""

from __future__ import annotations

import functools
import json

import attrs

from nanofolks_core.messages import ChatMessage, LLMRequest
from nanofolks_core.security.detect import CredentialDetector, masked, replace
from nanofolks_core.security.patterns import BUILTIN_FORMATS


@functools.cache
def _detector() -> CredentialDetector:
    from nanofolks_core.specs import SecretPatternSpec

    return CredentialDetector(
        SecretPatternSpec(name=f.name, summary=f.summary, pattern=f.pattern) for f in BUILTIN_FORMATS
    )


@functools.lru_cache(maxsize=4096)
def mask_text(text: str) -> str:
    """``text`` with every credential the built-in formats find masked."""
    return replace(text, _detector().find(text), masked)


def _mask_message(message: ChatMessage) -> ChatMessage:
    content = mask_text(message.content) if message.content else message.content
    calls = message.tool_calls
    if calls:
        new_calls = []
        for call in calls:
            text = json.dumps(call.arguments, ensure_ascii=False, sort_keys=True)
            cleaned = mask_text(text)
            new_calls.append(
                call if cleaned == text else attrs.evolve(call, arguments=_masked_arguments(call.arguments))
            )
        calls = tuple(new_calls)
    if content is message.content and all(a is b for a, b in zip(calls, message.tool_calls, strict=True)):
        return message
    return attrs.evolve(message, content=content, tool_calls=calls)


def _masked_arguments(value):
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: _masked_arguments(val) for key, val in value.items()}
    if isinstance(value, list):
        return [_masked_arguments(val) for val in value]
    return value


def mask_request(request: LLMRequest) -> LLMRequest | None:
    """The request with credentials masked, or None when there was nothing to mask."""
    messages = tuple(_mask_message(message) for message in request.messages)
    if all(a is b for a, b in zip(messages, request.messages, strict=True)):
        return None
    return attrs.evolve(request, messages=messages)
