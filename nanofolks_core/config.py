"""The user config file: attrs classes structured with cattrs.

Keys are camelCase as in the user guide (``allowFrom``); snake_case is accepted too.
Unknown keys are an error naming the key path; every field has a default, so old files
keep loading. Every problem is reported in one pass: unknown keys, type errors and range
errors of every section together. Numbers must be finite (no NaN/Infinity). Secrets never
reach the terminal: ``config show`` and error messages go through :mod:`nanofolks_core.masking`.
Plugins own sections (``channels.telegram``, ``providers.vllm``,
``routing`` ...) through the config classes on their specs.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import typing
from pathlib import Path
from typing import Any

import attrs

from nanofolks_core import paths, validators
from nanofolks_core.atomic import atomic_write_text
from nanofolks_core.config_structure import (
    ConfigIssue,
    camel,
    get_converter,
    structure_section,
)
from nanofolks_core.config_structure import describe_value as _describe
from nanofolks_core.errors import NanofolksError
from nanofolks_core.masking import mask_config, mask_secrets

__all__ = [
    "Config",
    "ConfigError",
    "ConfigIssue",
    "LoadResult",
    "build_config",
    "camel",
    "get_converter",
    "disabled_plugins",
    "read_raw",
    "structure_section",
    "to_dict",
    "update_raw",
]


def __getattr__(name: str) -> Any:
    # ``config.converter`` (cattrs) is built on first use: every start-up validates the config without it.
    if name == "converter":
        return get_converter()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Containers whose every key is a plugin's section (``channels.telegram``).
PLUGIN_CONTAINERS = ("channels", "providers", "tools")


#: Deeper nesting than this in config.json is a mistake (or an attack), never a real config.
MAX_DEPTH = 64


@attrs.define(kw_only=True)
class AgentDefaults:
    """``agents.defaults``: what every bot uses unless a room or router says otherwise."""

    model: str | None = None
    temperature: float = attrs.field(default=0.7, validator=validators.between(0, 2))
    max_tokens: int = attrs.field(default=4096, validator=validators.above(0))
    max_tool_iterations: int = attrs.field(default=8, validator=validators.between(0, 100))
    context_window: int | None = attrs.field(default=None, validator=validators.at_least(256))
    workspace: str | None = None
    #: Seconds a specialist may work on a delegated task before it is marked failed (timed out).
    delegation_timeout: float = attrs.field(default=600.0, validator=validators.above(0))


@attrs.define(kw_only=True)
class AgentsConfig:
    defaults: AgentDefaults = attrs.Factory(AgentDefaults)


@attrs.define(kw_only=True)
class StorageConfig:
    """``storage``: room history. ``NANOFOLKS_USE_CAS_STORAGE`` overrides ``use_cas_storage``."""

    use_cas_storage: bool = True
    backend: str = "file"


@attrs.define(kw_only=True)
class MemoryConfig:
    """``memory``: ``backend`` picks a registered memory backend; ``auto`` takes the best installed."""

    enabled: bool = True
    backend: str = "auto"


@attrs.define(kw_only=True)
class CompactionConfig:
    """``compaction``: keeping requests inside the model's window (see pipeline/compaction.py)."""

    mode: str = attrs.field(default="summary", validator=validators.one_of("summary", "token-limit", "off"))
    warn_at: float = attrs.field(default=0.7, validator=validators.above(0, 1))
    trigger_at: float = attrs.field(default=0.8, validator=validators.above(0, 1))
    #: After a compaction, the kept recent history aims at this share of the window.
    keep_share: float = attrs.field(default=0.4, validator=validators.above(0, 0.9))

    def __attrs_post_init__(self) -> None:
        if self.keep_share >= self.trigger_at:
            raise ValueError(f"keepShare ({self.keep_share}) must be below triggerAt ({self.trigger_at})")


@attrs.define(kw_only=True)
class GatewayConfig:
    """``gateway``: where ``nanofolks gateway`` serves ``GET /health`` (``--port`` overrides; 0 = any free port)."""

    host: str = "127.0.0.1"
    port: int = attrs.field(default=18790, validator=validators.between(0, 65535))


@attrs.define(kw_only=True)
class PluginsConfig:
    """``plugins``: names switched off with ``nanofolks plugins disable``."""

    disabled: list[str] = attrs.Factory(list)


