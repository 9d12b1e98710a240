"""Symbolic references, runtime resolution, the audit log and the last-line sanitizer.

The last test is the issue's "done when": a chat message with a GitHub token and an Anthropic
key, through the real pipeline, the real keyring plugin (headless: its 0600 file) and a tool.
"""

from __future__ import annotations

import asyncio
import binascii
import json
import random
import string
import sys
import types

import pytest

from nanofolks_core.api import Services, ToolContext, ToolSpec
from nanofolks_core.messages import ChatMessage, LLMRequest
from nanofolks_core.messages import ToolCall as RequestToolCall
from nanofolks_core.security.audit import AuditLog
from nanofolks_core.security.boundary import mask_request
from nanofolks_core.security.checks import base62
from nanofolks_core.security.detect import CredentialDetector
from nanofolks_core.security.patterns import BUILTIN_FORMATS
from nanofolks_core.security.references import ReferenceGuard, resolve_references
from nanofolks_core.specs import SecretPatternSpec

ALNUM = string.ascii_letters + string.digits


def github_token(seed: int) -> str:
    rng = random.Random(seed)
    body = "".join(rng.choice(ALNUM) for _ in range(30))
    return "ghp_" + body + base62(binascii.crc32(body.encode()))


def anthropic_key(seed: int) -> str:
    rng = random.Random(seed)
    return "sk-ant-api03-" + "".join(rng.choice(ALNUM) for _ in range(93)) + "AA"


