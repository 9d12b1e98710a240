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


# Characters that may start an escape sequence: ESC and the 8-bit C1 introducers (DCS, SOS, CSI, OSC, PM, APC).
_INTRODUCER = re.compile(r"[\x1b\x90\x98\x9b\x9d\x9e\x9f]")
# A complete sequence starting at an introducer; an OSC/DCS without its terminator does not match.
_COMPLETE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[\s\S]*?(?:\x07|\x1b\\|\x9c)"
    r"|\x1b(?![\[\]PX^_])[ -/]*[0-~]"  # not the start of a CSI/OSC/DCS still waiting for its end
)
#: An unterminated sequence longer than this is not held back any longer (it is dropped as garbage).
MAX_HELD_BACK = 8192


class TerminalStream:
    """:func:`for_terminal` for text that arrives in pieces (a streamed reply).

    An escape sequence split across two pieces (``"\\x1b]0;"`` then ``"title\\x07"``) is held
    back until it is complete, so the printed result is the same as ``for_terminal`` of the
    whole text; a trailing ``\\r`` waits to see whether ``\\n`` follows. Call :meth:`flush`
    when the stream ends.
    """

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, piece: str) -> str:
        """The part of ``self._pending + piece`` that is safe to print now."""
        text = self._pending + piece
        cut = self._incomplete_start(text)
        self._pending = text[cut:]
        return for_terminal(text[:cut])

    def flush(self) -> str:
        """What is still held back, made safe (an unterminated sequence is dropped)."""
        text, self._pending = self._pending, ""
        return for_terminal(text)

    @staticmethod
    def _incomplete_start(text: str) -> int:
        position = 0
        while True:
            found = _INTRODUCER.search(text, position)
            if found is None:
                break
            start = found.start()
            complete = _COMPLETE_SEQUENCE.match(text, start)
            if complete is None:
                # Incomplete: hold it back, unless it is so long it can only be garbage.
                return start if len(text) - start <= MAX_HELD_BACK else len(text)
            position = complete.end()
        return len(text) - 1 if text.endswith("\r") else len(text)


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")


def json_for_terminal(document: str) -> str:
    """A JSON text with DEL and C1 control characters escaped as ``\\u00XX``.

    ``json.dumps(..., ensure_ascii=False)`` escapes C0 controls (ESC included) but leaves C1
    ones such as 0x9b (an 8-bit CSI) raw; escaping them keeps the JSON equal and the terminal safe.
    """
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", document)
