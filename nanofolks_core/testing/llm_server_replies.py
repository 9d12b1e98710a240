"""What the fake LLM server says: the scripted-reply records and the OpenAI-shaped bodies made from them.

``Reply`` and ``ToolCall`` are what a test scripts; the functions below turn one into the JSON a
real OpenAI-compatible server would send (a completion, stream chunks, embeddings, an error
body). No sockets here: the HTTP side is in ``llm_server_http.py``, the server in ``llm_server.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_MODEL", "ToolCall", "Reply", "default_reply_text"]

DEFAULT_MODEL = "test-model"
MAX_ECHO_CHARS = 200

# (type, code) per HTTP status, as the real API spells them in error bodies.
_ERROR_KINDS = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("invalid_request_error", "not_found"),
    429: ("requests", "rate_limit_exceeded"),
    503: ("server_error", "service_unavailable"),
}


@dataclass
class ToolCall:
    """A function call the fake model asks for; ``arguments`` is sent as a JSON string."""

    name: str
    arguments: dict = field(default_factory=dict)
    id: str | None = None  # None: a deterministic "call_<request>_<index>" id is used


@dataclass
class Reply:
    """What the server answers to one chat-completion request.

    ``status >= 400`` (or a non-empty ``error``) turns the reply into an HTTP error
    with an OpenAI-style body ``{"error": {"message", "type", "param", "code"}}``;
    ``error`` alone implies status 500.  ``retry_after`` (seconds) adds the
    ``retry-after``/``retry-after-ms`` headers clients honour between retries, so retry
    tests stay fast.  ``delay`` seconds are slept before answering (for timeout tests).
    Token counts default to ceil(chars / 4).

    Fault modes for a broken server or proxy: ``raw_body`` (bytes or str) is sent as the
    whole body (with ``status``, 200 by default, and ``content_type``) instead of a completion, streaming or not
    (an HTML login page, ``b""``, ``"not json"``, ``{"choices": []}``...); ``stall``
    seconds are slept after the headers and first chunk of a stream (a server that goes
    quiet mid-reply).  :meth:`FakeLLMServer.hang_next` makes requests hang.
    """

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    status: int = 200
    error: str | None = None
    delay: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None  # None: "tool_calls" if tool_calls else "stop"
    retry_after: float | None = None
    raw_body: bytes | str | None = None
    content_type: str = "text/html; charset=utf-8"
    stall: float = 0.0

    @property
    def is_error(self) -> bool:
        return self.status >= 400 or bool(self.error)


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _text(content: Any) -> str:
    """Flatten a message ``content`` (a string, or a list of parts) to plain text."""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content if isinstance(content, str) else ""


def default_reply_text(request: dict) -> str:
    """The default answer: ``"[<model>] <last user message>"``, the message cut to 200 chars."""
    last = next(
        (
            _text(m.get("content"))
            for m in reversed(request.get("messages") or [])
            if isinstance(m, dict) and m.get("role") == "user"
        ),
        "",
    )
    if len(last) > MAX_ECHO_CHARS:
        last = last[: MAX_ECHO_CHARS - 3] + "..."
    return f"[{request.get('model', DEFAULT_MODEL)}] {last}"


def error_body(status: int, message: str) -> dict:
    """An OpenAI-style error body for HTTP ``status``."""
    kind, code = _ERROR_KINDS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def retry_headers(reply: Reply) -> dict[str, str]:
    """The retry-after headers clients honour, when the reply sets ``retry_after``."""
    if reply.retry_after is None:
        return {}
    return {"retry-after-ms": str(int(reply.retry_after * 1000)), "retry-after": str(math.ceil(reply.retry_after))}


def _message_and_usage(body: dict, reply: Reply, index: int) -> tuple[dict, dict, str]:
    calls = [
        {
            "id": tc.id or f"call_{index}_{i}",
            "type": "function",
            "function": {"name": tc.name, "arguments": json.dumps(tc.arguments)},
        }
        for i, tc in enumerate(reply.tool_calls)
    ]
    # Like the real API: content is null when the model only calls tools.
    message: dict = {"role": "assistant", "content": reply.content if reply.content or not calls else None}
    if calls:
        message["tool_calls"] = calls
    prompt = (
        reply.prompt_tokens
        if reply.prompt_tokens is not None
        else _tokens("".join(_text(m.get("content")) for m in body.get("messages") or [] if isinstance(m, dict)))
    )
    completion = (
        reply.completion_tokens
        if reply.completion_tokens is not None
        else _tokens(reply.content + "".join(c["function"]["arguments"] for c in calls))
    )
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    return message, usage, reply.finish_reason or ("tool_calls" if calls else "stop")


def completion_body(body: dict, reply: Reply, index: int, model: str) -> dict:
    """The ``chat.completion`` answer to request number ``index`` (``model`` if the request names none)."""
    message, usage, finish = _message_and_usage(body, reply, index)
    return {
        "id": f"chatcmpl-fake-{index}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", model),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage,
    }


def stream_chunks(body: dict, reply: Reply, index: int, model: str) -> Iterable[dict]:
    """The ``chat.completion.chunk`` events of a streamed answer, content and arguments in pieces."""
    message, usage, finish = _message_and_usage(body, reply, index)
    base = {
        "id": f"chatcmpl-fake-{index}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", model),
    }

    def chunk(delta: dict, finish_reason: str | None = None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    yield chunk({"role": "assistant", "content": ""})
    text, step = reply.content, max(1, math.ceil(len(reply.content) / 3))
    for start in range(0, len(text), step):  # a few pieces, so clients really reassemble
        yield chunk({"content": text[start : start + step]})
    for i, call in enumerate(message.get("tool_calls", [])):
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": i,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""},
                    }
                ]
            }
        )
        args = call["function"]["arguments"]  # in two pieces: clients must concatenate
        for piece in filter(None, (args[: len(args) // 2], args[len(args) // 2 :])):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    yield chunk({}, finish)
    if (body.get("stream_options") or {}).get("include_usage"):
        yield {**base, "choices": [], "usage": usage}


def _fake_embedding(text: str, dim: int) -> list[float]:
    """A deterministic vector in [-1, 1]: same text, same vector, across runs."""
    raw = b"".join(hashlib.sha256(f"{i}:{text}".encode()).digest() for i in range(dim // 32 + 1))
    return [b / 127.5 - 1.0 for b in raw[:dim]]


def embeddings_body(body: dict, default_dim: int, model: str) -> dict:
    """The ``/embeddings`` answer: one deterministic vector per input (base64 when the client asks)."""
    inputs = body.get("input", "")
    inputs = [inputs] if isinstance(inputs, (str, int)) or (inputs and isinstance(inputs[0], int)) else inputs
    dim = int(body.get("dimensions") or default_dim)
    data = []
    for i, item in enumerate(inputs):
        vector = _fake_embedding(item if isinstance(item, str) else json.dumps(item), dim)
        if body.get("encoding_format") == "base64":  # the openai SDK asks for this by default
            vector = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": vector})
    used = sum(_tokens(x if isinstance(x, str) else json.dumps(x)) for x in inputs)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model", model),
        "usage": {"prompt_tokens": used, "total_tokens": used},
    }
