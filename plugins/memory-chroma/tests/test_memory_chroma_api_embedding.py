"""``memory.chroma.embedding`` set to an API model: litellm against the local FakeLLMServer."""

from __future__ import annotations

import socket
from importlib.util import find_spec

import pytest
from nanofolks_memory_chroma.backend import ChromaMemory
from nanofolks_memory_chroma.config import ChromaMemoryConfig

from nanofolks_core.api import MemoryEvent
from nanofolks_core.testing import ConfigError, build_config
from nanofolks_core.testing.llm_server import FakeLLMServer

# API embeddings are an optional extra: `pip install "nanofolks-memory-chroma[api-embeddings]"`.
needs_litellm = pytest.mark.skipif(find_spec("litellm") is None, reason="the api-embeddings extra is not installed")


def api_config(base_url: str, **extra) -> ChromaMemoryConfig:
    return ChromaMemoryConfig(embedding={"model": "openai/text-embedding-3-small", "apiBase": base_url, **extra})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@needs_litellm
def test_api_embeddings_are_used_and_no_chat_request_is_made(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMORY_TEST_EMBED_KEY", "sk-embed")
    with FakeLLMServer(api_key="sk-embed", embedding_dim=16) as server:
        memory = ChromaMemory(
            config=api_config(server.base_url, apiKey="env:MEMORY_TEST_EMBED_KEY"), data_root=tmp_path
        )
        try:
            for i, text in enumerate(["My dog Rex loves the beach", "The tax report is due", "I live in Lisbon"]):
                memory.record(MemoryEvent(id=f"m{i}", room="r", role="user", text=text))
            memory.flush()
            # The fake server's vectors are a hash of the text: only the same text matches exactly.
            hit = memory.search("I live in Lisbon", limit=1)[0]
            status = memory.status()
        finally:
            memory.close()
        assert server.requests == []  # recording never asks the chat model anything
    assert hit.text == "I live in Lisbon" and hit.score == pytest.approx(1.0, abs=1e-4)
    assert status["embedding_model"] == "openai/text-embedding-3-small" and status["vectors"] == 3
    assert status["collection"] == "nanofolks-memory-openai-text-embedding-3-small"


@needs_litellm
def test_a_keyring_api_key_resolves_through_the_registered_secret_stores(tmp_path):
    from nanofolks_core.api import Services

    services = Services(plugin="memory-chroma", data_root=tmp_path, secret_lookup={"embed": "sk-from-store"}.get)
    with FakeLLMServer(api_key="sk-from-store", embedding_dim=16) as server:
        memory = ChromaMemory(config=api_config(server.base_url, apiKey="keyring:embed"), services=services)
        try:
            memory.record(MemoryEvent(id="k", room="r", role="user", text="I live in Lisbon"))
            memory.flush()
            status = memory.status()
        finally:
            memory.close()
    assert (status["vectors"], status["last_error"]) == (1, None)  # a wrong key would be a 401, left unindexed


@needs_litellm
def test_unreachable_api_keeps_the_log_and_indexes_it_later(tmp_path):
    memory = ChromaMemory(config=api_config(f"http://127.0.0.1:{free_port()}/v1", apiKey="sk-x"), data_root=tmp_path)
    try:
        memory.record(MemoryEvent(id="a", room="r", role="user", text="My dog Rex loves the beach"))
        memory.flush()
        status = memory.status()
    finally:
        memory.close()
    assert (status["messages"], status["unindexed"], status["vectors"]) == (1, 1, 0)
    assert "embedding model openai/text-embedding-3-small failed" in status["last_error"]
    with FakeLLMServer() as server:
        memory = ChromaMemory(config=api_config(server.base_url, apiKey="sk-x"), data_root=tmp_path)
        try:
            memory.record(MemoryEvent(id="b", room="r", role="user", text="Another message"))
            memory.flush()
            status = memory.status()
        finally:
            memory.close()
    assert (status["messages"], status["unindexed"], status["vectors"], status["last_error"]) == (2, 0, 2, None)


@pytest.mark.parametrize(
    ("embedding", "message"),
    [
        ("bogus", 'embedding must be "local" or an API model'),
        ({"model": "text-embedding-3-small"}, "embedding.model must name a provider"),
        ({"model": "openai/x", "apiBase": "ftp://x"}, "embedding.apiBase must be an http"),
        ({"model": "openai/x", "colour": 1}, "unknown key"),
        (7, 'embedding must be "local" or an object'),
    ],
)
def test_bad_embedding_settings_are_config_errors_naming_the_section(tmp_path, embedding, message):
    raw = {"memory": {"chroma": {"embedding": embedding}}}
    with pytest.raises(ConfigError) as caught:
        build_config(raw, tmp_path / "config.json", {"memory.chroma": ChromaMemoryConfig})
    assert "memory.chroma" in str(caught.value) and message in str(caught.value)


def test_valid_config_keys_are_camel_case(tmp_path):
    raw = {
        "memory": {
            "chroma": {
                "embedding": "openai/text-embedding-3-small",
                "host": "10.0.0.5",
                "port": 8001,
                "recentRoomMessages": 10,
                "minScore": 0.3,
            }
        }
    }
    section = build_config(raw, tmp_path / "config.json", {"memory.chroma": ChromaMemoryConfig}).config.section(
        "memory.chroma"
    )
    assert section.embedding.model == "openai/text-embedding-3-small"
    assert (section.host, section.port, section.recent_room_messages, section.min_score) == ("10.0.0.5", 8001, 10, 0.3)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"port": 0}, "memory.chroma: port must be from 1 to 65535, got 0"),
        ({"recentRoomMessages": -1}, "memory.chroma: recentRoomMessages must be at least 0, got -1"),
        ({"minScore": 1.5}, "memory.chroma: minScore must be from -1 to 1, got 1.5"),
    ],
)
def test_out_of_range_settings_name_the_key_and_the_range(tmp_path, settings, message):
    with pytest.raises(ConfigError) as caught:
        build_config({"memory": {"chroma": settings}}, tmp_path / "config.json", {"memory.chroma": ChromaMemoryConfig})
    assert message in str(caught.value)
