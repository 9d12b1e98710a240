"""Build the chroma memory backend from the :class:`~nanofolks_core.api.App`, as the core does.

Used by the ``nanofolks memory`` commands: same spec, same ``memory.chroma`` section, same
data root as the chat pipeline, so the CLI sees exactly what the crew remembers.
"""

from __future__ import annotations

from typing import Any

from nanofolks_core.api import NanofolksError


class MemoryOff(NanofolksError):
    """``memory.enabled`` is false."""


def backend_from_app(app: Any) -> Any:
    """A ChromaMemory built like the core builds it; raises a NanofolksError saying why it cannot be."""
    memory = app.config.memory
    if not memory.enabled:
        raise MemoryOff(f"memory is off (memory.enabled is false in {app.config_path}); set it to true to use it.")
    name = app.memory_backend_name()  # the same choice as the crew's (``auto`` resolved)
    if name != "chroma":
        raise NanofolksError(
            f"memory.backend is {name!r}" + (" (picked by \"auto\")" if memory.backend == "auto" else "")
            + f" in {app.config_path}, so the crew does not use the chroma memory; these commands manage the "
            "chroma backend only. Set memory.backend to \"chroma\"."
        )
    spec = app.registry.get("memory", "chroma")
    if spec is None:  # registered by this very plugin, so only a broken install gets here
        raise NanofolksError("the chroma memory backend is not registered; reinstall nanofolks-memory-chroma")
    return app.build(spec)