class MemoryStore:
    """A SecretStore in a dict, for the guard's own unit tests (the keyring plugin has its own)."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self.sets = 0

    def available(self) -> bool:
        return True

    def get(self, name):
        return self.values.get(name)

    def set(self, name, value):
        self.sets += 1
        self.values[name] = value

    def delete(self, name):
        return self.values.pop(name, None) is not None

    def names(self):
        return sorted(self.values)


def detector() -> CredentialDetector:
    return CredentialDetector(
        SecretPatternSpec(name=f.name, summary=f.summary, pattern=f.pattern) for f in BUILTIN_FORMATS
    )


def test_a_credential_becomes_a_stable_reference_and_its_value_is_stored():
    store = MemoryStore()
    guard = ReferenceGuard(detector(), lambda: store)
    token = github_token(1)
    assert guard(f"push with {token} please") == "push with {{github_token}} please"
    assert store.values == {"github_token": token}
    # The same value again (even in a new process: a new guard) keeps its name and is not stored twice.
    again = ReferenceGuard(detector(), lambda: store)
    assert again(f"and {token}") == "and {{github_token}}"
    assert store.sets == 1


def test_a_different_value_of_the_same_kind_is_numbered():
    store = MemoryStore({"github_token": github_token(1)})
    guard = ReferenceGuard(detector(), lambda: store)
    text = guard(f"old {github_token(2)} new {github_token(3)} old again {github_token(2)}")
    assert text == "old {{github_token_2}} new {{github_token_3}} old again {{github_token_2}}"
    assert store.values["github_token_2"] == github_token(2) and store.values["github_token_3"] == github_token(3)


def test_without_a_store_credentials_are_masked_and_a_dry_run_stores_nothing(caplog):
    guard = ReferenceGuard(detector(), lambda: None)
    token = github_token(4)
    assert guard(f"x {token}") == f"x {token[:10]}***"
    store = MemoryStore()
    text, findings = ReferenceGuard(detector(), lambda: store).scan(f"key {anthropic_key(1)}", dry_run=True)
    assert text == "key {{anthropic_key}}" and store.values == {}
    assert [(f.kind, f.start, f.reference) for f in findings] == [("anthropic-key", 4, "anthropic_key")]
    # Two new tokens in one dry run are numbered as a real run would number them.
    text, _ = ReferenceGuard(detector(), lambda: store).scan(f"{github_token(7)} {github_token(8)}", dry_run=True)
    assert text == "{{github_token}} {{github_token_2}}" and store.values == {}


def test_a_failing_store_masks_instead_of_losing_the_message():
    class Broken(MemoryStore):
        def set(self, name, value):
            raise OSError("disk full")

    guard = ReferenceGuard(detector(), lambda: Broken())
    assert guard(f"k {anthropic_key(2)}").endswith("***")


def test_resolve_references_walks_arguments_and_leaves_unknown_names():
    values = {"github_token": "ghp_value", "db": "pw"}
    resolved, used = resolve_references(
        {"url": "https://x/{{github_token}}", "list": ["{{db}}", 3, "{{nope}}"]}, values.get
    )
    assert resolved == {"url": "https://x/ghp_value", "list": ["pw", 3, "{{nope}}"]}
    assert used == {"github_token": "ghp_value", "db": "pw"}


# -- tools -----------------------------------------------------------------------------------

MODULE = "nanofolks_test_security_tools"
RECEIVED: list[dict] = []


def deploy(repo: str, token: str) -> str:
    """Deploy a repository.

    Args:
        repo: the repository
        token: the GitHub token to push with
    """
    RECEIVED.append({"repo": repo, "token": token})
    return f"deployed {repo} with token {token}"


def leak(token: str) -> str:
    """Fail with the token in the message."""
    raise RuntimeError(f"push refused for {token}")


@pytest.fixture(autouse=True)
def tools_module():
    module = types.ModuleType(MODULE)
    module.deploy, module.leak = deploy, leak
    sys.modules[MODULE] = module
    RECEIVED.clear()
    yield module
    sys.modules.pop(MODULE, None)


def test_a_tool_gets_the_value_its_output_shows_the_reference_and_the_use_is_audited(tmp_path):
    from nanofolks_core.tools.runtime import build_tool

    token = github_token(5)
    services = Services(plugin="deployer", data_root=tmp_path, secret_lookup={"github_token": token}.get)
    context = ToolContext(room="ops", bot="coder", workspace=tmp_path, services=services)
    tool = build_tool(ToolSpec(name="deploy", summary="d", factory=f"{MODULE}:deploy"), None, services)
    out = asyncio.run(tool.call({"repo": "acme/site", "token": "{{github_token}}"}, context))
    assert RECEIVED == [{"repo": "acme/site", "token": token}]
    assert out == "deployed acme/site with token {{github_token}}"
    (entry,) = AuditLog(tmp_path).entries()
    assert entry["tool"] == "deploy" and entry["references"] == ["github_token"]
    assert (entry["room"], entry["bot"], entry["plugin"]) == ("ops", "coder", "deployer")
    assert token not in (tmp_path / "security" / "audit.jsonl").read_text()
    assert (tmp_path / "security" / "audit.jsonl").stat().st_mode & 0o777 == 0o600

    failing = build_tool(ToolSpec(name="leak", summary="l", factory=f"{MODULE}:leak"), None, services)
    error = asyncio.run(failing.call({"token": "{{github_token}}"}, context))
    assert error == "error: RuntimeError: push refused for {{github_token}}"


def test_a_reference_without_a_store_is_an_error_the_model_can_read(tmp_path):
    from nanofolks_core.secret import SecretUnavailable
    from nanofolks_core.tools.runtime import build_tool

    def no_store(name):
        raise SecretUnavailable(f"keyring:{name} needs a secret store, but none is installed")

    services = Services(plugin="p", data_root=tmp_path, secret_lookup=no_store)
    context = ToolContext(room="r", bot="b", workspace=tmp_path, services=services)
    tool = build_tool(ToolSpec(name="deploy", summary="d", factory=f"{MODULE}:deploy"), None, services)
    out = asyncio.run(tool.call({"repo": "x", "token": "{{github_token}}"}, context))
    assert out.startswith("error: SecretUnavailable: keyring:github_token needs a secret store")
    assert RECEIVED == []


def test_the_last_line_masks_what_reaches_a_request_some_other_way():
    key = "sk-or-v1-" + "ab12cd34" * 8
    request = LLMRequest(
        model="m",
        messages=(
            ChatMessage(role="system", content=f"memory: the key was {key}"),
            ChatMessage(role="assistant", tool_calls=(RequestToolCall(id="1", name="t", arguments={"k": key}),)),
            ChatMessage(role="user", content="use {{openrouter_key}}"),
        ),
    )
    masked = mask_request(request)
    assert masked.messages[0].content == "memory: the key was sk-or-v1-ab***"
    assert masked.messages[1].tool_calls[0].arguments == {"k": "sk-or-v1-ab***"}
    assert masked.messages[2] is request.messages[2]
    assert mask_request(masked) is None


def test_audit_log_skips_a_line_cut_by_a_crash(tmp_path):
    log = AuditLog(tmp_path)
    log.record(tool="a", references=["x"], room="r", bot="b")
    with log.path.open("a") as handle:
        handle.write('{"tool": "cut')
    log.record(tool="b", references=["y"], room="r", bot="b")
    assert [e["tool"] for e in log.entries()] == ["a", "b"]
    assert [e["tool"] for e in log.entries(limit=1)] == ["b"]


# -- the "done when" -------------------------------------------------------------------


def deployer_plugin() -> types.ModuleType:
    """A plugin module offering the ``deploy`` tool to every bot."""
    from nanofolks_core.api import hookimpl

    plugin = types.ModuleType("nanofolks_test_deployer")

    @hookimpl
    def nanofolks_register_tools(register):
        register(ToolSpec(name="deploy", summary="Deploy a repository", factory=f"{MODULE}:deploy"))

    plugin.nanofolks_register_tools = nanofolks_register_tools
    return plugin


@pytest.fixture
def headless_keyring():
    keyring = pytest.importorskip("keyring")
    from keyring.backends import null

    before = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    yield
    keyring.set_keyring(before)


def test_a_chat_message_with_a_github_token_and_an_anthropic_key(
    chat, register_plugin, llm_server, nanofolks_home, headless_keyring, caplog, cli_runner, monkeypatch
):
    from nanofolks_core.testing.llm_server import Reply, ToolCall

    keyring_plugin = pytest.importorskip("nanofolks_keyring.plugin")
    register_plugin(keyring_plugin, "keyring")
    register_plugin(deployer_plugin(), "deployer")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-map download when litellm loads
    memory = None
    try:
        memory = __import__("nanofolks_memory_chroma.plugin", fromlist=["plugin"])
        __import__("litellm")
    except ImportError:
        memory = None
    if memory is not None:  # the real memory store, embeddings from the fake server
        register_plugin(memory, "memory-chroma")
        chat.configure(
            {
                "memory": {
                    "backend": "chroma",
                    "chroma": {"embedding": {"model": "openai/text-embedding-3-small", "apiBase": llm_server.base_url}},
                }
            }
        )
    caplog.set_level("DEBUG")
    token, key = github_token(11), anthropic_key(11)
    llm_server.push(Reply(tool_calls=[ToolCall("deploy", {"repo": "acme/site", "token": "{{github_token}}"})]))
    llm_server.push("Deployed acme/site.")

    turn = chat(f"deploy acme/site with {token} and keep the anthropic key {key} for later")
    assert "Deployed acme/site." in turn.text
    if memory is not None:
        chat.crew.memory.flush()

    # The model's requests hold references, never the values.
    chat_requests = [r for r in llm_server.requests if "messages" in r]
    sent = json.dumps(llm_server.requests)
    assert token not in sent and key not in sent
    first_user = [m for m in chat_requests[0]["messages"] if m["role"] == "user"][-1]["content"]
    assert "{{github_token}}" in first_user and "{{anthropic_key}}" in first_user
    # The tool received the real value; what the model read back is the reference again.
    assert RECEIVED == [{"repo": "acme/site", "token": token}]
    tool_result = [m for m in chat_requests[-1]["messages"] if m["role"] == "tool"][-1]["content"]
    assert tool_result == "deployed acme/site with token {{github_token}}"
    # Nothing under the data folder holds either value, except the owner-only secret store.
    store = nanofolks_home / "plugins" / "keyring" / "secrets.json"
    assert json.loads(store.read_text()) == {"github_token": token, "anthropic_key": key}
    assert store.stat().st_mode & 0o777 == 0o600
    checked = 0
    for path in nanofolks_home.rglob("*"):
        if path.is_file() and path != store:
            data = path.read_bytes()
            assert token.encode() not in data and key.encode() not in data, path
            checked += 1
    history = (nanofolks_home / "sessions").rglob("*")
    assert any(b"{{github_token}}" in p.read_bytes() for p in history if p.is_file())
    if memory is not None:
        memory_files = [p for p in (nanofolks_home / "memory").rglob("*") if p.is_file()]
        assert any(b"{{anthropic_key}}" in p.read_bytes() for p in memory_files)
    assert checked >= 3  # room history, room, audit log (and memory files when installed)
    assert token not in caplog.text and key not in caplog.text
    # The audit log names the reference, the tool, the room and the bot.
    (entry,) = AuditLog(nanofolks_home).entries()
    assert (entry["tool"], entry["references"], entry["room"]) == ("deploy", ["github_token"], turn.room)
    shown = cli_runner(["security", "audit"])
    assert shown.exit_code == 0 and "deploy  {{github_token}}  room=" in shown.output
    assert token not in shown.output


def test_security_scan_shows_what_the_model_would_see_and_stores_nothing(cli_runner, nanofolks_home, headless_keyring):
    token, key = github_token(21), anthropic_key(21)
    text = f"use {token} and {key}; the commit 3f786850e387550fdab836ed7e6dc881de23001b stays\n"
    shown = cli_runner(["security", "scan"], input=text)
    assert shown.exit_code == 0
    assert (
        "use {{github_token}} and {{anthropic_key}}; the commit 3f786850e387550fdab836ed7e6dc881de23001b"
        in shown.output
    )
    assert token not in shown.output and key not in shown.output
    as_json = cli_runner(["security", "scan", "--json"], input=text)
    report = json.loads(as_json.stdout)
    assert [(f["kind"], f["span"], f["reference"]) for f in report["findings"]] == [
        ("github-token", [4, 44], "{{github_token}}"),
        ("anthropic-key", [49, 157], "{{anthropic_key}}"),
    ]
    assert not (nanofolks_home / "plugins" / "keyring" / "secrets.json").exists()
    clean = cli_runner(["security", "scan"], input="nothing secret here\n")
    assert clean.output == "nothing secret here\n"


def test_security_audit_without_entries_says_where_it_looks(cli_runner, nanofolks_home):
    shown = cli_runner(["security", "audit", "--json"])
    assert shown.exit_code == 0 and json.loads(shown.output) == []
    assert "no secret has been used by a tool yet" in cli_runner(["security", "audit"]).output


def dump_env() -> str:
    """Print the environment file."""
    return "STRIPE_KEY=" + STRIPE_KEY + "\n" + "# padding line to make the output large\n" * 400


_RNG = random.Random(5)
STRIPE_KEY = "sk_live_" + "".join(_RNG.choice(ALNUM) for _ in range(40))


def test_a_large_tool_output_is_scanned_before_the_tool_output_store_keeps_it(
    chat, register_plugin, llm_server, nanofolks_home, headless_keyring, tools_module
):
    from nanofolks_core.api import hookimpl
    from nanofolks_core.testing.llm_server import Reply, ToolCall

    register_plugin(pytest.importorskip("nanofolks_keyring.plugin"), "keyring")
    tools_module.dump_env = dump_env
    plugin = types.ModuleType("nanofolks_test_env_dumper")
    plugin.nanofolks_register_tools = hookimpl(
        lambda register: register(ToolSpec(name="dump_env", summary="d", factory=f"{MODULE}:dump_env"))
    )
    register_plugin(plugin, "env-dumper")
    llm_server.push(Reply(tool_calls=[ToolCall("dump_env", {})]), "done")
    chat("show me the env file")
    assert (nanofolks_home / "tool_outputs.db").exists()
    for path in nanofolks_home.rglob("*"):
        if path.is_file() and path.name != "secrets.json":
            assert STRIPE_KEY.encode() not in path.read_bytes(), path
    assert STRIPE_KEY not in json.dumps(llm_server.requests)
    assert "STRIPE_KEY={{stripe_key}}" in json.dumps(llm_server.requests)


def test_verbose_log_lines_mask_every_known_credential_format():
    import logging

    from nanofolks_core.masking import MaskingFilter

    token = github_token(31)
    record = logging.LogRecord("nanofolks.x", logging.DEBUG, __file__, 1, "pushing with %s", (token,), None)
    assert MaskingFilter().filter(record) is True
    assert record.getMessage() == f"pushing with {token[:10]}***"


def test_without_a_secret_store_the_commands_say_what_to_install(cli_runner, monkeypatch):
    monkeypatch.setenv("NANOFOLKS_DISABLE_PLUGINS", "keyring")
    from nanofolks_core.errors import UsageError

    with pytest.raises(UsageError, match="no secret store is installed; install one with `pip install nanofolks-keyr"):
        cli_runner(["secrets", "list"])  # `nanofolks` prints it as one line and exits 2
    key = "sk-or-v1-" + "ab12cd34" * 8
    scanned = cli_runner(["security", "scan"], input=f"key {key}\n")
    assert scanned.exit_code == 0 and "key sk-or-v1-ab***" in scanned.output and key not in scanned.output
