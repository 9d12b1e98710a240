"""Checks that tell a real credential from text that only looks like one.

A pattern finds candidates by shape; a check looks closer: a checksum where the format carries
one (GitHub and npm tokens end in a CRC32), the structure a format promises (a JWT header is JSON
naming an algorithm, a Discord token starts with a base64 user id), and otherwise how random the
characters are, because documentation placeholders and identifiers are not.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def looks_random(text: str, *, min_entropy: float = 3.0, classes: int = 2) -> bool:
    """True for machine-made strings: several character classes, no long runs, enough entropy.

    ``xxxxxxxx``, ``your-api-key-here`` and ``abcdefghijklmnop`` fail; real keys pass.
    """
    body = re.sub(r"[^A-Za-z0-9]", "", text)
    if len(body) < 8:
        return False
    kinds = sum(bool(re.search(p, body)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    if kinds < classes:
        return False
    if re.search(r"(.)\1{5,}", body) or _sequential(body.lower()):
        return False
    return entropy(body) >= min_entropy


def _sequential(body: str) -> bool:
    for run in ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiop"):
        for start in range(len(run) - 7):
            if run[start : start + 8] in body:
                return True
    return False


def base62(number: int, width: int = 6) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    return digits.rjust(width, "0")


def crc32_token(token: str, prefix_length: int) -> bool:
    """GitHub (``ghp_``...) and npm (``npm_``) tokens: the last 6 characters are the base62 CRC32 of the random part."""
    body, checksum = token[prefix_length:-6], token[-6:]
    return base62(binascii.crc32(body.encode("ascii"))) == checksum


def github_classic(token: str) -> bool:
    return _prefixed_token(token)


def npm_token(token: str) -> bool:
    return _prefixed_token(token)


def _prefixed_token(token: str) -> bool:
    """A valid checksum settles it; a random body after the vendor prefix is masked all the same.

    A token whose checksum does not match is still most likely a credential (mistyped, revoked,
    or made up for a test): hiding it costs nothing, letting it through could cost the key.
    Placeholders (``ghp_xxxx...``, sequential characters) fail :func:`looks_random` and stay.
    """
    return crc32_token(token, 4) or looks_random(token[4:])


def _b64json(part: str) -> object:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def jwt(token: str) -> bool:
    """A JSON Web Token: the header decodes to a JSON object naming ``alg`` (or ``typ``)."""
    try:
        header = _b64json(token.split(".")[0])
    except (ValueError, binascii.Error):
        return False
    return isinstance(header, dict) and ("alg" in header or "typ" in header)


def discord_bot(token: str) -> bool:
    """A Discord bot token starts with the bot's user id (a 17-20 digit snowflake) in base64."""
    first = token.split(".")[0]
    try:
        user_id = base64.b64decode(first + "=" * (-len(first) % 4), altchars=b"-_").decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return user_id.isdigit() and 17 <= len(user_id) <= 20


def random_token(token: str) -> bool:
    """A prefixed token whose random part looks machine-made (drops ``sk-your-key-here``)."""
    return looks_random(token)


def random_secret(value: str) -> bool:
    """A bare high-entropy value found by its context (``aws_secret_access_key = ...``)."""
    return looks_random(value, min_entropy=3.5)


#: Values that name a secret instead of being one: ``password=<your password>``, ``token: ${TOKEN}``.
_PLACEHOLDER = re.compile(
    r"^(?:[<\[{(*#]|\$\{|\$[A-Z_]+$|%\(|%s$|%[A-Z_]+%$|\{\{|env:|keyring:|os\.|process\.env|getenv|settings\.|config\.|self\.)"
    r"|^(?:none|null|nil|true|false|undefined|required|optional|string|str|secret|password|passwd|changeme"
    r"|change_me|example|redacted|hidden|masked|your[_-]?\w*|xxx+|\.\.\.|…|\*+|test|dummy|placeholder|token"
    r"|empty|blank|here|is|was|must|should|the|a|an|of|for|from|and|or|pass|pw|user|username)[.,;:!?]*$",
    re.IGNORECASE,
)
_CODE = re.compile(r"^[A-Za-z_][\w.]*(?:\(|\[)|^[A-Za-z_]\w*(?:\.\w+)+[)\]}]*$")


def assigned_value(value: str) -> bool:
    """``password=<value>``: a literal, not a placeholder, a reference or code."""
    value = value.strip("\"'`")
    if len(value) < 6 or _PLACEHOLDER.search(value) or _CODE.search(value) or "..." in value or "…" in value:
        return False
    return len(set(value)) >= 4 and not re.search(r"(.)\1{5,}", value)


def assignment(value: str, match: re.Match[str]) -> bool:
    """``password=<value>``; a bare value after a space must not be a plain word or an identifier
    (``secret = tmp_path``, ``password = required``), a quoted or ``=``-attached one may be."""
    if not assigned_value(value):
        return False
    before = match.string[match.start("secret") - 1 : match.start("secret")]
    if before.isspace():
        return not re.fullmatch(r"[A-Za-z_]+", value.strip("\"'`)]},"))
    return True


assignment.with_match = True  # type: ignore[attr-defined]


def prose_value(value: str) -> bool:
    """``password: <value>`` in prose needs a value that does not read like a word."""
    return assigned_value(value) and looks_random(value, min_entropy=2.5)


def url_password(value: str) -> bool:
    """The password part of ``scheme://user:password@host``."""
    return assigned_value(value) or (len(value) >= 4 and not _PLACEHOLDER.search(value) and len(set(value)) >= 3)
