"""A long conversation through the real litellm provider never overflows an 8k window.

Tokens are counted with the real tokenizer (tiktoken, offline from litellm's bundled files).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from nanofolks_core.api import InboundMessage
from nanofolks_core.app import App
from nanofolks_core.crew import Crew

pytest.importorskip("nanofolks_provider_litellm")

WINDOW = 8192


def tokens_of(request: dict) -> int:
    from nanofolks_provider_litellm import runtime

    return runtime.load().module.token_counter(model="gpt-3.5-turbo", messages=request["messages"])


def test_300_turns_stay_inside_the_window_and_status_is_right(nanofolks_home, llm_server, nanofolks_proc):
    def handler(request):
        if request["messages"][0]["content"].startswith("You write faithful"):
            return "- the user is describing the harbour renovation in detail"
        return "Noted: " + request["messages"][-1]["content"][:300]

    llm_server.handler = handler
    (nanofolks_home / "config.json").write_text(
        json.dumps(
            {
                "agents": {"defaults": {"model": "vllm/test-model", "contextWindow": WINDOW, "maxTokens": 512}},
                "providers": {"vllm": {"apiBase": llm_server.base_url}},
                "plugins": {"disabled": ["memory-chroma", "router"]},
            }
        )
    )

    async def conversation():
        crew = Crew.from_app(App())
        try:
            for i in range(300):
                text = f"Turn {i}: " + " ".join(f"beam {i}.{j} needs checking near pier {j}" for j in range(25))
                await crew.handle(InboundMessage(text=text))
        finally:
            await crew.aclose()

    asyncio.run(conversation())
    sizes = [tokens_of(r) for r in llm_server.requests]
    assert max(sizes) <= WINDOW, f"largest request: {max(sizes)} tokens"
    assert any(r["messages"][0]["content"].startswith("You write faithful") for r in llm_server.requests)
    stored = App().sessions.read("general")  # compaction added summaries and removed nothing
    assert sum(m.role == "user" for m in stored) == 300 and sum(m.role == "assistant" for m in stored) == 300
    assert any(m.meta.get("summary") for m in stored)

    status = nanofolks_proc(["session", "status", "--json"], nanofolks_home)
    assert status.code == 0, status.err
    data = json.loads(status.out)
    assert data["window"] == WINDOW and data["counting"] == "tokenizer"
    # The next request carries what status measured plus the new message.
    llm_server.reset()
    llm_server.handler = handler
    nanofolks_proc(["chat", "-m", "ok"], nanofolks_home)
    sent = tokens_of(llm_server.requests[-1])
    assert abs(sent - data["tokens"]) <= 15, (sent, data["tokens"])
    assert data["percent"] == round(100 * data["tokens"] / WINDOW, 1)
