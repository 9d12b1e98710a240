"""A minimal OpenAI-compatible provider over plain HTTP (stdlib only), for tests.

It lets core and plugin tests drive the real pipeline against :class:`FakeLLMServer` without
installing litellm. Register it with the ``register_plugin`` fixture::

    from nanofolks_core.testing import provider as test_provider
    register_plugin(test_provider, "test-provider")
    # config: {"agents": {"defaults": {"model": "local/test-model"}},
    #          "providers": {"local": {"apiBase": server.base_url}}}
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import attrs

from nanofolks_core.api import ProviderSpec, hookimpl
from nanofolks_core.contracts import Services
from nanofolks_core.messages import ChatMessage, LLMRequest, LLMResponse, ToolCall, Usage
from nanofolks_core.provider import ProviderAuthError, ProviderError, ProviderNotConfigured
from nanofolks_core.secret import Secret


@attrs.define(kw_only=True)
class LocalProviderConfig:
    """``providers.local``: ``apiBase`` of the server; ``apiKey`` inline, ``env:NAME`` or ``keyring:NAME``."""

    api_base: str | None = None
    api_key: Secret | None = None


@hookimpl
def nanofolks_register_providers(register):
    register(
        ProviderSpec(
            name="local",
            summary="Test provider for a local OpenAI-compatible server",
            factory="nanofolks_core.testing.provider:LocalHTTPProvider",
            config_class=LocalProviderConfig,
        )
    )


def _message(message: ChatMessage) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        data["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in message.tool_calls
        ]
    if message.tool_call_id:
        data["tool_call_id"] = message.tool_call_id
    if message.name and message.role == "tool":
        data["name"] = message.name
    return data


class LocalHTTPProvider:
    """Built like every provider: ``LocalHTTPProvider(spec=, config=, services=)``."""

    def __init__(self, *, spec: ProviderSpec, config: LocalProviderConfig | None, services: Services) -> None:
        if config is None or not config.api_base:
            raise ProviderNotConfigured("providers.local.apiBase is not set")
        self.api_base = config.api_base.rstrip("/")
        # Resolved when built, so a missing env variable or keyring entry fails the first call clearly.
        self.api_key = services.secret(config.api_key) if config.api_key is not None else "test"

    async def complete(self, request: LLMRequest, *, on_delta: Callable[[str], None] | None = None) -> LLMResponse:
        body = {"model": request.model.split("/", 1)[-1], "messages": [_message(m) for m in request.messages]}
        if request.tools:
            body["tools"] = list(request.tools)
        data = await asyncio.to_thread(self._post, body)
        choice = data["choices"][0]
        message = choice["message"]
        calls = tuple(
            ToolCall(id=c["id"], name=c["function"]["name"], arguments=json.loads(c["function"]["arguments"] or "{}"))
            for c in message.get("tool_calls") or []
        )
        content = message.get("content") or ""
        if on_delta and content:
            on_delta(content)
        usage = data.get("usage") or {}
        return LLMResponse(
            content=content,
            tool_calls=calls,
            model=data.get("model", ""),
            usage=Usage(
                prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0)
            ),
            finish_reason=choice.get("finish_reason"),
        )

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - tests point it at 127.0.0.1
            f"{self.api_base}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise ProviderAuthError(f"local server rejected the key ({exc.code})") from None
            raise ProviderError(f"local server answered {exc.code}") from None

    async def aclose(self) -> None:
        return None
