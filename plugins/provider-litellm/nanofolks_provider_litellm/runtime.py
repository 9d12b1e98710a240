"""Importing litellm the way nanofolks needs it: offline, quiet, once per process.

``import litellm`` takes seconds, so it happens on the first provider call, never at
plugin discovery. Before the import we make it work offline (its price map from the
wheel, tiktoken encodings from the wheel) and keep it from reading a stray ``.env``.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import os
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import attrs

from nanofolks_core.api import ProviderError


@attrs.frozen
class LiteLLM:
    """The imported litellm module and what the provider needs from around it."""

    module: ModuleType
    #: ``openai.APIError``: the base of every exception litellm raises for a failed API call.
    api_error: type[Exception]
    import_seconds: float


_lock = threading.Lock()
_loaded: LiteLLM | None = None


def is_loaded() -> bool:
    """True once :func:`load` has imported litellm in this process."""
    return _loaded is not None


def load() -> LiteLLM:
    """Import and configure litellm on first use; later calls return the same object."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = _import()
        return _loaded


def _bundled_tokenizers_dir() -> str | None:
    """litellm's wheel ships tiktoken encodings; find them without importing litellm."""
    spec = importlib.util.find_spec("litellm")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "litellm_core_utils" / "tokenizers"
        if candidate.is_dir():
            return str(candidate)
    return None


# Warnings litellm's pydantic models raise on import and on every call (schema building,
# deprecated instance access, serialising streamed chunks): noise for nanofolks users, and
# nothing they can act on. Process-wide filters, matched narrowly by message.
PYDANTIC_NOISE = (
    r".*`ReadOnly` qualifier.*",
    r".*conflict with protected namespace.*",
    r"Accessing the '\w+' attribute on the instance is deprecated.*",
    r"Pydantic serializer warnings.*",
)


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while litellm imports; what it built is then frozen.

    The import creates about half a million objects that live as long as the process. Each
    full collection walks all of them (~0.3 s here), and the import triggers several: measured
    on 2 cores, ``import litellm`` costs ~3.0 s CPU with collection and ~2.2 s without, and the
    final collections at interpreter exit cost another ~1 s. Freezing moves the objects out of
    every later collection (and the one at exit); the import leaves only ~2,000 cyclic
    leftovers, which then stay in memory: a fair price.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _silence_pydantic_warnings() -> None:
    for message in PYDANTIC_NOISE:
        warnings.filterwarnings("ignore", message=message)


def _import() -> LiteLLM:
    # Without this, the import downloads a price map from GitHub (and stalls offline).
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # In its default "DEV" mode litellm loads ./.env into os.environ on import: keys from
    # whatever directory nanofolks was started in would appear mid-run.
    os.environ.setdefault("LITELLM_MODE", "PRODUCTION")
    user_tiktoken_dir = os.environ.get("TIKTOKEN_CACHE_DIR")
    if user_tiktoken_dir is None:
        bundled = _bundled_tokenizers_dir()
        if bundled is not None:
            os.environ["TIKTOKEN_CACHE_DIR"] = bundled

    _silence_pydantic_warnings()
    started = time.perf_counter()
    try:
        with collection_paused():
            import litellm
            import openai
    except ImportError as exc:
        raise ProviderError(
            f"cannot import litellm ({exc}); reinstall it with `pip install -U nanofolks-provider-litellm`"
        ) from exc
    seconds = time.perf_counter() - started

    # litellm points TIKTOKEN_CACHE_DIR at its own copy unconditionally; give a user's back.
    if user_tiktoken_dir is not None:
        os.environ["TIKTOKEN_CACHE_DIR"] = user_tiktoken_dir
    # Model names with llama-3/llama-2/command-r would otherwise stall on a Hugging Face download.
    litellm.disable_hf_tokenizer_download = True
    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banners on errors
    litellm.telemetry = False  # older releases phone home unless told not to
    # litellm's WARNING lines (e.g. about event loops) would land in the middle of a chat;
    # we report failures ourselves. LITELLM_LOG=DEBUG still turns its logging back on.
    if "LITELLM_LOG" not in os.environ:
        logging.getLogger("LiteLLM").setLevel(logging.ERROR)
    return LiteLLM(module=litellm, api_error=openai.APIError, import_seconds=seconds)
