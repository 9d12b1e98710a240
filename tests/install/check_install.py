"""Checks an install made from the wheelhouse (``nox -s wheels``) the way a user meets it.

Run by ``nox -s card`` and ``nox -s core`` inside a venv holding only what pip installed:

* ``--card``: ``pip install nanofolks nanofolks-telegram nanofolks-team-pirate`` must give a crew
  that answers as the pirates, with a provider, memory (local embedding model, offline) and routing.
* ``--core``: ``pip install nanofolks-core`` alone must give a working framework and CLI, with none
  of the heavy dependencies, and say clearly what is missing when asked to chat.

It uses no pytest and nothing from the repository: only the installed packages and the testing
kit's fake LLM server (shipped with nanofolks-core) on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nanofolks_core.testing.llm_server import FakeLLMServer

EXE = str(Path(sys.executable).with_name("nanofolks"))


def run(*args: str, home: Path, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "NANOFOLKS_HOME": str(home), "NO_COLOR": "1"}
    # Offline after install: litellm must not fetch its price map, nothing may download a model.
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", HF_HUB_OFFLINE="1")
    env.pop("NANOFOLKS_STRICT_PLUGINS", None)
    done = subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    print(f"$ nanofolks {' '.join(args)}  -> exit {done.returncode}")
    if ok and done.returncode != 0:
        fail(f"`nanofolks {' '.join(args)}` failed:\n{done.stdout}\n{done.stderr}")
    return done


def fail(message: str) -> None:
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def expect(condition: bool, message: str) -> None:
    if not condition:
        fail(message)
    print(f"  ok: {message}")


def check_card(home: Path) -> None:
    listing = run("plugins", "list", "--json", home=home)
    names = {row["name"]: row for row in json.loads(listing.stdout)}
    for name in ("provider-litellm", "memory-chroma", "router", "keyring", "skill-scanner", "telegram", "team-pirate"):
        expect(names.get(name, {}).get("state") == "enabled", f"plugin {name} is installed and enabled")
    with FakeLLMServer() as server:
        run("onboard", "--provider", "vllm", "--model", "card-model", "--api-base", server.base_url, "--team", "pirate",
            home=home)  # fmt: skip
        chat = run("chat", "-m", "Hello crew, who is aboard?", home=home)
        expect("Captain Blackbeard" in chat.stdout, f"the pirate Leader answers: {chat.stdout.strip()[:120]!r}")
        expect("Hello crew, who is aboard?" in chat.stdout, "with the model's reply")
        expect(len(server.requests) >= 1, f"the model was called ({len(server.requests)} request(s))")
        again = run("chat", "-m", "What did I just ask?", home=home)
        expect("What did I just ask?" in again.stdout, "a second message is answered too")
    status = run("memory", "status", "--json", home=home)
    memory = json.loads(status.stdout)
    print(f"  memory status: {json.dumps(memory)[:300]}")
    expect(memory.get("messages", 0) >= 4, "memory recorded both questions and both replies")
    expect(memory.get("vectors", 0) >= 4, "and embedded them with the local model")
    found = run("memory", "search", "who is aboard", home=home)
    expect("aboard" in found.stdout, "memory search finds the first question (local MiniLM, offline)")
    routing = run("routing", "status", home=home)
    expect(routing.stdout.strip() != "", "routing status answers")
    history = run("room", "history", "general", home=home)
    expect("What did I just ask?" in history.stdout, "the room's history holds the conversation")


def check_core(home: Path) -> None:
    for heavy in ("litellm", "chromadb", "keyring", "bandit", "telegram"):
        expect(importlib.util.find_spec(heavy) is None, f"{heavy} is not installed with the core alone")
    version = run("--version", home=home)
    expect(version.stdout.startswith("nanofolks "), f"--version: {version.stdout.strip()}")
    listing = run("plugins", "list", "--json", "--all", home=home)
    names = [row["name"] for row in json.loads(listing.stdout)]
    expect(names == ["core"], f"only the built-in core plugin is installed: {names}")
    run("team", "list", home=home)
    with FakeLLMServer() as server:
        flags = ("--provider", "vllm", "--model", "m", "--api-base", server.base_url)
        onboard = run("onboard", *flags, home=home, ok=False)
        expect(onboard.returncode != 0 and "Traceback" not in onboard.stderr, "onboard without a provider fails")
        expect("pip install nanofolks-provider-litellm" in onboard.stderr, "naming what to install")
        chat = run("chat", "-m", "Hello", home=home, ok=False)
        expect(chat.returncode != 0 and "Traceback" not in chat.stderr, "chat without a provider fails cleanly")
        expect("nanofolks onboard" in chat.stderr, f"saying what to do: {chat.stderr.strip()[:200]!r}")
        expect(not server.requests, "and no model was called")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["card", "core"])
    mode = parser.parse_args().mode
    home = Path(tempfile.mkdtemp(prefix=f"nanofolks-{mode}-"))
    try:
        (check_card if mode == "card" else check_core)(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"{mode} install: all checks passed")


if __name__ == "__main__":
    main()
