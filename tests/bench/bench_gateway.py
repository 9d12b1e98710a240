"""The CLI with a gateway up, and without: what a message costs (issue 9).

Run: python tests/bench/bench_gateway.py [--runs 30] [--clients 8] [--messages 20]

Prints, in one run against a local OpenAI-compatible server answering instantly (FakeLLMServer):
  * thin-client `nanofolks chat -m` wall p50/p95 (and CPU p50) with a gateway running,
    next to `nanofolks --version` p50 (target: chat p50 < 250 ms and within 3x of --version);
  * cold in-process `nanofolks chat -m` CPU next to `python -c "import litellm"` CPU, interleaved,
    median of 5 (target of issue 9 item 3: at most 1.3x);
  * messages/s through one gateway from N concurrent client processes (and that none was lost);
  * the Telegram round trip (see :func:`telegram_round_trip`), when nanofolks-telegram is installed.
Exit status 1 when the thin-client target is missed or a message was lost. The repository's
packages are byte-compiled first, as an install would have them.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nanofolks_core.testing.gateway import GatewayProcess, cli_env
from nanofolks_core.testing.llm_server import FakeLLMServer


def byte_compile_sources() -> None:
    """Write the .pyc files of this repository's packages, as pip does when it installs them.

    A development tree run with PYTHONDONTWRITEBYTECODE=1 otherwise recompiles every new or
    edited module in every process (~30 ms for the thin client's few modules), which no user's
    install pays.
    """
    import compileall

    import nanofolks_core

    repo = Path(nanofolks_core.__file__).resolve().parent.parent
    for folder in ("nanofolks_core", "plugins", "teams", "skills"):
        if (repo / folder).is_dir():
            compileall.compile_dir(repo / folder, quiet=1, rx=re.compile(r"[/\\](tests|\.venv)[/\\]"))


def nanofolks_executable() -> str:
    candidate = Path(sys.executable).with_name("nanofolks")
    return str(candidate) if candidate.exists() else "nanofolks"


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU s of the child: user + system) of one run; the command must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, capture_output=True, check=True, stdin=subprocess.DEVNULL)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def make_home(root: Path, llm: FakeLLMServer, name: str, *, memory: bool = True) -> Path:
    home = root / name
    home.mkdir()
    config = {
        "agents": {"defaults": {"model": "vllm/test-model"}},
        "providers": {"vllm": {"apiBase": llm.base_url, "timeout": 30}},
        "memory": {"enabled": memory},
    }
    (home / "config.json").write_text(json.dumps(config))
    return home


def thin_client(home: Path, runs: int, gap: float) -> tuple[list[float], list[float], list[float], list[float]]:
    """chat -m through the running gateway, and --version, interleaved (same machine load)."""
    exe, env = nanofolks_executable(), cli_env(home)
    timed([exe, "chat", "-m", "warm-up"], env)
    chat_wall, chat_cpu, version_wall, version_cpu = [], [], [], []
    for n in range(runs):
        wall, cpu = timed([exe, "chat", "-m", f"bench {n}"], env)
        chat_wall.append(wall)
        chat_cpu.append(cpu)
        wall, cpu = timed([exe, "--version"], env)
        version_wall.append(wall)
        version_cpu.append(cpu)
        time.sleep(gap)
    return chat_wall, chat_cpu, version_wall, version_cpu


def gateway_turns(home: Path, runs: int, gap: float) -> dict[str, list[float]]:
    """The gateway's side of a message, asked over the socket from this process: the whole round
    trip and the turn's own step timings (ms), to tell the gateway's share from the client's."""
    from nanofolks_core.gateway.client import connect

    samples: dict[str, list[float]] = {"round trip": [], "total": [], "context": [], "llm": []}
    for n in range(runs):
        started = time.perf_counter()
        with connect(home) as client:
            client.hello(room="general")
            *_, last = client.request("chat", text=f"socket {n}", room="general", stream=True)
        samples["round trip"].append((time.perf_counter() - started) * 1000)
        for step in ("total", "context", "llm"):
            samples[step].append(last["turn"]["timings"].get(step, 0.0))
        time.sleep(gap)
    return samples


def cold_against_litellm(home: Path, repeats: int = 5) -> tuple[list[float], list[float]]:
    """CPU s of a cold in-process chat -m and of `import litellm`, interleaved."""
    exe, env = nanofolks_executable(), cli_env(home, NANOFOLKS_NO_GATEWAY="1")
    chat_cpu, litellm_cpu = [], []
    for n in range(repeats):
        chat_cpu.append(timed([exe, "chat", "-m", f"cold {n}"], env)[1])
        litellm_cpu.append(timed([sys.executable, "-c", "import litellm"], env)[1])
    return chat_cpu, litellm_cpu


def throughput(home: Path, clients: int, messages: int) -> tuple[float, int, int]:
    """(messages/s, messages sent, questions found in the history exactly once) with concurrent clients."""
    exe, env = nanofolks_executable(), cli_env(home)

    def client(c: int) -> None:
        for n in range(messages):
            subprocess.run([exe, "chat", "-m", f"client {c} message {n}"], env=env, capture_output=True, check=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - started
    history = subprocess.run(
        [exe, "room", "history", "general", "--limit", "0", "--json"], env=env, capture_output=True, check=True
    )
    questions = [m["content"] for m in json.loads(history.stdout) if m["role"] == "user"]
    wanted = {f"client {c} message {n}" for c in range(clients) for n in range(messages)}
    once = sum(1 for q in wanted if questions.count(q) == 1)
    return clients * messages / elapsed, clients * messages, once


# ---------------------------------------------------------------------------------------------
# TELEGRAM ROUND TRIP HOOK (filled in by the nanofolks-telegram helper)
#
# Measure: a message from an allowFrom user posted to nanofolks_telegram.testing's fake Bot API
# server -> the gateway (channels.telegram enabled, apiBase pointing at the fake server) -> the
# crew -> the reply the fake server receives (sendMessage). Return the round-trip times in ms.
# ---------------------------------------------------------------------------------------------
def telegram_round_trip(root: Path, llm: FakeLLMServer, runs: int) -> list[float] | None:
    """Round-trip times (ms) of Telegram messages through a running gateway; None when
    nanofolks-telegram (and its testing fake Bot API server) is not installed."""
    try:
        import nanofolks_telegram.testing  # noqa: F401 - the fake Bot API server lives there
    except ImportError:
        return None
    from bench_telegram import round_trips  # next to this file: FakeTelegramServer + a gateway, timed

    return round_trips(make_home(root, llm, "telegram"), runs)


def thin_client_report(home: Path, runs: int, pid: int, gap: float) -> bool:
    """Print the thin-client figures for the gateway serving ``home``; True when on target."""
    chat_wall, chat_cpu, version_wall, version_cpu = thin_client(home, runs, gap)
    p50, p95, version = percentile(chat_wall, 0.5), percentile(chat_wall, 0.95), statistics.median(version_wall)
    print(
        f"thin client  chat -m        p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
        f"CPU p50 {statistics.median(chat_cpu) * 1000:5.1f} ms  ({runs} runs, gateway pid {pid})"
    )
    print(
        f"             --version      p50 {version:6.1f} ms                  "
        f"CPU p50 {statistics.median(version_cpu) * 1000:5.1f} ms  -> chat/--version {p50 / version:.2f}x"
    )
    turns = gateway_turns(home, runs, gap)
    print(
        "  of which the gateway: socket round trip p50 {:.1f} ms = turn {:.1f} ms "
        "(context incl. memory {:.1f} ms, model call {:.1f} ms) + protocol".format(
            *(statistics.median(turns[k]) for k in ("round trip", "total", "context", "llm"))
        )
    )
    return p50 < 250 and p50 <= 3 * version


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="thin-client chat -m runs")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--messages", type=int, default=20, help="messages per client")
    parser.add_argument("--cold", type=int, default=5, help="cold chat -m / import litellm pairs")
    parser.add_argument(
        "--gap",
        type=float,
        default=0.0,
        help="seconds between thin-client messages (a person typing: memory indexes meanwhile)",
    )
    args = parser.parse_args()
    byte_compile_sources()
    failed = False
    with FakeLLMServer() as llm, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for label, memory in (("default config (memory on)", True), ("memory off", False)):
            served = make_home(root, llm, f"served-{memory}", memory=memory)
            with GatewayProcess(served) as gateway:
                print(f"-- gateway with {label}")
                if not thin_client_report(served, args.runs, gateway.pid, args.gap) and memory:
                    print("FAIL: thin-client chat -m p50 must be < 250 ms and within 3x of --version")
                    failed = True
                rate, sent, once = throughput(served, args.clients, args.messages)
                print(
                    f"throughput   {args.clients} clients x {args.messages} messages: {rate:6.1f} messages/s  "
                    f"({once}/{sent} questions in the history exactly once)"
                )
                failed |= once != sent
        cold = make_home(root, llm, "cold")
        chat_cpu, litellm_cpu = cold_against_litellm(cold, args.cold)
        chat_median, litellm_median = statistics.median(chat_cpu), statistics.median(litellm_cpu)
        print(
            f"cold         chat -m CPU median {chat_median:5.2f} s   import litellm CPU median {litellm_median:5.2f} s"
            f"   -> {chat_median / litellm_median:.2f}x  (median of {args.cold}, interleaved)"
        )
        trips = telegram_round_trip(root, llm, runs=10)
        if trips is None:
            print("telegram: not installed")
        elif trips:
            print(
                f"telegram     round trip p50 {percentile(trips, 0.5):6.1f} ms  p95 {percentile(trips, 0.95):6.1f} ms"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
