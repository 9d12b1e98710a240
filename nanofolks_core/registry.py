"""The registry: every spec plugins registered, by kind and name, with its owner."""

from __future__ import annotations

from typing import Any

import attrs

from nanofolks_core import specs

# kind -> (registration hook name, spec class). One row per registration hookspec.
KIND_HOOKS: dict[str, tuple[str, type]] = {
    "channel": ("nanofolks_register_channels", specs.ChannelSpec),
    "provider": ("nanofolks_register_providers", specs.ProviderSpec),
    "memory": ("nanofolks_register_memory_backends", specs.MemoryBackendSpec),
    "session-store": ("nanofolks_register_session_stores", specs.SessionStoreSpec),
    "router-tier": ("nanofolks_register_router_tiers", specs.TierSpec),
    "tier-classifier": ("nanofolks_register_tier_classifiers", specs.ClassifierSpec),
    "team": ("nanofolks_register_teams", specs.TeamSpec),
    "skill": ("nanofolks_register_skills", specs.SkillSpec),
    "skill-scanner": ("nanofolks_register_skill_scanners", specs.SkillScannerSpec),
    "secret-store": ("nanofolks_register_secret_stores", specs.SecretStoreSpec),
    "secret-pattern": ("nanofolks_register_secret_patterns", specs.SecretPatternSpec),
    "tool": ("nanofolks_register_tools", specs.ToolSpec),
    "command": ("nanofolks_register_commands", specs.CommandSpec),
    "config-section": ("nanofolks_register_config_sections", specs.ConfigSectionSpec),
}


@attrs.frozen
class Registration:
    spec: Any
    plugin: str


@attrs.frozen
class Conflict:
    kind: str
    name: str
    kept: str
    dropped: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r} is registered by {self.kept} and {self.dropped}; {self.kept}'s is used"


class Registry:
    """Specs by kind and name. Later plugins replace built-ins; two others conflict."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Registration]] = {kind: {} for kind in KIND_HOOKS}
        self.conflicts: list[Conflict] = []

    def add(self, spec: Any, plugin: str, *, replaces_builtin: bool, builtin_plugins: frozenset[str]) -> None:
        table = self._entries[spec.kind]
        current = table.get(spec.name)
        if current is not None and not (replaces_builtin and current.plugin in builtin_plugins):
            self.conflicts.append(Conflict(spec.kind, spec.name, current.plugin, plugin))
            return
        table[spec.name] = Registration(spec, plugin)

    def get(self, kind: str, name: str) -> Any | None:
        entry = self._entries[kind].get(name)
        return entry.spec if entry else None

    def owner(self, kind: str, name: str) -> str | None:
        entry = self._entries[kind].get(name)
        return entry.plugin if entry else None

    def all(self, kind: str) -> list[Any]:
        """Specs of one kind, sorted by name."""
        return [entry.spec for _, entry in sorted(self._entries[kind].items())]

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def by_plugin(self, plugin: str) -> dict[str, list[str]]:
        """``{kind: [names]}`` contributed by one plugin."""
        result: dict[str, list[str]] = {}
        for kind, table in self._entries.items():
            names = sorted(name for name, entry in table.items() if entry.plugin == plugin)
            if names:
                result[kind] = names
        return result

    def config_sections(self) -> dict[str, type]:
        """Every plugin config section: dotted path -> attrs class."""
        sections: dict[str, type] = {}
        for kind in KIND_HOOKS:
            for spec in self.all(kind):
                if isinstance(spec, specs.ConfigSectionSpec):
                    sections[spec.path] = spec.config_class
                elif isinstance(spec, specs.RuntimeSpec) and spec.config_section():
                    sections[spec.config_section()] = spec.config_class  # type: ignore[index]
        return sections
