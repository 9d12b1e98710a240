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


# ESC-introduced sequences: CSI (ESC [ ... final), OSC / DCS / SOS / PM / APC (ESC ] P X ^ _ ... BEL or ST),
# and two-character escapes; plus their 8-bit C1 forms (0x9b CSI, 0x9d OSC, 0x90 DCS ...).
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, clear screen
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[\s\S]*?(?:\x07|\x1b\\|\x9c|$)"  # OSC (title, clipboard), DCS ...
    r"|\x1b[ -/]*[0-~]"  # other escapes (charset switches, RIS reset ...)
)
# Every other control character but newline and tab: C0, DEL and C1 (a lone CR can overwrite a line).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def for_terminal(text: str) -> str:
    """``text`` safe to print: escape sequences removed, other control characters shown as U+FFFD.

    Model replies and stored messages go through this before they reach a terminal or a channel,
    so a reply cannot retitle the terminal, write to the clipboard (OSC 52) or clear the screen.
    Newlines and tabs stay; ``\\r\\n`` becomes ``\\n``.
    """
    if text.isprintable():
        return text
    text = _ESCAPE_SEQUENCE.sub("", text.replace("\r\n", "\n"))
    return _CONTROL.sub(REPLACEMENT, text)
