"""docs/hooks.md and the hookspecs agree, every hook has a working example and a test (datasette's rule).

The signature, docstring and kind line of every hook, the kinds table and the spec-records table
in docs/hooks.md are generated from ``nanofolks_core/hookspecs.py`` and the spec classes; the
examples and the "If it raises" lines are written by hand. After changing a hookspec, run

    python tests/test_docs.py --update

to rewrite the generated blocks (nothing else in the file is touched).
"""

from __future__ import annotations

import inspect
import re
import sys
import types
from pathlib import Path

import attrs
import pytest

from nanofolks_core import hookspecs
from nanofolks_core.registry import KIND_HOOKS

REPO = Path(__file__).resolve().parent.parent
HOOKS_MD = REPO / "docs" / "hooks.md"
HOOKS = sorted(name for name in vars(hookspecs) if name.startswith("nanofolks_"))
BLOCK = re.compile(r"<!-- BEGIN generated: (\S+) -->\n.*?<!-- END generated -->", re.S)
UPDATE_HINT = "docs/hooks.md is out of date with the code: run `python tests/test_docs.py --update`"


def _hook_kind(name: str) -> tuple[str, type] | None:
    return next(((kind, cls) for kind, (hook, cls) in KIND_HOOKS.items() if hook == name), None)


def _signature(name: str) -> str:
    return f"{name}{inspect.signature(getattr(hookspecs, name))}".replace("'", "")


def _hook_block(name: str) -> str:
    spec = getattr(hookspecs, name)
    lines = ["```python", _signature(name), "```", "", inspect.getdoc(spec) or "(no docstring)"]
    opts = getattr(spec, "nanofolks_spec", {}) or {}
    if opts.get("firstresult"):
        lines += ["", "`firstresult`: the first implementation returning something other than None decides."]
    kind = _hook_kind(name)
    if kind is not None:
        section = getattr(kind[1], "section_root", None)
        where = f"; config section `{section}.<name>`" if section else ""
        lines += ["", f"Kind: `{kind[0]}`; record: `nanofolks_core.api.{kind[1].__name__}`{where}."]
    return "\n".join(lines)


def _kinds_table() -> str:
    rows = ["| kind (`plugins list --kind`) | hook | record |", "|---|---|---|"]
    rows += [f"| `{kind}` | `{hook}` | `{cls.__name__}` |" for kind, (hook, cls) in KIND_HOOKS.items()]
    rows.append("| `events` | any of the pipeline-event hooks below | — |")
    return "\n".join(rows)


def _records_table() -> str:
    rows = ["| record | fields | config section |", "|---|---|---|"]
    for _kind, (_hook, cls) in KIND_HOOKS.items():
        fields = ", ".join(f"`{field.name}`" for field in attrs.fields(cls))
        root = getattr(cls, "section_root", None)
        section = f"`{root}.<name>`" if root else ("`path`" if "path" in attrs.fields_dict(cls) else "—")
        rows.append(f"| `{cls.__name__}` | {fields} | {section} |")
    return "\n".join(rows)


def generated(key: str) -> str:
    """The text of one generated block of docs/hooks.md."""
    if key == "kinds-table":
        return _kinds_table()
    if key == "records-table":
        return _records_table()
    if key in HOOKS:
        return _hook_block(key)
    raise KeyError(f"docs/hooks.md has a generated block {key!r} that nothing generates")


def regenerate(doc: str) -> str:
    return BLOCK.sub(lambda m: f"<!-- BEGIN generated: {m[1]} -->\n{generated(m[1])}\n<!-- END generated -->", doc)


def hook_sections(doc: str) -> dict[str, str]:
    """``{hook name: its section text}`` (from its ``###`` heading to the next heading)."""
    parts = re.split(r"^(?=#{2,3} )", doc, flags=re.M)
    return {m[1]: part for part in parts if (m := re.match(r"### `(nanofolks_\w+)`", part))}


def test_generated_parts_match_the_hookspecs_and_spec_classes():
    doc = HOOKS_MD.read_text()
    assert regenerate(doc) == doc, UPDATE_HINT
    keys = BLOCK.findall(doc)
    assert {"kinds-table", "records-table", *HOOKS} <= set(keys), f"missing generated blocks; {UPDATE_HINT}"


def test_every_hook_is_documented_with_its_exact_signature_and_docstring():
    doc = HOOKS_MD.read_text()
    sections = hook_sections(doc)
    assert set(sections) == set(HOOKS), f"documented {sorted(set(sections) ^ set(HOOKS))} differ from hookspecs.py"
    for name in HOOKS:
        assert _signature(name) in sections[name], f"{name}: signature differs; {UPDATE_HINT}"
        assert inspect.getdoc(getattr(hookspecs, name)) in sections[name], f"{name}: docstring differs; {UPDATE_HINT}"


