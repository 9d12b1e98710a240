"""Plugin discovery and loading.

Our own loop over the ``nanofolks.plugins`` entry points replaces pluggy's
``load_setuptools_entrypoints`` so that:

* disabled names are blocked *before* their module is imported;
* each plugin's import and registration is isolated: one broken plugin never breaks the
  others or the CLI, and its failure is recorded in the load report;
* ``NANOFOLKS_STRICT_PLUGINS=1`` re-raises instead (development and CI);
* ``NANOFOLKS_TRACE_HOOKS=1`` prints every hook call to stderr.

Which plugins load (the first rule that matches wins; essential plugins always load):

=====================================  ===================
``NANOFOLKS_DISABLE_PLUGINS`` names it  disabled (env)
``NANOFOLKS_LOAD_PLUGINS`` is set       loaded only if it names the plugin, else disabled (env)
``plugins.disabled`` in config.json     disabled (config)
otherwise                              enabled
=====================================  ===================
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import pluggy

from nanofolks_core import entry_points as entry_point_scanner
from nanofolks_core import hookspecs
from nanofolks_core.api_version import API_VERSION, is_compatible
from nanofolks_core.entry_points import PluginEntryPoint
from nanofolks_core.errors import NanofolksError
from nanofolks_core.registry import KIND_HOOKS, Registry

ENTRY_POINT_GROUP = "nanofolks.plugins"
#: Built-in plugins that cannot be disabled: without them nothing works.
ESSENTIAL = frozenset({"core"})
#: Distributions whose plugins count as built-in defaults (replaceable by others' specs).
BUILTIN_DISTRIBUTIONS = frozenset({"nanofolks"})

ENABLED = "enabled"
DISABLED_CONFIG = "disabled (config)"
DISABLED_ENV = "disabled (env)"
FAILED = "failed"
INCOMPATIBLE = "incompatible"


class PluginLoadError(NanofolksError):
    """A plugin failed to load while ``NANOFOLKS_STRICT_PLUGINS=1``."""


@attrs.define
class PluginRecord:
    """One line of the load report."""

    name: str
    distribution: str
    version: str
    module: str
    state: str = ENABLED
    reason: str | None = None
    kinds: list[str] = attrs.Factory(list)
    contributions: dict[str, list[str]] = attrs.Factory(dict)
    essential: bool = False
    builtin: bool = False
    load_ms: float | None = None

    @property
    def loaded(self) -> bool:
        return self.state == ENABLED

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _env_names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def decide_state(name: str, config_disabled: Iterable[str], env: Mapping[str, str]) -> tuple[str, str | None]:
    """Apply the precedence table above. Returns (state, reason)."""
    if name in ESSENTIAL:
        return ENABLED, None
    disable_env = _env_names(env.get("NANOFOLKS_DISABLE_PLUGINS")) or set()
    load_env = _env_names(env.get("NANOFOLKS_LOAD_PLUGINS"))
    if name in disable_env:
        return DISABLED_ENV, "named in NANOFOLKS_DISABLE_PLUGINS"
    if load_env is not None:
        if name in load_env:
            return ENABLED, None
        return DISABLED_ENV, "not named in NANOFOLKS_LOAD_PLUGINS"
    if name in set(config_disabled):
        return DISABLED_CONFIG, "plugins.disabled in config.json"
    return ENABLED, None


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _where(exc: BaseException) -> str:
    """The innermost frame of a plugin's exception, so the reason says where it broke."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    return f" ({os.path.basename(frame.filename)}:{frame.lineno})"


def installed_entry_points() -> list[PluginEntryPoint]:
    """Every installed plugin's entry point, sorted by name (no plugin is imported)."""
    return entry_point_scanner.scan(ENTRY_POINT_GROUP)


