"""The application object every entry point shares (CLI commands, the gateway, tests).

It loads things lazily and once per process, in dependency order: the raw config file,
the plugins (honouring ``plugins.disabled``), the structured config, then the services
built from registered specs (session store, rooms, teams, provider ...).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nanofolks_core import config as config_mod
from nanofolks_core import paths
from nanofolks_core.errors import NanofolksError
from nanofolks_core.plugins import PluginHost, discover, installed_entry_points
from nanofolks_core.secret import SecretUnavailable

if TYPE_CHECKING:
    from nanofolks_core.contracts import LLMAccess, Services
    from nanofolks_core.llm import LLMClient

#: ``App.build(config=...)`` default: the spec's own section from config.json.
_OWN_SECTION: Any = object()


class App:
    def __init__(
        self, config_path: Path | None = None, data_root: Path | None = None, host: PluginHost | None = None
    ) -> None:
        self.data_root = data_root or paths.data_root()
        self.config_path = config_path or self.data_root / "config.json"
        if host is not None:  # tests hand in a host with plugins registered by hand
            self.__dict__["host"] = host

    # -- configuration and plugins -------------------------------------------------------

    @cached_property
    def raw(self) -> dict[str, Any]:
        return config_mod.read_raw(self.config_path)

    @cached_property
    def host(self) -> PluginHost:
        return discover(config_mod.disabled_plugins(self.raw, self.config_path), data_root=self.data_root)

    @cached_property
    def loaded(self) -> config_mod.LoadResult:
        result = config_mod.build_config(
            self.raw, self.config_path, self.host.registry.config_sections(), self.host.not_loaded()
        )
        # Names of registered things can only be checked once the plugins are loaded.
        issues = []
        for key, kind, name, extra in (
            ("storage.backend", "session-store", result.config.storage.backend, ()),
            ("memory.backend", "memory", result.config.memory.backend, ("auto",)),
        ):
            known = self.registry.names(kind)
            if name not in known and name not in extra and not self.host.not_loaded():
                issues.append(
                    config_mod.ConfigIssue(
                        key, f"no {kind} named {name!r} is installed (known: {', '.join([*extra, *known])})"
                    )
                )
        if issues:
            raise config_mod.ConfigError(self.config_path, issues)
        return result

    @property
    def config(self) -> config_mod.Config:
        return self.loaded.config

    @property
    def registry(self):
        return self.host.registry

    def check_core_config(self) -> None:
        """Validate what can be checked without importing any plugin (for enable/disable)."""
        names = [ep.name for ep in installed_entry_points()]
        config_mod.build_config(self.raw, self.config_path, {}, names or ["(any)"])

    # -- building runtimes -----------------------------------------------------------------

    def services_for(self, plugin: str, *, llm: bool = True) -> Services:
        """The services handed to the runtimes of ``plugin`` (``llm=False`` for providers and secret stores)."""
        # Imported on first build: listing plugins and --help never build a runtime (~10 ms of records).
        from nanofolks_core.contracts import Services

        return Services(
            plugin=plugin,
            data_root=self.data_root,
            llm=self.llm_access if llm else None,
            secret_lookup=self.secret_lookup,
            registered=self.registry.all,
        )

    def build(self, spec: Any, *, llm: bool = True, config: Any = _OWN_SECTION) -> Any:
        """Build a registered runtime the one way: ``factory(spec=, config=<own section>, services=)``."""
        if config is _OWN_SECTION:
            path = spec.config_section()
            config = self.config.section(path) if path else None
        owner = self.registry.owner(spec.kind, spec.name) or "core"
        return spec.build(config, self.services_for(owner, llm=llm))

    @cached_property
    def secret_stores(self) -> list[Any]:
        """Registered secret stores, highest priority first (built on first ``keyring:`` lookup)."""
        ordered = sorted(self.registry.all("secret-store"), key=lambda spec: -spec.priority)
        stores = []
        for spec in ordered:
            owner = self.registry.owner(spec.kind, spec.name) or "core"
            path = spec.config_section()
            section = self.config.section(path) if path else None
            # A store resolving its own secrets through the stores would recurse: it gets none.
            from nanofolks_core.contracts import Services

            stores.append(spec.build(section, Services(plugin=owner, data_root=self.data_root)))
        return stores

    def secret_lookup(self, name: str) -> str | None:
        """The value of ``keyring:<name>`` from the first available store that has it (None: no store has it)."""
        available = [store for store in self.secret_stores if store.available()]
        if not available:
            raise SecretUnavailable(
                f"keyring:{name} needs a secret store, but none is "
                + ("available on this machine" if self.secret_stores else "installed (e.g. nanofolks-keyring)")
                + f'; install or fix one, or write the value as "env:VARIABLE" in {self.config_path}'
            )
        for store in available:
            value = store.get(name)
            if value:
                return value
        return None

    @cached_property
    def llm(self) -> LLMClient:
        """The process's model access: finds providers, runs the LLM-call hooks."""
        from nanofolks_core.llm import LLMClient

        return LLMClient(
            self.registry,
            lambda spec: self.build(spec, llm=False),
            self.host.pipe,
            self.host.not_loaded(),
        )

    @cached_property
    def llm_access(self) -> LLMAccess:
        """What runtimes get as ``services.llm``: ``complete`` and ``ask`` with the default model."""
        from nanofolks_core.llm import CoreLLMAccess

        return CoreLLMAccess(self.llm, lambda: self.config.agents.defaults.model)

    # -- services ------------------------------------------------------------------------

    @cached_property
    def sessions(self):
        """The session store picked by ``storage.backend`` (``file`` by default)."""
        storage = self.config.storage
        spec = self.registry.get("session-store", storage.backend)
        if spec is None:
            known = ", ".join(self.registry.names("session-store")) or "none"
            raise NanofolksError(
                f"storage.backend is {storage.backend!r}, but no such session store is installed (known: {known})"
            )
        # A store without a section of its own reads the core's ``storage`` section (useCasStorage ...).
        return self.build(spec, config=self.config.section(spec.config_section()) if spec.config_section() else storage)

    @cached_property
    def rooms(self):
        """The room store (``<data root>/rooms``)."""
        from nanofolks_core.rooms import RoomStore

        return RoomStore(self.data_root / "rooms")

    @cached_property
    def memory(self):
        """The memory backend: ``memory.backend`` (``auto``: the first one that is not ``null``)."""
        from nanofolks_core.memory import NullMemory

        if not self.config.memory.enabled:
            return NullMemory()
        name = self.memory_backend_name()
        spec = self.registry.get("memory", name)
        if spec is None:
            known = ", ".join(self.registry.names("memory"))
            raise NanofolksError(
                f"memory.backend is {name!r}, but no such memory backend is installed (known: {known})"
            )
        return self.build(spec)

    def memory_backend_name(self) -> str:
        """``memory.backend``, with ``auto`` resolved to the first registered backend that is not ``null``."""
        name = self.config.memory.backend
        if name == "auto":
            name = next((n for n in self.registry.names("memory") if n != "null"), "null")
        return name

    @cached_property
    def router(self):
        """The first registered router, built with its own (``routing``) section; None without one."""
        routers = self.registry.all("router")
        return self.build(routers[0]) if routers else None
