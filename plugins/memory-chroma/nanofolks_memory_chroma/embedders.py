"""Turning text into vectors: the local MiniLM model (default) or an API model through litellm.

Both return unit-length float32 rows, so cosine similarity is a dot product and
``1 - distance`` from chromadb's cosine space is the similarity.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from importlib.util import find_spec
from typing import Any

import numpy as np

from nanofolks_core.api import NanofolksError, clean_text
from nanofolks_memory_chroma import minilm
from nanofolks_memory_chroma.config import LOCAL, ApiEmbedding


class EmbeddingError(NanofolksError):
    """The embedding model could not embed (API unreachable, bad key ...)."""


class LocalEmbedder:
    """all-MiniLM-L6-v2 on this machine. The files are checked now; the weights load on first use."""

    def __init__(self) -> None:
        self.model_dir = minilm.check_model_dir(minilm.find_model_dir())
        self.name = minilm.MODEL_NAME
        self.slug = "minilm-l6-v2"
        self.model_id = self.name  # kept with the vectors: a different id means re-embedding

    def embed(self, texts: list[str]) -> np.ndarray:
        # The tokenizer raises TypeError on lone surrogates (undecodable bytes from a terminal).
        return minilm.load(self.model_dir).encode([clean_text(text) for text in texts])

    def warm(self) -> None:
        """Load the weights and run them once, so the first question does not wait for it."""
        self.embed(["warm-up"])


class ApiEmbedder:
    """An API embedding model (``openai/text-embedding-3-small`` ...), called through litellm."""

    def __init__(self, settings: ApiEmbedding, secret: Callable[[Any], str] | None = None) -> None:
        """``secret`` is ``services.secret``: it resolves ``env:`` and ``keyring:`` api keys."""
        if find_spec("litellm") is None:
            # Say so when memory starts, not later from the background indexing thread.
            raise NanofolksError(
                f"memory.chroma.embedding uses the API model {settings.model!r}, which needs litellm: "
                'pip install "nanofolks-memory-chroma[api-embeddings]" (or set memory.chroma.embedding to "local")'
            )
        self.settings = settings
        self._secret = secret
        self.name = settings.model
        self.model_id = settings.model + (f"@{settings.dimensions}" if settings.dimensions else "")
        self.slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", settings.model).strip("-._")[:60]

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.settings.dimensions or 0), dtype=np.float32)
        # Without this, importing litellm tries to download its model cost map.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        kwargs = {"model": self.settings.model, "input": [clean_text(text) for text in texts]}
        if self.settings.api_base:
            kwargs["api_base"] = self.settings.api_base
        if self.settings.api_key is not None:
            key = self.settings.api_key
            kwargs["api_key"] = self._secret(key) if self._secret is not None else key.reveal()
        if self.settings.dimensions:
            kwargs["dimensions"] = self.settings.dimensions
        import openai  # litellm raises the openai SDK's error classes (or subclasses of them)

        try:
            response = litellm.embedding(**kwargs)
        except openai.OpenAIError as exc:
            raise EmbeddingError(
                f"embedding model {self.settings.model} failed: {exc}. Check memory.chroma.embedding in config.json."
            ) from None
        rows = sorted(response.data, key=lambda item: item["index"])
        vectors = np.array([row["embedding"] for row in rows], dtype=np.float32)
        vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return vectors


def make_embedder(
    embedding: str | ApiEmbedding, secret: Callable[[Any], str] | None = None
) -> LocalEmbedder | ApiEmbedder:
    """The embedder ``memory.chroma.embedding`` asks for (``secret``: ``services.secret``)."""
    if embedding == LOCAL:
        return LocalEmbedder()
    return ApiEmbedder(embedding, secret)
