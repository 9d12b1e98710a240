"""The user config file: attrs classes structured with cattrs.

Keys are camelCase as in the user guide (``allowFrom``); snake_case is accepted too.
Unknown keys are an error naming the key path; every field has a default, so old files
keep loading. Plugins own sections (``channels.telegram``, ``providers.vllm``,
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
import cattrs
from cattrs.cols import is_mapping, is_sequence, list_structure_factory, mapping_structure_factory
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from nanofolks_core import paths
from nanofolks_core.atomic import atomic_write_text
from nanofolks_core.errors import NanofolksError
from nanofolks_core.secret import Secret

# Containers whose every key is a plugin's section (``channels.telegram``).
PLUGIN_CONTAINERS = ("channels", "providers", "tools")


def _between(low: float, high: float | None = None, *, above: bool = False):
    """An attrs validator whose message names the config key (camelCase) and the allowed range."""

    def check(_inst: object, attribute: attrs.Attribute, value: float | None) -> None:
        if value is None:
            return
        too_low = value <= low if above else value < low
        if too_low or (high is not None and value > high):
            bound = f"above {low}" if above else f"at least {low}"
            limit = f"{bound} and at most {high}" if high is not None else bound
            raise ValueError(f"{camel(attribute.name)} must be {limit}, got {value}")

    return check


@attrs.define(kw_only=True)
class AgentDefaults:
    """``agents.defaults``: what every bot uses unless a room or router says otherwise."""

    model: str | None = None
    temperature: float = attrs.field(default=0.7, validator=_between(0, 2))
    max_tokens: int = attrs.field(default=4096, validator=_between(0, above=True))
    max_tool_iterations: int = attrs.field(default=8, validator=_between(0, 100))
    context_window: int | None = attrs.field(default=None, validator=_between(256))
    workspace: str | None = None


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

    mode: str = attrs.field(default="summary")
    warn_at: float = attrs.field(default=0.7, validator=_between(0, 1, above=True))
    trigger_at: float = attrs.field(default=0.8, validator=_between(0, 1, above=True))
    #: After a compaction, the kept recent history aims at this share of the window.
    keep_share: float = attrs.field(default=0.4, validator=_between(0, 0.9, above=True))

    @mode.validator
    def _check_mode(self, _attribute: attrs.Attribute, value: str) -> None:
        if value not in ("summary", "token-limit", "off"):
            raise ValueError(f"mode must be summary, token-limit or off, not {value!r}")

    def __attrs_post_init__(self) -> None:
        if self.keep_share >= self.trigger_at:
            raise ValueError(f"keepShare ({self.keep_share}) must be below triggerAt ({self.trigger_at})")


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
    team: str = "default"
    sections: dict[str, Any] = attrs.field(factory=dict, metadata={"internal": True})
    ignored: dict[str, Any] = attrs.field(factory=dict, metadata={"internal": True})

    def section(self, path: str) -> Any:
        """The structured config object of a plugin section, or None if it has none."""
        return self.sections.get(path)


@attrs.frozen
class ConfigIssue:
    key: str  # dotted key path, "" for the whole file
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


class ConfigError(NanofolksError):
    """The config file is unreadable or invalid. Lists every problem with its key path."""

    exit_code = 2

    def __init__(self, path: Path, issues: list[ConfigIssue]):
        self.path = path
        self.issues = issues
        lines = [f"invalid configuration in {path}:"]
        lines += [f"  {issue}" for issue in issues]
        lines.append("Fix the file, then check it with `nanofolks config lint`.")
        super().__init__("\n".join(lines))


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _describe(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return f"{'an object' if isinstance(value, dict) else 'a list' if isinstance(value, list) else text}"


def _strict(kinds: tuple[type, ...], label: str, convert: type | None = None):
    """A structure hook that accepts only ``kinds`` (JSON true/false is not a number here)."""

    def hook(value: Any, _type: Any) -> Any:
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise TypeError(f"expected {label}, got {_describe(value)}")
        return convert(value) if convert else value

    return hook


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(str, _strict((str,), "a string"))
    conv.register_structure_hook(bool, _strict((bool,), "true or false"))
    conv.register_structure_hook(int, _strict((int,), "a whole number"))
    conv.register_structure_hook(float, _strict((int, float), "a number", float))
    conv.register_structure_hook(Any, lambda value, _t: value)

    def secret_hook(value: Any, _type: Any) -> Secret:
        if not isinstance(value, str) or not value:
            raise TypeError(f"expected a secret string (a value, 'env:VAR' or 'keyring:NAME'), got {_describe(value)}")
        return Secret.parse(value)

    conv.register_structure_hook(Secret, secret_hook)
    conv.register_unstructure_hook(Secret, Secret.display)

    def seq_factory(type_: Any, converter: cattrs.Converter):
        base = list_structure_factory(type_, converter)

        def hook(value: Any, t: Any) -> Any:
            if not isinstance(value, list):
                raise TypeError(f"expected a list, got {_describe(value)}")
            result = base(value, t)
            return tuple(result) if typing.get_origin(type_) is tuple else result

        return hook

    def map_factory(type_: Any, converter: cattrs.Converter):
        base = mapping_structure_factory(type_, converter)

        def hook(value: Any, t: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected an object, got {_describe(value)}")
            return base(value, t)

        return hook

    conv.register_structure_hook_factory(lambda t: is_sequence(t) and t not in (str, bytes), seq_factory)
    conv.register_structure_hook_factory(is_mapping, map_factory)

    def attrs_factory(cls: type, converter: cattrs.Converter):
        fields = [f for f in attrs.fields(cls) if not f.metadata.get("internal")]
        renames = {f.name: override(rename=camel(f.alias or f.name)) for f in fields}
        internal = {f.name: override(omit=True) for f in attrs.fields(cls) if f.metadata.get("internal")}
        fn = make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True, **renames, **internal)
        aliases = {f.name: camel(f.name) for f in fields if f.name != camel(f.name)}

        def hook(value: Any, t: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected an object, got {_describe(value)}")
            normalized = {}
            for key, item in value.items():
                normalized[aliases.get(key, key)] = item
            return fn(normalized, t)

        return hook

    conv.register_structure_hook_factory(attrs.has, attrs_factory)

    def attrs_unstructure_factory(cls: type, converter: cattrs.Converter):
        renames = {f.name: override(rename=camel(f.name)) for f in attrs.fields(cls)}
        internal = {f.name: override(omit=True) for f in attrs.fields(cls) if f.metadata.get("internal")}
        return make_dict_unstructure_fn(cls, converter, **{**renames, **internal})

    conv.register_unstructure_hook_factory(attrs.has, attrs_unstructure_factory)
    return conv


converter = _make_converter()


def _issues_from(exc: BaseException, path: list[str]) -> list[ConfigIssue]:
    """Turn cattrs' nested validation errors into one issue per problem, with key paths."""
    if isinstance(exc, ForbiddenExtraKeysError):
        return [_unknown_key_issue(path, key, exc.cl) for key in sorted(exc.extra_fields)]
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        issues: list[ConfigIssue] = []
        for sub in exc.exceptions:
            sub_path = list(path)
            for note in getattr(sub, "__notes__", []):
                if isinstance(note, AttributeValidationNote):
                    sub_path.append(camel(note.name))
                elif isinstance(note, IterableValidationNote):
                    sub_path.append(f"[{note.index}]")
            issues += _issues_from(sub, sub_path)
        return issues
    key = ".".join(path).replace(".[", "[")
    message = str(exc)
    if isinstance(exc, KeyError):
        message = f"missing required key {exc}"
    return [ConfigIssue(key, message)]


