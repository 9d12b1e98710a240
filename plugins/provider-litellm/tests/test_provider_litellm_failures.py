"""Retries, auth failures and unreachable servers, counted at a real local server."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from nanofolks_provider_litellm import plugin, runtime
from nanofolks_provider_litellm.config import ProviderConfig
from nanofolks_provider_litellm.provider import LiteLLMProvider

from nanofolks_core.api import ChatMessage, LLMRequest, ProviderAuthError, ProviderError, ProviderSpec
from nanofolks_core.testing.llm_server import Reply

pytestmark = [pytest.mark.filterwarnings(f"ignore:{pattern}") for pattern in runtime.PYDANTIC_NOISE]

SPECS = {
    "vllm": ProviderSpec(name="vllm", factory=plugin.FACTORY, env_keys=("VLLM_API_KEY",)),
    "openai": ProviderSpec(name="openai", factory=plugin.FACTORY, env_keys=("OPENAI_API_KEY",)),
}


@pytest.fixture(scope="module")
def litellm_runtime():
    """Import litellm once for the module (about 3 s); every test below uses it."""
    return runtime.load()


@pytest.fixture(autouse=True)
def no_provider_keys(monkeypatch):
    for variable in ("OPENAI_API_KEY", "VLLM_API_KEY"):
        monkeypatch.delenv(variable, raising=False)


def complete(name: str, request: LLMRequest | None = None, on_delta=None, **settings):
    provider = LiteLLMProvider(spec=SPECS[name], config=ProviderConfig(**settings))

    async def run():
        try:
            return await provider.complete(request or ask(), on_delta=on_delta)
        finally:
            await provider.aclose()

    return asyncio.run(run())


def ask(text: str = "Ahoy", model: str = "vllm/test-model") -> LLMRequest:
    return LLMRequest(model=model, messages=(ChatMessage(role="user", content=text),))


def test_a_server_error_is_retried_after_a_backoff(litellm_runtime, llm_server):
    llm_server.fail_next(500)
    started = time.perf_counter()
    response = complete("vllm", ask("still there?"), api_base=llm_server.base_url)
    elapsed = time.perf_counter() - started
    assert response.content == "[test-model] still there?"
    assert len(llm_server.requests) == 2
    assert 0.25 <= elapsed < 2.0  # first backoff step: 0.25-0.5 s with jitter


@pytest.mark.parametrize("max_retries", [0, 2])
def test_persistent_failure_makes_exactly_max_retries_plus_one_requests(max_retries, litellm_runtime, llm_server):
    llm_server.fail_next(503, times=10, message="upstream is napping", retry_after=0.01)
    with pytest.raises(ProviderError) as info:
        complete("vllm", api_base=llm_server.base_url, max_retries=max_retries)
    assert len(llm_server.requests) == max_retries + 1
    attempts = f"{max_retries + 1} attempt{'s' if max_retries else ''}"
    assert str(info.value).startswith(
        f"vllm failed at {llm_server.base_url} after {attempts}: HTTP 503: upstream is napping."
    )
    assert type(info.value) is ProviderError


def test_rate_limit_honours_the_servers_retry_after(litellm_runtime, llm_server):
    llm_server.fail_next(429, times=2, retry_after=0.02)
    started = time.perf_counter()
    response = complete("vllm", ask("again"), api_base=llm_server.base_url)
    assert response.content == "[test-model] again"
    assert len(llm_server.requests) == 3
    # Our own backoff would have waited at least 0.25 s + 0.5 s.
    assert time.perf_counter() - started < 0.6


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_key_is_an_auth_error_without_retry(status, litellm_runtime, llm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-do-not-print-me")
    llm_server.fail_next(status, times=5, message="Incorrect API key provided: sk-live-do-not-print-me")
    with pytest.raises(ProviderAuthError) as info:
        complete("openai", ask(model="openai/gpt-4o"), api_base=llm_server.base_url)
    message = str(info.value)
    assert message.startswith("openai rejected the API key (from OPENAI_API_KEY): check it or run `nanofolks onboard`")
    assert f"HTTP {status}" in message
    assert "sk-live-do-not-print-me" not in message
    assert info.value.exit_code == 2
    assert len(llm_server.requests) == 1


def test_a_bad_request_is_not_retried_and_shows_the_servers_reason(litellm_runtime, llm_server):
    llm_server.fail_next(400, times=5, message="max_tokens is too large for this model")
    with pytest.raises(ProviderError) as info:
        complete("vllm", api_base=llm_server.base_url)
    assert str(info.value) == (
        f"vllm at {llm_server.base_url} rejected the request for 'vllm/test-model': "
        "HTTP 400: max_tokens is too large for this model"
    )
    assert len(llm_server.requests) == 1


def test_an_unknown_model_points_at_the_model_name(litellm_runtime, llm_server):
    llm_server.fail_next(404, message="The model `nope` does not exist")
    with pytest.raises(ProviderError) as info:
        complete("vllm", ask(model="vllm/nope"), api_base=llm_server.base_url)
    assert "HTTP 404: The model `nope` does not exist; check the model name 'vllm/nope'" in str(info.value)


def test_a_slow_server_times_out_and_is_retried(litellm_runtime, llm_server):
    llm_server.push(Reply(content="too late", delay=2.0), "in time")
    response = complete("vllm", api_base=llm_server.base_url, read_timeout=0.3)
    assert response.content == "in time"
    assert len(llm_server.requests) == 2
    llm_server.push(Reply(content="too late", delay=2.0))
    with pytest.raises(ProviderError) as info:
        complete("vllm", api_base=llm_server.base_url, read_timeout=0.3, max_retries=0)
    assert str(info.value).startswith(
        f"vllm failed at {llm_server.base_url} after 1 attempt: timed out: the server sent nothing for 0.3 s"
    )


def test_nothing_listening_names_the_endpoint(litellm_runtime):
    with socket.socket() as probe:  # a port that was free a moment ago: nobody answers there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ProviderError) as info:
        complete("vllm", api_base=base, max_retries=0)
    assert str(info.value).startswith(
        f"vllm failed at {base} after 1 attempt: connection refused (is the server running?). Check the service"
    )


def test_a_stream_that_fails_before_any_text_is_retried(litellm_runtime, llm_server):
    llm_server.fail_next(502)
    llm_server.push("Fair winds and following seas")
    deltas: list[str] = []
    response = complete("vllm", on_delta=deltas.append, api_base=llm_server.base_url)
    assert "".join(deltas) == response.content == "Fair winds and following seas"
    assert [body.get("stream") for body in llm_server.requests] == [True, True]


class StreamThatBreaksOff:
    """A server that streams one piece of text and then hangs up, as a crashing model server does."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"
        self.requests = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                self.requests += 1
                chunk = {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "m",
                    "choices": [{"index": 0, "delta": {"content": "Hello "}, "finish_reason": None}],
                }
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                    + b"data: "
                    + json.dumps(chunk).encode()
                    + b"\n\n"
                )

    def close(self) -> None:
        self.listener.close()


