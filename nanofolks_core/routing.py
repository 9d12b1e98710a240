"""Routing records, kept here for old imports; the contract is :class:`nanofolks_core.contracts.Router`.

A router plugin registers a ``RouterSpec``; the core builds its runtime as
``factory(spec=, config=<the routing section>, services=)`` and asks it once per user
message, before the bots run. Without a router, every bot uses ``agents.defaults.model``.
"""

from __future__ import annotations

from nanofolks_core.contracts import AskLLM, RouteDecision, Router

__all__ = ["AskLLM", "RouteDecision", "Router"]
