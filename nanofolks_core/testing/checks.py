"""Reusable checks for nanofolks' own tests and for plugin authors' tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

#: Modules that discovery and listing must never import (ARCHITECTURE §2).
HEAVY_MODULES = (
    "litellm", "chromadb", "keyring", "bandit", "tiktoken", "telegram", "discord", "slack_sdk", "slack_bolt",
    "openai", "onnxruntime", "numpy", "torch", "schedule", "cronsim",
)  # fmt: skip


def heavy_modules_after(commands: list[list[str]], env: Mapping[str, str]) -> list[str]:
    """Run ``nanofolks`` commands in one fresh interpreter; return the heavy modules they imported.

    ``commands`` is a list of argument lists (``[["plugins", "list"]]``), run one after the other
    in-process in that interpreter; ``env`` its environment (set ``NANOFOLKS_HOME``). The result
    lists the names from :data:`HEAVY_MODULES` found in ``sys.modules`` afterwards: an entry
    module that stays light leaves it empty.
    """
    calls = "; ".join(f"main({command!r})" for command in commands)
    code = (
        "import sys\nfrom nanofolks_core.cli import main\n"
        f"{calls}\nprint('HEAVY=' + ','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    # Our own interpreter running our own generated code: nothing untrusted reaches the command line.
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=dict(env)
    )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("HEAVY=")][-1]
    return [name for name in line.removeprefix("HEAVY=").split(",") if name]


def check_team_plugin(
    entry_name: str, team_name: str, *, title: str, vibe: str, leader_alias: str, cli_runner: Callable[..., Any]
) -> Any:
    """Assert what every team plugin's tests assert, in one call; return the loaded team.

    ``entry_name`` is the plugin's entry-point name (``"team-pirate"``), ``team_name`` the team
    it registers (``"pirate"``); ``title`` and ``vibe`` are what its TOML says;
    ``leader_alias`` an ``@name`` that must reach the Leader; ``cli_runner`` the fixture.

    Checks, in order: the *installed* plugin is discovered through its entry point and loads;
    it owns the team ``team_name``; the team file loads with that title and vibe; it has the six
    characters in role order with six distinct greetings; the team quality check passes
    (distinct names, voices and greetings, every character says how it addresses the other
    five, each reachable by an ``@name``, each identity prompt within budget);
    ``@leader_alias`` reaches the Leader; ``nanofolks team show team_name`` prints the title
    and every character with its greeting. Raises AssertionError naming what failed.
    """
    from nanofolks_core.crew import ROLE_ORDER, load_team, validate_team
    from nanofolks_core.plugins import discover

    host = discover(env={})
    assert entry_name in host.records, (
        f"no installed plugin is named {entry_name!r}: install the distribution first (`pip install -e .` in its "
        "folder) and check the entry-point name under [project.entry-points.\"nanofolks.plugins\"] in pyproject.toml"
    )
    assert host.records[entry_name].loaded, host.records[entry_name].reason
    assert host.registry.owner("team", team_name) == entry_name
    team = load_team(host.registry.get("team", team_name))
    assert (team.title, team.vibe) == (title, vibe)
    assert list(team.characters) == list(ROLE_ORDER)
    assert len({character.greeting for character in team.characters.values()}) == 6
    # distinct names, voices and greetings; addresses for all crewmates; @names; prompt size
    assert validate_team(team) == []
    assert team.mention_map()[leader_alias] == "leader"

    result = cli_runner(["team", "show", team_name])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{title} ({team_name})")
    for character in team.characters.values():
        assert f"{character.emoji}  {character.name} - " in result.output
        assert character.greeting in result.output
    return team
