"""A real, local, OpenAI-compatible HTTP server for tests.

``FakeLLMServer`` listens on 127.0.0.1 and answers like the OpenAI API, so the
*real* client code path (litellm, the openai SDK, plain urllib) can be exercised
offline.  It only replies; it never patches or replaces any code under test::

    from nanofolks_core.testing.llm_server import FakeLLMServer, Reply, ToolCall

    with FakeLLMServer(["hello"]) as server:
        reply = litellm.completion(model="openai/test-model", api_base=server.base_url,
                                   api_key="sk-test", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "hello"
        assert server.requests[0]["model"] == "test-model"  # litellm strips "openai/"

With litellm, set ``os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"`` *before*
importing it (else the import tries to download its cost map), and remember the openai
SDK under it retries 5xx/429/timeouts twice by default: see ``fail_next(retry_after=)``.

Which reply a ``/chat/completions`` request gets, in order of precedence:

1. a failure armed with :meth:`FakeLLMServer.fail_next`;
2. the next scripted reply (given to the constructor or :meth:`FakeLLMServer.push`);
3. ``handler(request_body)`` if a handler was given (returning ``None`` means 3 is skipped);
4. the default reply ``"[<model>] <last user message>"`` (truncated to 200 chars).

Endpoints: ``POST /v1/chat/completions`` (plain JSON, or Server-Sent Events when
``"stream": true``), ``GET /v1/models``, ``POST /v1/embeddings``; the ``/v1``
prefix is optional.  Anything else gets a 404 with an OpenAI-style error body.
Only the standard library is used, so the kit adds no dependencies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ToolCall", "Reply", "FakeLLMServer", "default_reply_text"]

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


def _fake_embedding(text: str, dim: int) -> list[float]:
    """A deterministic vector in [-1, 1]: same text, same vector, across runs."""
    raw = b"".join(hashlib.sha256(f"{i}:{text}".encode()).digest() for i in range(dim // 32 + 1))
    return [b / 127.5 - 1.0 for b in raw[:dim]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck (delayed) request must never block interpreter exit
    request_queue_size = 128  # several bots may connect at once; the default backlog is 5
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are normal in tests: no traceback for those.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so clients are happy, but every response closes the connection: a
    # kept-alive socket would otherwise outlive stop() and keep getting answers.
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no stderr per request
        pass

    def do_GET(self) -> None:
        path, model_id = self._path(), self.server.fake.model
        model = {"id": model_id, "object": "model", "created": 0, "owned_by": "nanofolks"}
        if path == "/models":
            self._json(200, {"object": "list", "data": [model]})
        elif path == f"/models/{model_id}":
            self._json(200, model)
        else:
            self._error(404, f"Unknown path: GET {self.path}")

    def do_POST(self) -> None:
        path = self._path()
        if path not in ("/chat/completions", "/embeddings"):
            self._read_body()
            return self._error(404, f"Unknown path: POST {self.path}")
        try:
            body = json.loads(self._read_body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not a JSON object")
        except ValueError as exc:
            return self._error(400, f"Invalid JSON body: {exc}")
        fake = self.server.fake
        authorized = fake.api_key is None or self.headers.get("Authorization") == f"Bearer {fake.api_key}"
        if path == "/embeddings":
            return self._embeddings(body) if authorized else self._error(401, "Incorrect API key provided.")
        index, reply = fake._next_reply(body, authorized)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.raw_body is not None:
            return self._raw(reply)
        if reply.is_error:
            status = reply.status if reply.status >= 400 else 500
            headers = (
                {}
                if reply.retry_after is None
                else {
                    "retry-after-ms": str(int(reply.retry_after * 1000)),
                    "retry-after": str(math.ceil(reply.retry_after)),
                }
            )
            return self._error(status, reply.error or f"Simulated HTTP {status} from FakeLLMServer", headers)
        if body.get("stream"):
            self._stream(body, reply, index)
        else:
            self._json(200, fake._completion(body, reply, index))

    # -- helpers -------------------------------------------------------------
    def _path(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[3:] if path.startswith("/v1/") else path

    def _read_body(self) -> bytes:
        # OpenAI clients (openai SDK/httpx, aiohttp, urllib) always send Content-Length.
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {
            "Content-Type": "application/json",
            "Content-Length": str(len(data)),
            "Connection": "close",
            **(headers or {}),
        }.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _raw(self, reply: Reply) -> None:
        data = reply.raw_body.encode() if isinstance(reply.raw_body, str) else reply.raw_body
        self.send_response(reply.status)
        for name, value in {
            "Content-Type": reply.content_type,
            "Content-Length": str(len(data)),
            "Connection": "close",
        }.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _error(self, status: int, message: str, headers: dict | None = None) -> None:
        kind, code = _ERROR_KINDS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
        self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, headers)

    def _stream(self, body: dict, reply: Reply, index: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # no length: the stream ends when we close
        self.end_headers()
        self.close_connection = True
        for number, chunk in enumerate(self.server.fake._chunks(body, reply, index)):
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()
            if number == 0 and reply.stall:
                time.sleep(reply.stall)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _embeddings(self, body: dict) -> None:
        inputs = body.get("input", "")
        inputs = [inputs] if isinstance(inputs, (str, int)) or (inputs and isinstance(inputs[0], int)) else inputs
        dim = int(body.get("dimensions") or self.server.fake.embedding_dim)
        data = []
        for i, item in enumerate(inputs):
            vector = _fake_embedding(item if isinstance(item, str) else json.dumps(item), dim)
            if body.get("encoding_format") == "base64":  # the openai SDK asks for this by default
                vector = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        used = sum(_tokens(x if isinstance(x, str) else json.dumps(x)) for x in inputs)
        self._json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model", self.server.fake.model),
                "usage": {"prompt_tokens": used, "total_tokens": used},
            },
        )


class FakeLLMServer:
    """A local OpenAI-compatible server; start it, point the client's api_base at :attr:`base_url`.

    ``replies`` are scripted answers (``str`` or :class:`Reply`) served first-in first-out;
    ``handler(request_body)`` answers once they run out (return ``str``, ``Reply`` or ``None``
    for the default reply).  ``api_key``, if set, makes requests without
    ``Authorization: Bearer <api_key>`` fail with 401.  ``port=0`` picks a free port.
    Requests are served concurrently, each on its own thread.
    """

    def __init__(
        self,
        replies: Iterable[str | Reply] = (),
        *,
        handler: Callable[[dict], str | Reply | None] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str = DEFAULT_MODEL,
        embedding_dim: int = 8,
        api_key: str | None = None,
    ) -> None:
        self.handler, self.host, self.port = handler, host, port
        self.model, self.embedding_dim, self.api_key = model, embedding_dim, api_key
        self._lock = threading.Lock()  # guards the three collections below
        self._queue: deque[Reply] = deque()
        self._failures: deque[Reply] = deque()
        self._requests: list[dict] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.push(*replies)

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> FakeLLMServer:
        """Bind and serve in a daemon thread; returns ``self``. Starting twice is a no-op."""
        if self._server is None:
            self._server = _Server((self.host, self.port), _Handler)
            self._server.fake = self
            self.port = self._server.server_address[1]
            # A short poll interval keeps stop() fast (shutdown waits for one poll).
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"FakeLLMServer:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting connections and close the socket. Safe to call twice.

        Requests already being handled (e.g. sleeping on ``Reply.delay``) finish on their own
        daemon threads; they never block interpreter exit.
        """
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://host:port`` (no ``/v1``); raises RuntimeError before :meth:`start`."""
        if self._server is None:
            raise RuntimeError("FakeLLMServer is not running; call start() or use it as a context manager")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL to give clients, e.g. ``http://127.0.0.1:54321/v1``."""
        return self.url + "/v1"

    # -- scripting -----------------------------------------------------------
    @property
    def requests(self) -> list[dict]:
        """A copy of the JSON bodies of every /chat/completions request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def push(self, *replies: str | Reply) -> None:
        """Queue scripted replies, served first-in first-out before ``handler``/the default."""
        with self._lock:
            self._queue.extend(r if isinstance(r, Reply) else Reply(content=r) for r in replies)

    def fail_next(
        self, status: int, times: int = 1, message: str | None = None, *, retry_after: float | None = None
    ) -> None:
        """Make the next ``times`` chat requests fail with HTTP ``status`` (e.g. 500, 503, 429, 401).

        Failures come before scripted replies and do not consume them, so
        ``push("ok"); fail_next(500)`` yields a 500 and then ``"ok"``: a retry test.
        ``retry_after`` (seconds) sets the retry-after headers, e.g. 0.01 for fast client retries.
        """
        message = message or f"Simulated HTTP {status} from FakeLLMServer"
        with self._lock:
            self._failures.extend(Reply(status=status, error=message, retry_after=retry_after) for _ in range(times))

    def hang_next(self, seconds: float = 3600.0, times: int = 1) -> None:
        """Make the next ``times`` chat requests hang ``seconds`` before any byte of the answer.

        Like :meth:`fail_next`, hangs come before scripted replies and do not consume them.
        The hanging request thread is a daemon: it never blocks :meth:`stop` or interpreter exit.
        """
        with self._lock:
            self._failures.extend(Reply(content="(answer after a hang)", delay=seconds) for _ in range(times))

    def reset(self) -> None:
        """Forget recorded requests, scripted replies and pending failures (the handler stays)."""
        with self._lock:
            self._queue.clear()
            self._failures.clear()
            self._requests.clear()

    # -- internals -------------------------------------------------------------
    def _next_reply(self, body: dict, authorized: bool = True) -> tuple[int, Reply]:
        with self._lock:
            self._requests.append(body)
            index = len(self._requests)
            if not authorized:  # recorded, but consumes neither failures nor scripted replies
                return index, Reply(status=401, error="Incorrect API key provided.")
            if self._failures:
                return index, self._failures.popleft()
            if self._queue:
                return index, self._queue.popleft()
        # The handler runs outside the lock: it may be slow, and requests are concurrent.
        reply: str | Reply | None = None
        if self.handler is not None:
            try:
                reply = self.handler(body)
            except Exception as exc:  # noqa: BLE001 -- surface handler bugs to the client, not a hang
                return index, Reply(status=500, error=f"FakeLLMServer handler raised {exc!r}")
        if reply is None:
            reply = default_reply_text(body)
        return index, reply if isinstance(reply, Reply) else Reply(content=str(reply))

    def _message_and_usage(self, body: dict, reply: Reply, index: int) -> tuple[dict, dict, str]:
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

    def _completion(self, body: dict, reply: Reply, index: int) -> dict:
        message, usage, finish = self._message_and_usage(body, reply, index)
        return {
            "id": f"chatcmpl-fake-{index}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": usage,
        }

    def _chunks(self, body: dict, reply: Reply, index: int) -> Iterable[dict]:
        message, usage, finish = self._message_and_usage(body, reply, index)
        base = {
            "id": f"chatcmpl-fake-{index}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", self.model),
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


if __name__ == "__main__":  # python -m nanofolks_core.testing.llm_server: see llm_server_cli.py
    from nanofolks_core.testing.llm_server_cli import main

    raise SystemExit(main())