@attrs.define(kw_only=True)
class Config:
    """The whole config file. Plugin sections live in ``sections`` keyed by dotted path."""

    agents: AgentsConfig = attrs.Factory(AgentsConfig)
    storage: StorageConfig = attrs.Factory(StorageConfig)
    memory: MemoryConfig = attrs.Factory(MemoryConfig)
    plugins: PluginsConfig = attrs.Factory(PluginsConfig)
    compaction: CompactionConfig = attrs.Factory(CompactionConfig)
    gateway: GatewayConfig = attrs.Factory(GatewayConfig)
    team: str = "default"
    sections: dict[str, Any] = attrs.field(factory=dict, metadata={"internal": True})
    ignored: dict[str, Any] = attrs.field(factory=dict, metadata={"internal": True})

    def section(self, path: str) -> Any:
        """The structured config object of a plugin section, or None if it has none."""
        return self.sections.get(path)


class ConfigError(NanofolksError):
    """The config file is unreadable or invalid. Lists every problem with its key path."""

    exit_code = 2

    def __init__(self, path: Path, issues: list[ConfigIssue]):
        self.path = path
        self.issues = issues
        lines = [f"invalid configuration in {path}:"]
        lines += [f"  {mask_secrets(str(issue))}" for issue in issues]
        lines.append("Fix the file, then check it with `nanofolks config lint`.")
        super().__init__("\n".join(lines))


def read_raw(path: Path) -> dict[str, Any]:
    """Read the file as JSON. A missing file is an empty config.

    Whatever is in the file, the result is a ConfigError naming the problem, never a crash:
    unreadable, not UTF-8, not JSON, nested absurdly deep, or not an object at the top.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(path, [ConfigIssue("", f"cannot read the file: {exc.strerror}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            path,
            [
                ConfigIssue(
                    "",
                    f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column {column} "
                    "(save the file as UTF-8)",
                )
            ],
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a BOM from a Windows editor is harmless
    try:
        raw = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(
            path, [ConfigIssue("", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")]
        ) from None
    except RecursionError:
        raw = None
    if raw is None or _too_deep(raw):
        raise ConfigError(
            path, [ConfigIssue("", f"nested more than {MAX_DEPTH} levels deep; a config file never needs that")]
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(path, [ConfigIssue("", f"the top level must be a JSON object, got {_describe(raw)}")])
    return raw


def _too_deep(data: Any) -> bool:
    """True if objects/lists nest deeper than MAX_DEPTH (checked without recursion)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def disabled_plugins(raw: dict[str, Any], path: Path) -> list[str]:
    """``plugins.disabled`` from a raw config, validated on its own (no plugin is imported).

    If it is invalid, no plugin can safely load; the error lists every problem of the core
    sections too, so one run shows them all.
    """
    section = raw.get("plugins", {})
    plugins_cfg, issues = structure_section(section, PluginsConfig, "plugins")
    if issues:
        try:
            build_config(raw, path, {}, ["(not loaded)"])
        except ConfigError as exc:
            raise ConfigError(path, exc.issues) from None
        raise ConfigError(path, issues)
    return list(plugins_cfg.disabled)


@attrs.frozen
class LoadResult:
    config: Config
    warnings: list[ConfigIssue]


