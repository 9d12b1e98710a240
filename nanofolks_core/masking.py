"""Keeping secrets from config out of what nanofolks prints: ``config show``, errors and logs.

One place decides what counts as secret in config data and text:

* URL credentials: ``https://user:pass@host`` -> ``https://user:***@host`` (a lone
  ``https://token@host`` -> ``https://***@host``), and the values of query parameters such as
  ``?api_key=`` / ``?token=``;
* ``Authorization``-style values: ``Bearer <token>``, ``Basic <token>``;
* in config data: every value under a ``*headers`` object (``providers.*.extraHeaders``), and
  every string whose key names a secret (``apiKey``, ``botToken``, ``password``, ``secret`` ...).

:func:`mask_secrets` is the function to apply to any message that may quote a URL or a header
(provider connection errors, log lines); it is exported from ``nanofolks_core.api``.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# scheme://userinfo@ : userinfo is user[:password]; stop at whitespace, '/', '@'.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^\s:/@'\"]*)(?::(?P<pw>[^\s/@'\"]*))?@")
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&](?:api[_-]?key|key|token|access[_-]?token|auth|secret|password|passwd|pwd|sig|signature)=)"
    r"(?P<value>[^&#\s'\"]+)",
    re.IGNORECASE,
)
_AUTH_VALUE = re.compile(r"\b(?P<scheme>Bearer|Basic|Token)\s+(?P<value>[A-Za-z0-9._~+/=\-]{6,})", re.IGNORECASE)
_SECRET_WORDS = {
    "key",
    "apikey",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "credential",
    "credentials",
    "auth",
    "authorization",
    "cookie",
    "signature",
}
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _userinfo(match: re.Match[str]) -> str:
    if match.group("pw") is not None:
        return f"{match.group('scheme')}{match.group('user')}:{MASK}@"
    return f"{match.group('scheme')}{MASK}@"


def mask_secrets(text: str) -> str:
    """``text`` with URL credentials, secret query parameters and bearer/basic tokens masked."""
    if not text or not isinstance(text, str):
        return text
    text = _URL_USERINFO.sub(_userinfo, text)
    text = _SECRET_PARAM.sub(lambda m: m.group("name") + MASK, text)
    return _AUTH_VALUE.sub(lambda m: f"{m.group('scheme')} {MASK}", text)


#: A URL is a text like any other here; the name says what callers use it for.
mask_url = mask_secrets


def is_secret_key(key: str) -> bool:
    """True for config keys that name a secret: ``apiKey``, ``bot_token``, ``password`` ..."""
    words = [w.lower() for w in _WORDS.findall(key.replace("-", "_"))]
    return bool(words) and (words[-1] in _SECRET_WORDS or "".join(words[-2:]) in _SECRET_WORDS)


def mask_config(data: Any, key: str = "") -> Any:
    """A copy of JSON-like config data with every secret masked (for ``config show``).

    References such as ``env:NAME`` / ``keyring:NAME`` are not secret and stay readable.
    """
    if isinstance(data, dict):
        headers = key.lower().endswith("headers")
        return {k: (_mask_value(v) if headers else mask_config(v, str(k))) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_config(item, key) for item in data]
    if isinstance(data, str):
        if key and is_secret_key(key):
            return _mask_value(data)
        return mask_secrets(data)
    return data


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        if value.startswith(("env:", "keyring:")) or value == MASK or not value:
            return value
        return MASK
    if isinstance(value, (dict, list)):
        return mask_config(value, "headers") if isinstance(value, dict) else [_mask_value(v) for v in value]
    return value


class MaskingFilter:
    """A ``logging`` filter that masks secrets in every record's final message (see :func:`mask_secrets`)."""

    def filter(self, record: Any) -> bool:
        from nanofolks_core.security.boundary import mask_text

        message = record.getMessage()
        masked = mask_text(mask_secrets(message))  # plus every credential format the sanitizer knows
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_masking() -> None:
    """Mask secrets in what the root logger's handlers write (call after ``logging.basicConfig``)."""
    import logging

    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
