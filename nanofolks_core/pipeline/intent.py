"""Step 2, intent: what the user wants, by rules; an LLM is asked only when the rules are unsure.

The rules decide almost every message, so a plain message costs exactly one LLM request (the
bot's reply). The LLM fallback runs only for long messages no rule recognises, and only when
a fallback callable is given.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import attrs

from nanofolks_core.pipeline.tagging import Tags

INTENTS = ("chat", "question", "task", "brainstorm", "review")
UNSURE = 0.6
#: Messages at least this long with no rule match go to the LLM fallback (if there is one).
FALLBACK_MIN_WORDS = 25

_GREETING = re.compile(
    r"^\s*(hi|hello|hey|yo|hiya|howdy|good (morning|afternoon|evening)|thanks|thank you|cheers|ahoy|bye|ok|okay)\b",
    re.I,
)
_BRAINSTORM = re.compile(r"\b(brainstorm|ideas?|names? for|suggest(ions)?|come up with|what if)\b", re.I)
_REVIEW = re.compile(r"\b(review|audit|check|validate|proofread|critique|feedback on)\b", re.I)
_QUESTION = re.compile(
    r"(\?\s*$)|^\s*(what|why|how|when|where|who|which|is|are|can|could|should|would|do|does|did)\b", re.I
)
_TASK = re.compile(
    r"^\s*(please\s+)?(write|fix|debug|build|create|make|implement|draft|plan|analy[sz]e|research|design|"
    r"summari[sz]e|translate|refactor|set up|prepare|find|compare|explain|post|schedule)\b",
    re.I,
)


@attrs.frozen
class Intent:
    kind: str
    confidence: float
    source: str = "rules"  # "rules" or "llm"


def classify_rules(text: str, tags: Tags | None = None) -> Intent:
    """The rule layer alone (about a microsecond)."""
    body = tags.body if tags else text
    if _BRAINSTORM.search(body):
        return Intent("brainstorm", 0.9)
    if _TASK.search(body):
        return Intent("task", 0.85)
    if _REVIEW.search(body):
        return Intent("review", 0.8)
    if _QUESTION.search(body):
        return Intent("question", 0.85)
    if _GREETING.search(body) or len(body.split()) <= 6:
        return Intent("chat", 0.9)
    if tags and tags.actions:
        return Intent("task", 0.7)
    return Intent("chat", 0.5)


async def classify_intent(
    text: str, tags: Tags | None = None, fallback: Callable[[str], Awaitable[str]] | None = None
) -> Intent:
    """Rules first; ``fallback(text) -> intent name`` only when unsure about a long message."""
    intent = classify_rules(text, tags)
    if intent.confidence >= UNSURE or fallback is None or len(text.split()) < FALLBACK_MIN_WORDS:
        return intent
    answer = (await fallback(text)).strip().lower()
    kind = next((name for name in INTENTS if name in answer), None)
    return Intent(kind, 0.75, "llm") if kind else intent
