"""``providers.<name>`` in config.json: one shape shared by every provider of this plugin.

Light module: stdlib, attrs and ``nanofolks_core.api`` only. Keys are camelCase in the file::

    {"providers": {"vllm": {"apiBase": "http://127.0.0.1:8000/v1"},
                   "openrouter": {"apiKey": "env:OPENROUTER_API_KEY", "maxRetries": 5}}}
"""

from __future__ import annotations

import attrs

from nanofolks_core.api import Secret, validators

#: Seconds to wait for a TCP/TLS connection to the server (not configurable: a server that
#: takes longer to accept a connection is down or unreachable).
CONNECT_TIMEOUT = 10.0


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
    api_base: str | None = attrs.field(default=None, validator=validators.http_url())
    extra_headers: dict[str, str] = attrs.Factory(dict)
    timeout: float = attrs.field(default=120.0, validator=validators.above(0))
    read_timeout: float = attrs.field(default=60.0, validator=validators.above(0))
    max_retries: int = attrs.field(default=3, validator=validators.between(0, 20))
