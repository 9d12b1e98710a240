"""``LiteLLMProvider``: the runtime behind every provider this plugin registers.

The core calls ``LiteLLMProvider(spec=, config=<ProviderConfig or None>, services=)`` once per
process and then ``await provider.complete(request, on_delta=...)``. Configuration
problems (no key, no apiBase) are reported before litellm is imported, so they are
instant. Transient failures are retried here, with backoff and jitter, and nowhere
else: litellm and the openai SDK are told not to retry, so ``maxRetries: 3`` means at
most four HTTP requests. ``timeout`` bounds the whole call, retries included.

A 200 answer that is not a chat completion (an HTML login page from a proxy, an empty or
non-JSON body, JSON without choices, a plain body where an event stream was asked for) is an
error with that label, not a reply, and is not retried: the same server would say the same.
Credentials written into ``apiBase`` (``https://user:pass@host``) never appear in a message.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import weakref
from collections.abc import Callable
from typing import Any

import attrs

from nanofolks_core.api import (
    ChatMessage,
    LLMRequest,
    LLMResponse,
    ProviderAuthError,
    ProviderError,
    ProviderNotConfigured,
    ProviderSpec,
    SecretUnavailable,
    Services,
    Usage,
    config_path,
)
from nanofolks_provider_litellm import failures, model_map, runtime
from nanofolks_provider_litellm.catalog import ProviderInfo, info_for
from nanofolks_provider_litellm.config import CONNECT_TIMEOUT, ProviderConfig
from nanofolks_provider_litellm.convert import (
    Completion,
    StreamAssembler,
    completion_from_response,
    to_litellm_messages,
)
from nanofolks_provider_litellm.failures import Failure, mask_url_credentials

__all__ = ["ApiKey", "LiteLLMProvider"]

#: Sent to self-hosted servers when no key is configured: the openai client insists on one.
NO_KEY_PLACEHOLDER = "no-key"
#: First backoff step in seconds; doubles per retry up to MAX_BACKOFF, with jitter.
BASE_BACKOFF = 0.5
MAX_BACKOFF = 8.0
#: A server's retry-after is honoured up to this many seconds.
MAX_RETRY_AFTER = 30.0
#: Statuses worth another try besides 5xx: timeout, conflict, too early, rate limited.
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
AUTH_STATUSES = frozenset({401, 403})

# litellm decorates messages: "litellm.RateLimitError: RateLimitError: OpenAIException - <server text>".
# Wrapped errors repeat it: "litellm.MidStreamFallbackError: litellm.APIConnectionError: ...".
_LITELLM_DECORATION = re.compile(r"^(?:litellm\.\w+:\s*|\w+Error:\s*|\w+Exception\s+-\s*)+")

# Providers that have made a call and not been closed; litellm's HTTP clients are shared by
# all of them, so they are closed when the last one is.
_open_providers: weakref.WeakSet[LiteLLMProvider] = weakref.WeakSet()


@attrs.frozen
class ApiKey:
    """A resolved key (None: a self-hosted server without one) and where it came from, for messages."""

    value: str | None = attrs.field(repr=False)
    source: str  # "OPENROUTER_API_KEY", "providers.openrouter.apiKey = env:MY_KEY", "no key configured"


class LiteLLMProvider:
    """Calls one provider (``spec.name``) through litellm. Implements the core's Provider contract."""

    def __init__(
        self,
        *,
        spec: ProviderSpec,
        config: ProviderConfig | None = None,
        services: Services | None = None,
    ) -> None:
        """``services.secret`` resolves ``env:`` and ``keyring:NAME`` api keys through the registered stores."""
        self.spec = spec
        self.config = config if config is not None else ProviderConfig()
        self.info: ProviderInfo = info_for(spec.name)
        self._services = services

    def __repr__(self) -> str:
        return f"LiteLLMProvider({self.spec.name!r}, endpoint={self.endpoint!r})"

    # -- what to call, with which key ----------------------------------------------------

    @property
    def endpoint(self) -> str:
        """Where requests go: ``apiBase`` (credentials masked) if set, else the provider's public API."""
        if self.config.api_base:
            return mask_url_credentials(self.config.api_base)
        return self.info.endpoint or f"litellm's default {self.spec.name} endpoint"

    def litellm_model(self, model: str) -> str:
        """The litellm model name for a nanofolks one.

        ``"vllm/my-model"`` -> ``"openai/my-model"`` (plain OpenAI protocol to apiBase);
        ``"openrouter/anthropic/claude-sonnet-4"`` and ``"gemini/gemini-2.5-pro"`` keep their
        prefix, which litellm understands; a bare ``"gpt-4o"`` gets this provider's prefix.
        """
        bare = model.removeprefix(self.info.model_prefix)
        return f"{self.info.litellm_prefix}/{bare}"

    def _api_base(self) -> str | None:
        if self.info.needs_api_base and not self.config.api_base:
            raise ProviderNotConfigured(
                f"providers.{self.spec.name}.apiBase is not set; point it at your server, "
                f"e.g. http://127.0.0.1:8000/v1 (in {config_path()})"
            )
        return self.config.api_base

    def resolve_api_key(self) -> ApiKey:
        """``providers.<name>.apiKey`` first, then the spec's environment variables in order."""
        name = self.spec.name
        config_key = f"providers.{name}.apiKey"
        if self.config.api_key is not None:
            try:
                value = (
                    self._services.secret(self.config.api_key)
                    if self._services is not None
                    else self.config.api_key.reveal()
                )
                return ApiKey(value, self._describe_config_key())
            except SecretUnavailable as exc:
                raise ProviderNotConfigured(f"{config_key} cannot be read: {exc}") from None
        for variable in self.spec.env_keys:
            value = os.environ.get(variable)
            if value:
                return ApiKey(value, variable)
        if self.info.needs_api_base:
            return ApiKey(None, "no key configured")
        variables = " or ".join(self.spec.env_keys) or "an environment variable"
        first = self.spec.env_keys[0] if self.spec.env_keys else f"{name.upper()}_API_KEY"
        raise ProviderNotConfigured(
            f"no API key for {name}: export {variables}, or set {config_key} "
            f'(e.g. "apiKey": "env:{first}") in {config_path()}, or run `nanofolks onboard`'
        )

    def _describe_config_key(self) -> str:
        secret = self.config.api_key
        where = f"providers.{self.spec.name}.apiKey"
        return where if secret is None or secret.source == "inline" else f"{where} = {secret.display()}"

    # -- the call ------------------------------------------------------------------------

    async def complete(self, request: LLMRequest, *, on_delta: Callable[[str], None] | None = None) -> LLMResponse:
        """Send ``request``; stream through ``on_delta`` when given. See the module docstring."""
        key = self.resolve_api_key()
        api_base = self._api_base()
        lib = runtime.load() if runtime.is_loaded() else await asyncio.to_thread(runtime.load)
        _open_providers.add(self)
        kwargs = self._litellm_kwargs(request, key, api_base)
        attempts = self.config.max_retries + 1
        state = _CallState()
        try:
            async with asyncio.timeout(self.config.timeout):
                for attempt in range(1, attempts + 1):
                    state.attempt, state.assembler = attempt, StreamAssembler()
                    try:
                        if on_delta is None:
                            completion = await self._call(lib, kwargs)
                        else:
                            completion = await self._stream(lib, kwargs, state.assembler, on_delta)
                    except lib.api_error as exc:
                        failure = state.last_failure = self._classify(lib, exc, key)
                        self._raise_if_final(request, key, failure, state, attempts, exc)
                        await asyncio.sleep(self._delay(attempt, failure.retry_after))
                        continue
                    return self._response(request, kwargs["model"], completion)
        except TimeoutError:
            raise ProviderError(self._out_of_time_message(state)) from None
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _raise_if_final(
        self, request: LLMRequest, key: ApiKey, failure: Failure, state: _CallState, attempts: int, exc: Exception
    ) -> None:
        """Raise the error for a failed attempt unless it is worth another try."""
        if failure.auth:
            raise ProviderAuthError(self._auth_message(key, failure)) from None
        if failure.unusable_body:
            raise ProviderError(self._unusable_body_message(request.model, failure.unusable_body)) from None
        shown = state.assembler.text_so_far if state.assembler else ""
        if shown:
            # Part of the reply is already on the user's screen: a retry would repeat it.
            raise ProviderError(
                f"{self.spec.name}: the reply from {self.endpoint} broke off after "
                f"{len(shown)} characters: {failure.description}"
            ) from exc
        if not failure.transient:
            raise ProviderError(self._rejected_message(request.model, failure)) from exc
        if state.attempt == attempts:
            raise ProviderError(
                f"{self.spec.name} failed at {self.endpoint} after {attempts} "
                f"attempt{'s' if attempts > 1 else ''}: {failure.description}. Check the service and "
                f"your network; providers.{self.spec.name}.maxRetries sets how often to retry"
            ) from exc

    def _litellm_kwargs(self, request: LLMRequest, key: ApiKey, api_base: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.litellm_model(request.model),
            "messages": to_litellm_messages(request.messages),
            "api_key": key.value or NO_KEY_PLACEHOLDER,
            # An httpx.Timeout: connecting gets CONNECT_TIMEOUT, then readTimeout of silence
            # ends an attempt. The whole call is bounded by `timeout` in complete().
            "timeout": self._attempt_timeout(),
            # Retries are ours (see the module docstring): litellm's own need tenacity, and
            # the openai SDK under it would retry 5xx twice more per attempt.
            "num_retries": 0,
            "max_retries": 0,
            # Parameters a model does not take (temperature on reasoning models ...) are
            # dropped instead of failing the call.
            "drop_params": True,
        }
        if api_base:
            kwargs["api_base"] = api_base
        if request.tools:
            kwargs["tools"] = [dict(tool) for tool in request.tools]
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if self.config.extra_headers:
            kwargs["extra_headers"] = dict(self.config.extra_headers)
        return kwargs

    def _requested_model(self, kwargs: dict[str, Any]) -> str:
        """The nanofolks model name (``vllm/x``) for a message, from litellm's (``openai/x``)."""
        return self.info.model_prefix + kwargs["model"].split("/", 1)[-1]

    def _attempt_timeout(self) -> Any:
        import httpx  # loaded with litellm by now; this module is only imported for a call

        read = min(self.config.read_timeout, self.config.timeout)
        return httpx.Timeout(read, connect=min(CONNECT_TIMEOUT, read))

    async def _call(self, lib: runtime.LiteLLM, kwargs: dict[str, Any]) -> Completion:
        response = await lib.module.acompletion(**kwargs)
        completion = completion_from_response(response)
        if completion is None:
            raise ProviderError(self._unusable_body_message(self._requested_model(kwargs), "JSON without any choices"))
        return completion

    async def _stream(
        self,
        lib: runtime.LiteLLM,
        kwargs: dict[str, Any],
        assembler: StreamAssembler,
        on_delta: Callable[[str], None],
    ) -> Completion:
        stream = await lib.module.acompletion(**kwargs, stream=True, stream_options={"include_usage": True})
        # litellm turns a body it cannot parse as events into an empty, "finished" stream;
        # the content type the server sent tells a real (if empty) answer from a web page.
        headers = (getattr(stream, "_hidden_params", None) or {}).get("additional_headers") or {}
        content_type = str(headers.get("llm_provider-content-type") or "").lower()
        if "html" in content_type:
            raise ProviderError(self._unusable_body_message(self._requested_model(kwargs), "an HTML page"))
        async for chunk in stream:
            text = assembler.add(chunk)
            if text:
                on_delta(text)
        completion = assembler.result()
        if not (completion.content or completion.tool_calls) and content_type:
            if str(headers.get("llm_provider-content-length")) == "0":
                raise ProviderError(self._unusable_body_message(self._requested_model(kwargs), "an empty body"))
            if not any(kind in content_type for kind in ("event-stream", "stream", "ndjson")):
                what = f"a {content_type.split(';')[0].strip()} body instead of an event stream"
                raise ProviderError(self._unusable_body_message(self._requested_model(kwargs), what))
        return completion

    def _response(self, request: LLMRequest, model: str, completion: Completion) -> LLMResponse:
        reported = completion.reported_model
        if not reported:
            name = request.model
        elif reported.startswith(self.info.model_prefix):
            name = reported
        else:
            name = self.info.model_prefix + reported
        return LLMResponse(
            content=completion.content,
            tool_calls=completion.tool_calls,
            model=name,
            usage=completion.usage,
            cost=self._cost(model, completion.usage),
            finish_reason=completion.finish_reason,
        )

    def _model_info(self, model: str) -> model_map.ModelInfo | None:
        """This model's row in litellm's bundled model map, or None (self-hosted or unknown).

        Read from the map file directly (:mod:`.model_map`): the window check before a call
        must not wait for ``import litellm``. litellm's own lookup guesses for unknown models
        (a price of 0.0 would read as "free"), so unknown stays unknown here.
        """
        if self.info.needs_api_base:
            return None  # a self-hosted server's model is whatever it serves: the map cannot know
        return model_map.lookup(model, self.info.litellm_prefix)

    def _cost(self, model: str, usage: Usage) -> float | None:
        """Dollars from litellm's bundled price map; None when the model is not in it."""
        info = self._model_info(model)
        if info is None or info.input_cost_per_token is None or info.output_cost_per_token is None:
            return None
        return usage.prompt_tokens * info.input_cost_per_token + usage.completion_tokens * info.output_cost_per_token

    # -- context window (used by the core's compaction) -----------------------------------

    def context_window(self, model: str) -> int | None:
        """The model's input window from litellm's model map; None when unknown (the core then uses
        ``agents.defaults.contextWindow`` or its default). Never imports litellm."""
        info = self._model_info(self.litellm_model(model))
        return info.window if info is not None else None

    def warm(self) -> None:
        """Import litellm now (the gateway calls this at start-up, so no message waits for it)."""
        runtime.load()

    def count_tokens(self, model: str, messages: tuple[ChatMessage, ...] | list[ChatMessage]) -> int:
        """Prompt tokens of ``messages`` with the model's tokenizer (tiktoken, offline: litellm's bundled files)."""
        lib = runtime.load()
        return int(lib.module.token_counter(model=self.litellm_model(model), messages=to_litellm_messages(messages)))

    # -- failures ------------------------------------------------------------------------

    def _classify(self, lib: runtime.LiteLLM, exc: Exception, key: ApiKey) -> Failure:
        status = getattr(exc, "status_code", None)
        status = status if isinstance(status, int) else None
        module = lib.module
        # litellm reports "connection refused" as an HTTP 500: the socket error underneath tells.
        socket_error = failures.socket_error(exc)
        connection_trouble = socket_error is not None or isinstance(exc, module.APIConnectionError)
        text = _LITELLM_DECORATION.sub("", str(getattr(exc, "message", None) or exc)).strip()
        broken_stream = isinstance(exc, getattr(module.exceptions, "MidStreamFallbackError", ()))
        # A body litellm could not read is reported as a made-up HTTP 500; a real 5xx keeps its status.
        unusable = failures.unusable_body(exc, text) if not connection_trouble and status in (None, 500) else None
        url_credentials = "credentials encoded in URL" in text  # httpx refuses them beside an API key
        if url_credentials:
            description = (
                f"providers.{self.spec.name}.apiBase has a user and password in it, which cannot be sent "
                f"together with the API key: remove them from the URL and put the key in "
                f"providers.{self.spec.name}.apiKey (or a header in extraHeaders)"
            )
        elif unusable:
            description = f"answered 200 with {unusable}"
        elif isinstance(exc, module.Timeout):
            if failures.in_chain(exc, "ConnectTimeout"):
                description = f"could not connect within {self._attempt_timeout().connect:g} s"
            else:
                description = f"timed out: the server sent nothing for {self._attempt_timeout().read:g} s"
        elif broken_stream:
            description = text  # "Stream ended before a finish_reason was received", ...
        elif isinstance(socket_error, ConnectionRefusedError):
            description = "connection refused (is the server running?)"
        elif isinstance(socket_error, socket.gaierror):
            description = "cannot resolve the host name"
        elif connection_trouble or status is None:
            description = f"connection failed: {socket_error or text}"
        else:
            description = f"HTTP {status}: {text}"
        if key.value and len(key.value) >= 8:  # a short placeholder would mask ordinary words
            description = description.replace(key.value, "***")
        description = mask_url_credentials(description)
        transient = not (unusable or url_credentials) and (
            connection_trouble or broken_stream or status is None or status in TRANSIENT_STATUSES or status >= 500
        )
        return Failure(
            description=description.rstrip("."),
            transient=transient,
            auth=not (connection_trouble or broken_stream or unusable) and status in AUTH_STATUSES,
            retry_after=failures.retry_after(exc),
            unusable_body=unusable,
        )

    def _unusable_body_message(self, model: str, what: str) -> str:
        return (
            f"the server at {self.endpoint} answered 200 with {what}, not a chat completion (model {model!r}). "
            f"Check providers.{self.spec.name}.apiBase: it must be the OpenAI-compatible API (often ending in /v1), "
            "not a web page, a login page or a proxy in front of it"
        )

    def _out_of_time_message(self, state: _CallState) -> str:
        limit = f"{self.config.timeout:g} s"
        shown = state.assembler.text_so_far if state.assembler else ""
        if shown:
            return (
                f"{self.spec.name}: the reply from {self.endpoint} broke off after {len(shown)} characters: "
                f"not finished within {limit} (providers.{self.spec.name}.timeout)"
            )
        tries = f"{state.attempt} attempt{'s' if state.attempt != 1 else ''}"
        last = f"; last: {state.last_failure.description}" if state.last_failure else ""
        return (
            f"{self.spec.name}: no answer from {self.endpoint} within {limit} ({tries}{last}). "
            f"Check that the server is up and not overloaded; providers.{self.spec.name}.timeout sets this bound"
        )

    def _auth_message(self, key: ApiKey, failure: Failure) -> str:
        name = self.spec.name
        if key.value is None:
            variables = " or ".join(self.spec.env_keys) or f"providers.{name}.apiKey"
            return (
                f"the {name} server at {self.endpoint} wants an API key: set providers.{name}.apiKey "
                f"or {variables} ({failure.description})"
            )
        return (
            f"{name} rejected the API key (from {key.source}): check it or run `nanofolks onboard` "
            f"({failure.description})"
        )

    def _rejected_message(self, model: str, failure: Failure) -> str:
        hint = ""
        if failure.description.startswith("HTTP 404"):
            hint = f"; check the model name {model!r} and providers.{self.spec.name}.apiBase"
        return f"{self.spec.name} at {self.endpoint} rejected the request for {model!r}: {failure.description}{hint}"

    @staticmethod
    def _delay(attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
        step = min(MAX_BACKOFF, BASE_BACKOFF * 2 ** (attempt - 1))
        # Jitter keeps several bots that failed together from retrying in lockstep.
        return step / 2 + random.uniform(0, step / 2)  # noqa: S311 - timing jitter, not cryptography

    # -- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Release litellm's HTTP clients once no provider of this plugin uses them."""
        if self not in _open_providers:
            return
        _open_providers.discard(self)
        if _open_providers or not runtime.is_loaded():
            return
        litellm = runtime.load().module
        await litellm.close_litellm_async_clients()
        # Closed clients stay in litellm's cache and would fail the next call: drop them.
        litellm.in_memory_llm_clients_cache.flush_cache()


@attrs.define
class _CallState:
    """Where a call stands, for the message when its time runs out."""

    attempt: int = 0
    assembler: StreamAssembler | None = None
    last_failure: Failure | None = None