class PluginHost:
    """A pluggy manager with our plugins loaded, the load report, and the registry."""

    def __init__(self, *, strict: bool | None = None, trace: bool | None = None) -> None:
        env = os.environ
        self.strict = env.get("NANOFOLKS_STRICT_PLUGINS", "") not in ("", "0") if strict is None else strict
        self.pm = pluggy.PluginManager("nanofolks")
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.entry_points: dict[str, PluginEntryPoint] = {}
        self.registry = Registry()
        self._trace = env.get("NANOFOLKS_TRACE_HOOKS", "") not in ("", "0") if trace is None else trace
        if self._trace:
            self.pm.trace.root.setwriter(sys.stderr.write)
            self.pm.enable_tracing()

    # -- loading -----------------------------------------------------------------------

    def load_entry_points(
        self,
        config_disabled: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        entry_points: Iterable[PluginEntryPoint] | None = None,
    ) -> None:
        """Import and register every installed plugin that is not disabled."""
        env = os.environ if env is None else env
        config_disabled = list(config_disabled)
        for ep in installed_entry_points() if entry_points is None else entry_points:
            record = PluginRecord(
                name=ep.name,
                distribution=ep.dist_name,
                version=ep.dist_version,
                module=ep.value,
                essential=ep.name in ESSENTIAL,
                builtin=ep.dist_name in BUILTIN_DISTRIBUTIONS,
            )
            if ep.name in self.records:
                other = self.records[ep.name]
                record.state = FAILED
                record.reason = f"name {ep.name!r} is already used by distribution {other.distribution}"
                self.records[f"{ep.name}@{record.distribution}"] = record
                continue
            self.records[ep.name] = record
            self.entry_points[ep.name] = ep
            record.state, record.reason = decide_state(ep.name, config_disabled, env)
            if record.state != ENABLED:
                continue
            started = time.perf_counter()
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - isolate any plugin import failure; reported below
                self._fail(record, f"import failed: {_one_line(exc)}{_where(exc)}", exc)
                continue
            finally:
                record.load_ms = round((time.perf_counter() - started) * 1000, 2)
            self.register_module(module, ep.name, record=record)

    def register_module(self, module: object, name: str, *, record: PluginRecord | None = None) -> PluginRecord:
        """Register an already-imported plugin object (tests and built-ins use this too)."""
        if record is None:
            record = PluginRecord(name=name, distribution="(in process)", version="", module=repr(module))
            self.records[name] = record
        declared = getattr(module, "NANOFOLKS_API", None)
        if declared is not None and not is_compatible(str(declared)):
            record.state = INCOMPATIBLE
            record.reason = f"needs plugin API {declared}; this nanofolks provides {API_VERSION}"
            if self.strict:
                raise PluginLoadError(f"plugin {name!r}: {record.reason}")
            return record
        try:
            self.pm.register(module, name=name)
        except Exception as exc:  # noqa: BLE001 - a malformed plugin (bad signature ...) must not stop others
            self._fail(record, f"registration failed: {_one_line(exc)}", exc)
            return record
        # pluggy accepts implementations of hooks nobody specified; a misspelt hook name
        # would then silently never run, so treat it as a broken plugin.
        unknown = sorted(caller.name for caller in self.pm.get_hookcallers(module) or [] if caller.spec is None)
        if unknown:
            self.pm.unregister(module)
            self._fail(record, f"registration failed: unknown hook(s) {', '.join(unknown)}", LookupError(unknown))
        return record

    def _fail(self, record: PluginRecord, reason: str, exc: BaseException) -> None:
        record.state = FAILED
        record.reason = reason
        if self.strict:
            raise PluginLoadError(f"plugin {record.name!r} ({record.distribution}): {reason}") from exc

    def unregister(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)

    # -- registry ----------------------------------------------------------------------

    def build_registry(self) -> Registry:
        """Call every registration hook one implementation at a time and fill the registry.

        A plugin whose registration raises, or registers a wrong record, is marked failed
        and none of its specs are kept.
        """
        self.registry = Registry()
        staged: dict[str, list[Any]] = {}
        for hook_name, spec_cls in KIND_HOOKS.values():
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():
                plugin = impl.plugin_name
                record = self.records.get(plugin)
                if record is not None and record.state != ENABLED:
                    continue
                bucket = staged.setdefault(plugin, [])

                def register(spec: Any, _cls: type = spec_cls, _hook: str = hook_name, _bucket: list = bucket) -> None:
                    if not isinstance(spec, _cls):
                        raise TypeError(f"{_hook} takes {_cls.__name__} records, got {type(spec).__name__}")
                    _bucket.append(spec)

                if self._trace:
                    sys.stderr.write(f"{hook_name} [plugin: {plugin}]\n")
                try:
                    impl.function(**{arg: register for arg in impl.argnames})
                except Exception as exc:  # noqa: BLE001 - one plugin's hook must not stop the others
                    if record is None:
                        raise
                    self._fail(record, f"{hook_name} raised {_one_line(exc)}{_where(exc)}", exc)

        builtin = frozenset(name for name, rec in self.records.items() if rec.builtin)
        order = sorted(staged, key=lambda plugin: (plugin not in builtin, plugin))
        for plugin in order:
            record = self.records.get(plugin)
            if record is not None and record.state != ENABLED:
                self.unregister(plugin)
                continue
            for spec in staged[plugin]:
                self.registry.add(spec, plugin, replaces_builtin=plugin not in builtin, builtin_plugins=builtin)
        for name, record in self.records.items():
            if record.state == ENABLED:
                record.contributions = self.registry.by_plugin(name)
                record.kinds = sorted(record.contributions)
                if not record.kinds and self.pm.get_plugin(name) is not None:
                    record.kinds = ["events"]
        return self.registry

    # -- pipeline events ---------------------------------------------------------------

    def pipe(self, hook_name: str, arg_name: str, value: Any, **extra: Any) -> Any:
        """Call a pipeline-event hook so each implementation sees the previous one's result.

        Implementations run in pluggy's call order; one returning None leaves the value as is.
        An implementation that raises is switched off for the rest of the process and
        reported (strict mode re-raises): one broken plugin must not sink every message.
        """
        for impl in self._event_impls(hook_name):
            kwargs = {arg_name: value, **extra}
            result = self._call_event(impl, hook_name, kwargs)
            if result is not None:
                value = result
        return value

    def first(self, hook_name: str, **kwargs: Any) -> Any:
        """The first non-None result of a ``firstresult`` hook, with the same isolation as :meth:`pipe`."""
        for impl in self._event_impls(hook_name):
            result = self._call_event(impl, hook_name, kwargs)
            if result is not None:
                return result
        return None

    def _event_impls(self, hook_name: str) -> list[Any]:
        return list(reversed(getattr(self.pm.hook, hook_name).get_hookimpls()))

    def _call_event(self, impl: Any, hook_name: str, kwargs: dict[str, Any]) -> Any:
        if self._trace:
            sys.stderr.write(f"{hook_name} [plugin: {impl.plugin_name}]\n")
        try:
            return impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except Exception as exc:  # noqa: BLE001 - isolate a broken plugin; reported below, strict re-raises
            record = self.records.get(impl.plugin_name)
            reason = f"{hook_name} raised {_one_line(exc)}{_where(exc)}"
            if self.strict or record is None:
                raise
            record.state, record.reason = FAILED, reason
            self.unregister(impl.plugin_name)
            sys.stderr.write(f"warning: plugin {impl.plugin_name} was switched off: {reason}\n")
            return None

    # -- reporting ---------------------------------------------------------------------

    def report(self) -> list[PluginRecord]:
        return sorted(self.records.values(), key=lambda rec: (not rec.builtin, rec.name))

    def not_loaded(self) -> list[str]:
        return sorted(name for name, rec in self.records.items() if not rec.loaded)


def discover(config_disabled: Iterable[str] = (), env: Mapping[str, str] | None = None) -> PluginHost:
    """Load every installed plugin and build the registry."""
    host = PluginHost()
    host.load_entry_points(config_disabled, env)
    host.build_registry()
    return host
