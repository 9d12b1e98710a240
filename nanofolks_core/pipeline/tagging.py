"""Step 1, tag: find ``@mentions`` (bots, team character names, ``@all``/``@crew``) and action words."""

from __future__ import annotations

import re

import attrs

from nanofolks_core.crew.team import RESERVED_MENTIONS

# "@coder" but not "bob@example.com"; names may contain "-" and "_".
_MENTION = re.compile(r"(?<![\w@.])@([A-Za-z][\w-]*)")
_ACTION_WORDS = (
    "analyze",
    "analyse",
    "brainstorm",
    "build",
    "check",
    "compare",
    "create",
    "debug",
    "design",
    "draft",
    "explain",
    "find",
    "fix",
    "implement",
    "plan",
    "post",
    "refactor",
    "research",
    "review",
    "summarize",
    "summarise",
    "test",
    "translate",
    "write",
)
_ACTION = re.compile(rf"\b({'|'.join(_ACTION_WORDS)})\b", re.IGNORECASE)


@attrs.frozen
class Tags:
    """What tagging found. ``mentions`` are role names in the order first mentioned."""

    text: str
    mentions: tuple[str, ...] = ()
    broadcast: bool = False
    unknown: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

    @property
    def body(self) -> str:
        """The text without the ``@mentions`` that start it ("@coder fix this" -> "fix this")."""
        return re.sub(r"^(?:\s*@[A-Za-z][\w-]*[,:]?)+\s*", "", self.text) or self.text


def parse_tags(text: str, mention_map: dict[str, str]) -> Tags:
    """Tag ``text``. ``mention_map`` maps lowercase aliases to roles (``Team.mention_map()``)."""
    mentions: list[str] = []
    unknown: list[str] = []
    broadcast = False
    for match in _MENTION.finditer(text):
        alias = match.group(1).lower().rstrip("-_")
        if alias in RESERVED_MENTIONS:
            broadcast = True
        elif alias in mention_map:
            role = mention_map[alias]
            if role not in mentions:
                mentions.append(role)
        elif alias not in unknown:
            unknown.append(alias)
    actions = tuple(dict.fromkeys(word.lower() for word in _ACTION.findall(text)))
    return Tags(text=text, mentions=tuple(mentions), broadcast=broadcast, unknown=tuple(unknown), actions=actions)
