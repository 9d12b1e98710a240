"""Tests for the testing kit's FakeLLMServer: real sockets, offline.

The first half talks to the server with plain urllib (wire format); the second half
drives the real litellm code path against it (skipped if litellm is not installed).
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import struct
import threading
import time
import urllib.error
import urllib.request

import pytest

from nanofolks_core.testing.llm_server import FakeLLMServer, Reply, ToolCall

USER_HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        yield srv


def post(srv: FakeLLMServer, body: dict, path: str = "/chat/completions", key: str = "sk-test"):
    """POST JSON; return (status, headers, raw bytes) without raising on HTTP errors."""
    req = urllib.request.Request(
        srv.base_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def chat(srv: FakeLLMServer, messages=USER_HI, model: str = "test-model", **extra) -> tuple[int, dict]:
    status, _, raw = post(srv, {"model": model, "messages": messages, **extra})
    return status, json.loads(raw)


def sse_events(raw: bytes) -> list:
    """Split an SSE body into decoded chunks, keeping the final "[DONE]" marker as a string."""
    events = [line[len("data: ") :] for line in raw.decode().split("\n\n") if line.startswith("data: ")]
    return [e if e == "[DONE]" else json.loads(e) for e in events]


def content_of(body: dict) -> str:
    return body["choices"][0]["message"]["content"]


# -- wire format (urllib) ------------------------------------------------------------


def test_non_streaming_reply_has_openai_shape(server):
    status, body = chat(
        server, [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hello there"}], model="m1"
    )
    assert status == 200
    assert body["object"] == "chat.completion" and body["id"] and isinstance(body["created"], int)
    assert body["model"] == "m1"
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "[m1] hello there"}
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["prompt_tokens"] == math.ceil(len("be nicehello there") / 4)
    assert usage["completion_tokens"] == math.ceil(len("[m1] hello there") / 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_default_reply_echoes_last_user_message_truncated(server):
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "x" * 500}]},
    ]
    text = content_of(chat(server, messages)[1])
    assert text.startswith("[test-model] xxx") and text.endswith("...")
    assert len(text) == len("[test-model] ") + 200


def test_reply_token_overrides(server):
    server.push(Reply("hi", prompt_tokens=100, completion_tokens=7))
    assert chat(server)[1]["usage"] == {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107}


def test_tool_call_reply_non_streaming(server):
    server.push(Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_abc")]))
    choice = chat(server)[1]["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["id"] == "call_abc" and call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}  # a JSON *string*


def test_streaming_sends_chunks_usage_and_done(server):
    server.push("the quick brown fox jumps")
    status, headers, raw = post(
        server, {"model": "test-model", "messages": USER_HI, "stream": True, "stream_options": {"include_usage": True}}
    )
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert len([p for p in pieces if p]) >= 2  # really split, so clients must reassemble
    assert "".join(p or "" for p in pieces) == "the quick brown fox jumps"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 7


def test_streaming_without_include_usage_has_no_usage_chunk(server):
    events = sse_events(post(server, {"model": "test-model", "messages": USER_HI, "stream": True})[2])
    assert not any("usage" in e for e in events[:-1])
    assert events[-2]["choices"][0]["finish_reason"] == "stop"


def test_streaming_tool_call_deltas_reassemble(server):
    server.push(Reply(tool_calls=[ToolCall("search", {"q": "cats", "limit": 3}), ToolCall("noop")]))
    chunks = sse_events(post(server, {"model": "test-model", "messages": USER_HI, "stream": True})[2])[:-1]
    calls: dict[int, dict] = {}
    for chunk in chunks:
        for delta in chunk["choices"][0]["delta"].get("tool_calls", []):
            call = calls.setdefault(delta["index"], {"name": "", "arguments": ""})
            call["id"] = delta.get("id", call.get("id"))
            call["name"] += delta.get("function", {}).get("name") or ""
            call["arguments"] += delta.get("function", {}).get("arguments") or ""
    assert calls[0]["name"] == "search" and json.loads(calls[0]["arguments"]) == {"q": "cats", "limit": 3}
    assert calls[1]["name"] == "noop" and json.loads(calls[1]["arguments"]) == {}
    assert calls[0]["id"] != calls[1]["id"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_scripted_replies_fifo_then_handler_then_default():
    answers = iter(["from handler", None])
    with FakeLLMServer(["one", Reply("two")], handler=lambda req: next(answers)) as srv:
        srv.push("three")
        got = [content_of(chat(srv)[1]) for _ in range(5)]
    assert got == ["one", "two", "three", "from handler", "[test-model] hi"]


def test_handler_sees_the_request():
    def handler(req: dict) -> str:
        system = next(m["content"] for m in req["messages"] if m["role"] == "system")
        return "PIRATE" if "pirate" in system else "plain"

    with FakeLLMServer(handler=handler) as srv:
        assert content_of(chat(srv, [{"role": "system", "content": "you are a pirate"}] + USER_HI)[1]) == "PIRATE"
        assert content_of(chat(srv, [{"role": "system", "content": "you are a clerk"}] + USER_HI)[1]) == "plain"


def test_handler_exception_becomes_500_with_message():
    with FakeLLMServer(handler=lambda req: 1 / 0) as srv:
        status, body = chat(srv)
    assert status == 500 and "ZeroDivisionError" in body["error"]["message"]


def test_fail_next_500_then_scripted_reply(server):
    server.push("ok")
    server.fail_next(500, times=2)
    first, second, third = chat(server), chat(server), chat(server)
    assert first[0] == second[0] == 500
    assert first[1]["error"]["type"] == "server_error" and "500" in first[1]["error"]["message"]
    assert third[0] == 200 and content_of(third[1]) == "ok"  # the failure did not eat "ok"
    assert len(server.requests) == 3


def test_fail_next_401_has_openai_error_body(server):
    server.fail_next(401, message="Incorrect API key provided: sk-bad")
    status, body = chat(server)
    assert status == 401
    assert body == {
        "error": {
            "message": "Incorrect API key provided: sk-bad",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }


def test_retry_after_headers(server):
    server.fail_next(429, retry_after=0.25)
    status, headers, raw = post(server, {"model": "test-model", "messages": USER_HI})
    assert status == 429 and json.loads(raw)["error"]["code"] == "rate_limit_exceeded"
    assert headers["retry-after-ms"] == "250" and headers["retry-after"] == "1"


def test_error_reply_from_queue(server):
    server.push(Reply(status=503, error="overloaded"), "fine")
    assert chat(server) == (
        503,
        {"error": {"message": "overloaded", "type": "server_error", "param": None, "code": "service_unavailable"}},
    )
    assert content_of(chat(server)[1]) == "fine"


def test_api_key_is_enforced_when_set():
    with FakeLLMServer(["secret"], api_key="sk-right") as srv:
        status, _, raw = post(srv, {"model": "test-model", "messages": USER_HI}, key="sk-wrong")
        assert status == 401 and json.loads(raw)["error"]["code"] == "invalid_api_key"
        status, _, raw = post(srv, {"model": "test-model", "messages": USER_HI}, key="sk-right")
        assert status == 200 and content_of(json.loads(raw)) == "secret"  # the 401 did not consume it
        assert len(srv.requests) == 2


def test_requests_are_recorded_in_order_and_reset(server):
    chat(server, [{"role": "user", "content": "a"}])
    chat(server, [{"role": "user", "content": "b"}], temperature=0.5)
    recorded = server.requests
    assert [r["messages"][0]["content"] for r in recorded] == ["a", "b"]
    assert recorded[1]["temperature"] == 0.5
    recorded.clear()  # a copy: the server's own record is untouched
    assert len(server.requests) == 2
    server.push("queued")
    server.fail_next(500)
    server.reset()
    assert server.requests == []
    status, body = chat(server)  # neither the queued reply nor the failure survived reset()
    assert status == 200 and content_of(body) == "[test-model] hi"


def test_concurrent_requests_are_served_in_parallel():
    n = 8
    # Every handler call waits until all n are in flight: a server that serialised
    # requests would time out the barrier and answer 500.
    barrier = threading.Barrier(n, timeout=5)

    def handler(req: dict) -> str:
        barrier.wait()
        return "echo " + req["messages"][0]["content"]

    results: dict[int, tuple[int, dict]] = {}
    with FakeLLMServer(handler=handler) as srv:
        threads = [
            threading.Thread(
                target=lambda i=i: results.__setitem__(i, chat(srv, [{"role": "user", "content": str(i)}]))
            )
            for i in range(n)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(srv.requests) == n
    assert {i: (status, content_of(body)) for i, (status, body) in results.items()} == {
        i: (200, f"echo {i}") for i in range(n)
    }


def test_models_embeddings_and_unknown_paths(server):
    with urllib.request.urlopen(server.base_url + "/models", timeout=5) as resp:
        assert json.loads(resp.read())["data"][0]["id"] == "test-model"
    status, _, raw = post(server, {"model": "emb", "input": ["a", "b", "a"]}, path="/embeddings")
    data = json.loads(raw)["data"]
    assert status == 200 and [d["index"] for d in data] == [0, 1, 2]
    assert len(data[0]["embedding"]) == 8
    assert data[0]["embedding"] == data[2]["embedding"] != data[1]["embedding"]  # deterministic per text
    raw = post(
        server, {"model": "emb", "input": "a", "dimensions": 4, "encoding_format": "base64"}, path="/embeddings"
    )[2]
    decoded = struct.unpack("<4f", base64.b64decode(json.loads(raw)["data"][0]["embedding"]))
    assert decoded == pytest.approx(data[0]["embedding"][:4], abs=1e-6)
    status, _, raw = post(server, {}, path="/nope")
    assert status == 404 and "/nope" in json.loads(raw)["error"]["message"]
    # The /v1 prefix is optional, as some clients drop it.
    req = urllib.request.Request(
        server.url + "/chat/completions", method="POST", data=json.dumps({"model": "x", "messages": USER_HI}).encode()
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert content_of(json.loads(resp.read())) == "[x] hi"


def test_invalid_json_is_a_400(server):
    req = urllib.request.Request(server.base_url + "/chat/completions", data=b"{not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 400 and json.loads(err.value.read())["error"]["type"] == "invalid_request_error"


def test_lifecycle_fast_start_quiet_and_port_released(capfd):
    srv = FakeLLMServer()
    with pytest.raises(RuntimeError):
        srv.base_url
    timings = []
    for _ in range(3):  # best of three, so a busy CI box does not make this flaky
        started = time.perf_counter()
        srv.start()
        timings.append(time.perf_counter() - started)
        base_url = srv.base_url
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        assert chat(srv)[0] == 200
        srv.stop()
        srv.stop()  # idempotent
    assert min(timings) < 0.05
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base_url + "/models", timeout=2)
    assert capfd.readouterr().err == ""  # no BaseHTTPRequestHandler log lines


# -- the real litellm code path ---------------------------------------------------------


@pytest.fixture(scope="module")
def litellm():
    # Must be set before the import: otherwise litellm fetches its model cost map from
    # GitHub at import time, which offline means retries and seconds of waiting.
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    module = pytest.importorskip("litellm")
    module.disable_hf_tokenizer_download = True
    return module


def call_kwargs(srv: FakeLLMServer, **extra) -> dict:
    return {"model": "openai/test-model", "api_base": srv.base_url, "api_key": "sk-test", "messages": USER_HI, **extra}


def test_litellm_completion(litellm, server):
    server.push("Hello from the fake model")
    resp = litellm.completion(**call_kwargs(server))
    assert resp.choices[0].message.content == "Hello from the fake model"
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens > 0
    assert server.requests[0]["model"] == "test-model"  # litellm strips the "openai/" prefix
    assert server.requests[0]["messages"] == USER_HI


def test_litellm_streaming(litellm, server):
    server.push("streamed across several chunks")
    chunks = list(litellm.completion(**call_kwargs(server, stream=True)))
    assert len(chunks) >= 3
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed across several chunks"
    assert server.requests[0]["stream"] is True


def test_litellm_tool_call(litellm, server):
    server.push(Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris", "unit": "C"})]))
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                },
            },
        }
    ]
    resp = litellm.completion(**call_kwargs(server, tools=tools))
    assert resp.choices[0].finish_reason == "tool_calls"
    (call,) = resp.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "C"}
    assert server.requests[0]["tools"] == tools  # the request reached the server intact


def test_litellm_acompletion(litellm, server):
    server.push("async one")

    async def both():
        return await asyncio.gather(
            litellm.acompletion(**call_kwargs(server)), litellm.acompletion(**call_kwargs(server))
        )

    contents = sorted(r.choices[0].message.content for r in asyncio.run(both()))
    assert contents == ["[test-model] hi", "async one"]


def test_litellm_retries_through_a_500(litellm, server):
    server.push("recovered")
    server.fail_next(500, retry_after=0.01)
    resp = litellm.completion(**call_kwargs(server, num_retries=2, timeout=5))
    assert resp.choices[0].message.content == "recovered"
    assert len(server.requests) == 2


def test_litellm_gives_up_on_persistent_500(litellm, server):
    server.fail_next(500, times=1000, retry_after=0.01)
    outcome: list = []

    def call() -> None:
        try:
            litellm.completion(**call_kwargs(server, num_retries=2, timeout=2))
        except Exception as exc:  # noqa: BLE001 -- the type depends on whether tenacity is installed
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "litellm kept retrying a persistent 500"
    assert outcome, "litellm returned a reply although every request failed"
    assert 3 <= len(server.requests) < 1000  # it did retry, and it did stop


def test_litellm_auth_error(litellm):
    with FakeLLMServer(api_key="sk-right") as srv:
        with pytest.raises(litellm.AuthenticationError):
            litellm.completion(**call_kwargs(srv))
        assert len(srv.requests) == 1  # 401 is not retried


def test_litellm_embedding(litellm, server):
    resp = litellm.embedding(model="openai/emb", api_base=server.base_url, api_key="sk-test", input=["a", "b"])
    vectors = [d["embedding"] for d in resp.data]
    assert len(vectors) == 2 and len(vectors[0]) == 8 and vectors[0] != vectors[1]
