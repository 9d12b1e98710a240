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
# "package:relative/path" to package data; no absolute paths, no climbing out with "..".
_RESOURCE_RE = re.compile(r"^[A-Za-z_][\w.]*:(?!/)[\w.\-]+(?:/[\w.\-]+)*/?$")


#: The six crew roles' names, as ``nanofolks_core.crew.roles.ROLE_ORDER`` has them (a test keeps the
#: two equal). Kept here because importing the crew package to check a tool's ``roles`` costs every
#: start-up ~10 ms (team files, tomllib, importlib.resources) that listing plugins never needs.
CREW_ROLE_NAMES: tuple[str, ...] = ("leader", "researcher", "coder", "social", "creative", "auditor")


def _as_tuple(value: Any) -> tuple:
    # Not ``converter=tuple``: attrs reads a converter's signature, and for a builtin that parses its
    # text signature (~1 ms a field, paid at every start-up).
    return tuple(value)


def _check_name(_inst: object, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(
            f"{attribute.name} {value!r} is not valid: use 1-63 lowercase letters, digits, '-' or '_', "
            "starting with a letter"
        )


def _check_import_string(_inst: object, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not _IMPORT_RE.match(value):
        raise ValueError(f"{attribute.name} {value!r} is not an import string of the form 'package.module:attribute'")


def _check_resource(_inst: object, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not _RESOURCE_RE.match(value) or ".." in value.partition(":")[2].split("/"):
        raise ValueError(
            f"{attribute.name} {value!r} is not a package resource of the form 'package:relative/path' "
            "(e.g. 'my_team:data/team.toml')"
        )


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
    #: The registration hook (in hookspecs.py) that contributes specs of this kind.
    hook: ClassVar[str] = ""
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

    def build(self, config: Any, services: Any) -> Any:
        """Build the runtime the one way every kind is built: ``factory(spec=, config=, services=)``.

        ``config`` is this contribution's own validated config section (or None); ``services``
        the :class:`nanofolks_core.contracts.Services` of the plugin that registered it.
        """
        return self.load()(spec=self, config=config, services=services)

    def config_section(self) -> str | None:
        """Dotted path of this contribution's config section, or None if it has none."""
        if self.config_class is None or self.section_root is None:
            return None
        return f"{self.section_root}.{self.name}"


@attrs.frozen(kw_only=True)
class ChannelSpec(RuntimeSpec):
    """A chat channel (terminal, Telegram, ...). Config section ``channels.<name>``."""

    kind: ClassVar[str] = "channel"
    hook: ClassVar[str] = "nanofolks_register_channels"
    section_root: ClassVar[str | None] = "channels"


@attrs.frozen(kw_only=True)
class ProviderSpec(RuntimeSpec):
    """An LLM provider. Config section ``providers.<name>``.

    ``env_keys`` are the environment variables that may hold its API key, in order of
    preference; ``model_prefixes`` are the model-name prefixes it serves (``"openrouter/"``).
    """

    kind: ClassVar[str] = "provider"
    hook: ClassVar[str] = "nanofolks_register_providers"
    section_root: ClassVar[str | None] = "providers"
    env_keys: tuple[str, ...] = attrs.field(default=(), converter=_as_tuple)
    model_prefixes: tuple[str, ...] = attrs.field(default=(), converter=_as_tuple)


@attrs.frozen(kw_only=True)
class MemoryBackendSpec(RuntimeSpec):
    """A memory backend. Config section ``memory.<name>``."""

    kind: ClassVar[str] = "memory"
    hook: ClassVar[str] = "nanofolks_register_memory_backends"
    section_root: ClassVar[str | None] = "memory"


@attrs.frozen(kw_only=True)
class SessionStoreSpec(RuntimeSpec):
    """Storage for room history (files by default; a shared database later). Section ``storage.<name>``."""

    kind: ClassVar[str] = "session-store"
    hook: ClassVar[str] = "nanofolks_register_session_stores"
    section_root: ClassVar[str | None] = "storage"


@attrs.frozen(kw_only=True)
class TierSpec(Spec):
    """A router tier (simple, medium, complex, reasoning, coding ...).

    ``rank`` orders tiers by capability and cost (higher is stronger); ``default_model`` is
    used when ``routing.tiers.<name>.model`` is not configured.
    """

    kind: ClassVar[str] = "router-tier"
    hook: ClassVar[str] = "nanofolks_register_router_tiers"
    rank: int = 0
    default_model: str | None = None


@attrs.frozen(kw_only=True)
class RouterSpec(RuntimeSpec):
    """A router: picks the model tier for each user message (:class:`nanofolks_core.contracts.Router`).

    Its config section is ``routing`` itself (``config_class`` describes the whole section);
    the core uses the first registered router.
    """

    kind: ClassVar[str] = "router"
    hook: ClassVar[str] = "nanofolks_register_routers"
    section_root: ClassVar[str | None] = "routing"

    def config_section(self) -> str | None:
        return self.section_root if self.config_class is not None else None


@attrs.frozen(kw_only=True)
class TeamSpec(Spec):
    """A team persona pack. ``resource`` is ``"package:relative/file.toml"`` shipped as package data."""

    kind: ClassVar[str] = "team"
    hook: ClassVar[str] = "nanofolks_register_teams"
    title: str = ""
    resource: str = attrs.field(validator=_check_resource)


@attrs.frozen(kw_only=True)
class SkillSpec(Spec):
    """A skill: a folder with a SKILL.md, named ``"package:relative/dir"``."""

    kind: ClassVar[str] = "skill"
    hook: ClassVar[str] = "nanofolks_register_skills"
    resource: str = attrs.field(validator=_check_resource)


@attrs.frozen(kw_only=True)
class SkillScannerSpec(RuntimeSpec):
    """A security scanner for skills (bandit, ...)."""

    kind: ClassVar[str] = "skill-scanner"
    hook: ClassVar[str] = "nanofolks_register_skill_scanners"


@attrs.frozen(kw_only=True)
class SecretStoreSpec(RuntimeSpec):
    """A place secrets can be read from and written to (keyring, a 0600 file ...).

    Stores are tried from the highest ``priority`` down.
    """

    kind: ClassVar[str] = "secret-store"
    hook: ClassVar[str] = "nanofolks_register_secret_stores"
    priority: int = 0


@attrs.frozen(kw_only=True)
class SecretPatternSpec(Spec):
    """A regular expression that recognises a credential, for the secret sanitizer."""

    kind: ClassVar[str] = "secret-pattern"
    hook: ClassVar[str] = "nanofolks_register_secret_patterns"
    pattern: str = attrs.field()

    @pattern.validator
    def _check_pattern(self, _attribute: attrs.Attribute, value: str) -> None:
        try:
            re.compile(value)
        except (re.error, TypeError) as exc:
            raise ValueError(f"secret pattern {self.name!r} is not a valid regular expression: {exc}") from None


@attrs.frozen(kw_only=True)
class ToolSpec(RuntimeSpec):
    """A tool bots may call. Config section ``tools.<name>``.

    ``factory`` names a plain function (its signature and docstring are the schema) or a
    class built as ``cls(spec=, config=, services=)``; see :mod:`nanofolks_core.tools`.
    ``roles``: ``("*",)`` (the default) offers the tool to every bot; otherwise the crew roles
    it is offered to. It alone decides which bots get the tool, whatever the tool's name.
    """

    kind: ClassVar[str] = "tool"
    hook: ClassVar[str] = "nanofolks_register_tools"
    section_root: ClassVar[str | None] = "tools"
    roles: tuple[str, ...] = attrs.field(default=("*",), converter=_as_tuple)

    @roles.validator
    def _check_roles(self, _attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
        if not value:
            raise ValueError(
                f"tool {self.name!r}: roles is empty, so no bot would be offered it; "
                'leave roles out (every bot) or name the roles, e.g. roles=("coder",)'
            )
        if value == ("*",):
            return
        unknown = [role for role in value if role not in CREW_ROLE_NAMES]
        if unknown:
            raise ValueError(
                f"tool {self.name!r}: unknown role {unknown[0]!r} in roles; "
                f"known roles: {', '.join(CREW_ROLE_NAMES)} (or '*' for every bot)"
            )

    def offered_to(self, role: str) -> bool:
        """Whether ``roles`` offers this tool to a bot of ``role``."""
        return self.roles == ("*",) or role in self.roles


@attrs.frozen(kw_only=True)
class CommandSpec(Spec):
    """A top-level CLI command: ``factory`` names a click command or group, imported when run."""

    kind: ClassVar[str] = "command"
    hook: ClassVar[str] = "nanofolks_register_commands"
    factory: str = attrs.field(validator=_check_import_string)

    def load(self) -> Any:
        """Import and return the click command named by ``factory``."""
        return import_object(self.factory)


@attrs.frozen(kw_only=True)
class ServiceSpec(RuntimeSpec):
    """A background service the gateway runs next to the channels (routines, ...).

    Its runtime, built ``factory(spec=, config=, services=)``, has ``async run(crew)`` that runs
    until cancelled; ``crew`` is a :class:`nanofolks_core.contracts.CrewAccess`. The gateway runs
    each service as a supervised task (restarted with backoff when ``run`` returns or raises)
    and shows its state in ``GET /health`` under ``services``. No config section of its own: a
    service that needs settings registers a :class:`ConfigSectionSpec`.
    """

    kind: ClassVar[str] = "service"
    hook: ClassVar[str] = "nanofolks_register_services"


def _check_every(_inst: object, _attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"every must be a whole number of seconds >= 1, got {value!r}")


@attrs.frozen(kw_only=True)
class RoutineSpec(Spec):
    """A team routine (check-in) a plugin ships: a message sent to the crew on a schedule.

    Exactly one of ``schedule`` (a five-field cron line, in ``tz`` or the machine's zone) and
    ``every`` (seconds). The run asks ``bot`` in ``room``; ``{open_tasks}`` in ``message`` is
    replaced with the room's open tasks. ``team``: run only while that team is the active one.
    ``needs_open_tasks``: skip the run (no model call) when the room has no open task.
    ``quiet_seconds``: wait until nobody has written in the room for that long, so a check-in
    never interrupts a conversation. Users list, pause and resume these with ``nanofolks routines``
    (the ``nanofolks-routines`` plugin runs them).
    """

    kind: ClassVar[str] = "routine"
    hook: ClassVar[str] = "nanofolks_register_routines"
    message: str = attrs.field(validator=attrs.validators.instance_of(str))
    schedule: str | None = None
    every: int | None = attrs.field(default=None, validator=_check_every)
    room: str = "general"
    bot: str = "leader"
    tz: str | None = None
    team: str | None = None
    needs_open_tasks: bool = False
    quiet_seconds: float = 300.0

    def __attrs_post_init__(self) -> None:
        if (self.schedule is None) == (self.every is None):
            raise ValueError(f"routine {self.name!r}: give exactly one of schedule (a cron line) and every (seconds)")
        if self.schedule is not None and len(self.schedule.split()) != 5:
            raise ValueError(
                f"routine {self.name!r}: schedule {self.schedule!r} is not a five-field cron line "
                "(minute hour day-of-month month day-of-week), e.g. '0 9 * * *'"
            )
        if not self.message.strip():
            raise ValueError(f"routine {self.name!r}: message is empty")


@attrs.frozen(kw_only=True)
class ConfigSectionSpec:
    """A config section owned by a plugin that is not tied to one spec (``routing``, ``routines``)."""

    kind: ClassVar[str] = "config-section"
    hook: ClassVar[str] = "nanofolks_register_config_sections"
    path: str = attrs.field()
    config_class: type = attrs.field(validator=_check_optional_class)

    @path.validator
    def _check_path(self, _attribute: attrs.Attribute, value: str) -> None:
        if not value or not all(_NAME_RE.match(part) for part in value.split(".")):
            raise ValueError(f"config section path {value!r} must be dotted lowercase names like 'routing'")

    @property
    def name(self) -> str:
        return self.path


#: Every spec class, one per registration hook: the registry and the docs derive their tables from it.
SPEC_CLASSES: tuple[type, ...] = (
    ChannelSpec,
    ProviderSpec,
    MemoryBackendSpec,
    SessionStoreSpec,
    TierSpec,
    RouterSpec,
    TeamSpec,
    SkillSpec,
    SkillScannerSpec,
    SecretStoreSpec,
    SecretPatternSpec,
    ToolSpec,
    CommandSpec,
    ServiceSpec,
    RoutineSpec,
    ConfigSectionSpec,
)
