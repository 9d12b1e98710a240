"""Fixtures for the gateway tests: the test "chat app" and a gateway running in a thread."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import gateway_test_channel  # noqa: E402
from gateway_helpers import GatewayThread  # noqa: E402


@pytest.fixture
def chat_app():
    """The chat app the test channels connect to (:class:`gateway_test_channel.ChatServer`)."""
    server = gateway_test_channel.ChatServer()
    yield server
    server.close()


@pytest.fixture
def start_gateway(nanofolks_home, plugin_host, llm_server):
    """``start_gateway(channels={...}, **config) -> GatewayThread``: a running gateway with the
    core, the stdlib test provider (model local/test-model on ``llm_server``) and the test channels."""
    from nanofolks_core.builtins import core
    from nanofolks_core.testing import provider

    started: list[GatewayThread] = []

    def start(channels: dict, **config) -> GatewayThread:
        for module, name in ((core, "core"), (provider, "test-provider"), (gateway_test_channel, "testchat")):
            if plugin_host.pm.get_plugin(name) is None:
                plugin_host.register_module(module, name)
        raw = {
            "agents": {"defaults": {"model": "local/test-model"}},
            "providers": {"local": {"apiBase": llm_server.base_url}},
            "channels": channels,
            "memory": {"enabled": False},
        }
        raw.update(config)
        gateway = GatewayThread(nanofolks_home, plugin_host, raw).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()
