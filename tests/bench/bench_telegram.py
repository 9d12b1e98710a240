"""A Telegram round trip through a running gateway: from a person's message reaching the local Bot
API server (FakeTelegramServer) to the crew's reply arriving there.

One `nanofolks gateway` subprocess with the telegram channel (python-telegram-bot long polling)
and the core's stdlib test provider against an instant FakeLLMServer; memory off, so the figure
is the gateway + channel + pipeline cost, not a model's or an embedder's. Messages are sent one
at a time (each waits for its reply); the first few are not counted (imports, connections).

Run: python tests/bench/bench_telegram.py [--messages N]
(bench_gateway.py calls round_trips() for its Telegram line, with its default config: the
installed plugins, provider-litellm and memory on.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from nanofolks_telegram.testing import FakeTelegramServer

from nanofolks_core.testing.gateway import GatewayProcess
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


def round_trips(home: Path, messages: int, **env: str) -> list[float]:
    """Milliseconds from ``push_message`` to the reply's ``sendMessage`` at the fake server, for
    ``messages`` messages (after :data:`WARM_UP` uncounted ones) through one gateway serving
    ``home``, whose config.json must already have a model; the telegram section is added here.
    ``env`` is added to the gateway's environment."""
    config = json.loads((home / "config.json").read_text())
    with FakeTelegramServer() as telegram:
        config.setdefault("channels", {})["telegram"] = {
            "enabled": True,
            "token": "env:BENCH_TELEGRAM_TOKEN",
            "apiBase": telegram.url,
            "allowFrom": [str(USER)],
        }
        (home / "config.json").write_text(json.dumps(config))
        gateway = GatewayProcess(home)
        gateway.env |= env | {"BENCH_TELEGRAM_TOKEN": telegram.token}
        with gateway:
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
        return samples


def telegram_round_trip(messages: int = 30) -> list[float]:
    """:func:`round_trips` with only the telegram channel and the core's stdlib test provider
    loaded, memory off: the gateway + channel + pipeline cost alone."""
    with tempfile.TemporaryDirectory(prefix="nanofolks-bench-telegram-") as tmp, FakeLLMServer() as llm:
        home = Path(tmp) / "home"
        home.mkdir()
        config = {
            "agents": {"defaults": {"model": "local/test-model"}},
            "providers": {"local": {"apiBase": llm.base_url}},
            "memory": {"enabled": False},
        }
        (home / "config.json").write_text(json.dumps(config))
        site = _provider_site(Path(tmp) / "site")
        return round_trips(home, messages, NANOFOLKS_LOAD_PLUGINS="telegram,test-provider", PYTHONPATH=str(site))


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
