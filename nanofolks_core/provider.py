"""Provider errors. The provider protocol itself is :class:`nanofolks_core.contracts.Provider`.

The core never imports a provider SDK. It finds the spec that serves a model name
(``"vllm/my-model"``, ``"openrouter/anthropic/claude-sonnet-4"``), builds its runtime once per
process (``factory(spec=, config=, services=)``) and drives its async methods.
"""

from __future__ import annotations

from nanofolks_core.contracts import Provider
from nanofolks_core.errors import NanofolksError


class ProviderError(NanofolksError):
    """A provider call failed in a way retries did not fix. The message says what to do."""


class ProviderAuthError(ProviderError):
    """The provider rejected the credentials (HTTP 401/403)."""

    exit_code = 2


class ProviderNotConfigured(ProviderError):
    """No usable model/key/endpoint is configured."""

    exit_code = 2


__all__ = ["Provider", "ProviderAuthError", "ProviderError", "ProviderNotConfigured"]