def build_config(
    raw: dict[str, Any],
    path: Path,
    sections: dict[str, type],
    unloaded_plugins: list[str] = (),  # type: ignore[assignment]
) -> LoadResult:
    """Structure a raw config with the core classes and every registered plugin section.

    A section no enabled plugin provides is an error, unless some installed plugin is
    disabled or failed: then it may be that plugin's, so it is kept, ignored, and reported
    as a warning.
    """
    raw = copy.deepcopy(raw)
    issues: list[ConfigIssue] = []
    warnings: list[ConfigIssue] = []
    structured: dict[str, Any] = {}
    for section_path, cls in sorted(sections.items()):
        *parents, leaf = section_path.split(".")
        holder: Any = raw
        for part in parents:
            holder = holder.get(part) if isinstance(holder, dict) else None
        value = holder.pop(leaf, {}) if isinstance(holder, dict) else {}
        obj, section_issues = structure_section(value, cls, section_path)
        issues += section_issues
        structured[section_path] = obj

    ignored: dict[str, Any] = {}
    core_keys = {camel(f.name) for f in attrs.fields(Config) if not f.metadata.get("internal")}
    core_keys |= {f.name for f in attrs.fields(Config) if not f.metadata.get("internal")}

    def unknown_section(key: str, value: Any, known: list[str]) -> None:
        if unloaded_plugins:
            ignored[key] = value
            warnings.append(
                ConfigIssue(
                    key,
                    "no enabled plugin provides this section; ignored "
                    f"(not loaded: {', '.join(sorted(unloaded_plugins))})",
                    "warning",
                )
            )
            return
        hint = difflib.get_close_matches(key.rsplit(".", 1)[-1], known, n=1)
        if hint:
            extra = f" (did you mean '{hint[0]}'?)"
        elif key.startswith("channels."):  # chat apps are installed by their name: nanofolks-telegram
            extra = f"; install it (`pip install nanofolks-{key.split('.', 1)[1]}`) or remove the section"
        else:
            extra = "; install the plugin that provides it or remove the section"
        issues.append(ConfigIssue(key, f"no installed plugin provides this section{extra}"))

    for container in PLUGIN_CONTAINERS:
        value = raw.pop(container, None)
        if value is None:
            continue
        if not isinstance(value, dict):
            issues.append(ConfigIssue(container, f"expected an object, got {_describe(value)}"))
            continue
        known = [p.split(".", 1)[1] for p in sections if p.startswith(container + ".")]
        for name, item in value.items():
            unknown_section(f"{container}.{name}", item, known)

    known_top = sorted(core_keys | {p.split(".")[0] for p in sections} | set(PLUGIN_CONTAINERS))
    for key in list(raw):
        if key not in core_keys and isinstance(raw[key], dict):
            unknown_section(key, raw.pop(key), known_top)
    for key, cls_field in (("memory", MemoryConfig), ("storage", StorageConfig)):
        sub = raw.get(key)
        if isinstance(sub, dict):
            fields = {camel(f.name) for f in attrs.fields(cls_field)} | {f.name for f in attrs.fields(cls_field)}
            for name in [n for n, v in sub.items() if n not in fields and isinstance(v, dict)]:
                unknown_section(f"{key}.{name}", sub.pop(name), [])

    config, core_issues = structure_section(raw, Config, "")
    issues += core_issues
    if issues:
        raise ConfigError(path, issues)
    config.sections = structured
    config.ignored = ignored
    _apply_env_overrides(config, path)
    return LoadResult(config, warnings)


def _apply_env_overrides(config: Config, path: Path) -> None:
    flag = os.environ.get("NANOFOLKS_USE_CAS_STORAGE")
    if flag is not None:
        lowered = flag.strip().lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(path, [ConfigIssue("NANOFOLKS_USE_CAS_STORAGE", f"expected true or false, got {flag!r}")])
        config.storage.use_cas_storage = lowered in ("1", "true", "yes", "on")


def to_dict(config: Config) -> dict[str, Any]:
    """The config as JSON-able data with camelCase keys and every secret masked (for ``config show``).

    Secret fields print as ``***`` (references like ``env:NAME`` as written), header values
    and URL credentials are masked too (see :func:`nanofolks_core.masking.mask_config`).
    """
    converter = get_converter()
    data = converter.unstructure(config)
    for section_path, obj in sorted(config.sections.items()):
        holder = data
        *parents, leaf = section_path.split(".")
        for part in parents:
            holder = holder.setdefault(part, {})
        holder[leaf] = converter.unstructure(obj) if obj is not None else None
    return mask_config(data)


def update_raw(path: Path, mutate: typing.Callable[[dict[str, Any]], None]) -> None:
    """Read the file as JSON, apply ``mutate`` and write it back atomically.

    Everything not touched by ``mutate`` (including sections of plugins that are not loaded)
    is kept as it was. A lock file serializes concurrent updates (two ``plugins disable`` at
    once both land), and a symlinked config.json stays a symlink: its target is rewritten.
    """
    from nanofolks_core.atomic import file_lock, private_dir

    target = path.resolve() if path.is_symlink() else path
    private_dir(target.parent)  # owner-only like every folder and file in the data folder
    with file_lock(target.with_name(target.name + ".lock")):
        raw = read_raw(target)
        mutate(raw)
        atomic_write_text(target, json.dumps(raw, indent=2, ensure_ascii=False) + "\n", mode=0o600)


def default_path() -> Path:
    return paths.config_path()
