"""A Telegram round trip through a running gateway: from a person's message reaching the local Bot
API server (FakeTelegramServer) to the crew's reply arriving there.

One `nanofolks gateway` subprocess with the telegram channel (python-telegram-bot long polling)
and the core's stdlib test provider against an instant FakeLLMServer; memory off, so the figure
is the gateway + channel + pipeline cost, not a model's or an embedder's. Messages are sent one
at a time (each waits for its reply); the first few are not counted (imports, connections).

Run: python tests/bench/bench_telegram.py [--messages N]
(bench_gateway.py calls telegram_round_trip() for its Telegram line.)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nanofolks_telegram.testing import FakeTelegramServer

from nanofolks_core.testing.llm_server import FakeLLMServer

WARM_UP = 3
USER = 4242


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _provider_site(folder: Path) -> Path:
    """A dist-info giving the core's stdlib test provider an entry point, for the subprocess."""
    dist = folder / "nanofolks_bench_provider-0.0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nanofolks-bench-provider\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text("[nanofolks.plugins]\ntest-provider = nanofolks_core.testing.provider\n")
    return folder


def _wait_ready(proc: subprocess.Popen, state_file: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the gateway exited {proc.returncode}: {proc.communicate()[1]}")
        if state_file.exists():
            return
        time.sleep(0.05)
    raise RuntimeError("the gateway did not start in time")


def telegram_round_trip(messages: int = 30) -> list[float]:
    """Milliseconds from ``push_message`` to the reply's ``sendMessage`` at the fake server, for
    ``messages`` messages (after :data:`WARM_UP` uncounted ones) through one running gateway."""
    with (
        tempfile.TemporaryDirectory(prefix="nanofolks-bench-telegram-") as tmp,
        FakeLLMServer() as llm,
        FakeTelegramServer() as telegram,
    ):
        home = Path(tmp) / "home"
        home.mkdir()
        config = {
            "agents": {"defaults": {"model": "local/test-model"}},
            "providers": {"local": {"apiBase": llm.base_url}},
            "memory": {"enabled": False},
            "channels": {
                "telegram": {"enabled": True, "token": "env:BENCH_TELEGRAM_TOKEN", "apiBase": telegram.url}
                | {"allowFrom": [str(USER)]}
            },
        }
        (home / "config.json").write_text(json.dumps(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
        env |= {
            "NANOFOLKS_HOME": str(home),
            "NANOFOLKS_LOAD_PLUGINS": "telegram,test-provider",
            "PYTHONPATH": str(_provider_site(Path(tmp) / "site")),
            "BENCH_TELEGRAM_TOKEN": telegram.token,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core", "gateway", "--port", "0"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_ready(proc, home / "run" / "gateway.json")
            telegram.wait_for_request("getUpdates", timeout=60)
            samples = []
            for i in range(messages + WARM_UP):
                pushed = time.monotonic()
                telegram.push_message(USER, f"Hello number {i}, how are you?", username="ada")
                reply = telegram.wait_for_sent(i + 1, timeout=60)[i]
                if f"Hello number {i}," not in reply["text"]:
                    raise RuntimeError(f"unexpected reply: {reply['text']!r}")
                if i >= WARM_UP:
                    samples.append((reply["time"] - pushed) * 1000)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        return samples


def report(samples: list[float]) -> str:
    """The bench line for ``samples`` (ms)."""
    return (
        f"{'telegram round trip through the gateway':<48} p50 {statistics.median(samples):7.2f} ms"
        f"   p95 {_pct(samples, 0.95):7.2f} ms   (n={len(samples)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30)
    args = parser.parse_args()
    print(report(telegram_round_trip(args.messages)))


if __name__ == "__main__":
    main()