def test_a_stream_that_breaks_off_after_text_is_not_repeated(litellm_runtime):
    server = StreamThatBreaksOff()
    deltas: list[str] = []
    try:
        with pytest.raises(ProviderError) as info:
            complete("vllm", on_delta=deltas.append, api_base=server.base_url, max_retries=3)
    finally:
        server.close()
    assert deltas == ["Hello "]  # shown once; a retry would have printed it again
    assert server.requests == 1
    assert str(info.value) == (
        f"vllm: the reply from {server.base_url} broke off after 6 characters: "
        "Stream ended before a finish_reason was received"
    )


def test_first_call_in_a_fresh_process_is_quiet_and_uses_the_env_key(tmp_path):
    """What a user sees: no warnings or litellm log lines on stderr, the key from the environment."""
    code = textwrap.dedent(
        """
        import asyncio, json, sys, time
        from nanofolks_core.api import ChatMessage, LLMRequest
        from nanofolks_core.api import App
        from nanofolks_core.testing.llm_server import FakeLLMServer

        with FakeLLMServer(api_key="sk-from-env") as server:
            config_file = App().config_path
            config_file.parent.mkdir(parents=True)
            config_file.write_text(json.dumps({"providers": {"openai": {"apiBase": server.base_url}}}))
            app = App()
            spec = app.registry.get("provider", "openai")
            provider = spec.load()(spec=spec, config=app.config.section("providers.openai"))
            request = LLMRequest(model="openai/test-model", messages=(ChatMessage(role="user", content="hi"),))

            async def run():
                timings = []
                for _ in range(6):
                    started = time.perf_counter()
                    response = await provider.complete(request)
                    timings.append(time.perf_counter() - started)
                await provider.aclose()
                return response, timings

            response, timings = asyncio.run(run())
        from nanofolks_provider_litellm import runtime
        print(json.dumps({"content": response.content, "requests": len(server.requests), "timings": timings,
                          "import_seconds": runtime.load().import_seconds}))
        """
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_") and not k.endswith("_API_KEY")}
    environ.update(
        NANOFOLKS_HOME=str(tmp_path / "home"), NANOFOLKS_LOAD_PLUGINS="provider-litellm", OPENAI_API_KEY="sk-from-env"
    )
    environ.pop("LITELLM_LOG", None)
    proc = subprocess.run(
        [sys.executable, "-W", "default", "-c", code],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    result = json.loads(proc.stdout)
    assert result["content"] == "[test-model] hi"
    assert result["requests"] == 6
    print(
        f"litellm import {result['import_seconds']:.2f} s; call times (s): "
        + ", ".join(f"{t:.3f}" for t in result["timings"])
    )
