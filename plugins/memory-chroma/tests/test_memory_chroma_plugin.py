"""Discovery stays light; the spec, command and config section are registered as the core expects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from nanofolks_memory_chroma import plugin
from nanofolks_memory_chroma.config import ChromaMemoryConfig


def run_python(code: str, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    env.update(NANOFOLKS_HOME=str(tmp_path / "home"), NANOFOLKS_LOAD_PLUGINS="memory-chroma")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_discovery_and_help_import_neither_chromadb_nor_numpy(tmp_path):
    result = run_python(
        """
        import contextlib, io, json, sys
        from nanofolks_core.api import App
        from nanofolks_core.testing import main
        app = App()
        spec = app.registry.get("memory", "chroma")
        command = app.registry.get("command", "memory")
        section = app.config.section(spec.config_section())
        with contextlib.redirect_stdout(io.StringIO()) as out:
            main(["--help"])
        heavy = sorted(m for m in ("chromadb", "numpy", "tokenizers", "litellm", "nanofolks_memory_chroma.backend")
                       if m in sys.modules)
        print(json.dumps({"factory": spec.factory, "section": spec.config_section(), "command": command.factory,
                          "config": type(section).__name__, "help_lists_memory": " memory " in out.getvalue(),
                          "heavy": heavy}))
        """,
        tmp_path,
    )
    assert result == {
        "factory": "nanofolks_memory_chroma.backend:ChromaMemory",
        "section": "memory.chroma",
        "command": "nanofolks_memory_chroma.cli:memory",
        "config": "ChromaMemoryConfig",
        "help_lists_memory": True,
        "heavy": [],
    }


def test_entry_module_declares_the_api_version_and_defaults():
    assert plugin.NANOFOLKS_API == "1.0"
    config = ChromaMemoryConfig()
    assert (config.embedding, config.host, config.recent_room_messages) == ("local", None, 40)
