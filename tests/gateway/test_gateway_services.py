"""Background services (``ServiceSpec``) in the gateway: supervised with backoff, shown in
``/health`` under ``services``, and the gateway as their ``CrewAccess`` (ask, idle_seconds, rooms)."""

from __future__ import annotations

import math
import time

import gateway_test_service


def test_services_are_supervised_shown_in_health_and_get_the_gateway_as_crew(start_gateway, plugin_host):
    from nanofolks_core.api import CrewAccess

    gateway_test_service.SEEN["runs"].clear()
    gateway_test_service.SEEN["crews"].clear()
    plugin_host.register_module(gateway_test_service, "test-services")
    gateway = start_gateway(channels={})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(gateway_test_service.SEEN["runs"]) < 2:
        time.sleep(0.05)
    services = gateway.health()["services"]
    assert services["flaky"]["state"] == "running" and services["flaky"]["restarts"] == 1, services
    assert services["flaky"]["lastError"] == "RuntimeError: boom on the first run"
    assert services["broken"]["state"] == "failed" and "cannot be built" in services["broken"]["lastError"]
    crew = gateway_test_service.SEEN["crews"][-1]
    assert crew is gateway.gateway and isinstance(crew, CrewAccess)
    assert crew.rooms.get("general").id == "general"

    # Activity: a routine's turn is not the user; a user's message is.
    assert math.isinf(crew.idle_seconds()) and math.isinf(crew.idle_seconds("general"))
    result = gateway.call(crew.ask("status report please", metadata={"routine": "r1", "task": "t1"}))
    assert "status report please" in result.replies[0].text
    assert math.isinf(crew.idle_seconds("general"))
    from nanofolks_core.api import InboundMessage

    gateway.call(crew.handle(InboundMessage(text="hello crew", channel="cli", room="general")))
    assert 0 <= crew.idle_seconds("general") < 5 and 0 <= crew.idle_seconds() < 5
    assert gateway.call(crew.deliver("general", "nobody is linked")) == 0
    assert gateway.stop() == 0
