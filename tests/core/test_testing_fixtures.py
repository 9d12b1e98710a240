"""The testing kit's own fixtures behave as docs/testing-your-plugin.md says."""

from __future__ import annotations

import pytest

from nanofolks_core.api import hookimpl
from nanofolks_core.testing import Reply


class _Recorder:
    """A plugin that records the requests it sees, to show `chat` loads what was registered."""

    def __init__(self) -> None:
        self.models: list[str] = []

    @hookimpl
    def nanofolks_before_llm_call(self, request):
        self.models.append(request.model)


def test_chat_runs_the_registered_plugins_and_shares_history(chat, register_plugin, llm_server):
    recorder = _Recorder()
    register_plugin(recorder, "recorder")
    llm_server.push("First answer.")
    first = chat("Hello there")
    second = chat("And again")

    assert (first.text, first.room, [r.bot for r in first.replies]) == ("First answer.", "general", ["leader"])
    assert second.text == "[test-model] And again"
    assert recorder.models == ["local/test-model", "local/test-model"]
    assert "Hello there" in [m["content"] for m in llm_server.requests[1]["messages"]]


def test_configure_merges_and_is_refused_after_the_first_message(chat, llm_server, nanofolks_home):
    chat.configure({"providers": {"local": {}}, "agents": {"defaults": {"maxToolIterations": 2}}})
    chat.configure({"agents": {"defaults": {"maxTokens": 500}}})
    llm_server.handler = lambda request: Reply(content="ok")
    assert chat("hi").text == "ok"  # the local provider kept its apiBase, the default model stayed

    import json

    written = json.loads((nanofolks_home / "config.json").read_text())
    assert written["providers"]["local"]["apiBase"] == llm_server.base_url
    assert written["agents"]["defaults"] == {"model": "local/test-model", "maxToolIterations": 2, "maxTokens": 500}
    with pytest.raises(RuntimeError, match="before the first chat"):
        chat.configure({"team": "default"})


def test_tool_context_and_plugin_services(tool_context, plugin_services, nanofolks_home):
    context = tool_context(room="kitchen", bot="coder", plugin="my-plugin")
    assert (context.room, context.bot) == ("kitchen", "coder")
    assert context.workspace == nanofolks_home / "workspace" and context.workspace.is_dir()
    assert context.services.data_dir == nanofolks_home / "plugins" / "my-plugin"
    assert context.services.log.name == "nanofolks.my-plugin"

    services = plugin_services("vault-user", secrets={"token": "s3cret"})
    assert services.secret("keyring:token") == "s3cret"
    assert services.secret("inline-value") == "inline-value"
