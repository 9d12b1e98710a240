"""Team personas: the characters that dress the six roles, loaded from TOML package data.

A team is data, not code: a plugin registers a :class:`~nanofolks_core.api.TeamSpec` whose
``resource`` (``"package:relative/file.toml"``) names a TOML file it ships. The file shape::

    name = "pirate"
    title = "Pirate Crew"
    vibe = "Bold, adventurous"
    description = "..."
    [characters.leader]
    name = "Captain ..."
    emoji = "..."
    personality = "..."
    voice = "..."
    greeting = "..."
    catchphrases = ["...", "..."]
    [characters.leader.addresses]
    researcher = "..."   # how this character addresses each of the other five

Loaded teams are cached per process. A missing or broken team never stops the crew:
:func:`resolve_team` falls back to the built-in default team with a warning.
"""

from __future__ import annotations

import difflib
import importlib.resources
import re
import tomllib
import unicodedata
from typing import TYPE_CHECKING, Any

import attrs

from nanofolks_core.builtins.teams import DEFAULT_TEAM
from nanofolks_core.crew.roles import ROLE_MENTIONS, ROLE_ORDER
from nanofolks_core.errors import NanofolksError
from nanofolks_core.specs import TeamSpec

if TYPE_CHECKING:
    from nanofolks_core.registry import Registry

#: The neutral built-in team (registered by the ``core`` plugin); the fallback for a missing team.
DEFAULT_TEAM_NAME = DEFAULT_TEAM.name

#: Mentions the message pipeline gives a meaning of its own; no character name may take them.
RESERVED_MENTIONS = frozenset({"all", "crew", "everyone"})

_TEAM_KEYS = ("name", "title", "vibe", "description", "characters")
_CHARACTER_TEXT_KEYS = ("name", "emoji", "personality", "voice", "greeting")
_CHARACTER_KEYS = (*_CHARACTER_TEXT_KEYS, "catchphrases", "addresses")


@attrs.frozen(kw_only=True)
class Character:
    """A team's character for one role. ``addresses``: other role -> how this character calls them."""

    role: str
    name: str
    emoji: str
    personality: str
    voice: str
    greeting: str
    catchphrases: tuple[str, ...] = attrs.field(converter=tuple)
    addresses: dict[str, str] = attrs.field(factory=dict, hash=False)

    def address_for(self, role: str, fallback: str) -> str:
        """How this character addresses the crew member in ``role`` (``fallback`` if the team says nothing)."""
        return self.addresses.get(role, fallback)


@attrs.frozen(kw_only=True)
class Team:
    """A loaded team: one :class:`Character` per role, in :data:`ROLE_ORDER`."""

    name: str
    title: str
    vibe: str
    description: str
    characters: dict[str, Character] = attrs.field(hash=False)

    def character(self, role: str) -> Character:
        return self.characters[role]

    def mention_map(self) -> dict[str, str]:
        """``{alias: role}`` for every ``@mention`` that reaches a crew member of this team.

        Role names and role mentions (``leader``, ``nanofolks``, ``coder`` ...) always map to their
        role; each character adds its full name, first word and last word, slugified
        (``captain-blackbeard``, ``captain``, ``blackbeard``). An alias that would shadow a role
        mention, a reserved word (``all``, ``crew``) or is shared by two characters is left out.
        """
        mapping = dict(ROLE_MENTIONS)
        claims: dict[str, set[str]] = {}
        for role, character in self.characters.items():
            for alias in name_aliases(character.name):
                claims.setdefault(alias, set()).add(role)
        for alias, roles in sorted(claims.items()):
            if len(roles) == 1 and alias not in mapping and alias not in RESERVED_MENTIONS:
                mapping[alias] = next(iter(roles))
        return mapping

    def mentions_for(self, role: str) -> list[str]:
        """The aliases that reach ``role``, role mentions first."""
        return [alias for alias, target in self.mention_map().items() if target == role]


def slugify(text: str) -> str:
    """``"Captain Blackbeard"`` -> ``"captain-blackbeard"``: lowercase ASCII letters, digits and ``-``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def name_aliases(name: str) -> list[str]:
    """Slugified full name, first word and last word of a character name, without repeats."""
    words = [slugify(word) for word in name.split()]
    words = [word for word in words if word]
    candidates = [slugify(name), *(words[:1]), *(words[-1:])]
    return [alias for index, alias in enumerate(candidates) if alias and alias not in candidates[:index]]


# -- loading ------------------------------------------------------------------------------------


class TeamFileError(NanofolksError):
    """A team's TOML file is missing, unreadable or does not have the expected shape."""


_CACHE: dict[TeamSpec, Team] = {}


def clear_team_cache() -> None:
    """Forget loaded teams (tests; a long-running process after a plugin upgrade)."""
    _CACHE.clear()


def load_team(spec: TeamSpec) -> Team:
    """Read, validate and return the team ``spec`` names; cached per process.

    :raises TeamFileError: naming the team, the file and the key when the file is missing or broken.
    """
    cached = _CACHE.get(spec)
    if cached is not None:
        return cached
    data, where = _read_resource(spec)
    team = _build_team(spec, data, where)
    _CACHE[spec] = team
    return team


