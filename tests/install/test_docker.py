"""The Docker form of the user guide: build the image, run the gateway with a mounted data folder.

Runs only where a Docker daemon answers (skipped otherwise, e.g. in CI machines without one).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE = "nanofolks-test:latest"


def _docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(not _docker_works(), reason="no Docker daemon on this machine")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(3600)
def test_image_runs_the_gateway_with_a_mounted_data_folder(tmp_path, llm_server):
    subprocess.run(["docker", "build", "-t", IMAGE, str(REPO)], check=True, timeout=3000)
    data = tmp_path / "data"
    data.mkdir()
    port = _free_port()
    docker = ["docker", "run", "--rm", "--network", "host", "-v", f"{data}:/root/.nanofolks"]
    onboard = subprocess.run(
        [*docker, IMAGE, "onboard", "--provider", "vllm", "--model", "m", "--api-base", llm_server.base_url, "-y"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert onboard.returncode == 0, onboard.stderr
    assert (data / "config.json").is_file(), "the config lands in the mounted folder"
    name = f"nanofolks-test-{port}"
    subprocess.run([*docker, "-d", "--name", name, IMAGE, "gateway", "--host", "0.0.0.0", "--port", str(port)],
                   check=True, timeout=120)  # fmt: skip
    try:
        health = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                    health = json.loads(answer.read())
                    break
            except OSError:
                time.sleep(1)
        assert health is not None and health["status"] == "ok", "GET /health answers from the container"
    finally:
        stopped = subprocess.run(["docker", "stop", "-t", "40", name], capture_output=True, timeout=120)
    assert stopped.returncode == 0
    assert not (data / "run" / "gateway.json").exists(), "SIGTERM stopped the gateway cleanly"
