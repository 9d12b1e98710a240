"""The provider contract: what a ``ProviderSpec.factory`` must return.

The core never imports a provider SDK. It finds the spec that serves a model name
(``"vllm/my-model"``, ``"openrouter/anthropic/claude-sonnet-4"``), calls
``factory(spec=spec, config=<the providers.<name> section object or None>)`` once per
process, and drives the returned object's async methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from nanofolks_core.errors import NanofolksError
from nanofolks_core.messages import LLMRequest, LLMResponse


class ProviderError(NanofolksError):
    """A provider call failed in a way retries did not fix. The message says what to do."""


class ProviderAuthError(ProviderError):
    """The provider rejected the credentials (HTTP 401/403)."""

    exit_code = 2


class ProviderNotConfigured(ProviderError):
    """No usable model/key/endpoint is configured."""

    exit_code = 2


@runtime_checkable
class Provider(Protocol):
    async def complete(self, request: LLMRequest, *, on_delta: Callable[[str], None] | None = None) -> LLMResponse:
        """Send ``request``; when ``on_delta`` is given, stream and call it with each text piece.

        Returns the whole response (content, tool calls, usage, cost) either way. Retries
        transient errors with backoff; raises :class:`ProviderAuthError` on bad credentials
        and :class:`ProviderError` when the provider stays unreachable.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