def _read_resource(spec: TeamSpec) -> tuple[dict[str, Any], str]:
    package, _, relative = spec.resource.partition(":")
    where = spec.resource
    fix = "reinstall the plugin that provides it, or pick another team with `nanofolks team use NAME`"
    try:
        resource = importlib.resources.files(package).joinpath(relative)
        where = str(resource)
        text = resource.read_text(encoding="utf-8")
    except ModuleNotFoundError:
        raise TeamFileError(
            f"team {spec.name!r}: package {package!r} of resource {spec.resource!r} cannot be imported; {fix}"
        ) from None
    except FileNotFoundError:
        raise TeamFileError(f"team {spec.name!r}: its file {where} does not exist; {fix}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TeamFileError(f"team {spec.name!r}: cannot read {where}: {exc}; {fix}") from None
    try:
        return tomllib.loads(text), where
    except tomllib.TOMLDecodeError as exc:
        raise TeamFileError(f"team {spec.name!r}: {where} is not valid TOML: {exc}") from None


def _build_team(spec: TeamSpec, data: dict[str, Any], where: str) -> Team:
    problems: list[str] = []

    def text(table: dict[str, Any], key: str, path: str) -> str:
        value = table.get(key)
        if value is None:
            problems.append(f"{path}: missing")
            return ""
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{path}: must be a non-empty string")
            return ""
        return value.strip()

    def unknown_keys(table: dict[str, Any], known: tuple[str, ...], prefix: str) -> None:
        for key in sorted(set(table) - set(known)):
            hint = difflib.get_close_matches(key, known, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else f" (known keys: {', '.join(known)})"
            problems.append(f"{prefix}{key}: unknown key{suggestion}")

    unknown_keys(data, _TEAM_KEYS, "")
    name = text(data, "name", "name")
    if name and name != spec.name:
        problems.append(f"name: is {name!r} but the plugin registers the team as {spec.name!r}")
    header = {key: text(data, key, key) for key in ("title", "vibe", "description")}

    raw_characters = data.get("characters")
    characters: dict[str, Character] = {}
    if not isinstance(raw_characters, dict):
        problems.append("characters: missing; add a [characters.<role>] table for each of: " + ", ".join(ROLE_ORDER))
        raw_characters = {}
    unknown_keys(raw_characters, ROLE_ORDER, "characters.")
    for role in ROLE_ORDER:
        path = f"characters.{role}"
        table = raw_characters.get(role)
        if not isinstance(table, dict):
            problems.append(f"{path}: missing; every team needs a character for each role")
            continue
        unknown_keys(table, _CHARACTER_KEYS, f"{path}.")
        fields = {key: text(table, key, f"{path}.{key}") for key in _CHARACTER_TEXT_KEYS}
        phrases = table.get("catchphrases")
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
            problems.append(f"{path}.catchphrases: must be a non-empty list of non-empty strings")
            phrases = []
        addresses = table.get("addresses", {})
        if not isinstance(addresses, dict):
            problems.append(f'{path}.addresses: must be a table of role = "how they are addressed"')
            addresses = {}
        others = tuple(other for other in ROLE_ORDER if other != role)
        unknown_keys(addresses, others, f"{path}.addresses.")
        for other, value in addresses.items():
            if other in others and (not isinstance(value, str) or not value.strip()):
                problems.append(f"{path}.addresses.{other}: must be a non-empty string")
        characters[role] = Character(
            role=role,
            catchphrases=tuple(p.strip() for p in phrases),
            addresses={k: v.strip() for k, v in addresses.items() if k in others and isinstance(v, str)},
            **fields,
        )
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems)
        raise TeamFileError(
            f"team {spec.name!r} is broken ({where}):\n{listed}\n"
            "Fix the file or reinstall its plugin; meanwhile pick another team with `nanofolks team use NAME`."
        )
    return Team(name=spec.name, characters=characters, **header)


# -- choosing a team ----------------------------------------------------------------------------


def resolve_team(registry: Registry, name: str) -> tuple[Team, str | None]:
    """The team called ``name``, or the default team and a warning saying why it is not available.

    The crew must keep working when the configured team's plugin is uninstalled, disabled or
    broken, so this never raises for those cases.
    """
    spec = registry.get("team", name)
    if spec is not None:
        try:
            return load_team(spec), None
        except TeamFileError as exc:
            reason = f"team {name!r} cannot be loaded, so the crew uses the default team. {exc}"
    else:
        available = ", ".join(registry.names("team")) or "none"
        reason = (
            f"team {name!r} is not available (not installed, or its plugin is disabled), so the crew uses "
            f"the default team. Available teams: {available}. Install it with "
            f"`pip install nanofolks-team-{name}` or pick one with `nanofolks team use NAME`."
        )
    default_spec = registry.get("team", DEFAULT_TEAM_NAME)
    if default_spec is not None and default_spec != spec:
        try:
            return load_team(default_spec), reason
        except TeamFileError as exc:
            # A plugin replaced the default team with a broken one: the shipped file still works.
            reason = f"{reason}\n{exc}"
    return load_team(DEFAULT_TEAM), reason
