"""Entry module of ``nanofolks-memory-chroma``: registers the backend and the ``memory`` command.

Light on purpose (stdlib, attrs, ``nanofolks_core.api``): chromadb, numpy and the model are
imported by :mod:`nanofolks_memory_chroma.backend` only when memory is actually used.
"""

from __future__ import annotations

from nanofolks_core.api import CommandSpec, MemoryBackendSpec, hookimpl
from nanofolks_memory_chroma.config import ChromaMemoryConfig

NANOFOLKS_API = "1.0"

#: Called as ``ChromaMemory(spec=spec, config=<ChromaMemoryConfig or None>, services=Services)``.
FACTORY = "nanofolks_memory_chroma.backend:ChromaMemory"

__all__ = ["FACTORY", "NANOFOLKS_API", "ChromaMemoryConfig", "nanofolks_register_commands",
           "nanofolks_register_memory_backends"]


@hookimpl
def nanofolks_register_memory_backends(register):
    register(
        MemoryBackendSpec(
            name="chroma",
            summary="Event log, knowledge graph and preferences in SQLite; semantic search with chromadb",
            factory=FACTORY,
            config_class=ChromaMemoryConfig,
        )
    )


@hookimpl
def nanofolks_register_commands(register):
    register(
        CommandSpec(
            name="memory",
            summary="Show memory statistics, search and forget memories.",
            factory="nanofolks_memory_chroma.cli:memory",
        )
    )
