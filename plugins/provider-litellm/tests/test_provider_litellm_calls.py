"""Successful calls through the real litellm code path against a real local OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading

import pytest
from nanofolks_provider_litellm import plugin, runtime
from nanofolks_provider_litellm.config import ProviderConfig

from nanofolks_core.api import ChatMessage, LLMRequest, ProviderAuthError, Secret, ToolCall
from nanofolks_core.testing import PluginHost
from nanofolks_core.testing.llm_server import FakeLLMServer, Reply
from nanofolks_core.testing.llm_server import ToolCall as ServerToolCall

pytestmark = [pytest.mark.filterwarnings(f"ignore:{pattern}") for pattern in runtime.PYDANTIC_NOISE]

KEY_VARIABLES = (
    "OPENROUTER_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "DEEPSEEK_API_KEY",
    "GROQ_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "VLLM_API_KEY",
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def litellm_runtime():
    """Import litellm once for the module (about 3 s); every test below uses it."""
    return runtime.load()


@pytest.fixture(autouse=True)
def no_provider_keys(monkeypatch):
    for variable in KEY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(scope="module")
def specs():
    host = PluginHost(strict=True, trace=False)
    host.register_module(plugin, "provider-litellm")
    registry = host.build_registry()
    return {spec.name: spec for spec in registry.all("provider")}


def make_provider(specs, name: str, **settings):
    spec = specs[name]
    return spec.load()(spec=spec, config=ProviderConfig(**settings))


def call(provider, request: LLMRequest, on_delta=None):
    """One call, then close, in one event loop: how the app drives a provider."""

    async def run():
        try:
            return await provider.complete(request, on_delta=on_delta)
        finally:
            await provider.aclose()

    return asyncio.run(run())


def ask(model: str, text: str = "Ahoy there", **fields) -> LLMRequest:
    return LLMRequest(model=model, messages=(ChatMessage(role="user", content=text),), **fields)


class CountingProxy:
    """A TCP relay in front of the fake server that counts every HTTP request passing through."""

    _REQUEST_LINE = re.compile(rb"(?:^|\r\n)(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+ HTTP/1\.[01]\r\n")

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._sent: list[bytearray] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def sent_text(self) -> str:
        """Everything clients sent, decoded (requests and bodies)."""
        return "".join(bytes(data).decode("utf-8", "replace") for data in self._sent)

    @property
    def requests(self) -> int:
        return sum(len(self._REQUEST_LINE.findall(bytes(data))) for data in self._sent)

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            sent = bytearray()
            self._sent.append(sent)
            threading.Thread(target=self._pipe, args=(client, upstream, sent), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, None), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket, record: bytearray | None) -> None:
        try:
            while data := source.recv(65536):
                if record is not None:
                    record.extend(data)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def test_one_call_is_one_http_request_and_returns_the_server_reply(litellm_runtime, specs, llm_server):
    llm_server.push(Reply(content="Arr, the treasure be buried.", prompt_tokens=11, completion_tokens=7))
    proxy = CountingProxy(llm_server.port)
    try:
        provider = make_provider(specs, "vllm", api_base=f"http://127.0.0.1:{proxy.port}/v1")
        response = call(provider, ask("vllm/test-model"))
    finally:
        proxy.close()
    assert response.content == "Arr, the treasure be buried."
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (11, 7)
    assert response.model == "vllm/test-model"
    assert response.finish_reason == "stop"
    assert response.tool_calls == ()
    assert response.cost is None  # a self-hosted model has no list price
    assert proxy.requests == 1
    assert len(llm_server.requests) == 1


def test_the_request_carries_system_prompt_history_tools_and_settings(litellm_runtime, specs, llm_server):
    proxy = CountingProxy(llm_server.port)  # to see the headers too
    provider = make_provider(
        specs,
        "vllm",
        api_base=f"http://127.0.0.1:{proxy.port}/v1",
        api_key=Secret.parse("local-key"),
        extra_headers={"X-Title": "nanofolks"},
    )
    call_7 = ToolCall(id="call_7", name="get_weather", arguments={"city": "Paris"})
    history = (
        ChatMessage(role="system", content="You are the Leader of a pirate crew."),
        ChatMessage(role="user", content="What's the weather in Paris?"),
        ChatMessage(role="assistant", tool_calls=(call_7,)),
        ChatMessage(role="tool", content='{"sky": "clear"}', tool_call_id="call_7", name="get_weather"),
    )
    request = LLMRequest(
        model="vllm/my-model", messages=history, tools=(WEATHER_TOOL,), temperature=0.25, max_tokens=300
    )
    try:
        call(provider, request)
    finally:
        proxy.close()
    head = proxy.sent_text.split("\r\n\r\n", 1)[0].lower()
    assert "\r\nx-title: nanofolks" in head
    assert "\r\nauthorization: bearer local-key" in head
    (body,) = llm_server.requests
    assert body["model"] == "my-model"
    assert body["temperature"] == 0.25
    assert body["max_tokens"] == 300
    assert body["tools"] == [WEATHER_TOOL]
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[0]["content"] == "You are the Leader of a pirate crew."
    assert messages[1]["content"] == "What's the weather in Paris?"
    (sent_call,) = messages[2]["tool_calls"]
    assert (sent_call["id"], sent_call["function"]["name"]) == ("call_7", "get_weather")
    assert json.loads(sent_call["function"]["arguments"]) == {"city": "Paris"}
    assert messages[3]["tool_call_id"] == "call_7"
    assert messages[3]["content"] == '{"sky": "clear"}'
    assert "stream" not in body or body["stream"] is False


def test_streaming_delivers_several_deltas_that_add_up_to_the_reply(litellm_runtime, specs, llm_server):
    text = "Yo ho ho, the wind be fair and the sea be calm today."
    llm_server.push(Reply(content=text, prompt_tokens=5, completion_tokens=13))
    deltas: list[str] = []
    response = call(make_provider(specs, "vllm", api_base=llm_server.base_url), ask("vllm/test-model"), deltas.append)
    assert len(deltas) >= 3
    assert "".join(deltas) == text == response.content
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (5, 13)
    assert response.finish_reason == "stop"
    (body,) = llm_server.requests
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_tool_call_replies_parse_into_tool_calls(streamed, litellm_runtime, specs, llm_server):
    llm_server.push(
        Reply(
            content="Checking.",
            tool_calls=[
                ServerToolCall("get_weather", {"city": "Paris", "days": 3}, id="call_a"),
                ServerToolCall("list_rooms", {}, id="call_b"),
            ],
        )
    )
    deltas: list[str] = []
    provider = make_provider(specs, "vllm", api_base=llm_server.base_url)
    response = call(provider, ask("vllm/test-model", tools=(WEATHER_TOOL,)), deltas.append if streamed else None)
    assert response.tool_calls == (
        ToolCall(id="call_a", name="get_weather", arguments={"city": "Paris", "days": 3}),
        ToolCall(id="call_b", name="list_rooms", arguments={}),
    )
    assert response.finish_reason == "tool_calls"
    assert response.content == "Checking."
    assert "".join(deltas) == ("Checking." if streamed else "")


def test_key_from_the_environment_reaches_the_server(litellm_runtime, specs, monkeypatch):
    with FakeLLMServer(api_key="sk-env-key-123") as server:
        provider = make_provider(specs, "openai", api_base=server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env-key-123")
        assert call(provider, ask("openai/test-model", "hello")).content == "[test-model] hello"
        monkeypatch.setenv("OPENAI_API_KEY", "sk-stale-key-456")
        with pytest.raises(ProviderAuthError) as info:
            call(provider, ask("openai/test-model"))
    assert str(info.value).startswith(
        "openai rejected the API key (from OPENAI_API_KEY): check it or run `nanofolks onboard`"
    )
    assert "sk-stale-key-456" not in str(info.value)


def test_configured_key_wins_over_the_environment(litellm_runtime, specs, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-wrong")
    monkeypatch.setenv("MY_ROUTER_KEY", "sk-or-right")
    with FakeLLMServer(api_key="sk-or-right") as server:
        provider = make_provider(
            specs, "openrouter", api_base=server.base_url, api_key=Secret.parse("env:MY_ROUTER_KEY")
        )
        response = call(provider, ask("openrouter/anthropic/claude-sonnet-4", "hi"))
    assert response.content == "[anthropic/claude-sonnet-4] hi"
    assert response.model == "openrouter/anthropic/claude-sonnet-4"


def test_self_hosted_server_works_without_a_key_and_says_so_when_it_wants_one(litellm_runtime, specs, llm_server):
    assert call(make_provider(specs, "vllm", api_base=llm_server.base_url), ask("vllm/test-model", "hi")).content
    with FakeLLMServer(api_key="local-secret") as locked:
        base_url = locked.base_url
        with pytest.raises(ProviderAuthError) as info:
            call(make_provider(specs, "vllm", api_base=base_url), ask("vllm/test-model"))
    assert str(info.value).startswith(
        f"the vllm server at {base_url} wants an API key: set providers.vllm.apiKey or VLLM_API_KEY"
    )


LITELLM_GROQ_BUG = pytest.mark.xfail(
    strict=True,
    reason="litellm's groq route reads response.service_tier without a default; the fake server omits it",
)


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("name", ["openrouter", "openai", "deepseek", "groq"])
def test_openai_compatible_providers_send_the_model_without_our_prefix(
    name, streamed, litellm_runtime, specs, llm_server, monkeypatch, request
):
    if name == "groq" and not streamed:
        request.applymarker(LITELLM_GROQ_BUG)
    monkeypatch.setenv(specs[name].env_keys[0], "sk-test")
    provider = make_provider(specs, name, api_base=llm_server.base_url, max_retries=0)
    deltas: list[str] = []
    response = call(provider, ask(f"{name}/vendor/some-model", "hi"), deltas.append if streamed else None)
    assert llm_server.requests[-1]["model"] == "vendor/some-model"
    assert response.content == "[vendor/some-model] hi"
    assert response.model == f"{name}/vendor/some-model"


def test_cost_comes_from_the_local_price_map_and_is_none_when_unknown(litellm_runtime, specs, llm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    llm_server.push(
        Reply(content="ok", prompt_tokens=1000, completion_tokens=500),
        Reply(content="ok", prompt_tokens=1000, completion_tokens=500),
    )
    provider = make_provider(specs, "openai", api_base=llm_server.base_url)
    priced = call(provider, ask("openai/gpt-4o"))
    price = litellm_runtime.module.model_cost["gpt-4o"]
    expected = 1000 * price["input_cost_per_token"] + 500 * price["output_cost_per_token"]
    assert priced.cost == pytest.approx(expected)
    assert priced.cost > 0
    assert call(provider, ask("openai/a-model-nobody-prices")).cost is None


def test_a_closed_provider_can_be_used_again(litellm_runtime, specs, llm_server):
    provider = make_provider(specs, "vllm", api_base=llm_server.base_url)

    async def twice():
        first = await provider.complete(ask("vllm/test-model", "one"))
        await provider.aclose()
        second = await provider.complete(ask("vllm/test-model", "two"))
        await provider.aclose()
        return first.content, second.content

    assert asyncio.run(twice()) == ("[test-model] one", "[test-model] two")
