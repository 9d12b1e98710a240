"""The work log and metrics as a user meets them: real CLI processes, the real provider (litellm)
against the testing kit's local OpenAI-compatible server, a real gateway for ``/metrics``."""

from __future__ import annotations

import csv
import json
import random
import sqlite3
import string
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from nanofolks_core.testing.gateway import GatewayProcess, cli_env
from nanofolks_core.testing.llm_server import Reply, ToolCall

pytest.importorskip("nanofolks_provider_litellm")

#: Only what this test needs, whatever else is installed next to it.
PLUGINS = "provider-litellm,worklog"
ALNUM = string.ascii_letters + string.digits
#: An Anthropic-format key the model (wrongly) puts into a tool call: it must never be stored.
LEAKED_KEY = "sk-ant-api03-" + "".join(random.Random(7).choice(ALNUM) for _ in range(93)) + "AA"


def run(args: list[str], home: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = cli_env(home, NANOFOLKS_LOAD_PLUGINS=PLUGINS, LITELLM_LOCAL_MODEL_COST_MAP="True")
    return subprocess.run(
        [sys.executable, "-m", "nanofolks_core", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def home(tmp_path, llm_server) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    config = {
        "agents": {"defaults": {"model": "vllm/test-model"}},
        "providers": {"vllm": {"apiBase": llm_server.base_url}},
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def script_landing_page(llm_server) -> None:
    """The coder writes a file with write_file, then answers."""

    def answer(request: dict) -> Reply | str:
        if any(message["role"] == "tool" for message in request["messages"]):
            return "I wrote the landing page to site/index.html."
        arguments = {"path": "site/index.html", "content": f"<h1>Landing page</h1><!-- {LEAKED_KEY} -->"}
        return Reply(tool_calls=[ToolCall("write_file", arguments)])

    llm_server.handler = answer


def test_a_chat_with_a_tool_call_is_in_the_work_log_and_the_metrics(home, llm_server):
    script_landing_page(llm_server)
    chat = run(["chat", "-m", "@coder build the landing page"], home)
    assert chat.returncode == 0, chat.stderr
    assert "landing page" in chat.stdout
    assert (home / "workspace" / "site" / "index.html").exists()

    found = run(["worklog", "search", "index.html", "--json"], home)
    assert found.returncode == 0, found.stderr
    entries = json.loads(found.stdout)
    tool = next(e for e in entries if e["kind"] == "tool")
    assert tool["name"] == "write_file" and tool["bot"] == "coder" and tool["room"] == "general"
    assert tool["outcome"] == "ok" and tool["seconds"] >= 0
    assert tool["detail"]["arguments"]["path"] == "site/index.html"
    assert {e["kind"] for e in entries} >= {"tool", "artifact", "turn"}
    artifact = next(e for e in entries if e["kind"] == "artifact")
    assert artifact["name"] == "site/index.html"

    # The credential the model put in the arguments is not in the work log (nor in its WAL).
    stored = b"".join(p.read_bytes() for p in (home / "plugins" / "worklog").iterdir())
    assert LEAKED_KEY.encode() not in stored
    assert LEAKED_KEY[:20].encode() not in stored
    assert "sk-ant" in json.dumps(tool["detail"]["arguments"])  # what is left is a reference or a mask

    listed = run(["worklog", "list", "--bot", "coder"], home)
    assert listed.returncode == 0 and "write_file" in listed.stdout

    metrics = run(["metrics", "--json"], home)
    assert metrics.returncode == 0, metrics.stderr
    total = json.loads(metrics.stdout)["total"]
    assert total["model_calls"] == len(llm_server.requests) == 2
    assert total["messages"] == 1 and total["tool_calls"] == 1 and total["tool_failures"] == 0
    assert total["tokens"] > 0 and total["latency_p50_ms"] is not None
    by_bot = json.loads(run(["metrics", "--json", "--by", "bot"], home).stdout)
    assert [group["key"] for group in by_bot["groups"]] == ["coder"]
    by_provider = json.loads(run(["metrics", "--json", "--by", "provider"], home).stdout)
    assert [group["key"] for group in by_provider["groups"]] == ["vllm"]


def test_show_export_and_filters(home, llm_server):
    script_landing_page(llm_server)
    assert run(["chat", "-m", "@coder build the landing page"], home).returncode == 0
    llm_server.handler = None
    assert run(["chat", "-m", "what is the weather like"], home).returncode == 0

    entries = json.loads(run(["worklog", "list", "--json"], home).stdout)
    assert [e["kind"] for e in entries if e["kind"] == "turn"] == ["turn", "turn"]
    assert entries[0]["summary"].startswith("what is the weather like")  # newest first
    shown = run(["worklog", "show", str(entries[0]["id"])], home)
    assert shown.returncode == 0 and "weather" in shown.stdout

    jsonl = run(["worklog", "export", "--kind", "turn"], home)
    lines = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [line["kind"] for line in lines] == ["turn", "turn"]
    assert lines[0]["summary"].startswith("@coder build")  # oldest first
    out = home.parent / "log.csv"
    csv_run = run(["worklog", "export", "--format", "csv", "-o", str(out)], home)
    assert csv_run.returncode == 0, csv_run.stderr
    assert out.read_text().splitlines()[0].startswith("id,time,kind,room,bot")

    assert json.loads(run(["worklog", "list", "--json", "--room", "nowhere"], home).stdout) == []
    assert json.loads(run(["worklog", "list", "--json", "--since", "2099-01-01"], home).stdout) == []
    assert len(json.loads(run(["worklog", "list", "--json", "--since", "1h"], home).stdout)) == len(entries)

    bad = run(["worklog", "list", "--since", "last tuesday"], home)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "7d" in bad.stderr
    missing = run(["worklog", "show", "99999"], home)
    assert missing.returncode == 2 and "no work-log entry 99999" in missing.stderr


def test_a_work_log_that_cannot_be_opened_never_costs_the_answer(home, llm_server):
    # A folder where the database file should be: SQLite cannot open it, whoever runs the test.
    (home / "plugins" / "worklog" / "worklog.db").mkdir(parents=True)
    chat = run(["chat", "-m", "Hello"], home)
    assert chat.returncode == 0, chat.stderr
    assert "[test-model] Hello" in chat.stdout
    warnings = [line for line in chat.stderr.splitlines() if "work log" in line]
    assert len(warnings) == 1 and "worklog.db" in warnings[0]  # said once, naming the file
    assert "Traceback" not in chat.stderr
    listed = run(["plugins", "list"], home)
    assert [line.split()[3] for line in listed.stdout.splitlines() if line.startswith("worklog")] == ["enabled"]
    shown = run(["worklog", "list"], home)
    assert shown.returncode == 1 and "worklog.db" in shown.stderr and "Traceback" not in shown.stderr


def test_a_damaged_work_log_is_moved_aside_and_a_new_one_started(home, llm_server):
    folder = home / "plugins" / "worklog"
    folder.mkdir(parents=True)
    (folder / "worklog.db").write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    chat = run(["chat", "-m", "Hello"], home)
    assert chat.returncode == 0, chat.stderr
    assert "was damaged" in chat.stderr and "Traceback" not in chat.stderr
    [kept] = folder.glob("worklog.db.damaged-*")
    assert kept.read_bytes().startswith(b"this is not a database")  # kept, never deleted
    entries = json.loads(run(["worklog", "list", "--json"], home).stdout)
    assert [e["kind"] for e in entries] == ["turn"]


def test_the_gateway_serves_prometheus_metrics(home, llm_server):
    gateway = GatewayProcess(home)
    gateway.env["NANOFOLKS_LOAD_PLUGINS"] = PLUGINS
    gateway.env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    with gateway:
        chat = subprocess.run(
            [sys.executable, "-m", "nanofolks_core", "chat", "-m", "Hello"],
            env=gateway.env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert chat.returncode == 0, chat.stderr
        url = f"http://127.0.0.1:{gateway.state['port']}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a local test server
            content_type = response.headers["Content-Type"]
            body = response.read().decode()
    assert content_type.startswith("text/plain; version=0.0.4")
    samples = dict(line.rsplit(" ", 1) for line in body.splitlines() if line and not line.startswith("#"))
    assert samples["nanofolks_gateway_up"] == "1"
    assert samples['nanofolks_turns_total{room="general",channel="cli",routine="false"}'] == "1"
    assert samples['nanofolks_model_calls_total{provider="vllm",tier="-"}'] == str(len(llm_server.requests)) == "1"
    assert "# TYPE nanofolks_turn_latency_seconds summary" in body


def test_the_work_log_is_sqlite_in_wal_mode_under_the_data_folder(home, llm_server):
    assert run(["chat", "-m", "Hello"], home).returncode == 0
    path = home / "plugins" / "worklog" / "worklog.db"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        kinds = sorted(kind for (kind,) in db.execute("SELECT kind FROM entry"))
    assert kinds == ["llm", "turn"]


def test_metrics_price_calls_with_the_routers_prices_when_the_provider_reports_none(tmp_path, llm_server):
    pytest.importorskip("nanofolks_router")
    home = tmp_path / "priced"
    home.mkdir()
    config = {
        "agents": {"defaults": {"model": "vllm/test-model"}},
        "providers": {"vllm": {"apiBase": llm_server.base_url}},
        "routing": {
            "enabled": True,
            "tiers": {"simple": {"model": "vllm/test-model", "price": {"input": 1000, "output": 2000}}},
        },
    }
    (home / "config.json").write_text(json.dumps(config))
    env = cli_env(home, NANOFOLKS_LOAD_PLUGINS=PLUGINS + ",router", LITELLM_LOCAL_MODEL_COST_MAP="True")
    nanofolks = [sys.executable, "-m", "nanofolks_core"]
    chat = subprocess.run([*nanofolks, "chat", "-m", "hi"], env=env, capture_output=True, text=True, timeout=180)
    assert chat.returncode == 0, chat.stderr
    shown = subprocess.run([*nanofolks, "metrics", "--json"], env=env, capture_output=True, text=True, timeout=180)
    total = json.loads(shown.stdout)["total"]
    assert total["model_calls"] == len(llm_server.requests)
    prompt, completion = total["prompt_tokens"], total["completion_tokens"]
    assert total["cost"] == pytest.approx((prompt * 1000 + completion * 2000) / 1_000_000)
    assert total["unpriced_calls"] == 0


def test_prune_and_export_refuse_bad_input_and_csv_cells_cannot_be_formulas(home, llm_server):
    too_far = run(["worklog", "prune", "--before", "99999999999999w"], home)
    assert too_far.returncode == 2 and "Traceback" not in too_far.stderr
    assert too_far.stderr.count("\n") == 1 and "--before '99999999999999w' is too far back" in too_far.stderr
    unreadable = run(["worklog", "prune", "--before", "abc"], home)
    assert unreadable.returncode == 2 and "cannot read --before 'abc'" in unreadable.stderr
    assert "--since" not in unreadable.stderr

    formulas = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1:A2)"]
    for text in formulas:
        assert run(["chat", "-m", text], home).returncode == 0
    out = home.parent / "log.csv"
    assert run(["worklog", "export", "--kind", "turn", "--format", "csv", "-o", str(out)], home).returncode == 0
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["summary"].split("\n")[0] for row in rows] == ["'" + text for text in formulas]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    assert rows[0]["kind"] == "turn" and float(rows[0]["seconds"]) >= 0  # plain cells unchanged
    jsonl = run(["worklog", "export", "--kind", "turn"], home).stdout.splitlines()
    assert json.loads(jsonl[0])["summary"].startswith(formulas[0])  # JSON lines keep the text as written
