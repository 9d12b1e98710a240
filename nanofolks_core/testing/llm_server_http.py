"""The HTTP side of the fake LLM server: routes, bodies in, JSON and Server-Sent Events out.

The handler asks the owning :class:`~nanofolks_core.testing.llm_server.FakeLLMServer` which reply
a request gets, and ``llm_server_replies.py`` what that reply looks like on the wire.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from nanofolks_core.testing.llm_server_replies import (
    Reply,
    completion_body,
    embeddings_body,
    error_body,
    retry_headers,
    stream_chunks,
)

if TYPE_CHECKING:
    from nanofolks_core.testing.llm_server import FakeLLMServer


class HTTPServer(ThreadingHTTPServer):
    """One thread per request, and quiet about clients that hang up."""

    daemon_threads = True  # a stuck (delayed) request must never block interpreter exit
    request_queue_size = 128  # several bots may connect at once; the default backlog is 5
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are normal in tests: no traceback for those.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """Answers the OpenAI endpoints (``/v1`` optional); anything else is a 404 with an OpenAI error body."""

    # HTTP/1.1 so clients are happy, but every response closes the connection: a
    # kept-alive socket would otherwise outlive stop() and keep getting answers.
    protocol_version = "HTTP/1.1"
    server: HTTPServer

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
            if not authorized:
                return self._error(401, "Incorrect API key provided.")
            return self._json(200, embeddings_body(body, fake.embedding_dim, fake.model))
        index, reply = fake._next_reply(body, authorized)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.raw_body is not None:
            return self._raw(reply)
        if reply.is_error:
            status = reply.status if reply.status >= 400 else 500
            message = reply.error or f"Simulated HTTP {status} from FakeLLMServer"
            return self._error(status, message, retry_headers(reply))
        if body.get("stream"):
            self._stream(body, reply, index)
        else:
            self._json(200, completion_body(body, reply, index, fake.model))

    def _path(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[3:] if path.startswith("/v1/") else path

    def _read_body(self) -> bytes:
        # OpenAI clients (openai SDK/httpx, aiohttp, urllib) always send Content-Length.
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, data: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        fields = {"Content-Type": content_type, "Content-Length": str(len(data)), "Connection": "close"}
        for name, value in {**fields, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _raw(self, reply: Reply) -> None:
        data = reply.raw_body.encode() if isinstance(reply.raw_body, str) else reply.raw_body
        self._send(reply.status, data, reply.content_type)

    def _error(self, status: int, message: str, headers: dict | None = None) -> None:
        self._json(status, error_body(status, message), headers)

    def _stream(self, body: dict, reply: Reply, index: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # no length: the stream ends when we close
        self.end_headers()
        self.close_connection = True
        for number, chunk in enumerate(stream_chunks(body, reply, index, self.server.fake.model)):
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()
            if number == 0 and reply.stall:
                time.sleep(reply.stall)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
