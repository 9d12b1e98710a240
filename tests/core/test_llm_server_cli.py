"""`python -m nanofolks_core.testing.llm_server`: the test LLM server run by hand, in a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest


def _post(base_url: str, body: dict) -> dict:
    request = urllib.request.Request(
        base_url + "/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def start_server(tmp_path):
    procs = []

    def start(*args: str) -> tuple[subprocess.Popen, str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core.testing.llm_server", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        first = proc.stdout.readline()
        assert first.startswith("FakeLLMServer listening on http://127.0.0.1:"), first + proc.stderr.read()
        proc.stdout.readline()  # the onboard hint
        return proc, first.split()[3]

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


def test_scripted_tool_call_then_text_then_default_with_a_request_log(start_server, tmp_path):
    script = tmp_path / "script.jsonl"
    script.write_text('{"tool_calls": [{"name": "word_count", "arguments": {"text": "a b"}}]}\n\n"From the file."\n')
    log = tmp_path / "requests.jsonl"
    proc, base_url = start_server("--script", str(script), "--reply", "From a flag.", "--log", str(log))
    ask = {"model": "test-model", "messages": [{"role": "user", "content": "hi"}]}

    first = _post(base_url, ask)["choices"][0]
    assert first["finish_reason"] == "tool_calls"
    call = first["message"]["tool_calls"][0]["function"]
    assert (call["name"], json.loads(call["arguments"])) == ("word_count", {"text": "a b"})
    tool_turn = {**ask, "messages": [*ask["messages"], {"role": "tool", "tool_call_id": "c1", "content": "2"}]}
    assert _post(base_url, tool_turn)["choices"][0]["message"]["content"] == "From the file."
    assert _post(base_url, ask)["choices"][0]["message"]["content"] == "From a flag."
    assert _post(base_url, ask)["choices"][0]["message"]["content"] == "[test-model] hi"

    lines = [proc.stdout.readline() for _ in range(5)]
    assert lines[0].startswith("#1 model=test-model") and 'scripted tool calls word_count({"text": "a b"})' in lines[0]
    assert lines[1].startswith("#2") and "last=tool" in lines[1]
    assert lines[2].strip() == "tool result: 2"
    assert lines[4].startswith("#4") and "scripted" not in lines[4]
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [entry["scripted"] for entry in logged] == [True, True, True, False]
    assert logged[1]["request"]["messages"][-1]["content"] == "2"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tool-call", "x={bad"], "the arguments after '=' are not JSON"),
        (["--script", "/nonexistent/script.json"], "cannot read /nonexistent/script.json"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(args, message):
    proc = subprocess.run(
        [sys.executable, "-m", "nanofolks_core.testing.llm_server", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_fault_replies_from_a_json_list(start_server, tmp_path):
    script = tmp_path / "faults.json"
    script.write_text('[{"status": 503, "error": "overloaded"}, {"raw_body": "<html>login</html>"}, "fine"]')
    _proc, base_url = start_server("--script", str(script))
    ask = {"model": "test-model", "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(urllib.error.HTTPError) as failed:
        _post(base_url, ask)
    assert failed.value.code == 503 and json.loads(failed.value.read())["error"]["message"] == "overloaded"
    request = urllib.request.Request(base_url + "/chat/completions", data=json.dumps(ask).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.read() == b"<html>login</html>"
    assert _post(base_url, ask)["choices"][0]["message"]["content"] == "fine"


def test_a_bad_script_item_names_the_line(tmp_path):
    script = tmp_path / "s.jsonl"
    script.write_text('"ok"\n{"contnet": "typo"}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "nanofolks_core.testing.llm_server", "--port", "0", "--script", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert f"{script} line 2: unknown key(s) contnet" in proc.stderr
