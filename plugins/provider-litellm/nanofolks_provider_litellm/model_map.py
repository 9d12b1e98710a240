"""Context windows and prices from litellm's bundled model map, read without importing litellm.

``import litellm`` costs seconds; the window check before a call only needs a few numbers from
the JSON file litellm ships (``model_prices_and_context_window_backup.json``, the same map
litellm itself loads when ``LITELLM_LOCAL_MODEL_COST_MAP`` is set, as nanofolks always sets it).
The file is found through ``importlib.util.find_spec`` (which locates the package without
running it), read once per process and kept as a compact table. Alias rows are resolved the way
litellm resolves them, so a lookup here answers what ``litellm.model_cost`` would.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path
from typing import Any

import attrs

#: The file litellm's wheel carries next to its ``__init__.py``.
BUNDLED_MAP = "model_prices_and_context_window_backup.json"
#: A block of the file that is rules for litellm, not a model row.
_NOT_A_MODEL = "fallback_generalizations"


@attrs.frozen
class ModelInfo:
    """What nanofolks reads from one row of the map."""

    window: int | None  # max_input_tokens, else max_tokens
    input_cost_per_token: float | None
    output_cost_per_token: float | None
    provider: str | None  # litellm_provider


_lock = threading.Lock()
_table: dict[str, ModelInfo] | None = None


def bundled_map_path() -> Path | None:
    """The map file inside the installed litellm package (not imported), or None if absent."""
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / BUNDLED_MAP
        if candidate.is_file():
            return candidate
    return None


def table() -> dict[str, ModelInfo]:
    """Every model name (aliases included) -> :class:`ModelInfo`; read on first use."""
    global _table
    with _lock:
        if _table is None:
            _table = _load()
        return _table


def lookup(model: str, provider: str) -> ModelInfo | None:
    """The row for a litellm model name (``"openrouter/anthropic/claude-sonnet-4"``).

    Without an exact row, the name without its provider prefix is tried, but only when that
    row belongs to ``provider``: litellm's own fallbacks guess (a price of 0.0 would read as
    "free", a made-up window would mislead compaction).
    """
    rows = table()
    info = rows.get(model)
    if info is None and "/" in model:
        candidate = rows.get(model.split("/", 1)[1])
        if candidate is not None and candidate.provider == provider:
            info = candidate
    return info


def _load() -> dict[str, ModelInfo]:
    path = bundled_map_path()
    if path is not None:
        try:
            raw = json.loads(path.read_bytes())
        except (OSError, ValueError):
            raw = None
        if isinstance(raw, dict):
            return _compact(_resolve_aliases(raw))
    # A litellm that ships no map file (or a damaged one): ask litellm itself.
    from nanofolks_provider_litellm import runtime

    return _compact(dict(runtime.load().module.model_cost))


def _resolve_aliases(raw: dict[str, Any]) -> dict[str, Any]:
    """Alias rows served as the row they name, as litellm's ``_expand_model_aliases`` does.

    A row's ``aliases`` list adds names for it (unless a name is already a real row or claimed);
    a row with ``alias_of`` is served as its target (dropped if the target is missing, is itself
    an alias, or the name was claimed by an ``aliases`` list first).
    """
    raw.pop(_NOT_A_MODEL, None)
    rows = {name: row for name, row in raw.items() if isinstance(row, dict)}
    pointers = {name: row["alias_of"] for name, row in rows.items() if isinstance(row.get("alias_of"), str)}
    owners: dict[str, str] = {}
    for name, row in rows.items():
        aliases = row.get("aliases")
        if name in pointers or not isinstance(aliases, list):
            continue
        for alias in aliases:
            if (alias in rows and alias not in pointers) or alias in owners:
                continue
            owners[alias] = name
    for alias, target in pointers.items():
        if target in rows and target not in pointers and alias not in owners:
            owners[alias] = target
    for alias in pointers.keys() - owners.keys():
        rows.pop(alias)
    for alias, owner in owners.items():
        rows[alias] = rows[owner]
    return rows


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _compact(rows: dict[str, Any]) -> dict[str, ModelInfo]:
    result: dict[str, ModelInfo] = {}
    shared: dict[int, ModelInfo] = {}  # alias names share their owner's row: build it once
    for name, row in rows.items():
        if not hasattr(row, "get"):
            continue
        info = shared.get(id(row))
        if info is None:
            window = _number(row.get("max_input_tokens") or row.get("max_tokens"))
            provider = row.get("litellm_provider")
            info = shared[id(row)] = ModelInfo(
                window=int(window) if window else None,
                input_cost_per_token=_number(row.get("input_cost_per_token")),
                output_cost_per_token=_number(row.get("output_cost_per_token")),
                provider=provider if isinstance(provider, str) else None,
            )
        result[name] = info
    return result
