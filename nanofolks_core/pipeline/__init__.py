"""The message pipeline every message goes through: tag → intent → dispatch → collect → final.

The :class:`~nanofolks_core.crew.Crew` drives it; the records it produces are here.
"""

from nanofolks_core.pipeline.dispatch import Assignment, dispatch
from nanofolks_core.pipeline.intent import Intent, classify_intent
from nanofolks_core.pipeline.records import BotReply, CrewEvent, EventSink, TurnResult, TurnServices
from nanofolks_core.pipeline.tagging import Tags, parse_tags

__all__ = [
    "Assignment",
    "BotReply",
    "CrewEvent",
    "EventSink",
    "Intent",
    "Tags",
    "TurnResult",
    "TurnServices",
    "classify_intent",
    "dispatch",
    "parse_tags",
]
