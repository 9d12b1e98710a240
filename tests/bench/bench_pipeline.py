"""Framework overhead per message against an instant local OpenAI-compatible server.

Prints p50/p95 of:
* in-process `Crew.handle` wall time per message, and the pipeline's own share (everything
  except the provider call), with the real litellm provider;
* the same with the core's stdlib test provider (no litellm client overhead);
* the same with every installed plugin on (memory embeds each message in the background and
  searches before each reply; the router classifies each message);
* `nanofolks chat -m` end to end in a fresh process (interpreter start, imports, litellm's
  ~3 s import, one turn).

Run: nox -s bench  (or: python tests/bench/bench_pipeline.py [--messages N] [--cli-runs N])
Target (issue 3): in-process pipeline p50 under 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nanofolks_core.api import InboundMessage
from nanofolks_core.app import App
from nanofolks_core.crew import Crew
from nanofolks_core.testing.llm_server import FakeLLMServer


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(label: str, samples: list[float]) -> str:
    return (
        f"{label:<48} p50 {statistics.median(samples):7.2f} ms   p95 {pct(samples, 0.95):7.2f} ms   (n={len(samples)})"
    )


async def run_messages(app: App, n: int) -> tuple[list[float], list[float]]:
    crew = Crew.from_app(app)
    totals, overheads = [], []
    try:
        for i in range(n + 5):
            result = await crew.handle(InboundMessage(text=f"Hello number {i}, how are you?"))
            if i >= 5:  # the first turns pay one-time imports and connection set-up
                totals.append(result.timings["total"])
                overheads.append(result.timings["overhead"])
    finally:
        await crew.aclose()
    return totals, overheads


def in_process(server: FakeLLMServer, n: int, provider: str, disabled: tuple[str, ...] = ()) -> None:
    with tempfile.TemporaryDirectory() as home:
        os.environ["NANOFOLKS_HOME"] = home
        config = {
            "agents": {"defaults": {"model": f"{provider}/test-model"}},
            "providers": {provider: {"apiBase": server.base_url}},
            "plugins": {"disabled": list(disabled)},
        }
        Path(home, "config.json").write_text(json.dumps(config))
        app = App()
        if provider == "local":
            from nanofolks_core.plugins import PluginHost
            from nanofolks_core.testing import provider as test_provider

            host = app.host
            host.register_module(test_provider, "test-provider")
            host.build_registry()
            assert isinstance(host, PluginHost)
        enabled = [r.name for r in app.host.report() if r.loaded]
        totals, overheads = asyncio.run(run_messages(app, n))
        label = f"{provider} provider, {'memory+router off' if disabled else 'all plugins'}"
        print(f"plugins enabled: {', '.join(enabled)}")
        print(line(f"in-process turn, {label} (wall)", totals))
        print(line(f"in-process pipeline overhead, {label}", overheads))


def end_to_end(server: FakeLLMServer, runs: int) -> None:
    exe = str(Path(sys.executable).with_name("nanofolks"))
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "NANOFOLKS_HOME": home}
        config = {
            "agents": {"defaults": {"model": "vllm/test-model"}},
            "providers": {"vllm": {"apiBase": server.base_url}},
        }
        Path(home, "config.json").write_text(json.dumps(config))
        samples = []
        for i in range(runs):
            started = time.perf_counter()
            subprocess.run([exe, "chat", "-m", f"Hello {i}"], env=env, capture_output=True, check=True)
            samples.append((time.perf_counter() - started) * 1000)
        print(line("`nanofolks chat -m` end to end (fresh process)", samples))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--cli-runs", type=int, default=10)
    args = parser.parse_args()
    off = ("memory-chroma", "router")
    with FakeLLMServer() as server:
        in_process(server, args.messages, "vllm", off)
        in_process(server, args.messages, "local", off)
        in_process(server, args.messages, "vllm")
        end_to_end(server, args.cli_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
