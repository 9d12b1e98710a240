"""Entry module of ``nanofolks-provider-litellm``: registers the providers, imports nothing heavy.

litellm, tiktoken and openai are imported by :mod:`nanofolks_provider_litellm.provider`
only when a model of one of these providers is actually called.
"""

from __future__ import annotations

from nanofolks_core.api import ProviderSpec, hookimpl
from nanofolks_provider_litellm.catalog import PROVIDERS
from nanofolks_provider_litellm.config import ProviderConfig

NANOFOLKS_API = "1.0"

#: The runtime every spec names; called as ``LiteLLMProvider(spec=, config=, services=)``.
FACTORY = "nanofolks_provider_litellm.provider:LiteLLMProvider"

__all__ = ["FACTORY", "NANOFOLKS_API", "ProviderConfig", "nanofolks_register_providers"]


@hookimpl
def nanofolks_register_providers(register):
    for info in PROVIDERS:
        register(
            ProviderSpec(
                name=info.name,
                summary=info.summary,
                factory=FACTORY,
                config_class=ProviderConfig,
                env_keys=info.env_keys,
                model_prefixes=(info.model_prefix,),
            )
        )
