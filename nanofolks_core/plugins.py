"""Plugin discovery and loading.

Our own loop over the ``nanofolks.plugins`` entry points replaces pluggy's
``load_setuptools_entrypoints`` so that:

* disabled names are blocked *before* their module is imported;
* each plugin's import and registration is isolated: one broken plugin never breaks the
  others or the CLI, and its failure is recorded in the load report;
* ``NANOFOLKS_STRICT_PLUGINS=1`` re-raises instead (development and CI);
* ``NANOFOLKS_TRACE_HOOKS=1`` prints every hook call to stderr;
* hook implementations that cannot be called as written (a wrapper on a registration hook, an
  ``async def`` or unmarked generator on a pipeline hook) fail their plugin at load, with the reason;
* a plugin whose pipeline hook raises at run time is switched off, and stays off in later
  processes until ``plugins enable`` or a new version (see ``plugin_state``).

Which plugins load (the first rule that matches wins; essential plugins always load):

=====================================  ===================
``NANOFOLKS_DISABLE_PLUGINS`` names it  disabled (env)
``NANOFOLKS_LOAD_PLUGINS`` is set       loaded only if it names the plugin, else disabled (env)
``plugins.disabled`` in config.json     disabled (config)
switched off at run time (same version) failed
otherwise                              enabled
=====================================  ===================

Names users type are unique: when two plugins register the same kind and name, the built-in's
(or else the first-installed plugin's) spec is kept and the clash is reported in ``plugins list``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pluggy

from nanofolks_core import entry_points as entry_point_scanner
from nanofolks_core import hookspecs, plugin_state
from nanofolks_core.api_version import API_VERSION, is_compatible
from nanofolks_core.entry_points import PluginEntryPoint
from nanofolks_core.errors import NanofolksError
from nanofolks_core.event_hooks import RESULT_TYPES, EventCall, describe, unsupported_hooks, where
from nanofolks_core.registry import KIND_HOOKS, Registry

ENTRY_POINT_GROUP = "nanofolks.plugins"
#: Built-in plugins that cannot be disabled: without them nothing works.
ESSENTIAL = frozenset({"core"})
#: Distributions whose plugins count as built-in: their specs win name clashes.
BUILTIN_DISTRIBUTIONS = frozenset({"nanofolks-core"})

#: Hooks called once per process with ``register``; every other hookspec is a pipeline event.
REGISTRATION_HOOKS = frozenset(hook for hook, _ in KIND_HOOKS.values())
EVENT_HOOKS = frozenset(
    name for name in dir(hookspecs) if name.startswith("nanofolks_") and name not in REGISTRATION_HOOKS
)

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
    #: Name clashes with other plugins, one sentence each (see ``Registry.conflicts``).
    clashes: list[str] = attrs.Factory(list)

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


_one_line = describe
_where = where


def installed_entry_points() -> list[PluginEntryPoint]:
    """Every installed plugin's entry point, sorted by name (no plugin is imported)."""
    return entry_point_scanner.scan(ENTRY_POINT_GROUP)


