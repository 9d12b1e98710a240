"""Building the enabled channels for the gateway (and for ``nanofolks channels login``).

A channel that cannot be built (a token that is not set, its SDK not installed, any exception
of its factory) becomes ``failed`` with a one-line reason; the others are built and run anyway.
"""

from __future__ import annotations

import logging
from typing import Any

from nanofolks_core.errors import NanofolksError
from nanofolks_core.gateway.supervisor import describe_error

log = logging.getLogger("nanofolks.gateway")


def enabled_channel_specs(app: Any) -> list[tuple[Any, Any]]:
    """``(spec, config section)`` of every installed channel whose section says ``enabled``."""
    found = []
    for spec in app.registry.all("channel"):
        path = spec.config_section()
        section = app.config.section(path) if path else None
        if getattr(section, "enabled", False):
            found.append((spec, section))
    return found


def build_channel(app: Any, spec: Any, section: Any) -> Any:
    """Build one channel the one way (``factory(spec=, config=, services=)``). Whatever goes
    wrong comes back as a :class:`NanofolksError` whose one-line message says what to do."""
    from nanofolks_core.secret import SecretUnavailable

    owner = app.registry.owner(spec.kind, spec.name) or "core"
    try:
        return app.build(spec, config=section)
    except SecretUnavailable as exc:
        raise NanofolksError(f"a secret is missing: {exc}") from exc
    except NanofolksError:
        raise
    except ImportError as exc:
        missing = exc.name or str(exc)
        raise NanofolksError(
            f"cannot import {missing} (the channel's SDK?): reinstall the plugin, e.g. `pip install --force-reinstall "
            f"nanofolks-{owner}`"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - plugin code: one broken channel, not a broken gateway
        log.debug("building channel %s failed", spec.name, exc_info=True)
        raise NanofolksError(describe_error(exc)) from exc


def add_channels(supervisor: Any, app: Any) -> None:
    """Build every enabled channel into ``supervisor``; one that cannot be built is ``failed``
    with its reason, the others run. Warns about a channel that will answer nobody."""
    for spec, section in enabled_channel_specs(app):
        try:
            channel = build_channel(app, spec, section)
        except NanofolksError as exc:
            supervisor.add_failed(spec.name, str(exc))
            continue
        if not getattr(section, "allow_from", None):
            log.warning(
                "channel %s: channels.%s.allowFrom is empty, so it will answer nobody; "
                'list user ids there, or "*" for anyone',
                spec.name,
                spec.name,
            )
        supervisor.add(spec.name, channel)
