"""The core's door to language models: finds the provider for a model name, runs the
before/after hooks around every call, and keeps one provider instance per process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from nanofolks_core.messages import ChatMessage, LLMRequest, LLMResponse
from nanofolks_core.provider import ProviderNotConfigured
from nanofolks_core.registry import Registry
from nanofolks_core.specs import ProviderSpec

log = logging.getLogger("nanofolks.llm")


def find_provider(registry: Registry, model: str, not_loaded: list[str] | None = None) -> ProviderSpec:
    """The provider spec serving ``model``: by its ``provider/`` prefix, else by model_prefixes."""
    prefix = model.split("/", 1)[0] if "/" in model else ""
    spec = registry.get("provider", prefix) if prefix else None
    if spec is not None:
        return spec
    for candidate in registry.all("provider"):
        if any(model.startswith(p) for p in candidate.model_prefixes):
            return candidate
    known = ", ".join(f"{name}/…" for name in registry.names("provider"))
    if not known:
        off = [name for name in not_loaded or [] if name.startswith("provider")]
        known = (
            f"none enabled ({', '.join(off)} is disabled or failed: see `nanofolks plugins list`)"
            if off
            else "none (install nanofolks-provider-litellm)"
        )
    raise ProviderNotConfigured(
        f"no enabled provider serves the model {model!r}. Write models as provider/model; providers: {known}"
    )


class LLMClient:
    """Calls providers for the pipeline. ``pipe`` runs a pipeline-event hook chain (PluginHost.pipe)."""

    def __init__(
        self,
        registry: Registry,
        build_provider: Callable[[ProviderSpec], Any],
        pipe: Callable[..., Any],
        not_loaded: list[str] | None = None,
    ) -> None:
        """``build_provider(spec)`` builds a provider runtime (``App.build``: own section and services)."""
        self._registry = registry
        self._not_loaded = not_loaded or []
        self._build_provider = build_provider
        self._pipe = pipe
        self._providers: dict[str, Any] = {}

    def provider_for(self, model: str) -> Any:
        spec = find_provider(self._registry, model, self._not_loaded)
        if spec.name not in self._providers:
            self._providers[spec.name] = self._build_provider(spec)
        return self._providers[spec.name]

    def context_window(self, model: str) -> int:
        """The model's window, as its provider knows it (``agents.defaults.contextWindow`` wins upstream)."""
        from nanofolks_core.tokens import DEFAULT_WINDOW

        known = getattr(self.provider_for(model), "context_window", None)
        return (known(model) if known else None) or DEFAULT_WINDOW

    def token_counter(self, model: str):
        """``count(messages) -> tokens``: the provider's real tokenizer, or the estimate without one."""
        from nanofolks_core.tokens import estimate_tokens

        count = getattr(self.provider_for(model), "count_tokens", None)
        if count is None:
            return estimate_tokens
        return lambda messages: count(model, messages)

    async def complete(self, request: LLMRequest, on_delta: Callable[[str], None] | None = None) -> LLMResponse:
        provider = self.provider_for(request.model)
        request = self._pipe("nanofolks_before_llm_call", "request", request)
        started = time.perf_counter()
        response = await provider.complete(request, on_delta=on_delta)
        log.debug(
            "llm call model=%s bot=%s messages=%d took %.1f ms (prompt %d, completion %d tokens)",
            request.model,
            request.metadata.get("bot"),
            len(request.messages),
            (time.perf_counter() - started) * 1000,
            response.usage.prompt_tokens,
            response.usage.completion_tokens,
        )
        return self._pipe("nanofolks_after_llm_call", "response", response, request=request)

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()


class CoreLLMAccess:
    """``services.llm`` for plugin runtimes (:class:`nanofolks_core.contracts.LLMAccess`)."""

    def __init__(self, client: LLMClient, default_model: Callable[[], str | None]) -> None:
        self._client = client
        self._default_model = default_model

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Send ``request`` through the provider serving its model, with the LLM-call hooks."""
        return await self._client.complete(request)

    async def ask(self, prompt: str, *, model: str | None = None, tier: str | None = None) -> str:
        """One short plain-text call; ``model`` defaults to ``agents.defaults.model``."""
        model = model or self._default_model()
        if not model:
            raise ProviderNotConfigured(
                "no model is configured. Run `nanofolks onboard`, or set agents.defaults.model in config.json"
            )
        request = LLMRequest(
            model=model,
            messages=(ChatMessage(role="user", content=prompt),),
            temperature=0.0,
            metadata={"purpose": "ask", **({"tier": tier} if tier else {})},
        )
        return (await self.complete(request)).content