class PluginHost:
    """A pluggy manager with our plugins loaded, the load report, and the registry."""

    def __init__(self, *, strict: bool | None = None, trace: bool | None = None, data_root: Path | None = None) -> None:
        """``data_root``: where run-time switch-offs are remembered (None: only in this process)."""
        env = os.environ
        self.data_root = data_root
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
        failures = plugin_state.load(self.data_root) if self.data_root is not None else {}
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
            switched_off = plugin_state.failure_for(failures, ep.name, ep.dist_version)
            if record.state == ENABLED and switched_off and ep.name not in ESSENTIAL:
                record.state, record.reason = FAILED, switched_off
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
        problems = unsupported_hooks(self.pm, module, REGISTRATION_HOOKS)
        if problems:
            self.pm.unregister(module)
            self._fail(record, f"unsupported hook: {'; '.join(problems)}", TypeError(problems))
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

        for plugin in self._registration_order(staged):
            record = self.records.get(plugin)
            if record is not None and record.state != ENABLED:
                self.unregister(plugin)
                continue
            for spec in staged[plugin]:
                self.registry.add(spec, plugin, why=self._precedence(plugin))
        for name, record in self.records.items():
            if record.state != ENABLED:
                continue
            record.contributions = self.registry.by_plugin(name)
            # Kinds say what a plugin offers, even where a clash means another plugin's spec is used.
            kinds = {spec.kind for spec in staged.get(name, [])}
            plugin_obj = self.pm.get_plugin(name)
            if plugin_obj is not None and any(c.name in EVENT_HOOKS for c in self.pm.get_hookcallers(plugin_obj) or []):
                kinds.add("events")
            record.kinds = sorted(kinds)
            record.clashes = [str(c) for c in self.registry.conflicts if name in (c.kept, c.dropped)]
        return self.registry

    def _precedence(self, plugin: str) -> str:
        record = self.records.get(plugin)
        if record is not None and record.builtin:
            return "built-in"
        return "installed first" if plugin in self.entry_points else "registered first"

    def _registration_order(self, staged: dict[str, list[Any]]) -> list[str]:
        """Built-ins first, then plugins by install time: the first to claim a name keeps it."""
        position = {name: index for index, name in enumerate(self.records)}

        def key(plugin: str) -> tuple[bool, float, int, str]:
            record = self.records.get(plugin)
            entry = self.entry_points.get(plugin)
            installed = entry.installed_at() if entry is not None else float("inf")
            return (not (record and record.builtin), installed, position.get(plugin, len(position)), plugin)

        return sorted(staged, key=key)

    # -- pipeline events ---------------------------------------------------------------

    def pipe(self, hook_name: str, arg_name: str, value: Any, **extra: Any) -> Any:
        """Run a pipeline-event hook as a chain: each implementation sees the previous one's result.

        pluggy's conventions hold (order, ``tryfirst``/``trylast``, wrappers; see
        :mod:`nanofolks_core.event_hooks`). None keeps the value. An implementation that raises or
        returns something that is not a ``type(value)`` is switched off for good (reported, and
        remembered across processes); strict mode re-raises. ``LLMCallDenied`` propagates.
        """
        return self._event_call(hook_name, arg_name).run(
            self._event_impls(hook_name), {arg_name: value, **extra}, type(value)
        )

    def first(self, hook_name: str, **kwargs: Any) -> Any:
        """The first non-None result of a ``firstresult`` hook, with the same isolation as :meth:`pipe`."""
        return self._event_call(hook_name, None).run(self._event_impls(hook_name), kwargs, RESULT_TYPES.get(hook_name))

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Run a notification hook (``nanofolks_turn_done`` ...): every implementation is called, in
        pluggy's order, with the same isolation as :meth:`pipe`; return values are ignored."""
        self._event_call(hook_name, None).run(self._event_impls(hook_name), kwargs, None)

    def collect(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Every plain implementation's non-None result, in pluggy's order (``nanofolks_metrics``).

        One that raises is switched off like in :meth:`pipe`; the others' results are kept.
        """
        results = []
        for impl in self._event_impls(hook_name):
            if impl.wrapper or impl.hookwrapper or self.pm.get_plugin(impl.plugin_name) is None:
                continue
            try:
                result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception as exc:  # noqa: BLE001 - isolate one broken plugin; the others still answer
                self._switch_off(impl, f"{hook_name} raised {_one_line(exc)}{_where(exc)}", exc)
                continue
            if result is not None:
                results.append(result)
        return results

    def _event_call(self, hook_name: str, arg_name: str | None) -> EventCall:
        caller = getattr(self.pm.hook, hook_name)
        firstresult = bool(caller.spec and caller.spec.opts.get("firstresult"))
        return EventCall(
            hook_name,
            firstresult=firstresult,
            arg_name=arg_name,
            fail=self._switch_off,
            alive=lambda plugin: self.pm.get_plugin(plugin) is not None,
        )

    def _event_impls(self, hook_name: str) -> list[Any]:
        # pluggy keeps implementations in reverse call order (wrappers last); it calls from the end.
        impls = list(reversed(getattr(self.pm.hook, hook_name).get_hookimpls()))
        if self._trace:
            for impl in impls:
                sys.stderr.write(f"{hook_name} [plugin: {impl.plugin_name}]\n")
        return impls

    def _switch_off(self, impl: Any, reason: str, exc: BaseException | None) -> None:
        """A pipeline hook misbehaved: switch its plugin off here and, remembered, in later processes."""
        record = self.records.get(impl.plugin_name)
        if self.strict or record is None:
            if exc is not None:
                raise exc
            raise PluginLoadError(f"plugin {impl.plugin_name!r}: {reason}")
        record.state, record.reason = FAILED, f"switched off at run time: {reason}"
        self.unregister(impl.plugin_name)
        if self.data_root is not None and record.distribution != "(in process)":
            plugin_state.record(self.data_root, record.name, record.version, reason)
        sys.stderr.write(
            f"warning: plugin {impl.plugin_name} was switched off: {reason}\n"
            f"  (it stays off until `nanofolks plugins enable {impl.plugin_name}` or a new version)\n"
        )

    # -- reporting ---------------------------------------------------------------------

    def report(self) -> list[PluginRecord]:
        return sorted(self.records.values(), key=lambda rec: (not rec.builtin, rec.name))

    def not_loaded(self) -> list[str]:
        return sorted(name for name, rec in self.records.items() if not rec.loaded)


def discover(
    config_disabled: Iterable[str] = (), env: Mapping[str, str] | None = None, data_root: Path | None = None
) -> PluginHost:
    """Load every installed plugin and build the registry (run-time switch-offs kept under ``data_root``)."""
    from nanofolks_core import paths

    host = PluginHost(data_root=data_root or paths.data_root())
    host.load_entry_points(config_disabled, env)
    host.build_registry()
    return host
