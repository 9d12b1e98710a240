"""Symbolic references: a credential in a message becomes ``{{name}}``, its value goes to the store.

The model, the room history, memory and logs only ever hold ``{{github_token}}``. A tool's
arguments are resolved to the values when it runs (:func:`resolve_tool_arguments`), the use is
written to the audit log, and the values are turned back into references in what the tool returns.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

import attrs

from nanofolks_core.security.detect import CredentialDetector, Detection, masked, replace

log = logging.getLogger("nanofolks.security")

#: ``{{name}}``: the form a stored credential takes in any text.
REFERENCE = re.compile(r"\{\{([A-Za-z0-9_.\-]{1,100})\}\}")
#: Values shorter than this are not swapped back to references in tool output (too likely to be ordinary text).
_MIN_HIDDEN = 6


@attrs.frozen
class ScanFinding:
    """One credential found by :meth:`ReferenceGuard.scan`: where it was and what replaced it."""

    kind: str
    start: int
    end: int
    reference: str | None  # None when it could only be masked (no secret store)


class ReferenceGuard:
    """What a text passes before a model sees it: credentials -> ``{{name}}``, the rest masked.

    ``store`` returns the secret store to keep values in (or None when there is none; then
    credentials are masked, ``sk-or-v1-ab***``, and cannot be used by tools).
    """

    def __init__(self, detector: CredentialDetector, store: Callable[[], Any]) -> None:
        self.detector = detector
        self._store = store
        self._known: dict[str, str] = {}  # value -> name, for values seen in this process
        self._lock = threading.Lock()
        self._warned = False

    @classmethod
    def from_app(cls, app: Any) -> ReferenceGuard:
        """The guard for ``app``'s registered patterns and its first available secret store."""

        def store() -> Any:
            for candidate in app.secret_stores:
                if candidate.available():
                    return candidate
            return None

        return cls(CredentialDetector(app.registry.all("secret-pattern")), store)

    def __call__(self, text: str) -> str:
        return self.protect(text)

    def protect(self, text: str) -> str:
        """``text`` with every credential saved and replaced by its ``{{name}}``."""
        if not text or not isinstance(text, str):
            return text
        return self.scan(text)[0]

    def scan(self, text: str, *, dry_run: bool = False) -> tuple[str, list[ScanFinding]]:
        """(text as the model would see it, findings). ``dry_run`` names references but stores nothing."""
        text = self._hide_known(text)
        found = self.detector.find(text)
        if not found:
            return text, []
        store = self._safe_store()
        names: list[str | None] = []
        named: dict[str, str] = {}  # value -> name within this text (a dry run stores nothing to ask)
        with self._lock:
            for detection in found:
                names.append(self._save(store, detection, dry_run, named) if store is not None else None)
        if store is None and not self._warned:
            self._warned = True
            log.warning(
                "credentials in messages are masked, not kept: no secret store is available "
                "(install nanofolks-keyring to use {{references}})"
            )
        parts, last = [], 0
        findings = []
        for detection, name in zip(found, names, strict=True):
            parts.append(text[last : detection.start])
            parts.append("{{" + name + "}}" if name else masked(detection.value))
            last = detection.end
            findings.append(ScanFinding(detection.kind, detection.start, detection.end, name))
        parts.append(text[last:])
        return "".join(parts), findings

    def mask(self, text: str) -> str:
        """The sanitizer's last line: mask any credential left, store nothing."""
        return replace(text, self.detector.find(text), masked) if text else text

    # -- names -------------------------------------------------------------------------------

    def _safe_store(self) -> Any:
        try:
            return self._store()
        except Exception as exc:  # noqa: BLE001 - a broken store means masking, never a lost message
            log.warning("secret store unavailable, credentials are masked: %s", exc)
            return None

    def _save(self, store: Any, detection: Detection, dry_run: bool, named: dict[str, str]) -> str | None:
        value = detection.value
        if value in self._known or value in named:
            return self._known.get(value) or named[value]
        try:
            name = self._name_for(store, detection.reference, value, set(named.values()))
            if not dry_run and store.get(name) != value:
                store.set(name, value)
        except Exception as exc:  # noqa: BLE001 - keep the message going; the value is masked instead
            log.warning("could not keep a %s in the secret store, it is masked: %s", detection.kind, exc)
            return None
        named[value] = name
        if not dry_run:
            self._known[value] = name
        return name

    def _name_for(self, store: Any, base: str, value: str, pending: set[str]) -> str:
        """``base`` if free or already holding ``value``; else the first free ``base_2``, ``base_3`` ..."""
        taken = {n for n in store.names() if n == base or re.fullmatch(re.escape(base) + r"_\d+", n)}
        for name in sorted(taken, key=_number):
            if store.get(name) == value:
                return name
        taken |= pending
        number = 1
        while (name := base if number == 1 else f"{base}_{number}") in taken:
            number += 1
        return name

    def _hide_known(self, text: str) -> str:
        for value, name in list(self._known.items()):
            if len(value) >= _MIN_HIDDEN and value in text:
                text = text.replace(value, "{{" + name + "}}")
        return text


def _number(name: str) -> int:
    match = re.search(r"_(\d+)$", name)
    return int(match.group(1)) if match else 1


# -- tools ------------------------------------------------------------------------------------


def resolve_references(value: Any, lookup: Callable[[str], str | None]) -> tuple[Any, dict[str, str]]:
    """``value`` (str, or lists/dicts of them) with each ``{{name}}`` the store knows replaced by its value.

    Returns (resolved value, {name: value} used). Unknown names stay as written.
    """
    used: dict[str, str] = {}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in used:
            secret = lookup(name)
            if not secret:
                return match.group(0)
            used[name] = secret
        return used[name]

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return REFERENCE.sub(substitute, item) if "{{" in item else item
        if isinstance(item, dict):
            return {key: walk(val) for key, val in item.items()}
        if isinstance(item, list | tuple):
            return type(item)(walk(val) for val in item)
        return item

    return walk(value), used


def hide_values(text: str, used: dict[str, str]) -> str:
    """Turn the values a tool received back into their ``{{name}}`` (longest first)."""
    for name, value in sorted(used.items(), key=lambda item: -len(item[1])):
        if len(value) >= _MIN_HIDDEN:
            text = text.replace(value, "{{" + name + "}}")
        else:  # a short value only where it stands alone, not inside other words
            text = re.sub(r"(?<!\w)" + re.escape(value) + r"(?!\w)", "{{" + name + "}}", text)
    return text


def resolve_tool_arguments(
    tool: str, arguments: dict[str, Any], context: Any, services: Any
) -> tuple[dict[str, Any], Callable[[str], str]]:
    """For :meth:`BoundTool.call`: the arguments with ``{{name}}`` resolved through the secret
    stores, the use written to the audit log, and a function that hides the values again in the
    tool's output. Raises ``SecretUnavailable`` when a reference cannot be resolved for lack of a store.
    """
    if "{{" not in repr(arguments):
        return arguments, lambda text: text
    resolved, used = resolve_references(arguments, services.secret_lookup)
    if not used:
        return arguments, lambda text: text
    from nanofolks_core.security.audit import AuditLog

    AuditLog(services.data_root).record(
        tool=tool, references=list(used), room=context.room, bot=context.bot, plugin=services.plugin
    )
    return resolved, lambda text: hide_values(text, used)
