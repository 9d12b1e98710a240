"""What `plugins list`, `--help` and `plugins disable` import: the start-up budget (docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nanofolks_core.crew.roles import ROLE_ORDER
from nanofolks_core.specs import CREW_ROLE_NAMES, ToolSpec

#: Modules that cost start-up time and that listing, help and enable/disable never need.
NOT_AT_START = ("cattrs", "nanofolks_core.contracts", "nanofolks_core.crew", "nanofolks_core.messages")


def test_specs_know_the_crew_roles_without_importing_the_crew():
    assert CREW_ROLE_NAMES == ROLE_ORDER
    with pytest.raises(ValueError, match="unknown role 'pilot'"):
        ToolSpec(name="t", factory="m:f", roles=("coder", "pilot"))
    assert ToolSpec(name="t", factory="m:f", roles=("coder",)).offered_to("coder")


# `plugins enable core` goes through the same path as disable (config read and checked) and works
# with the core alone installed (nox runs these tests without any plugin).
@pytest.mark.parametrize("args", [["plugins", "list"], ["--help"], ["plugins", "enable", "core"]])
def test_start_up_commands_do_not_import_what_they_do_not_use(tmp_path, args):
    code = (
        "import sys\nfrom nanofolks_core.cli import main\ncode = main(sys.argv[1:])\n"
        f"print('LOADED', *[m for m in {NOT_AT_START!r} if m in sys.modules])\nsys.exit(code)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={"NANOFOLKS_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "LOADED"


def test_the_core_registers_its_secret_patterns_unchecked_only_because_each_compiles():
    """The core skips compiling its own patterns at start-up; this is the check it relies on."""
    import re

    from nanofolks_core.plugins import PluginHost
    from nanofolks_core.security.patterns import BUILTIN_FORMATS

    host = PluginHost()
    host.load_entry_points(env={"NANOFOLKS_LOAD_PLUGINS": "core"})
    patterns = host.build_registry().all("secret-pattern")
    assert sorted(spec.pattern for spec in patterns) == sorted(fmt.pattern for fmt in BUILTIN_FORMATS)
    for spec in patterns:
        re.compile(spec.pattern)
