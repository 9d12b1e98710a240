"""Reading a failed provider call: what kind of failure it was, in words a user can act on.

Pure functions over the exceptions litellm raises (no litellm import here): the socket error
underneath a connection failure, the server's ``retry-after``, a 200 body that was no
completion, and URL credentials to keep out of every message.
"""

from __future__ import annotations

import re

import attrs

__all__ = ["Failure", "in_chain", "mask_url_credentials", "retry_after", "socket_error", "unusable_body"]

# "scheme://user:password@host": the user-info part is replaced before a URL is shown.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")
# litellm's message for a 200 body it could not parse: "... Received: '<body>'. Check ..."
_RECEIVED_BODY = re.compile(r"Empty or invalid response from LLM endpoint\. Received: '(.*)'", re.DOTALL)


@attrs.frozen
class Failure:
    """One failed attempt, classified."""

    description: str  # "HTTP 503: <server text>" or "connection failed: ..." (key redacted)
    transient: bool
    auth: bool
    retry_after: float | None
    unusable_body: str | None = None  # "an HTML page", "an empty body" ... for a 200 that is no completion


def mask_url_credentials(text: str) -> str:
    """``text`` with the user/password part of every URL in it replaced by ``***``."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


def in_chain(exc: BaseException, class_name: str) -> BaseException | None:
    """The first exception named ``class_name`` in ``exc``'s cause/context chain, or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ == class_name:
            return current
        current = current.__cause__ or current.__context__
    return None


def unusable_body(exc: BaseException, text: str) -> str | None:
    """What a 200 answer litellm could not read as a completion was ("an HTML page" ...), or None."""
    received = _RECEIVED_BODY.search(text)
    if received is not None:
        body = received.group(1).strip()
        if not body:
            return "an empty body"
        if "<html" in body[:500].lower() or body[:500].lower().startswith("<!doctype"):
            return "an HTML page"
        return "a body that is not JSON"
    if "response with no 'choices'" in text:
        return "JSON without any choices"
    decode_error = in_chain(exc, "JSONDecodeError")
    if decode_error is not None:
        return "an empty body" if not str(getattr(decode_error, "doc", "x")).strip() else "a body that is not JSON"
    return None


def socket_error(exc: BaseException) -> OSError | None:
    """The operating-system error at the bottom of an exception chain, if there is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    found: OSError | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and not isinstance(current, TimeoutError):
            found = current
        current = current.__cause__ or current.__context__
    return found


def retry_after(exc: Exception) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``retry-after``), if any."""
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:  # an HTTP date: fall back to our own backoff
            continue
    return None
