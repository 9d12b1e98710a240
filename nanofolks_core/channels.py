"""What every chat-app channel shares: the config fields the gateway reads, who may talk to the
crew, and splitting a reply to a platform's message limit.

A channel plugin's config class subclasses :class:`ChannelConfig` (so ``enabled``, ``allowFrom``
and ``apiBase`` mean the same thing for every channel); the gateway enforces ``allowFrom`` with
:func:`sender_allowed` before a message reaches the pipeline, and sends each reply as the chunks
:func:`split_message` makes for the channel's ``message_limit``.
"""

from __future__ import annotations

import attrs

#: Characters per message when a channel does not say (Telegram's limit is 4096).
DEFAULT_MESSAGE_LIMIT = 4000


@attrs.define(kw_only=True)
class ChannelConfig:
    """Fields every ``channels.<name>`` section has; channel config classes subclass it.

    ``allow_from`` (``allowFrom``) lists who may talk to the crew: user ids, usernames or phone
    numbers as the platform shows them. Empty means nobody; ``["*"]`` means anyone.
    ``api_base`` (``apiBase``) points the channel's SDK at another server (a local test server,
    a proxy); None means the platform's own.
    """

    enabled: bool = False
    allow_from: list[str] = attrs.Factory(list)
    api_base: str | None = None


def _normal(identity: str) -> str:
    return str(identity).strip().lstrip("@+").replace(" ", "").casefold()


def sender_allowed(allow_from: list[str] | tuple[str, ...], sender: object = None, *aliases: object) -> bool:
    """Whether ``sender`` (the platform's stable user id or phone) or one of its ``aliases``
    (username ...) is in ``allow_from``.

    ``"*"`` allows everyone; an empty list allows nobody. Comparison ignores case, spaces and a
    leading ``@`` or ``+``, so ``"@Ada"`` matches ``ada`` and ``"+1 555 0100"`` matches ``15550100``.
    An alias never matches an entry that is all digits (a user id or a phone number): only the
    sender does, because on some platforms (Discord) anyone can pick a username that is someone
    else's numeric id.
    """
    if "*" in allow_from:
        return True
    allowed = {_normal(entry) for entry in allow_from if str(entry).strip()}
    if sender not in (None, "") and _normal(str(sender)) in allowed:
        return True
    names = {entry for entry in allowed if not entry.isdigit()}
    return any(_normal(str(alias)) in names for alias in aliases if alias not in (None, ""))


def split_message(text: str, limit: int = DEFAULT_MESSAGE_LIMIT) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters, at a paragraph, line or word
    boundary where there is one in the second half of the piece. Never returns an empty list for
    non-empty text, and the pieces joined (with the whitespace they were cut at) give the text."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            at = window.rfind(separator)
            if at >= limit // 2:
                cut = at + len(separator)
                break
        if cut <= 0:
            cut = limit
        piece, rest = rest[:cut].rstrip(), rest[cut:]
        if piece:
            pieces.append(piece)
    if rest.strip() or not pieces:
        pieces.append(rest)
    return pieces