def test_every_hook_has_an_example_and_says_what_happens_when_it_raises():
    for name, section in hook_sections(HOOKS_MD.read_text()).items():
        assert "If it raises:" in section, f"{name}: say what happens when an implementation raises"
        examples = re.findall(r"Example:\n\n```python\n(.*?)```", section, re.S)
        assert examples, f"{name}: no 'Example:' python block"
        assert f"def {name}(" in examples[0] and "@hookimpl" in examples[0], f"{name}: the example must implement it"


def _examples() -> dict[str, str]:
    return {
        name: re.findall(r"Example:\n\n```python\n(.*?)```", section, re.S)[0]
        for name, section in hook_sections(HOOKS_MD.read_text()).items()
    }


@pytest.mark.parametrize("name", HOOKS)
def test_each_example_loads_as_a_plugin_and_does_what_it_says(name, plugin_host):
    module = types.ModuleType(f"hooks_md_example_{name}")
    exec(compile(_examples()[name], f"docs/hooks.md example for {name}", "exec"), module.__dict__)  # noqa: S102
    plugin_host.register_module(module, "example")  # strict: a signature pluggy rejects raises here
    registry = plugin_host.build_registry()
    kind = _hook_kind(name)
    if kind is not None:
        assert registry.by_plugin("example").get(kind[0]), f"{name}: the example registered nothing"
        return
    from nanofolks_core.api import InboundMessage, LLMRequest, LLMResponse, OutboundMessage, ToolCall

    if name == "nanofolks_message_in":
        result = plugin_host.pipe(name, "message", InboundMessage(text="  hi  "))
        assert isinstance(result, InboundMessage)
    elif name == "nanofolks_message_out":
        result = plugin_host.pipe(name, "message", OutboundMessage(text="hi", bot="leader"))
        assert isinstance(result, OutboundMessage)
    elif name == "nanofolks_before_llm_call":
        result = plugin_host.pipe(name, "request", LLMRequest(model="local/m", messages=()))
        assert isinstance(result, LLMRequest)
    elif name == "nanofolks_after_llm_call":
        request = LLMRequest(model="local/m", messages=())
        result = plugin_host.pipe(name, "response", LLMResponse(content="ok", model="m"), request=request)
        assert isinstance(result, LLMResponse)
    elif name == "nanofolks_tool_call_check":
        call = ToolCall(id="c1", name="run_shell", arguments={"command": "rm -rf /"})
        reason = plugin_host.first(name, call=call, context={"room": "general", "bot": "coder", "role": "coder"})
        assert isinstance(reason, str) and reason
    elif name in NOTIFICATION_EXAMPLES:
        kwargs, check = NOTIFICATION_EXAMPLES[name]()
        if name == "nanofolks_metrics":
            [lines] = plugin_host.collect(name)
            assert check(module, lines)
        else:
            plugin_host.notify(name, **kwargs)
            assert check(module, None)
    else:  # a new pipeline hook: give its example a check here
        pytest.fail(f"no check for the example of {name}")
    assert plugin_host.records["example"].state == "enabled", plugin_host.records["example"].reason


def _turn_done_example():
    from nanofolks_core.api import InboundMessage
    from nanofolks_core.pipeline.dispatch import Assignment
    from nanofolks_core.pipeline.intent import Intent
    from nanofolks_core.pipeline.records import TurnResult

    result = TurnResult("general", (), Intent("chat", 1.0), Assignment(("leader",), "leader"))
    inbound = InboundMessage(text="check-in", metadata={"routine": "daily"})
    return {"inbound": inbound, "result": result}, lambda m, _: m.answered[("general", "routine")] == 1


def _tool_done_example():
    from nanofolks_core.api import ToolCall

    call = ToolCall(id="c1", name="fetch", arguments={"url": "https://example.com", "token": "{{github_token}}"})
    kwargs = {"call": call, "bot": "researcher", "room": "general", "outcome": "ok", "error": None, "seconds": 3.2}
    return kwargs, lambda m, _: m.slow_calls == [("general", "researcher", "fetch", call.arguments, "ok", None, 3.2)]


