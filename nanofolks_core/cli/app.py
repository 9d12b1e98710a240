"""What every command shares: the config file and the loaded plugins, loaded once per process."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from nanofolks_core import config as config_mod
from nanofolks_core import paths
from nanofolks_core.plugins import PluginHost, discover


class App:
    """Lazily loads the raw config, the plugins and the structured config, in that order."""

    def __init__(self, config_path: Path | None = None) -> None:
        self.config_path = config_path or paths.config_path()

    @cached_property
    def raw(self) -> dict[str, Any]:
        return config_mod.read_raw(self.config_path)

    @cached_property
    def host(self) -> PluginHost:
        return discover(config_mod.disabled_plugins(self.raw, self.config_path))

    @cached_property
    def loaded(self) -> config_mod.LoadResult:
        return config_mod.build_config(
            self.raw, self.config_path, self.host.registry.config_sections(), self.host.not_loaded()
        )

    @property
    def config(self) -> config_mod.Config:
        return self.loaded.config

    def check_core_config(self) -> None:
        """Validate what can be checked without importing any plugin (for enable/disable)."""
        names = [ep.name for ep in _entry_points()]
        config_mod.build_config(self.raw, self.config_path, {}, names or ["(any)"])


def _entry_points():
    from nanofolks_core.plugins import installed_entry_points

    return installed_entry_points()
