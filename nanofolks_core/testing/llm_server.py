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
Only the standard library is used, so the kit adds no dependencies.  The records and the
OpenAI-shaped bodies are in ``llm_server_replies.py``, the HTTP handler in ``llm_server_http.py``;
this module is the server a test starts, and the import path the docs show.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable

from nanofolks_core.testing.llm_server_http import Handler, HTTPServer
from nanofolks_core.testing.llm_server_replies import DEFAULT_MODEL, Reply, ToolCall, default_reply_text

__all__ = ["ToolCall", "Reply", "FakeLLMServer", "default_reply_text", "DEFAULT_MODEL"]


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
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.push(*replies)

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> FakeLLMServer:
        """Bind and serve in a daemon thread; returns ``self``. Starting twice is a no-op."""
        if self._server is None:
            self._server = HTTPServer((self.host, self.port), Handler)
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
        """Record ``body`` and pick its reply (called by ``llm_server_http.Handler``): ``(request number, reply)``."""
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


if __name__ == "__main__":  # python -m nanofolks_core.testing.llm_server: see llm_server_cli.py
    from nanofolks_core.testing.llm_server_cli import main

    raise SystemExit(main())
