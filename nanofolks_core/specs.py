"""Spec records that registration hooks hand to the core.

A spec is a frozen attrs record: cheap to build, no I/O, no heavy imports. Where a
contribution has a runtime (a channel, a provider ...), the spec names it with an
import string ``"package.module:attr"`` that the core imports only when the
contribution is enabled and actually used.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, ClassVar

import attrs

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_IMPORT_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _check_name(_inst: object, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(
            f"{attribute.name} {value!r} is not valid: use 1-63 lowercase letters, digits, '-' or '_', "
            "starting with a letter"
        )


def _check_import_string(_inst: object, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not _IMPORT_RE.match(value):
        raise ValueError(f"{attribute.name} {value!r} is not an import string of the form 'package.module:attribute'")


def _check_optional_class(_inst: object, attribute: attrs.Attribute, value: object) -> None:
    if value is not None and not attrs.has(value):  # type: ignore[arg-type]
        raise TypeError(f"{attribute.name} must be an attrs class or None, got {value!r}")


def import_object(import_string: str) -> Any:
    """Import ``"package.module:attr.sub"`` (or a bare ``"package.module"``) and return the named object."""
    module_name, _, qualname = import_string.partition(":")
    obj: Any = importlib.import_module(module_name.strip())
    for part in filter(None, qualname.strip().split(".")):
        obj = getattr(obj, part)
    return obj


@attrs.frozen(kw_only=True)
class Spec:
    """Fields shared by every spec: a unique ``name`` within its kind and a one-line ``summary``."""

    kind: ClassVar[str] = ""
    name: str = attrs.field(validator=_check_name)
    summary: str = ""


@attrs.frozen(kw_only=True)
class RuntimeSpec(Spec):
    """A contribution with a lazily imported runtime and an optional config class.

    ``factory`` is imported by :meth:`load` only when the contribution is used.
    ``config_class`` (an attrs class, importable cheaply) describes the plugin's own
    config section; :meth:`config_section` says where that section lives in config.json.
    """

    section_root: ClassVar[str | None] = None
    factory: str = attrs.field(validator=_check_import_string)
    config_class: type | None = attrs.field(default=None, validator=_check_optional_class)

    def load(self) -> Any:
        """Import and return the runtime object named by ``factory``."""
        return import_object(self.factory)

    def config_section(self) -> str | None:
        """Dotted path of this contribution's config section, or None if it has none."""
        if self.config_class is None or self.section_root is None:
            return None
        return f"{self.section_root}.{self.name}"


@attrs.frozen(kw_only=True)
class ChannelSpec(RuntimeSpec):
    """A chat channel (terminal, Telegram, ...). Config section ``channels.<name>``."""

    kind: ClassVar[str] = "channel"
    section_root: ClassVar[str | None] = "channels"


@attrs.frozen(kw_only=True)
class ProviderSpec(RuntimeSpec):
    """An LLM provider. Config section ``providers.<name>``.

    ``env_keys`` are the environment variables that may hold its API key, in order of
    preference; ``model_prefixes`` are the model-name prefixes it serves (``"openrouter/"``).
    """

    kind: ClassVar[str] = "provider"
    section_root: ClassVar[str | None] = "providers"
    env_keys: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    model_prefixes: tuple[str, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen(kw_only=True)
class MemoryBackendSpec(RuntimeSpec):
    """A memory backend. Config section ``memory.<name>``."""

    kind: ClassVar[str] = "memory"
    section_root: ClassVar[str | None] = "memory"


@attrs.frozen(kw_only=True)
class SessionStoreSpec(RuntimeSpec):
    """Storage for room history (files by default; a shared database later). Section ``storage.<name>``."""

    kind: ClassVar[str] = "session-store"
    section_root: ClassVar[str | None] = "storage"


@attrs.frozen(kw_only=True)
class TierSpec(Spec):
    """A router tier (simple, medium, complex, reasoning, coding ...).

    ``rank`` orders tiers by capability and cost (higher is stronger); ``default_model`` is
    used when ``routing.tiers.<name>.model`` is not configured.
    """

    kind: ClassVar[str] = "router-tier"
    rank: int = 0
    default_model: str | None = None


@attrs.frozen(kw_only=True)
class ClassifierSpec(RuntimeSpec):
    """A tier classifier: decides which router tier a message needs. Section ``routing.<name>``."""

    kind: ClassVar[str] = "tier-classifier"
    section_root: ClassVar[str | None] = "routing"


@attrs.frozen(kw_only=True)
class TeamSpec(Spec):
    """A team persona pack. ``resource`` is ``"package:relative/file.toml"`` shipped as package data."""

    kind: ClassVar[str] = "team"
    title: str = ""
    resource: str = attrs.field(validator=_check_import_string)


@attrs.frozen(kw_only=True)
class SkillSpec(Spec):
    """A skill: a folder with a SKILL.md, named ``"package:relative/dir"``."""

    kind: ClassVar[str] = "skill"
    resource: str = attrs.field(validator=_check_import_string)


@attrs.frozen(kw_only=True)
class SkillScannerSpec(RuntimeSpec):
    """A security scanner for skills (bandit, ...)."""

    kind: ClassVar[str] = "skill-scanner"


@attrs.frozen(kw_only=True)
class SecretStoreSpec(RuntimeSpec):
    """A place secrets can be read from and written to (keyring, a 0600 file ...).

    Stores are tried from the highest ``priority`` down.
    """

    kind: ClassVar[str] = "secret-store"
    priority: int = 0


@attrs.frozen(kw_only=True)
class SecretPatternSpec(Spec):
    """A regular expression that recognises a credential, for the secret sanitizer."""

    kind: ClassVar[str] = "secret-pattern"
    pattern: str

    def __attrs_post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"secret pattern {self.name!r} is not a valid regular expression: {exc}") from None


@attrs.frozen(kw_only=True)
class ToolSpec(RuntimeSpec):
    """A tool bots may call.

    A bot gets a tool when its role lists the tool's name (``nanofolks_core.crew.roles``) or
    when ``roles`` names that role, so plugins can hand new tools to existing roles.
    """

    kind: ClassVar[str] = "tool"
    section_root: ClassVar[str | None] = "tools"
    roles: tuple[str, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen(kw_only=True)
class CommandSpec(Spec):
    """A top-level CLI command: ``factory`` names a click command or group, imported when run."""

    kind: ClassVar[str] = "command"
    factory: str = attrs.field(validator=_check_import_string)

    def load(self) -> Any:
        return import_object(self.factory)


@attrs.frozen(kw_only=True)
class ConfigSectionSpec:
    """A config section owned by a plugin that is not tied to one spec (``routing``, ``routines``)."""

    kind: ClassVar[str] = "config-section"
    path: str = attrs.field()
    config_class: type = attrs.field(validator=_check_optional_class)

    @path.validator
    def _check_path(self, _attribute: attrs.Attribute, value: str) -> None:
        if not value or not all(_NAME_RE.match(part) for part in value.split(".")):
            raise ValueError(f"config section path {value!r} must be dotted lowercase names like 'routing'")

    @property
    def name(self) -> str:
        return self.path
