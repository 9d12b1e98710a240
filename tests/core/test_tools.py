"""Tools: the function form's schema, both forms built and called, errors as results, roles, workspace tools."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import types
from typing import Literal

import attrs
import pytest

from nanofolks_core.api import Services, ToolContext, ToolSpec
from nanofolks_core.tools.runtime import build_tool
from nanofolks_core.tools.schema import function_schema, parse_docstring

# -- a throw-away module holding the tools under test, importable by ToolSpec.factory -------------

MODULE = "nanofolks_test_tools_module"


def word_count(text: str) -> int:
    """Count the words in a text.

    Args:
        text: the text to count
    """
    return len(text.split())


def search(
    query: str,
    context: ToolContext,
    limit: int = 5,
    exact: bool = False,
    unit: Literal["words", "lines"] = "words",
    tags: list[str] | None = None,
    weight: float | None = None,
) -> dict:
    """Search the notes.

    Longer explanation that is not part of the description.

    Args:
        query: what to look for; may be
            several words
        limit: at most this many hits
        unit (str): how to count
    Returns:
        the hits
    """
    return {"query": query, "room": context.room, "plugin": context.services.plugin, "limit": limit}


async def shout(text: str) -> str:
    """Say it louder.

    :param text: what to say
    """
    await asyncio.sleep(0)
    return text.upper()


def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"it broke: {reason}")


def no_docstring(x: int):
    return x * 2


class Counter:
    """Class form: keeps state across calls and reads its config section."""

    description = "Count calls."
    parameters = {"type": "object", "properties": {"step": {"type": "integer"}}}

    def __init__(self, *, spec, config, services):
        self.spec, self.config, self.services = spec, config, services
        self.total = 0

    async def run(self, arguments, context):
        if arguments.get("step") == 0:
            raise ZeroDivisionError("step must not be 0")
        self.total += arguments.get("step", 1) * self.config.factor
        return {"total": self.total, "plugin": context.services.plugin}


@attrs.define
class CounterConfig:
    factor: int = 1


@pytest.fixture(autouse=True)
def tools_module():
    module = types.ModuleType(MODULE)
    for obj in (word_count, search, shout, explode, no_docstring, Counter):
        setattr(module, obj.__name__, obj)
    sys.modules[MODULE] = module
    yield module
    sys.modules.pop(MODULE, None)


def spec(name: str, attr: str | None = None, **kwargs) -> ToolSpec:
    return ToolSpec(name=name, summary=f"{name} summary", factory=f"{MODULE}:{attr or name}", **kwargs)


@pytest.fixture
def services(tmp_path):
    return Services(plugin="notes", data_root=tmp_path)


@pytest.fixture
def context(tmp_path):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    return ToolContext(room="general", bot="leader", workspace=workspace)


def call(tool, arguments, context) -> str:
    return asyncio.run(tool.call(arguments, context))


# -- schema from a function -----------------------------------------------------------------------


def test_the_documented_example_becomes_its_schema():
    schema = function_schema(word_count)
    assert schema.description == "Count the words in a text."
    assert schema.parameters == {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "the text to count"}},
        "required": ["text"],
    }
    assert schema.context_parameter is None


def test_types_literals_defaults_optionals_and_the_args_section():
    schema = function_schema(search)
    props = schema.parameters["properties"]
    assert schema.description == "Search the notes."
    assert schema.context_parameter == "context"
    assert "context" not in props  # injected by the core, never shown to the model
    assert props["query"] == {"type": "string", "description": "what to look for; may be several words"}
    assert props["limit"] == {"type": "integer", "default": 5, "description": "at most this many hits"}
    assert props["exact"] == {"type": "boolean", "default": False}
    assert props["unit"] == {
        "type": "string",
        "enum": ["words", "lines"],
        "default": "words",
        "description": "how to count",
    }
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "default": None}
    assert props["weight"] == {"type": "number", "default": None}
    assert schema.parameters["required"] == ["query"]


def test_sphinx_params_and_missing_docstrings():
    assert function_schema(shout).parameters["properties"]["text"]["description"] == "what to say"
    bare = function_schema(no_docstring, fallback_description="doubles")
    assert bare.description == "doubles"
    assert bare.parameters == {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}


def test_optional_without_default_is_not_required():
    def f(a: str | None, b: int) -> str:
        """F."""
        return ""

    assert function_schema(f).parameters["required"] == ["b"]


def test_a_context_annotated_only_as_a_string_is_still_the_context():
    namespace: dict = {}
    exec(  # a plugin module with `from __future__ import annotations` and ToolContext under TYPE_CHECKING
        "from __future__ import annotations\n"
        "def tag(text: str, ctx: ToolContext) -> str:\n"
        "    'Tag it.'\n"
        "    return ctx.room + ':' + text\n",
        namespace,
    )
    schema = function_schema(namespace["tag"])
    assert schema.context_parameter == "ctx"
    assert list(schema.parameters["properties"]) == ["text"]


def test_signatures_a_model_cannot_call_are_refused_with_the_function_named():
    def star(*names: str) -> str:
        return ""

    def odd(value: complex) -> str:
        return ""

    with pytest.raises(TypeError, match="named parameters only"):
        function_schema(star)
    with pytest.raises(TypeError, match=r"odd\(value\).*no JSON schema"):
        function_schema(odd)


def test_parse_docstring_stops_the_description_at_the_first_blank_line():
    description, params = parse_docstring("One.\nTwo.\n\nThree.\n\nArgs:\n    a: first\n    b: second\n")
    assert description == "One. Two."
    assert params == {"a": "first", "b": "second"}


# -- building and calling -------------------------------------------------------------------------


def test_function_tools_are_called_with_keyword_arguments_and_the_context(services, context):
    tool = build_tool(spec("search"), None, services)
    assert tool.schema["function"]["name"] == "search"
    assert "context" not in tool.schema["function"]["parameters"]["properties"]
    result = json.loads(call(tool, {"query": "cats", "limit": 2}, context))
    assert result == {"query": "cats", "room": "general", "plugin": "notes", "limit": 2}


def test_sync_and_async_functions_and_json_results(services, context):
    assert call(build_tool(spec("word_count"), None, services), {"text": "a b c"}, context) == "3"
    assert call(build_tool(spec("shout"), None, services), {"text": "hi"}, context) == "HI"


def test_any_exception_comes_back_as_an_error_result_and_is_logged(services, context, caplog):
    tool = build_tool(spec("explode"), None, services)
    with caplog.at_level(logging.WARNING, logger="nanofolks.notes"):
        result = call(tool, {"reason": "disk on fire"}, context)
    assert result == "error: RuntimeError: it broke: disk on fire"
    assert "tool explode failed: RuntimeError: it broke: disk on fire" in caplog.text


def test_bad_arguments_from_the_model_are_errors_not_crashes(services, context):
    tool = build_tool(spec("word_count"), None, services)
    assert call(tool, {}, context).startswith("error: TypeError: ")
    assert call(tool, {"text": "a", "extra": 1}, context).startswith("error: TypeError: ")
    assert call(tool, "not an object", context) == "error: TypeError: arguments must be a JSON object, got str"
    searcher = build_tool(spec("search"), None, services)
    assert "is not an argument" in call(searcher, {"query": "x", "context": "forged"}, context)


def test_class_tools_get_spec_config_and_services_and_keep_state(services, context):
    tool = build_tool(spec("counter", "Counter", config_class=CounterConfig), CounterConfig(factor=10), services)
    assert tool.description == "Count calls."
    assert tool.schema["function"]["parameters"]["properties"] == {"step": {"type": "integer"}}
    assert json.loads(call(tool, {"step": 2}, context)) == {"total": 20, "plugin": "notes"}
    assert json.loads(call(tool, {}, context))["total"] == 30
    assert call(tool, {"step": 0}, context) == "error: ZeroDivisionError: step must not be 0"


def test_a_tool_is_not_cancelled_into_an_error():
    async def slow(text: str) -> str:
        """Slow."""
        await asyncio.sleep(10)
        return text

    sys.modules[MODULE].slow = slow

    async def main(tool, context):
        task = asyncio.create_task(tool.call({"text": "x"}, context))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    services = Services(plugin="notes", data_root="/tmp")
    asyncio.run(main(build_tool(spec("slow"), None, services), ToolContext(room="r", bot="b", workspace="/tmp")))


# -- roles ----------------------------------------------------------------------------------------


def test_roles_default_to_every_bot(services):
    tool = build_tool(spec("word_count"), None, services)
    assert tool.roles == ("*",)
    assert all(tool.offered_to(role) for role in ("leader", "coder", "auditor"))
    only = build_tool(spec("shout", roles=("coder",)), None, services)
    assert only.offered_to("coder") and not only.offered_to("leader")


def test_a_plugin_tool_named_like_a_role_tool_reaches_only_its_roles(
    nanofolks_home, plugin_host, register_plugin, llm_server
):
    """``ToolSpec.roles`` alone decides: a tool called ``web_search`` for the coder is no one else's."""
    from nanofolks_core.api import InboundMessage, hookimpl
    from nanofolks_core.app import App
    from nanofolks_core.builtins import core as core_plugin
    from nanofolks_core.crew import ROLE_ORDER, Crew
    from nanofolks_core.pipeline.tool_calls import offered_tools
    from nanofolks_core.testing import provider as test_provider

    class Search:
        @hookimpl
        def nanofolks_register_tools(self, register):
            register(spec("web_search", "word_count", roles=("coder",)))

    register_plugin(core_plugin, "core")
    register_plugin(test_provider, "test-provider")
    register_plugin(Search(), "search")
    config = {
        "agents": {"defaults": {"model": "local/test-model"}},
        "providers": {"local": {"apiBase": llm_server.base_url}},
    }
    (nanofolks_home / "config.json").write_text(json.dumps(config))
    crew = Crew.from_app(App(host=plugin_host))
    assert [role for role in ROLE_ORDER if "web_search" in [t.name for t in offered_tools(crew.tools, role)]] == [
        "coder"
    ]
    for bot in ROLE_ORDER:
        asyncio.run(crew.handle(InboundMessage(text=f"@{bot} hello", room="general")))
    for bot, request in zip(ROLE_ORDER, llm_server.requests, strict=True):
        offered = [tool["function"]["name"] for tool in request.get("tools", [])]
        listed = request["messages"][0]["content"].split("Tools: ", 1)[1].split(".\n", 1)[0]
        assert ("web_search" in offered) == (bot == "coder"), (bot, offered)
        assert ("web_search" in listed) == (bot == "coder"), (bot, listed)


