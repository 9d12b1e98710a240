"""The CLI as a thin client of a running gateway (issue 9, item 2).

Real processes only: `nanofolks gateway` in a subprocess, `nanofolks chat` in others, the real
litellm provider against the testing kit's FakeLLMServer on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import pytest

from nanofolks_core.testing.gateway import GatewayProcess, cli_env
from nanofolks_core.testing.llm_server import FakeLLMServer

pytest.importorskip("nanofolks_provider_litellm")


@attrs.frozen
class Run:
    code: int
    out: str
    err: str


def run_cli(args: list[str], home: Path, stdin: str | None = None, timeout: float = 120, **env: str) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=cli_env(home, **env),
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def make_home(path: Path, llm: FakeLLMServer) -> Path:
    """A data folder configured as `nanofolks onboard --provider vllm --team pirate` would."""
    path.mkdir()
    config = {
        "agents": {"defaults": {"model": "vllm/test-model"}},
        "providers": {"vllm": {"apiBase": llm.base_url, "timeout": 30}},
        "team": "pirate",
    }
    (path / "config.json").write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def llm():
    with FakeLLMServer() as server:
        yield server


@pytest.fixture(scope="module")
def gateway_home(tmp_path_factory, llm) -> Path:
    return make_home(tmp_path_factory.mktemp("thin") / "home", llm)


@pytest.fixture(scope="module")
def gateway(gateway_home):
    with GatewayProcess(gateway_home) as process:
        yield process


# What a user might run; each is run once without and once with a gateway.
SESSION = [
    (["chat", "-m", "Hello"], None),
    (["chat", "-m", "@coder fix this bug"], None),
    (["chat", "-m", "@coder @researcher compare notes"], None),
    (["chat", "-m", "Ahoy", "--no-stream"], None),
    (["chat", "-m", "What now?", "--json"], None),
    (["chat", "-m", "Hi", "-r", "nope"], None),
    (["chat", "-m", "   "], None),
    (["chat", "--no-stream"], "Hi there\n/rooms\n/room nope\n@coder ping\n/help\n/exit\n"),
    (["chat"], "streamed line\n@social and you?\n"),
]


def test_chat_prints_the_same_with_and_without_a_gateway(tmp_path, llm):
    alone = make_home(tmp_path / "alone", llm)
    served = make_home(tmp_path / "served", llm)
    expected = [run_cli(args, alone, stdin) for args, stdin in SESSION]
    assert expected[0].code == 0 and "[test-model] Hello" in expected[0].out, expected[0].err
    with GatewayProcess(served) as gateway:
        got = [run_cli(args, served, stdin) for args, stdin in SESSION]
        assert gateway.proc.poll() is None
    for (args, _), want, have in zip(SESSION, expected, got, strict=True):
        if "@researcher" in args[-1]:
            # Two bots answer at once and each reply is printed as it arrives: in process too,
            # their order is the order they finished in.
            want, have = _blocks_in_any_order(want), _blocks_in_any_order(have)
        assert have == want, f"nanofolks {' '.join(args)} differs through the gateway"
    assert {r.code for r in got} == {0, 1, 2}  # successes, a failed piped line, bad input
    # The histories hold the same messages (the replies of one turn in crew order).
    assert _history_texts(served) == _history_texts(alone)


def _blocks_in_any_order(run: Run) -> Run:
    return attrs.evolve(run, out=sorted(run.out.split("\n\n")))


def _history_texts(home: Path) -> list[tuple[str, str | None, str]]:
    run = run_cli(["room", "history", "general", "--limit", "0", "--json"], home)
    assert run.code == 0, run.err
    return [(m["role"], m.get("bot"), m["content"]) for m in json.loads(run.out)]


def test_the_thin_client_loads_no_config_plugin_or_model_library(gateway):
    probe = (
        "import sys\n"
        "from nanofolks_core.cli import main\n"
        "code = main(['chat', '-m', 'who is aboard?'])\n"
        "heavy = ['nanofolks_core.app', 'nanofolks_core.plugins', 'nanofolks_core.crew', 'litellm',\n"
        "         'asyncio', 'attrs']\n"
        "print('LOADED', [name for name in heavy if name in sys.modules], file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=gateway.env, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "[test-model] who is aboard?" in proc.stdout
    assert "LOADED []" in proc.stderr


def test_no_gateway_env_runs_in_process(gateway, gateway_home):
    run = run_cli(["chat", "-m", "in process please"], gateway_home, NANOFOLKS_NO_GATEWAY="1")
    assert run.code == 0, run.err
    assert "[test-model] in process please" in run.out


def _ask(home: Path, client: int, count: int) -> list[Run]:
    return [run_cli(["chat", "-m", f"client {client} message {n}"], home) for n in range(count)]


def _assert_nothing_lost(home: Path, clients: int, count: int) -> None:
    history = json.loads(run_cli(["room", "history", "general", "--limit", "0", "--json"], home).out)
    questions = [m["content"] for m in history if m["role"] == "user" and m["content"].startswith("client ")]
    answers = [m["content"] for m in history if m["role"] == "assistant" and "] client " in m["content"]]
    wanted = {f"client {c} message {n}" for c in range(clients) for n in range(count)}
    assert sorted(questions) == sorted(wanted), "a question was lost or stored twice"
    assert sorted(answers) == sorted(f"[test-model] {q}" for q in wanted), "a reply was lost or stored twice"
    # Each question is followed by its own answer: turns in one room never interleave.
    for index, message in enumerate(history):
        if message["role"] == "user" and message["content"] in wanted:
            assert history[index + 1]["content"] == f"[test-model] {message['content']}"


def _concurrent_clients(home: Path, clients: int, count: int) -> None:
    with ThreadPoolExecutor(max_workers=clients) as pool:
        runs = [run for batch in pool.map(lambda c: _ask(home, c, count), range(clients)) for run in batch]
    failed = [r for r in runs if r.code != 0]
    assert not failed, failed[0].err
    _assert_nothing_lost(home, clients, count)


def test_three_clients_times_three_messages_lose_nothing(tmp_path, llm):
    home = make_home(tmp_path / "home", llm)
    with GatewayProcess(home):
        _concurrent_clients(home, clients=3, count=3)


@pytest.mark.slow
def test_eight_clients_times_twenty_messages_lose_nothing(tmp_path, llm):
    home = make_home(tmp_path / "home", llm)
    with GatewayProcess(home):
        _concurrent_clients(home, clients=8, count=20)


def test_history_and_memory_search_over_the_socket(gateway, gateway_home):
    from nanofolks_core.gateway.client import RemoteError, connect

    assert run_cli(["chat", "-m", "remember the parrot is called Polly"], gateway_home).code == 0
    with connect(gateway_home) as client:
        page = client.call("history", room="general", limit=2)
        assert page["room"] == "general" and page["total"] >= 2
        assert [m["content"] for m in page["messages"]] == [
            "remember the parrot is called Polly",
            "[test-model] remember the parrot is called Polly",
        ]
        with pytest.raises(RemoteError, match="no room named 'nope'") as error:
            client.call("history", room="nope", limit=0)
        assert error.value.exit_code == 2
        hits = client.call("memory.search", query="parrot Polly", limit=5)["hits"]
        assert all({"id", "text", "room", "ts", "score", "kind"} <= set(hit) for hit in hits)
        assert client.call("ping")["pong"] is True


def test_the_socket_is_the_owners_only(gateway):
    socket_path = Path(gateway.state["socket"])
    assert (socket_path.stat().st_mode & 0o777) == 0o600
    assert (socket_path.parent.stat().st_mode & 0o777) == 0o700
    assert socket_path.stat().st_uid == os.getuid()
