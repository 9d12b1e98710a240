"""Text policy: what the crew stores and sends is always valid Unicode.

Every input path (CLI argument, stdin, a channel, a file) passes text through :func:`clean_text`
before it is stored or sent to a model. Invalid bytes become U+FFFD (the replacement character);
lone surrogates (which Python produces for undecodable bytes in ``sys.argv`` and which no JSON
encoder or HTTP client will send as UTF-8) never reach a store.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """``text`` with lone surrogates turned into U+FFFD (other text unchanged; cheap when clean).

    Surrogate-escaped bytes (``\\udc80``-``\\udcff``, from ``surrogateescape`` in ``sys.argv``) are
    turned back into bytes and decoded, so a valid UTF-8 sequence split by the OS layer survives.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_bytes(data: bytes) -> str:
    """Bytes from a pipe, file or network as text: UTF-8, invalid bytes replaced by U+FFFD."""
    return data.decode("utf-8", "replace")
