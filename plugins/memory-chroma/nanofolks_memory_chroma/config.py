"""``memory.chroma`` in config.json. Light module: stdlib, attrs and ``nanofolks_core.api`` only.

Keys are camelCase in the file::

    {"memory": {"backend": "chroma",
                "chroma": {"embedding": "local",
                           "host": "127.0.0.1", "port": 8000,
                           "recentRoomMessages": 40, "minScore": 0.25}}}

``embedding`` is ``"local"`` (all-MiniLM-L6-v2 run on this machine, offline) or an API
model: ``{"model": "openai/text-embedding-3-small", "apiBase": "...", "apiKey": "env:OPENAI_API_KEY"}``.
"""

from __future__ import annotations

from typing import Any

import attrs

from nanofolks_core.api import Secret, validators

LOCAL = "local"


@attrs.frozen(kw_only=True)
class ApiEmbedding:
    """An embedding model served over an API, called through litellm (``model`` like ``openai/...``)."""

    model: str
    api_base: str | None = None
    api_key: Secret | None = None
    dimensions: int | None = None


_API_KEYS = {
    "model": "model",
    "apiBase": "api_base",
    "api_base": "api_base",
    "apiKey": "api_key",
    "api_key": "api_key",
    "dimensions": "dimensions",
}


def _to_embedding(value: Any) -> str | ApiEmbedding:
    # The core reports errors raised here at the section ("memory.chroma: ..."), so messages name the key.
    if isinstance(value, ApiEmbedding) or value == LOCAL:
        return value
    if isinstance(value, str):
        if "/" in value:
            return ApiEmbedding(model=value)
        raise ValueError(
            f'embedding must be "local" or an API model such as "openai/text-embedding-3-small", got {value!r}'
        )
    if not isinstance(value, dict):
        raise TypeError(
            f'embedding must be "local" or an object like {{"model": "openai/text-embedding-3-small"}}, '
            f"got {type(value).__name__}"
        )
    unknown = sorted(set(value) - set(_API_KEYS))
    if unknown:
        raise ValueError(
            f"embedding has unknown key(s) {', '.join(unknown)} (known: model, apiBase, apiKey, dimensions)"
        )
    fields = {_API_KEYS[key]: item for key, item in value.items()}
    model = fields.get("model")
    if not isinstance(model, str) or "/" not in model:
        raise ValueError(
            f'embedding.model must name a provider and model like "openai/text-embedding-3-small", got {model!r}'
        )
    base = fields.get("api_base")
    if base is not None and (not isinstance(base, str) or not base.startswith(("http://", "https://"))):
        raise ValueError(f"embedding.apiBase must be an http:// or https:// URL, got {base!r}")
    key = fields.get("api_key")
    if key is not None:
        if not isinstance(key, str) or not key:
            raise ValueError("embedding.apiKey must be a string: the key, 'env:VAR' or 'keyring:NAME'")
        fields["api_key"] = Secret.parse(key)
    dims = fields.get("dimensions")
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or dims <= 0):
        raise ValueError(f"embedding.dimensions must be a whole number above 0, got {dims!r}")
    return ApiEmbedding(**fields)


@attrs.define(kw_only=True)
class ChromaMemoryConfig:
    """Settings of the chroma memory backend (``memory.chroma``).

    * ``embedding``: ``"local"`` (default, offline all-MiniLM-L6-v2) or an API model object.
    * ``host`` / ``port``: use a Chroma server (``chroma run``) for the vectors instead of
      the embedded store in ``<data root>/memory/chroma``. The event log stays local.
    * ``ssl``: talk HTTPS to that server.
    * ``collection``: collection name prefix; the embedding model is appended so vectors
      of different models never mix.
    * ``recent_room_messages`` (``recentRoomMessages``): the current room's last N messages
      are already in the prompt as history, so context leaves them out.
    * ``min_score`` (``minScore``): memories less similar than this to the message stay out
      of the prompt (``memory search`` still lists them).
    """

    embedding: Any = attrs.field(default=LOCAL, converter=_to_embedding)
    host: str | None = None
    port: int = attrs.field(default=8000, validator=validators.between(1, 65535))
    ssl: bool = False
    collection: str = "nanofolks-memory"
    recent_room_messages: int = attrs.field(default=40, validator=validators.at_least(0))
    min_score: float = attrs.field(default=0.25, validator=validators.between(-1, 1))
