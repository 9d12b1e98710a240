"""Memory in the chat path (issue 4), in fresh processes, offline, through the real plugins."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("nanofolks_memory_chroma")
pytest.importorskip("nanofolks_provider_litellm")


@pytest.fixture
def crew_home(home, llm_server):
    (home / "config.json").write_text(
        json.dumps(
            {
                "agents": {"defaults": {"model": "vllm/test-model"}},
                "providers": {"vllm": {"apiBase": llm_server.base_url}},
            }
        )
    )
    return home


def test_a_fact_told_once_is_found_and_travels_across_rooms(crew_home, nanofolks_proc, llm_server):
    offline = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    told = nanofolks_proc(["chat", "-m", "My dog Rex loves the beach"], crew_home, env=offline)
    assert told.code == 0, told.err
    assert len(llm_server.requests) == 1  # remembering costs no extra LLM request
    for other in (
        "I need to renew my passport next month",
        "The quarterly report is due on Friday",
        "Remind me to water the tomatoes",
    ):
        assert nanofolks_proc(["chat", "-m", other], crew_home, env=offline).code == 0

    search = nanofolks_proc(["memory", "search", "pet", "--json"], crew_home, env=offline)
    assert search.code == 0, search.err
    results = json.loads(search.out)
    assert "Rex" in results[0]["text"] and results[0]["room"] == "general"

    assert nanofolks_proc(["room", "create", "weekend"], crew_home).code == 0
    llm_server.reset()
    asked = nanofolks_proc(["chat", "--room", "weekend", "-m", "What does my pet like?"], crew_home, env=offline)
    assert asked.code == 0, asked.err
    [request] = llm_server.requests
    system = request["messages"][0]["content"]
    assert "Rex" in system and "beach" in system  # the fact travels to another room
    turns = [m["content"] for m in request["messages"][1:]]
    assert turns == ["What does my pet like?"]  # general's conversation stays in general


def test_with_memory_disabled_the_crew_still_chats(crew_home, nanofolks_proc, llm_server):
    assert nanofolks_proc(["plugins", "disable", "memory-chroma"], crew_home).code == 0
    run = nanofolks_proc(["chat", "-m", "Hello"], crew_home)
    assert run.code == 0, run.err
    assert "[test-model] Hello" in run.out
    assert len(llm_server.requests) == 1
