"""The providers this plugin serves: one row each, the single source of truth.

``plugin.py`` turns the rows into ``ProviderSpec`` records; ``provider.py`` reads them
to build litellm model names, default endpoints (for error messages) and key lookups.
Light module: stdlib and attrs only.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class ProviderInfo:
    """How one nanofolks provider name maps onto litellm.

    ``litellm_prefix`` is the provider prefix litellm expects in its model names
    (``"openrouter"`` -> ``"openrouter/anthropic/claude-sonnet-4"``). ``endpoint`` is the
    provider's public API address, used only to say where a failing call went.
    ``needs_api_base`` marks self-hosted servers: ``providers.<name>.apiBase`` is required
    and the key is optional.
    """

    name: str
    summary: str
    env_keys: tuple[str, ...]
    litellm_prefix: str
    endpoint: str | None = None
    needs_api_base: bool = False

    @property
    def model_prefix(self) -> str:
        """The nanofolks model-name prefix this provider serves, e.g. ``"vllm/"``."""
        return f"{self.name}/"


PROVIDERS: tuple[ProviderInfo, ...] = (
    ProviderInfo(
        name="openrouter",
        summary="OpenRouter: one key for hundreds of models (recommended)",
        env_keys=("OPENROUTER_API_KEY",),
        litellm_prefix="openrouter",
        endpoint="https://openrouter.ai/api/v1",
    ),
    ProviderInfo(
        name="anthropic",
        summary="Anthropic Claude, direct",
        env_keys=("ANTHROPIC_API_KEY",),
        litellm_prefix="anthropic",
        endpoint="https://api.anthropic.com",
    ),
    ProviderInfo(
        name="openai",
        summary="OpenAI GPT models, direct",
        env_keys=("OPENAI_API_KEY",),
        litellm_prefix="openai",
        endpoint="https://api.openai.com/v1",
    ),
    ProviderInfo(
        name="deepseek",
        summary="DeepSeek, direct",
        env_keys=("DEEPSEEK_API_KEY",),
        litellm_prefix="deepseek",
        endpoint="https://api.deepseek.com",
    ),
    ProviderInfo(
        name="groq",
        summary="Groq: fast inference",
        env_keys=("GROQ_API_KEY",),
        litellm_prefix="groq",
        endpoint="https://api.groq.com/openai/v1",
    ),
    ProviderInfo(
        name="gemini",
        summary="Google Gemini (AI Studio key)",
        env_keys=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        litellm_prefix="gemini",
        endpoint="https://generativelanguage.googleapis.com",
    ),
    ProviderInfo(
        name="vllm",
        summary="Local OpenAI-compatible server: vLLM, llama.cpp, LM Studio ... (needs apiBase)",
        env_keys=("VLLM_API_KEY",),
        # litellm's "openai/" route speaks the plain OpenAI protocol to any api_base.
        litellm_prefix="openai",
        needs_api_base=True,
    ),
)

BY_NAME: dict[str, ProviderInfo] = {info.name: info for info in PROVIDERS}


def info_for(name: str) -> ProviderInfo:
    """The row for ``name``; a name registered elsewhere with our factory is passed to litellm as-is."""
    return BY_NAME.get(name) or ProviderInfo(name=name, summary="", env_keys=(), litellm_prefix=name)
