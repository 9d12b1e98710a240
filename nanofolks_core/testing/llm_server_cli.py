"""``python -m nanofolks_core.testing.llm_server``: the test LLM server, run by hand.

For plugin authors trying their plugin from a terminal: start the server with scripted replies
(plain text or tool calls), point nanofolks at it, chat, and read what the model was sent::

    python -m nanofolks_core.testing.llm_server --port 8765 \\
        --tool-call 'word_count={"text": "one two three"}' --reply "That has 3 words." --log requests.jsonl

Scripted replies are served in order, one per chat request; after them every request gets the
default echo ``"[<model>] <last user message>"``. ``--script FILE`` reads replies from a JSON
list or a JSON-lines file: each item a string, or an object with ``content``, ``tool_calls``
(``[{"name": ..., "arguments": {...}}]``) and any other field of :class:`Reply` (``status``,
``error``, ``delay``, ``raw_body``, ``stall`` ...).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, TextIO

from nanofolks_core.testing.llm_server import DEFAULT_MODEL, FakeLLMServer, Reply, ToolCall, default_reply_text

_REPLY_KEYS = {
    "content", "tool_calls", "status", "error", "delay", "finish_reason", "retry_after", "raw_body", "stall",
    "prompt_tokens", "completion_tokens",
}  # fmt: skip


class ScriptError(ValueError):
    """A scripted reply cannot be read; the message names the item and what is wrong."""


def reply_from(item: Any, where: str) -> Reply:
    """One scripted reply from a JSON value: a string, or an object with the keys of :class:`Reply`."""
    if isinstance(item, str):
        return Reply(content=item)
    if not isinstance(item, dict):
        raise ScriptError(f"{where}: expected a string or an object, got {type(item).__name__}")
    unknown = set(item) - _REPLY_KEYS
    if unknown:
        raise ScriptError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(_REPLY_KEYS))}")
    calls = []
    for call in item.get("tool_calls") or []:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ScriptError(f'{where}: each tool call needs a "name" (and optional "arguments" object)')
        calls.append(ToolCall(name=call["name"], arguments=dict(call.get("arguments") or {}), id=call.get("id")))
    return Reply(
        content=str(item.get("content") or ""),
        tool_calls=calls,
        status=int(item.get("status", 200)),
        error=item.get("error"),
        delay=float(item.get("delay", 0.0)),
        finish_reason=item.get("finish_reason"),
        retry_after=item.get("retry_after"),
        raw_body=item.get("raw_body"),
        stall=float(item.get("stall", 0.0)),
        prompt_tokens=item.get("prompt_tokens"),
        completion_tokens=item.get("completion_tokens"),
    )


def read_script(path: Path) -> list[Reply]:
    """Replies from a JSON list, or a JSON-lines file (one reply per non-empty line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScriptError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
        return [reply_from(item, f"{path} item {i}") for i, item in enumerate(items, 1)]
    except json.JSONDecodeError:
        pass
    replies = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                replies.append(reply_from(json.loads(line), f"{path} line {number}"))
            except json.JSONDecodeError as exc:
                raise ScriptError(f"{path} line {number}: not JSON ({exc.msg})") from None
    return replies


def _tool_call_reply(text: str) -> tuple[str, Reply]:
    name, sep, arguments = text.partition("=")
    try:
        parsed = json.loads(arguments) if sep else {}
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: the arguments after '=' are not JSON ({exc.msg})") from None
    if not name or not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f'{text!r}: write NAME or NAME=\'{{"arg": "value"}}\'')
    return ("reply", Reply(tool_calls=[ToolCall(name=name, arguments=parsed)]))


class RequestLog:
    """Prints one line per request (and what it got back); appends the full request to a JSONL file."""

    def __init__(self, out: TextIO, path: Path | None) -> None:
        self.out, self.path, self.count = out, path, 0
        self._lock = threading.Lock()

    def __call__(self, request: dict, reply: Reply, scripted: bool) -> None:
        with self._lock:
            self.count += 1
            messages = request.get("messages") or []
            last = messages[-1] if messages else {}
            tools = [t.get("function", {}).get("name", "?") for t in request.get("tools") or []]
            if reply.tool_calls:
                answer = "tool calls " + ", ".join(f"{c.name}({json.dumps(c.arguments)})" for c in reply.tool_calls)
            elif reply.is_error:
                answer = f"HTTP {reply.status if reply.status >= 400 else 500}"
            else:
                answer = json.dumps(reply.content[:80])
            print(
                f"#{self.count} model={request.get('model')} messages={len(messages)} last={last.get('role')}"
                f" tools=[{', '.join(tools)}] -> {'scripted ' if scripted else ''}{answer}",
                file=self.out,
                flush=True,
            )
            if last.get("role") == "tool":
                print(f"   tool result: {str(last.get('content'))[:200]}", file=self.out, flush=True)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as file:
                    file.write(json.dumps({"request": request, "scripted": scripted}) + "\n")


def build_server(args: argparse.Namespace, out: TextIO) -> FakeLLMServer:
    script: deque[Reply] = deque(read_script(args.script) if args.script else [])
    script.extend(reply for _kind, reply in args.replies or [])
    log = RequestLog(out, args.log)
    lock = threading.Lock()

    def answer(request: dict) -> Reply:
        with lock:
            scripted = bool(script)
            reply = script.popleft() if scripted else Reply(content=default_reply_text(request))
        log(request, reply, scripted)
        return reply

    return FakeLLMServer(handler=answer, host=args.host, port=args.port, model=args.model, api_key=args.api_key)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m nanofolks_core.testing.llm_server",
        description="A local OpenAI-compatible LLM server with scripted replies, for trying plugins by hand.",
    )
    ap.add_argument("--port", type=int, default=8765, help="port to listen on (0: a free one); default 8765")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind; default 127.0.0.1")
    ap.add_argument("--model", default=DEFAULT_MODEL, help=f"model name /v1/models reports; default {DEFAULT_MODEL}")
    ap.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY' (default: any key)")
    ap.add_argument(
        "--reply", dest="replies", action="append", type=lambda text: ("reply", Reply(content=text)),
        metavar="TEXT", help="a scripted text reply (repeatable, served in order with --tool-call)",
    )  # fmt: skip
    ap.add_argument(
        "--tool-call", dest="replies", action="append", type=_tool_call_reply, metavar="NAME=JSON",
        help="a scripted reply that calls tool NAME with JSON arguments (repeatable)",
    )  # fmt: skip
    ap.add_argument("--script", type=Path, help="scripted replies from a JSON list or JSON-lines file (served first)")
    ap.add_argument("--log", type=Path, help="append every request body to this JSON-lines file")
    return ap


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    try:
        server = build_server(args, out)
        server.start()
    except ScriptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        reason = exc.strerror or exc
        print(f"error: cannot listen on {args.host}:{args.port}: {reason}; try another --port", file=sys.stderr)
        return 2
    print(f"FakeLLMServer listening on {server.base_url} (model {args.model}); Ctrl-C to stop", file=out, flush=True)
    print(
        f"  try: nanofolks onboard --provider vllm --model {args.model} --api-base {server.base_url}",
        file=out,
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
