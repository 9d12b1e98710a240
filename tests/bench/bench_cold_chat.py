"""Cold `nanofolks chat -m Hello` (no gateway) next to `python -c "import litellm"`, in one run.

Each command runs in a fresh process, alternating, after one warm-up run of each; the figures
are the median of ``--runs`` (default 5) of the child's own CPU (user + system, from wait4),
its wall time and its peak resident memory. The chat goes to a local OpenAI-compatible server
that answers instantly (the testing kit's FakeLLMServer), through a data folder made by
`nanofolks onboard --provider vllm --model m --api-base ...`, with every installed plugin on.

References printed in the same run:
* `python -c "import litellm"` with LITELLM_LOCAL_MODEL_COST_MAP=True (offline, as the provider
  imports it; without the variable litellm also tries to download its price map);
* the provider's own import (`runtime.load()`: collection paused, objects frozen): the least
  any message through litellm can cost;
* `nanofolks --version`: the interpreter and the CLI alone.

Run: python tests/bench/bench_cold_chat.py [--runs N] [--max-ratio 1.3]
Target (issue 9): cold `chat -m` CPU at most 1.3 x `import litellm` CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nanofolks_core.testing.llm_server import FakeLLMServer


def nanofolks_executable() -> str:
    candidate = Path(sys.executable).with_name("nanofolks")
    return str(candidate) if candidate.exists() else "nanofolks"


def measure(argv: list[str], env: dict[str, str], expect: str | None = None) -> tuple[float, float, float]:
    """(CPU s, wall s, peak RSS MiB) of one run of ``argv`` in a fresh process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode(errors="replace")
    if process.returncode != 0 or (expect is not None and expect not in output):
        raise SystemExit(f"{' '.join(argv)} failed (exit {process.returncode}):\n{output}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024


def row(label: str, samples: list[tuple[float, float, float]]) -> tuple[str, float]:
    cpu = statistics.median(s[0] for s in samples)
    wall = statistics.median(s[1] for s in samples)
    rss = statistics.median(s[2] for s in samples)
    return f"{label:<52} CPU {cpu:5.2f} s   wall {wall:5.2f} s   peak {rss:5.0f} MiB   (n={len(samples)})", cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-ratio", type=float, default=1.3, help="fail above this chat/import CPU ratio")
    args = parser.parse_args()
    exe = nanofolks_executable()
    with FakeLLMServer() as server, tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "NANOFOLKS_HOME": home}
        env.pop("LITELLM_LOCAL_MODEL_COST_MAP", None)
        subprocess.run(
            [exe, "onboard", "--provider", "vllm", "--model", "m", "--api-base", server.base_url],
            env=env, capture_output=True, check=True,
        )  # fmt: skip
        offline = {**env, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        commands = {
            "chat": ([exe, "chat", "-m", "Hello"], env, "[m] Hello"),
            "import": ([sys.executable, "-c", "import litellm"], offline, None),
            "provider": (
                [sys.executable, "-c", "from nanofolks_provider_litellm import runtime; runtime.load()"],
                env,
                None,
            ),
            "version": ([exe, "--version"], env, None),
        }
        samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
        for argv, command_env, expect in commands.values():
            measure(argv, command_env, expect)  # warm the OS file cache
        for _ in range(args.runs):  # alternating, so a busy moment costs every command alike
            for name, (argv, command_env, expect) in commands.items():
                samples[name].append(measure(argv, command_env, expect))
    print(f"cold chat -m against an instant local server; median of {args.runs} (2 cores: figures vary ~±20%)")
    chat_line, chat_cpu = row("`nanofolks chat -m Hello` (no gateway)", samples["chat"])
    import_line, import_cpu = row('`python -c "import litellm"` (local price map)', samples["import"])
    provider_line, provider_cpu = row("litellm as the provider imports it (runtime.load)", samples["provider"])
    version_line, _ = row("`nanofolks --version`", samples["version"])
    for line in (chat_line, import_line, provider_line, version_line):
        print(line)
    ratio = chat_cpu / import_cpu
    print(f"chat -m / import litellm CPU: {ratio:.2f} (target at most {args.max_ratio:.2f})")
    print(f"chat -m beyond litellm's own import (runtime.load): {chat_cpu - provider_cpu:.2f} s CPU")
    if ratio > args.max_ratio:
        print("FAIL: over the target")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
