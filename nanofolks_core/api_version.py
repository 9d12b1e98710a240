"""The plugin API version and the compatibility rule.

A plugin may declare ``NANOFOLKS_API = "1.0"`` in its entry module: the major version must
match ours and its minor must not be newer than ours.
"""

from __future__ import annotations

API_VERSION = "1.0"


def is_compatible(declared: str, provided: str = API_VERSION) -> bool:
    try:
        want_major, want_minor = (int(part) for part in (declared.split(".") + ["0"])[:2])
        have_major, have_minor = (int(part) for part in provided.split(".")[:2])
    except ValueError:
        return False
    return want_major == have_major and want_minor <= have_minor