def test_empty_or_unknown_roles_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match=r"roles is empty, so no bot would be offered it"):
        spec("word_count", roles=())
    with pytest.raises(ValueError, match=r"unknown role 'wizard'.*known roles: leader, researcher, coder"):
        spec("word_count", roles=("coder", "wizard"))


# -- the built-in workspace tools -----------------------------------------------------------------


def workspace_tool(name: str, attr: str, services: Services):
    return build_tool(
        ToolSpec(name=name, summary=name, factory=f"nanofolks_core.tools.workspace:{attr}"), None, services
    )


def test_workspace_tools_write_list_and_read_inside_the_workspace_only(services, context):
    write = workspace_tool("write_file", "write_file", services)
    read = workspace_tool("read_file", "read_file", services)
    listing = workspace_tool("list_files", "list_files", services)
    assert call(listing, {}, context) == "(empty)"
    assert call(write, {"path": "notes/todo.txt", "content": "buy milk"}, context) == "wrote notes/todo.txt"
    assert (context.workspace / "notes" / "todo.txt").read_text() == "buy milk"
    assert call(listing, {}, context) == "notes/"
    assert call(listing, {"path": "notes"}, context) == "todo.txt"
    assert call(read, {"path": "notes/todo.txt"}, context) == "buy milk"
    assert call(read, {"path": "../secret"}, context) == "error: PermissionError: '../secret' is outside the workspace"
    assert call(read, {"path": "missing.txt"}, context).startswith("error: FileNotFoundError: ")
    assert read.schema["function"]["parameters"]["required"] == ["path"]


def test_read_tool_output_reads_slices_from_the_store(services, context, tmp_path):
    from nanofolks_core.pipeline.tool_outputs import ToolOutputStore

    store = ToolOutputStore(tmp_path / "tool_outputs.db")
    ref = store.put(room="general", bot="coder", tool="read_file", content="x" * 50 + "END")
    store.close()
    tool = workspace_tool("read_tool_output", "ReadToolOutput", services)
    assert call(tool, {"ref": f"tool-output:{ref}", "offset": 50}, context) == "END"
    assert call(tool, {"ref": "nope"}, context) == "error: LookupError: no stored tool output 'nope'"
