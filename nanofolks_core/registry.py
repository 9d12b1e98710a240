"""The registry: every spec plugins registered, by kind and name, with its owner."""

from __future__ import annotations

from typing import Any

import attrs

from nanofolks_core import specs

# kind -> (registration hook name, spec class), derived from the spec classes: adding a kind is
# one spec class (naming its hook) plus its hookspec.
KIND_HOOKS: dict[str, tuple[str, type]] = {cls.kind: (cls.hook, cls) for cls in specs.SPEC_CLASSES}


@attrs.frozen
class Registration:
    spec: Any
    plugin: str
    why: str = "registered first"


@attrs.frozen
class Conflict:
    """Two plugins registered the same kind and name; ``kept``'s spec is used, ``dropped``'s ignored."""

    kind: str
    name: str
    kept: str
    dropped: str
    #: Why ``kept`` won: "built-in" or "installed first".
    why: str = "registered first"

    def __str__(self) -> str:
        if self.kept == self.dropped:
            return f"{self.kind} {self.name!r} is registered twice by {self.kept}; the first is used"
        if self.why == "built-in":
            fix = "a plugin cannot replace a built-in by name"
        else:
            fix = f"to use {self.dropped}'s, disable {self.kept} (`nanofolks plugins disable {self.kept}`)"
        return (
            f"{self.kind} {self.name!r} is registered by both {self.kept} and {self.dropped}: "
            f"{self.kept}'s is used ({self.why}), {self.dropped}'s is ignored; {fix}"
        )


class Registry:
    """Specs by kind and name. Names are unique: the first plugin to register one keeps it.

    The loader adds built-ins first, then plugins in install order, so a plugin can never
    silently take over another's team, tool or backend; every clash is kept in ``conflicts``.
    """

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Registration]] = {kind: {} for kind in KIND_HOOKS}
        self.conflicts: list[Conflict] = []

    def add(self, spec: Any, plugin: str, *, why: str = "registered first") -> None:
        """Add ``spec`` for ``plugin`` unless its name is taken (then record a :class:`Conflict`).

        ``why`` says why this plugin comes before later ones ("built-in", "installed first").
        """
        table = self._entries[spec.kind]
        current = table.get(spec.name)
        if current is not None:
            self.conflicts.append(Conflict(spec.kind, spec.name, current.plugin, plugin, current.why))
            return
        table[spec.name] = Registration(spec, plugin, why)

    def conflicts_for(self, kind: str, name: str) -> list[Conflict]:
        """The clashes over one name (for commands that take it, like ``team use``)."""
        return [c for c in self.conflicts if c.kind == kind and c.name == name]

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