def _task_changed_example():
    from datetime import UTC, datetime

    from nanofolks_core.rooms import Task, TaskPriority, TaskStatus
    from nanofolks_core.rooms.models import TaskEvent

    at = datetime(2026, 11, 30, tzinfo=UTC)
    reason = "coder timed out after 600 s"
    history = (TaskEvent(kind="created", at=at, to="coder"),
               TaskEvent(kind="status", at=at, from_="todo", to="failed", reason=reason))  # fmt: skip
    task = Task(id="t1", title="Ship it", owner="coder", status=TaskStatus.FAILED, priority=TaskPriority.MEDIUM,
                due=None, created_at=at, updated_at=at, history=history)  # fmt: skip
    expected = [("general", "t1", "Ship it", reason)]
    return {"room": "general", "task": task, "event": "failed"}, lambda m, _: m.failed_tasks == expected


def _metrics_example():
    return {}, lambda m, lines: lines[-1] == "nanofolks_example_queue_length 2"


NOTIFICATION_EXAMPLES = {
    "nanofolks_turn_done": _turn_done_example,
    "nanofolks_tool_done": _tool_done_example,
    "nanofolks_task_changed": _task_changed_example,
    "nanofolks_metrics": _metrics_example,
}


def test_the_kinds_table_is_the_registrys_kinds_plus_events():
    from nanofolks_core.plugins import EVENT_HOOKS

    table = re.search(r"<!-- BEGIN generated: kinds-table -->\n(.*?)<!-- END", HOOKS_MD.read_text(), re.S)[1]
    kinds = re.findall(r"^\| `([a-z-]+)` \|", table, flags=re.M)
    assert kinds == [*KIND_HOOKS, "events"], UPDATE_HINT
    assert EVENT_HOOKS == set(HOOKS) - {hook for hook, _cls in KIND_HOOKS.values()}


def test_every_hook_has_a_test():
    test_files = [
        *REPO.glob("tests/**/*.py"),
        *REPO.glob("plugins/*/tests/*.py"),
        *REPO.glob("teams/*/tests/*.py"),
        *REPO.glob("skills/*/tests/*.py"),
        *REPO.glob("tests/fixtures/**/*.py"),
    ]
    text = "\n".join(p.read_text() for p in test_files if p.name != "test_docs.py")
    untested = [name for name in HOOKS if name not in text]
    assert not untested, f"hooks without a test: {untested}"


def test_pytest_fixtures_prints_a_docstring_for_every_kit_fixture_and_the_guide_documents_each(tmp_path):
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    section = proc.stdout.split("fixtures defined from nanofolks_core.testing.pytest_plugin", 1)[1].split("\n---", 1)[0]
    listed = dict(re.findall(r"^(\w+)(?: \[\w+ scope\])? -- .*\n\s+(.*)$", section, flags=re.M))
    expected = {"nanofolks_home", "plugin_host", "register_plugin", "llm_server", "chat", "tool_context",
                "plugin_services", "cli_runner"}  # fmt: skip
    assert expected <= set(listed), proc.stdout
    undocumented = [name for name, first_line in listed.items() if "no docstring" in first_line]
    assert not undocumented, f"fixtures without a docstring: {undocumented}"
    guide = (REPO / "docs" / "testing-your-plugin.md").read_text()
    assert not [name for name in listed if f"| `{name}` |" not in guide], "docs/testing-your-plugin.md fixture table"


def test_every_testing_kit_export_is_documented():
    import nanofolks_core.testing as kit

    guide = (REPO / "docs" / "testing-your-plugin.md").read_text()
    missing = [name for name in kit.__all__ if f"{name}" not in guide]
    assert not missing, f"docs/testing-your-plugin.md does not document {missing}"


def test_the_llm_server_session_in_the_testing_guide_runs_as_shown(tmp_path):
    import shlex
    import subprocess

    guide = (REPO / "docs" / "testing-your-plugin.md").read_text()
    by_hand = guide.split("## Run the test server by hand", 1)[1]
    block = re.search(r"```console\n\$ (.*?)\n(FakeLLMServer listening on .*?)\n", by_hand, re.S)
    command = shlex.split(block[1].replace("\\\n", " "))
    assert command[:3] == ["python", "-m", "nanofolks_core.testing.llm_server"]
    command[command.index("--port") + 1] = "0"
    proc = subprocess.Popen([sys.executable, *command[1:]], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    shown = re.sub(r":8765/", ":PORT/", block[2])
    assert re.sub(r":\d+/", ":PORT/", first.strip()) == shown


def test_readme_links_every_page_in_docs():
    readme = (REPO / "README.md").read_text()
    for page in sorted((REPO / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in readme, f"README.md's Documentation list does not link docs/{page.name}"


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_docs.py --update   (rewrites the generated blocks of docs/hooks.md)")
    HOOKS_MD.write_text(regenerate(HOOKS_MD.read_text()))
    print(f"updated {HOOKS_MD}")
