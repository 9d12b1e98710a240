"""``providers.<name>`` in config.json: one shape shared by every provider of this plugin.

Light module: stdlib, attrs and ``nanofolks_core.api`` only. Keys are camelCase in the file::

    {"providers": {"vllm": {"apiBase": "http://127.0.0.1:8000/v1"},
                   "openrouter": {"apiKey": "env:OPENROUTER_API_KEY", "maxRetries": 5}}}
"""

from __future__ import annotations

import attrs

from nanofolks_core.api import Secret

#: Seconds to wait for a TCP/TLS connection to the server (not configurable: a server that
#: takes longer to accept a connection is down or unreachable).
CONNECT_TIMEOUT = 10.0


# The core reports a validator's error at the section ("providers.vllm: ..."), so each
# message starts with the key as users write it.
def _check_api_base(_inst: object, _attribute: attrs.Attribute, value: str | None) -> None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"apiBase must be an http:// or https:// URL such as http://127.0.0.1:8000/v1, got {value!r}")


def _check_timeout(_inst: object, _attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"timeout must be a number of seconds above 0, got {value!r}")


def _check_read_timeout(_inst: object, _attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"readTimeout must be a number of seconds above 0, got {value!r}")


def _check_max_retries(_inst: object, _attribute: attrs.Attribute, value: int) -> None:
    if not 0 <= value <= 20:
        raise ValueError(f"maxRetries must be a whole number from 0 to 20, got {value!r}")


@attrs.define(kw_only=True)
class ProviderConfig:
    """Settings for one provider (``providers.openrouter``, ``providers.vllm`` ...).

    * ``api_key`` (``apiKey``): ``"env:VAR"``, ``"keyring:NAME"`` or the key itself. When
      unset, the provider's environment variables are tried (``OPENROUTER_API_KEY`` ...).
    * ``api_base`` (``apiBase``): the server's base URL. Required for ``vllm``; for the
      others it points the provider at a proxy or a compatible gateway.
    * ``extra_headers`` (``extraHeaders``): sent with every request.
    * ``timeout``: the most seconds one call may take, retries and backoff included; a server
      that hangs fails after this long with a message saying so.
    * ``read_timeout`` (``readTimeout``): seconds of silence from the server (no answer, or no
      next piece of a streamed answer) before that attempt counts as failed and is retried.
      Connecting gets at most :data:`CONNECT_TIMEOUT` seconds.
    * ``max_retries`` (``maxRetries``): retries after a transient failure (rate limit, 5xx,
      connection error, timeout); ``3`` means at most four requests per call.
    """

    api_key: Secret | None = None
    api_base: str | None = attrs.field(default=None, validator=_check_api_base)
    extra_headers: dict[str, str] = attrs.Factory(dict)
    timeout: float = attrs.field(default=120.0, validator=_check_timeout)
    read_timeout: float = attrs.field(default=60.0, validator=_check_read_timeout)
    max_retries: int = attrs.field(default=3, validator=_check_max_retries)
