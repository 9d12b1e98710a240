"""Plays ``node index.mjs`` for test_whatsapp_spawn.py: the same command line, token variable,
``listening`` line and stdin lifeline as the real bridge, with FakeBridge as its websocket.

It greets the first client with one message from +1234567890, then appends every command it
gets and its own command line to the JSON-lines file named by ``STAND_IN_LOG``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

from nanofolks_whatsapp.testing import FakeBridge


def main() -> None:
    args = sys.argv[2:]  # argv[1] is the script path the channel passes to node
    port = int(args[args.index("--port") + 1])
    log_path = os.environ["STAND_IN_LOG"]

    def note(entry: dict) -> None:
        with open(log_path, "a") as log:
            log.write(json.dumps(entry) + "\n")

    note({"argv": sys.argv[1:], "token": os.environ.get("NANOFOLKS_BRIDGE_TOKEN")})
    bridge = FakeBridge(os.environ["NANOFOLKS_BRIDGE_TOKEN"], port=port).start()
    print(json.dumps({"type": "listening", "port": bridge.port, "pid": os.getpid()}), flush=True)

    def serve() -> None:
        bridge.wait_for_client(30)
        bridge.push_message("hello from the phone", sender="+1234567890", push_name="Ada")
        seen = 0
        while True:
            sent = bridge.wait_for_sent(seen + 1, timeout=3600)
            for entry in sent[seen:]:
                note({"sent": entry})
            seen = len(sent)

    def on_sigterm(_signum, _frame) -> None:
        note({"exit": "SIGTERM"})
        os._exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    threading.Thread(target=serve, daemon=True).start()
    sys.stdin.read()  # the lifeline: the parent closed it (or died)
    note({"exit": "stdin closed"})
    bridge.stop()


if __name__ == "__main__":
    main()
