"""The message pipeline every message goes through: tag → intent → dispatch → collect → final."""

from nanofolks_core.pipeline.dispatch import Assignment, dispatch
from nanofolks_core.pipeline.intent import Intent, classify_intent
from nanofolks_core.pipeline.orchestrator import BotReply, Crew, CrewEvent, TurnResult
from nanofolks_core.pipeline.tagging import Tags, parse_tags

__all__ = [
    "Assignment",
    "BotReply",
    "Crew",
    "CrewEvent",
    "Intent",
    "Tags",
    "TurnResult",
    "classify_intent",
    "dispatch",
    "parse_tags",
]
