"""Step 3, dispatch: who answers. Mentioned bots; everyone in the room for @all/@crew;
otherwise the Leader (who may delegate to specialists during its turn)."""

from __future__ import annotations

import attrs

from nanofolks_core.crew.roles import LEADER, ROLE_ORDER
from nanofolks_core.pipeline.tagging import Tags


@attrs.frozen
class Assignment:
    """``bots`` answer, in crew order; ``joined`` were mentioned but not yet in the room."""

    bots: tuple[str, ...]
    mode: str  # "mention" | "broadcast" | "leader"
    joined: tuple[str, ...] = ()


def dispatch(tags: Tags, participants: tuple[str, ...]) -> Assignment:
    if tags.mentions:
        bots = tuple(role for role in ROLE_ORDER if role in tags.mentions)
        if tags.broadcast:
            bots = tuple(role for role in ROLE_ORDER if role in set(bots) | set(participants))
        return Assignment(bots, "mention", tuple(b for b in bots if b not in participants))
    if tags.broadcast:
        return Assignment(tuple(role for role in ROLE_ORDER if role in participants), "broadcast")
    # No mention: the Leader coordinates; in a DIRECT room without the Leader, that room's bot answers.
    lead = LEADER if LEADER in participants or not participants else participants[0]
    return Assignment((lead,), "leader")
