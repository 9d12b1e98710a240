"""Start-up time of the CLI with every installed plugin: median wall time of 10 runs.

Run: nox -s bench  (or: python tests/bench/bench_startup.py [--runs N])
Target (issue 2): `nanofolks --version`, `plugins list`, `--help` and `plugins disable X` under 150 ms
median. Each command also shows its median CPU time (user + system of the child): on a machine
other work is using, wall times swell and CPU is the steadier figure; the load average is printed.
`plugins disable team-pirate` runs last, in the same empty data folder: the first run writes
config.json, the others find the plugin already disabled (the same work up to the write).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nanofolks_core.testing.checks import heavy_modules_after

COMMANDS = (
    ["--version"],
    ["plugins", "list"],
    ["plugins", "list", "--all", "--json"],
    ["--help"],
    ["plugins", "disable", "team-pirate"],
)
#: Commands held to the target.
TARGETED = (["--version"], ["plugins", "list"], ["--help"], ["plugins", "disable", "team-pirate"])


def nanofolks_executable() -> str:
    candidate = Path(sys.executable).with_name("nanofolks")
    return str(candidate) if candidate.exists() else "nanofolks"


def time_command(args: list[str], runs: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) milliseconds of each run."""
    exe = nanofolks_executable()
    subprocess.run([exe, *args], env=env, capture_output=True, check=True)  # warm the OS file cache
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([exe, *args], env=env, capture_output=True, check=True)
        walls.append((time.perf_counter() - started) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    return walls, cpus


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--target-ms", type=float, default=150.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "NANOFOLKS_HOME": home}
        listing = subprocess.run(
            [nanofolks_executable(), "plugins", "list", "--all"], env=env, capture_output=True, text=True, check=True
        ).stdout
        print(f"plugins installed: {len(listing.strip().splitlines()) - 1}")
        failed = False
        print(f"load average: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
        for command in COMMANDS:
            samples, cpu = time_command(command, args.runs, env)
            median = statistics.median(samples)
            print(
                f"nanofolks {' '.join(command):<34} median {median:6.1f} ms  "
                f"min {min(samples):6.1f} ms  max {max(samples):6.1f} ms  cpu {statistics.median(cpu):6.1f} ms  "
                f"({args.runs} runs)"
            )
            if command in TARGETED and median > args.target_ms:
                failed = True
        heavy = heavy_modules_after([["plugins", "list", "--all"]], env)
        print(f"heavy modules imported by discovery + listing: {', '.join(heavy) or 'none'}")
    if failed or heavy:
        print(f"FAIL: over the {args.target_ms:.0f} ms target or heavy modules imported")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