def _unknown_key_issue(path: list[str], key: str, cls: type | None) -> ConfigIssue:
    known = [camel(f.name) for f in attrs.fields(cls) if not f.metadata.get("internal")] if cls else []
    hint = difflib.get_close_matches(key, known, n=1)
    suggestion = f" (did you mean '{hint[0]}'?)" if hint else f" (known keys: {', '.join(known)})" if known else ""
    return ConfigIssue(".".join([*path, key]).replace(".[", "["), f"unknown key{suggestion}")


def structure_section(raw: Any, cls: type, path: str) -> tuple[Any, list[ConfigIssue]]:
    """Structure one section; returns (object or None, issues with full key paths)."""
    try:
        return converter.structure(raw, cls), []
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        return None, _issues_from(exc, path.split(".") if path else [])
    except (TypeError, ValueError) as exc:
        return None, [ConfigIssue(path, str(exc))]


def read_raw(path: Path) -> dict[str, Any]:
    """Read the file as JSON. A missing file is an empty config."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(path, [ConfigIssue("", f"cannot read the file: {exc.strerror}")]) from None
    try:
        raw = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(
            path, [ConfigIssue("", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")]
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(path, [ConfigIssue("", f"the top level must be a JSON object, got {_describe(raw)}")])
    return raw


def disabled_plugins(raw: dict[str, Any], path: Path) -> list[str]:
    """``plugins.disabled`` from a raw config, validated on its own (no plugin is imported)."""
    section = raw.get("plugins", {})
    plugins_cfg, issues = structure_section(section, PluginsConfig, "plugins")
    if issues:
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
        extra = f" (did you mean '{hint[0]}'?)" if hint else ""
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
    """The config as JSON-able data with camelCase keys and secrets masked (for ``config show``)."""
    data = converter.unstructure(config)
    for section_path, obj in sorted(config.sections.items()):
        holder = data
        *parents, leaf = section_path.split(".")
        for part in parents:
            holder = holder.setdefault(part, {})
        holder[leaf] = converter.unstructure(obj) if obj is not None else None
    return data


def update_raw(path: Path, mutate: typing.Callable[[dict[str, Any]], None]) -> None:
    """Read the file as JSON, apply ``mutate`` and write it back atomically.

    Everything not touched by ``mutate`` (including sections of plugins that are not loaded)
    is kept as it was. A lock file serializes concurrent updates (two ``plugins disable`` at
    once both land), and a symlinked config.json stays a symlink: its target is rewritten.
    """
    import fcntl

    target = path.resolve() if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        raw = read_raw(target)
        mutate(raw)
        atomic_write_text(target, json.dumps(raw, indent=2, ensure_ascii=False) + "\n")


def default_path() -> Path:
    return paths.config_path()
