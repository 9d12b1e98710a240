"""The chromadb side of memory: an HNSW index (cosine space) on disk, or on a Chroma server.

We always pass our own vectors (``embedding_function=None``): chromadb's default embedding
would download an ONNX model at run time. Each vector carries the message text and its
room, role, bot and time, so a shared Chroma server can answer searches on its own.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from nanofolks_core.api import NanofolksError


class VectorStoreError(NanofolksError):
    """The chroma store or server failed (unreachable, disk full ...)."""


@attrs.frozen
class VectorHit:
    id: str
    score: float  # cosine similarity, 1 is identical
    text: str
    metadata: dict[str, Any]


def collection_name(prefix: str, model_slug: str) -> str:
    """A valid chroma collection name (3-512 chars of [a-zA-Z0-9._-], alphanumeric at both ends)."""
    name = re.sub(r"[^a-zA-Z0-9._-]+", "-", f"{prefix}-{model_slug}").strip("-._")
    return name if len(name) >= 3 else f"mem-{name}x"


class VectorStore:
    """One chroma collection. ``host`` set: a Chroma server; otherwise an embedded store at ``path``."""

    def __init__(
        self,
        *,
        path: Path,
        name: str,
        host: str | None = None,
        port: int = 8000,
        ssl: bool = False,
        model: str | None = None,
    ) -> None:
        """``model``: the embedding model id kept with the collection. A collection made by another
        model under the same name (same model, other ``dimensions``) is emptied, never mixed;
        ``replaced`` then names the model it held."""
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        if host:
            self.location = f"{'https' if ssl else 'http'}://{host}:{port}"
            try:
                client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
            except ValueError as exc:  # chromadb's "Could not connect to a Chroma server"
                raise NanofolksError(
                    f"cannot reach the Chroma server at {self.location} ({exc}). Start it (`chroma run --path <dir> "
                    f"--host {host} --port {port}`) or remove memory.chroma.host from config.json to use the "
                    "embedded store."
                ) from None
        else:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.location = str(path)
            client = chromadb.PersistentClient(path=str(path), settings=settings)
        self.remote = bool(host)
        options = {
            "name": name,
            "embedding_function": None,
            "configuration": {"hnsw": {"space": "cosine"}},
            "metadata": {"embedding_model": model} if model else None,
        }
        self.collection = client.get_or_create_collection(**options)
        self.collection.count()  # a damaged store fails here, while the caller can still move it aside
        self.replaced: str | None = None
        held = (self.collection.metadata or {}).get("embedding_model")
        if model and held and held != model:
            # Derived data: the event log re-embeds every message into the new collection.
            client.delete_collection(name)
            self.collection = client.get_or_create_collection(**options)
            self.replaced = held

    @staticmethod
    def forget_open_stores() -> None:
        """Drop chromadb's per-process cache of open stores (before a damaged one is moved aside)."""
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()

    @contextlib.contextmanager
    def _failures(self, action: str) -> Iterator[None]:
        """Turn chromadb and HTTP failures (a server that went away ...) into an actionable error."""
        import httpx
        from chromadb.errors import ChromaError

        try:
            yield
        except (ChromaError, httpx.HTTPError) as exc:
            raise VectorStoreError(f"the vector store at {self.location} failed to {action}: {exc}") from exc

    def upsert(self, ids: list[str], vectors: np.ndarray, texts: list[str], metadatas: list[dict[str, Any]]) -> None:
        # chroma metadata values may not be None.
        clean = [{key: value for key, value in meta.items() if value is not None} for meta in metadatas]
        with self._failures("store vectors"):
            self.collection.upsert(ids=ids, embeddings=vectors, documents=texts, metadatas=clean)

    def query(self, vector: np.ndarray, limit: int, room: str | None = None) -> list[VectorHit]:
        if limit <= 0:
            return []
        with self._failures("search"):
            result = self.collection.query(
                query_embeddings=vector.reshape(1, -1),
                n_results=limit,
                where={"room": room} if room else None,
                include=["documents", "metadatas", "distances"],
            )
        return [
            VectorHit(id=hit_id, score=1.0 - float(distance), text=text or "", metadata=dict(meta or {}))
            for hit_id, distance, text, meta in zip(
                result["ids"][0], result["distances"][0], result["documents"][0], result["metadatas"][0], strict=True
            )
        ]

    def nearest(self, vector: np.ndarray, limit: int, room: str | None = None) -> list[tuple[str, float]]:
        """``(id, cosine similarity)`` of the ``limit`` nearest vectors. Ids only: the text and details
        come from the event log, which is cheaper than chromadb fetching documents and metadata."""
        if limit <= 0:
            return []
        with self._failures("search"):
            result = self.collection.query(
                query_embeddings=vector.reshape(1, -1),
                n_results=limit,
                where={"room": room} if room else None,
                include=["distances"],
            )
        return [
            (hit_id, 1.0 - float(distance))
            for hit_id, distance in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def delete(self, ids: list[str]) -> None:
        with self._failures("delete vectors"):
            for start in range(0, len(ids), 1000):
                self.collection.delete(ids=ids[start : start + 1000])

    def count(self) -> int:
        with self._failures("count vectors"):
            return self.collection.count()

    def entries(self, page: int = 1000) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every stored ``(id, text, metadata)``, a page at a time (to rebuild a lost event log)."""
        offset = 0
        while True:
            with self._failures("read vectors"):
                result = self.collection.get(limit=page, offset=offset, include=["documents", "metadatas"])
            for entry_id, text, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True):
                yield entry_id, text or "", dict(meta or {})
            if len(result["ids"]) < page:
                return
            offset += page

    def ids(self, page: int = 5000) -> set[str]:
        """The ids of every stored vector."""
        found: set[str] = set()
        offset = 0
        while True:
            with self._failures("read vectors"):
                batch = self.collection.get(limit=page, offset=offset, include=[])["ids"]
            found.update(batch)
            if len(batch) < page:
                return found
            offset += page

    def delete_room(self, room: str) -> None:
        """Delete every vector of ``room``, including those the event log no longer knows."""
        with self._failures("delete vectors"):
            self.collection.delete(where={"room": room})
