"""Entry module of ``nanofolks-router``: registers the tiers, the router (which owns the
``routing`` config section) and the ``routing`` command. Imports only attrs and the core's API; the
router itself (:mod:`nanofolks_router.router`) is imported when the core first routes.

Tiers and ranks (higher is stronger and dearer): simple 1, medium 2, complex 3, coding 3,
reasoning 4. Coding shares rank 3 with complex: code models are priced like general
strong models, while reasoning models are the slowest and most expensive. So a tier
without a model borrows from a same-rank tier first (coding -> complex), and a proof
asked in a coding room still moves the room up to reasoning.
"""

from __future__ import annotations

from nanofolks_core.api import CommandSpec, RouterSpec, TierSpec, hookimpl
from nanofolks_router.config import RoutingConfig, TierConfig, TierPrice

NANOFOLKS_API = "1.0"

#: The runtime the core builds: ``TierRouterImpl(spec=, config=<the routing section>, services=)``.
ROUTER_FACTORY = "nanofolks_router.router:TierRouterImpl"

TIERS = (
    TierSpec(name="simple", rank=1, summary="Greetings, small talk, quick facts"),
    TierSpec(name="medium", rank=2, summary="Everyday writing, summaries, explanations"),
    TierSpec(name="complex", rank=3, summary="In-depth analysis, strategy, research"),
    TierSpec(name="coding", rank=3, summary="Writing and debugging code"),
    TierSpec(name="reasoning", rank=4, summary="Proofs, math, logic puzzles"),
)

__all__ = [
    "NANOFOLKS_API",
    "ROUTER_FACTORY",
    "TIERS",
    "RoutingConfig",
    "TierConfig",
    "TierPrice",
    "nanofolks_register_commands",
    "nanofolks_register_router_tiers",
    "nanofolks_register_routers",
]


@hookimpl
def nanofolks_register_router_tiers(register):
    for tier in TIERS:
        register(tier)


@hookimpl
def nanofolks_register_routers(register):
    # The router's config_class is its section: ``routing`` in config.json.
    register(
        RouterSpec(
            name="tiers",
            summary="Two layers: local rules (~0.1 ms), the cheapest model only when unsure; sticky per room",
            factory=ROUTER_FACTORY,
            config_class=RoutingConfig,
        )
    )


@hookimpl
def nanofolks_register_commands(register):
    register(
        CommandSpec(
            name="routing",
            summary="Show tier routing, test a message, see cost analytics.",
            factory="nanofolks_router.cli:routing",
        )
    )
