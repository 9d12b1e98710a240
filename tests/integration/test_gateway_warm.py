"""A running gateway has done the first message's slow work already: litellm imported, the
tokenizer and the local embedding model loaded (field test: the first message through a fresh
gateway took 6-9 s, most of it in memory context, while later ones took 0.3 s)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("nanofolks_provider_litellm")
pytest.importorskip("nanofolks_memory_chroma")

PROBE = """
import asyncio, json, sys
from nanofolks_core.app import App
from nanofolks_core.gateway.server import Gateway
from nanofolks_memory_chroma import minilm

app = App()
gateway = asyncio.run(Gateway.open(app))
print(json.dumps({"litellm": "litellm" in sys.modules, "minilm": bool(minilm._cache)}))
"""


def test_the_gateway_warms_the_provider_and_memory_before_the_first_message(nanofolks_home, llm_server, cli_runner):
    onboard = ["onboard", "--provider", "vllm", "--model", "m", "--api-base", llm_server.base_url, "-y"]
    assert cli_runner(onboard).exit_code == 0
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr
    warmed = json.loads(probe.stdout.strip().splitlines()[-1])
    assert warmed == {"litellm": True, "minilm": True}
    assert not llm_server.requests, "warming calls no model"
