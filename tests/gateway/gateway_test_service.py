"""Background services for the gateway tests: one that fails once then runs, one that cannot be built."""

from __future__ import annotations

import asyncio

from nanofolks_core.api import ServiceSpec, hookimpl

#: What the services saw, for the test to read.
SEEN: dict[str, list] = {"runs": [], "crews": []}


class FlakyService:
    """Raises on its first run (the gateway starts it again), then runs until cancelled."""

    def __init__(self, *, spec, config, services) -> None:
        self.services = services

    async def run(self, crew) -> None:
        SEEN["runs"].append(len(SEEN["runs"]) + 1)
        SEEN["crews"].append(crew)
        if len(SEEN["runs"]) == 1:
            raise RuntimeError("boom on the first run")
        await asyncio.Event().wait()


def broken_factory(*, spec, config, services):
    raise ValueError("this service cannot be built")


@hookimpl
def nanofolks_register_services(register):
    register(ServiceSpec(name="flaky", summary="fails once", factory="gateway_test_service:FlakyService"))
    register(ServiceSpec(name="broken", summary="never builds", factory="gateway_test_service:broken_factory"))
