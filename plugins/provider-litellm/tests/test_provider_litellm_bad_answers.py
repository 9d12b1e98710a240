"""A server that answers 200 with something that is not a completion, or does not answer at all.

Real litellm against the local FakeLLMServer: the HTML page, empty and non-JSON bodies a
misconfigured proxy sends, a server that hangs, and credentials written into ``apiBase``.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from nanofolks_provider_litellm import plugin, runtime
from nanofolks_provider_litellm.config import ProviderConfig
from nanofolks_provider_litellm.provider import LiteLLMProvider, mask_url_credentials

from nanofolks_core.api import ChatMessage, LLMRequest, ProviderError, ProviderSpec
from nanofolks_core.testing.llm_server import Reply

pytestmark = [pytest.mark.filterwarnings(f"ignore:{pattern}") for pattern in runtime.PYDANTIC_NOISE]

SPEC = ProviderSpec(name="vllm", factory=plugin.FACTORY, env_keys=("VLLM_API_KEY",))
LOGIN_PAGE = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in</body></html>"


@pytest.fixture(scope="module")
def litellm_runtime():
    return runtime.load()


def complete(stream: bool, **settings):
    provider = LiteLLMProvider(spec=SPEC, config=ProviderConfig(**settings))
    pieces: list[str] = []
    request = LLMRequest(model="vllm/test-model", messages=(ChatMessage(role="user", content="Ahoy"),))

    async def run():
        try:
            return await provider.complete(request, on_delta=pieces.append if stream else None)
        finally:
            await provider.aclose()

    return asyncio.run(run()), pieces


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize(
    ("reply", "label"),
    [
        (Reply(raw_body=LOGIN_PAGE), "answered 200 with an HTML page, not a chat completion"),
        (Reply(raw_body=b"", content_type="application/json"), "answered 200 with an empty body"),
        (Reply(raw_body="not json at all", content_type="text/plain"), "answered 200 with a"),
    ],
    ids=["html", "empty", "text"],
)
def test_a_200_that_is_not_a_completion_is_an_error_and_not_retried(stream, reply, label, litellm_runtime, llm_server):
    llm_server.push(reply)
    with pytest.raises(ProviderError) as info:
        complete(stream, api_base=llm_server.base_url)
    message = str(info.value)
    assert message.startswith(f"the server at {llm_server.base_url} {label}"), message
    assert "providers.vllm.apiBase" in message
    assert "HTTP 500" not in message
    assert len(llm_server.requests) == 1  # the same server would say the same: no retry


def test_json_without_choices_is_named(litellm_runtime, llm_server):
    llm_server.push(Reply(raw_body='{"object": "chat.completion", "choices": []}', content_type="application/json"))
    with pytest.raises(ProviderError, match="answered 200 with JSON without any choices"):
        complete(False, api_base=llm_server.base_url)
    assert len(llm_server.requests) == 1


def test_a_real_502_page_keeps_its_status_and_is_retried(litellm_runtime, llm_server):
    llm_server.push(Reply(raw_body="<html><body>502 Bad Gateway</body></html>", status=502), "back again")
    response, _ = complete(False, api_base=llm_server.base_url)
    assert response.content == "back again"
    assert len(llm_server.requests) == 2


def test_an_empty_but_real_event_stream_is_still_an_answer(litellm_runtime, llm_server):
    llm_server.push("")
    response, pieces = complete(True, api_base=llm_server.base_url)
    assert (response.content, pieces) == ("", [])


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_a_hanging_server_fails_within_the_total_timeout(stream, litellm_runtime, llm_server):
    llm_server.hang_next(60, times=10)
    started = time.perf_counter()
    with pytest.raises(ProviderError) as info:
        complete(stream, api_base=llm_server.base_url, timeout=1.5, read_timeout=0.6, max_retries=5)
    elapsed = time.perf_counter() - started
    assert 1.4 < elapsed < 3.0
    message = str(info.value)
    assert message.startswith(f"vllm: no answer from {llm_server.base_url} within 1.5 s (2 attempts")
    assert "the server sent nothing for 0.6 s" in message
    assert "providers.vllm.timeout" in message


def test_a_stream_that_goes_quiet_is_cut_by_the_read_timeout(litellm_runtime, llm_server):
    llm_server.push(Reply(content="never mind", stall=30), "second try")
    started = time.perf_counter()
    response, pieces = complete(True, api_base=llm_server.base_url, read_timeout=0.5)
    assert time.perf_counter() - started < 3.0
    assert response.content == "second try" and "".join(pieces) == "second try"


def test_url_credentials_are_explained_never_shown_and_not_retried(litellm_runtime, llm_server):
    base = llm_server.base_url.replace("http://", "http://admin:hunter2secret@")
    started = time.perf_counter()
    with pytest.raises(ProviderError) as info:
        complete(False, api_base=base)
    message = str(info.value)
    assert "hunter2secret" not in message and "http://***@127.0.0.1" in message
    assert "apiBase has a user and password in it" in message and "providers.vllm.apiKey" in message
    assert time.perf_counter() - started < 2.0  # not retried: the client refuses it every time
    provider = LiteLLMProvider(spec=SPEC, config=ProviderConfig(api_base=base))
    assert "hunter2secret" not in repr(provider)


def test_mask_url_credentials():
    assert (
        mask_url_credentials("see https://u:p@h.example/v1 and ftp://x@y")
        == "see https://***@h.example/v1 and ftp://***@y"
    )
    assert mask_url_credentials("mail me at a@b.c, http://h/v1") == "mail me at a@b.c, http://h/v1"


def test_timeouts_are_checked_in_config():
    with pytest.raises(ValueError, match="readTimeout must be above 0"):
        ProviderConfig(read_timeout=0)
    assert (ProviderConfig().timeout, ProviderConfig().read_timeout) == (120.0, 60.0)
