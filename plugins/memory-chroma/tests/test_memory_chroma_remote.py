"""Remote mode: vectors on a real Chroma server started with ``chroma run``; the event log stays local."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from nanofolks_memory_chroma.backend import ChromaMemory
from nanofolks_memory_chroma.config import ChromaMemoryConfig

from nanofolks_core.api import MemoryEvent, NanofolksError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chroma_cli() -> str:
    beside_python = Path(sys.executable).with_name("chroma")
    found = str(beside_python) if beside_python.exists() else shutil.which("chroma")
    if found is None:
        pytest.skip("the `chroma` command (shipped with chromadb) is not installed")
    return found


@contextmanager
def chroma_server(folder: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """``chroma run`` on a free port; yields once its heartbeat answers; always killed afterwards."""
    port = free_port()
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own venv's chroma CLI
            [chroma_cli(), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chroma server did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
            yield proc, port
        finally:
            proc.kill()
            proc.wait(timeout=30)


def record(memory: ChromaMemory, *texts: str, room: str = "home") -> None:
    for text in texts:
        memory.record(MemoryEvent(id=f"{room}-{text[:12]}", room=room, role="user", text=text))
    memory.flush()


def test_remote_server_holds_the_vectors(tmp_path):
    with chroma_server(tmp_path) as (_proc, port):
        memory = ChromaMemory(config=ChromaMemoryConfig(host="127.0.0.1", port=port), data_root=tmp_path)
        try:
            record(memory, "The tax report is due on Friday", "My dog Rex loves the beach", "Buy milk")
            assert memory.search("pet")[0].text == "My dog Rex loves the beach"
            status = memory.status()
            assert status["vector_store"] == f"server http://127.0.0.1:{port}" and status["vectors"] == 3
            assert memory.forget(room="home") == 3 and memory.status()["vectors"] == 0
        finally:
            memory.close()
    assert (tmp_path / "memory" / "memory.db").exists()
    assert not (tmp_path / "memory" / "chroma").exists()


def test_a_server_that_goes_away_keeps_messages_in_the_log(tmp_path):
    with chroma_server(tmp_path) as (proc, port):
        memory = ChromaMemory(config=ChromaMemoryConfig(host="127.0.0.1", port=port), data_root=tmp_path)
        try:
            record(memory, "My dog Rex loves the beach")
            proc.kill()
            proc.wait(timeout=30)
            record(memory, "My sister Anna lives in Berlin")  # must not raise: the chat goes on
            status = memory.status()
            with pytest.raises(NanofolksError, match=rf"vector store at http://127.0.0.1:{port} failed to search"):
                memory.search("pet")
        finally:
            memory.close()
    assert (status["messages"], status["unindexed"], status["vectors"]) == (2, 1, None)
    assert f"the vector store at http://127.0.0.1:{port}" in status["last_error"]


def test_unreachable_server_leaves_search_off_with_a_clear_reason_and_keeps_the_log(tmp_path):
    port = free_port()
    memory = ChromaMemory(config=ChromaMemoryConfig(host="127.0.0.1", port=port), data_root=tmp_path)
    try:
        assert f"cannot reach the Chroma server at http://127.0.0.1:{port}" in memory.search_unavailable
        with pytest.raises(NanofolksError, match=rf"cannot reach the Chroma server at http://127.0.0.1:{port}"):
            memory.search("pet")
        memory.record(MemoryEvent(id="kept", room="general", role="user", text="My dog Rex loves the beach"))
        memory.flush()
        status = memory.status()
    finally:
        memory.close()
    # Logged while the server was down: embedded once it is back.
    assert (status["messages"], status["unindexed"]) == (1, 1)
