"""The terminal is ours, text is text, Ctrl-C does what it says (issue 8, rows 4, 5, 9, 16).

Every test runs the real CLI in a fresh process against a local OpenAI-compatible server
(FakeLLMServer) through the real litellm provider.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest

pytest.importorskip("nanofolks_provider_litellm")

REPLACEMENT = "\ufffd"
# What a hostile or broken model might send: title change (OSC 0 and 2), clipboard write (OSC 52),
# clear screen (CSI 2J), full reset (ESC c), an 8-bit C1 CSI, and a CR that overwrites the line.
ATTACKS = {
    "osc0-title": "\x1b]0;pwned-title\x07",
    "osc2-title": "\x1b]2;pwned-title\x1b\\",
    "osc52-clipboard": "\x1b]52;c;cHduZWQtY2xpcA==\x07",
    "csi-clear": "\x1b[2J\x1b[H",
    "reset": "\x1bc",
    "c1-csi": "\x9b2J",
    "cr-overwrite": "\rpwned-overwrite",
}
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@attrs.frozen
class Run:
    code: int
    out: str
    err: str


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    return env | {"NANOFOLKS_HOME": str(home)} | extra


def run_cli(args: list, home: Path, stdin: bytes | None = None, timeout: float = 60, **env: str) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        env=cli_env(home, **env),
        timeout=timeout,
    )
    # surrogateescape: any raw byte the CLI wrote stays visible to the assertions.
    return Run(
        proc.returncode, proc.stdout.decode("utf-8", "surrogateescape"), proc.stderr.decode("utf-8", "surrogateescape")
    )


@pytest.fixture
def crew_home(home: Path, llm_server) -> Path:
    """A data folder configured for the local server (what `nanofolks onboard --provider vllm` writes)."""
    config = {
        "agents": {"defaults": {"model": "vllm/test-model"}},
        "providers": {"vllm": {"apiBase": llm_server.base_url, "timeout": 30}},
    }
    (home / "config.json").write_text(json.dumps(config))
    return home


def history(home: Path, room: str = "general") -> list[dict]:
    run = run_cli(["room", "history", room, "--json"], home)
    assert run.code == 0, run.err
    return json.loads(run.out)


# -- text is text (rows 4 and 5) -------------------------------------------------------------


@pytest.mark.parametrize("memory", [True, False], ids=["memory-on", "memory-off"])
def test_an_invalid_utf8_argument_becomes_a_replacement_character(memory, crew_home, llm_server):
    if not memory:
        config = json.loads((crew_home / "config.json").read_text())
        (crew_home / "config.json").write_text(json.dumps(config | {"memory": {"enabled": False}}))
    run = run_cli(["chat", "-m", b"caf\xe9"], crew_home)
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    assert f"[test-model] caf{REPLACEMENT}" in run.out
    assert llm_server.requests[-1]["messages"][-1]["content"] == f"caf{REPLACEMENT}"
    # The room stays usable: the next message goes out and is answered (row 5).
    run = run_cli(["chat", "-m", "and now?"], crew_home)
    assert run.code == 0, run.err
    assert "[test-model] and now?" in run.out
    contents = [m["content"] for m in history(crew_home)]
    assert f"caf{REPLACEMENT}" in contents and "and now?" in contents


def test_piped_lines_with_invalid_utf8_are_all_answered(crew_home, llm_server):
    run = run_cli(["chat", "--no-stream"], crew_home, stdin=b"caf\xe9\nnext\n")
    assert run.code == 0, run.err
    assert f"[test-model] caf{REPLACEMENT}" in run.out
    assert "[test-model] next" in run.out
    assert len(llm_server.requests) == 2


# -- the terminal is ours (row 9) ------------------------------------------------------------


def _assert_no_raw_control(text: str) -> None:
    found = sorted({hex(ord(c)) for c in RAW_CONTROL.findall(text)})
    assert not found, f"raw control characters reached the terminal: {found}"


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "no-stream"])
def test_escape_sequences_in_a_reply_never_reach_the_terminal(streaming, crew_home, llm_server):
    reply = " ".join(f"<{name}>{sequence}" for name, sequence in ATTACKS.items()) + " <end>"
    llm_server.push(reply)
    run = run_cli(["chat", "-m", "hello", *([] if streaming else ["--no-stream"])], crew_home)
    assert run.code == 0, run.err
    _assert_no_raw_control(run.out)
    assert all(f"<{name}>" in run.out for name in ATTACKS) and "<end>" in run.out
    assert "cHduZWQtY2xpcA" not in run.out and "pwned-title" not in run.out
    # What was stored and is sent back with the next request is just as harmless when printed.
    shown = run_cli(["chat", "-m", "again", "--no-stream"], crew_home)
    assert shown.code == 0, shown.err
    _assert_no_raw_control(shown.out)


def test_a_sequence_split_across_streamed_pieces_is_held_back_not_shown(crew_home, llm_server):
    # The server streams a reply in three pieces; put an OSC title sequence across each cut.
    osc = "\x1b]0;pwned-title\x07"
    prefix = "a" * 10
    text = prefix + osc + "b" * 12 + osc + "c" * 6
    step = -(-len(text) // 3)
    assert prefix.__len__() < step < len(prefix) + len(osc)  # the first cut is inside the sequence
    llm_server.push(text)
    run = run_cli(["chat", "-m", "hello"], crew_home)
    assert run.code == 0, run.err
    _assert_no_raw_control(run.out)
    assert "pwned" not in run.out and "0;" not in run.out
    assert "a" * 10 + "b" * 12 + "c" * 6 in run.out


def test_json_output_escapes_c1_controls(crew_home, llm_server):
    llm_server.push("x\x9b2Jy\x1b]0;t\x07z")
    run = run_cli(["chat", "-m", "hello", "--json"], crew_home)
    assert run.code == 0, run.err
    _assert_no_raw_control(run.out)
    assert json.loads(run.out)["replies"][0]["text"] == "xyz"


def test_output_to_a_latin1_terminal_does_not_crash(crew_home, llm_server):
    # click already copes with ASCII; a Latin-1 terminal cannot show emoji, which must not be fatal.
    llm_server.push("caf\u00e9 \U0001f3f4 ahoy")
    run = run_cli(["chat", "-m", "hello"], crew_home, PYTHONIOENCODING="latin-1")
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    assert "caf\udce9 ? ahoy" in run.out  # é as the Latin-1 byte, the flag as "?"


# -- Ctrl-C (row 16) -------------------------------------------------------------------------


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_ctrl_c_during_a_one_shot_message_exits_130_with_one_line(crew_home, llm_server):
    llm_server.hang_next(120)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanofolks_core", "chat", "-m", "hello"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(crew_home),
    )
    try:
        _wait_for(lambda: len(llm_server.requests) == 1)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.decode().strip() == "Interrupted."
    assert b"[test-model]" not in out


class Terminal:
    """The CLI on a pseudo-terminal, as a person at a keyboard would run it."""

    def __init__(self, args: list[str], home: Path) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=cli_env(home, TERM="xterm"),
            close_fds=True,
        )
        os.close(slave)
        self.screen = ""
        self.seen = 0  # read_until looks only at output after its previous match

    def read_until(self, pattern: str, timeout: float = 60.0) -> str:
        """Wait for ``pattern`` in the output that came after the previous match; returns that output."""
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, self.screen[self.seen :])) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen; screen so far:\n{self.screen}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:  # the process closed the terminal
                    if self.proc.poll() is not None:
                        raise AssertionError(f"{pattern!r} not seen; exited. Screen:\n{self.screen}") from None
        start, self.seen = self.seen, self.seen + found.end()
        return self.screen[start : self.seen]

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def interrupt_at_prompt(self) -> None:
        """Ctrl-C at the prompt, as a person would press it: not within microseconds of it appearing.

        The prompt is on screen before readline has set the terminal up and begun waiting for
        keys; a SIGINT landing in that gap (it interrupts the prompt's own write) is seen by
        CPython only at the next key press. No person can hit that gap; a test can.
        """
        time.sleep(0.5)
        self.interrupt()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        os.close(self.master)


@pytest.fixture
def terminal(crew_home):
    opened: list[Terminal] = []

    def open_terminal(args: list[str]) -> Terminal:
        opened.append(Terminal(args, crew_home))
        return opened[-1]

    yield open_terminal
    for term in opened:
        term.close()


def test_ctrl_c_in_interactive_chat_cancels_the_turn_then_leaves_on_the_second(terminal, llm_server):
    term = terminal(["chat"])
    term.read_until(r"\[general\] you> ")
    # At an idle prompt: a fresh prompt, the session goes on.
    term.interrupt_at_prompt()
    term.read_until(r"Ctrl-C again or Ctrl-D to leave\)\s*\r?\n.*\[general\] you> ")
    assert term.proc.poll() is None
    # During a reply: that turn is cancelled, the wait counter was showing, back to the prompt.
    llm_server.hang_next(120)
    term.type("tell me a long story\n")
    _wait_for(lambda: len(llm_server.requests) == 1)
    term.read_until(r"waiting for vllm/test-model… \d+ s", timeout=10)
    term.interrupt()
    term.read_until(r"\(cancelled; nothing more from this turn\)[\s\S]*\[general\] you> ", timeout=15)
    assert term.proc.poll() is None
    # The next message is answered normally.
    term.type("still there?\n")
    term.read_until(r"\[test-model\] still there\?[\s\S]*\[general\] you> ")
    # Two Ctrl-C in a row at the prompt leave, with the interrupt's exit status.
    term.interrupt_at_prompt()
    term.read_until(r"Ctrl-C again")
    term.interrupt_at_prompt()
    assert term.proc.wait(timeout=15) == 130
    assert "Traceback" not in term.screen


def test_ctrl_d_at_the_prompt_leaves_normally(terminal, llm_server):
    term = terminal(["chat"])
    term.read_until(r"\[general\] you> ")
    term.type("\x04")
    assert term.proc.wait(timeout=15) == 0


def test_piped_chat_interrupted_exits_130(crew_home, llm_server):
    llm_server.hang_next(120)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanofolks_core", "chat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(crew_home),
    )
    try:
        proc.stdin.write(b"first\nsecond\n")
        proc.stdin.flush()
        _wait_for(lambda: len(llm_server.requests) == 1)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err.decode()
    assert len(llm_server.requests) == 1  # the second line was not sent after the interrupt


# -- the stream filter itself (fast, in-process) ----------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_a_stream_cut_anywhere_prints_what_the_whole_text_would(size):
    from nanofolks_core.text import TerminalStream, for_terminal

    text = "Hi " + " ".join(ATTACKS.values()) + " \x1b(B done\r\nnext \x1b]0;never closed"
    stream = TerminalStream()
    printed = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size)) + stream.flush()
    assert printed == for_terminal(text)
    _assert_no_raw_control(printed)
    assert "pwned-title" not in printed and "cHduZWQ" not in printed and "never closed" not in printed


def test_an_endless_unterminated_sequence_is_not_held_forever():
    from nanofolks_core.text import MAX_HELD_BACK, TerminalStream

    stream = TerminalStream()
    assert stream.feed("ok \x1b]52;c;") == "ok "
    printed = stream.feed("A" * (MAX_HELD_BACK + 10))
    assert printed == "" and stream.feed("tail") == "tail"  # the oversized sequence was dropped


def test_worker_threads_never_take_ctrl_c_from_the_prompt():
    """A SIGINT delivered to a worker thread would leave input() asleep until Enter (row 16)."""
    import threading

    from nanofolks_core.cli.interrupts import keep_sigint_on_main_thread

    keep_sigint_on_main_thread()
    seen: list[set] = []
    worker = threading.Thread(target=lambda: seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, [])))
    worker.start()
    worker.join()
    assert signal.SIGINT in seen[0]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # the main thread still gets it
