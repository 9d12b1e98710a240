"""Registered tools, built and bound for the crew: :func:`build_tool` and :class:`BoundTool`.

A ``ToolSpec.factory`` names either

* a plain function (sync or async): its signature and docstring are the schema
  (:mod:`nanofolks_core.tools.schema`); it is called with the model's arguments as keyword
  arguments, plus the :class:`ToolContext` if it has a parameter annotated so. A sync function
  runs in a worker thread so a slow one does not stall other rooms; or
* a class, built once as ``cls(spec=, config=<the tools.<name> section or None>, services=)``,
  with ``description``, ``parameters`` (JSON schema) and ``async run(arguments, context)``.

Whatever the tool does, :meth:`BoundTool.call` returns a string: a non-string result is sent
as JSON, and an exception comes back as ``error: <Type>: <message>`` (and is logged), so the
model can read it and the turn goes on.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from nanofolks_core.contracts import Services, ToolContext
from nanofolks_core.security.references import resolve_tool_arguments
from nanofolks_core.specs import ToolSpec
from nanofolks_core.tools.schema import function_schema


class BoundTool:
    """One tool as the crew uses it.

    ``name``, ``description``, ``roles`` (``("*",)``: every bot), ``schema`` (the OpenAI
    function shape) and ``offered_to(role)``; ``await call(arguments, context)`` never raises
    (except ``CancelledError``).
    """

    def __init__(
        self,
        *,
        spec: ToolSpec,
        description: str,
        parameters: dict[str, Any],
        invoke: Callable[[dict[str, Any], ToolContext], Any],
        services: Services,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.description = description
        self.parameters = parameters
        self.roles: tuple[str, ...] = spec.roles
        self.services = services
        self._invoke = invoke
        self.schema: dict[str, Any] = {
            "type": "function",
            "function": {"name": self.name, "description": description, "parameters": parameters},
        }

    def __repr__(self) -> str:
        return f"BoundTool({self.name!r}, roles={self.roles!r})"

    def offered_to(self, role: str) -> bool:
        """Whether the spec's ``roles`` offer this tool to a bot of ``role``."""
        return self.spec.offered_to(role)

    async def call(self, arguments: Mapping[str, Any] | None, context: ToolContext) -> str:
        """Run the tool; the result as text, or ``error: <Type>: <message>`` if it raised.

        Never raises but ``CancelledError``: whatever the tool (or its result, or its exception)
        does, the model gets a string and the turn goes on.
        """
        started = time.perf_counter()
        hide = _as_is  # after resolving {{references}}: turns their values back into {{name}}
        try:
            if context.services is not self.services:
                context = attrs.evolve(context, services=self.services)
            if arguments is None:
                arguments = {}
            if not isinstance(arguments, Mapping):
                raise TypeError(f"arguments must be a JSON object, got {type(arguments).__name__}")
            # {{name}} references become values only here, as the tool runs (audited).
            arguments, hide = resolve_tool_arguments(self.name, dict(arguments), context, self.services)
            result = self._invoke(arguments, context)
            if inspect.isawaitable(result):
                result = await result
            text = hide(result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - tools are plugin code: the model gets the error, the turn goes on
            return self._error(exc, hide)
        self.services.log.debug("tool %s took %.1f ms", self.name, (time.perf_counter() - started) * 1000)
        return text

    def _error(self, exc: Exception, hide: Callable[[str], str]) -> str:
        """``error: <Type>: <message>``, logged; reading the message may itself fail (a broken ``__str__``)."""
        try:
            message = hide(" ".join(str(exc).split()) or "(no message)")
        except Exception:  # noqa: BLE001 - unreadable or unmaskable: say so rather than risk a value
            message = "(the error message could not be read)"
        self.services.log.warning("tool %s failed: %s: %s", self.name, type(exc).__name__, message)
        self.services.log.debug("tool %s traceback", self.name, exc_info=exc)
        return f"error: {type(exc).__name__}: {message}"


def _as_is(text: str) -> str:
    return text


def build_tool(spec: ToolSpec, config: Any, services: Services) -> BoundTool:
    """Import ``spec.factory`` and bind it: a class is built with ``(spec=, config=, services=)``;
    a function's signature and docstring become the schema.

    Raises what importing or building the tool raises (the crew reports that tool as unavailable).
    """
    factory = spec.load()
    if inspect.isclass(factory):
        tool = spec.build(config, services)  # the one way every runtime is built
        run = tool.run
        return BoundTool(
            spec=spec,
            description=getattr(tool, "description", "") or spec.summary,
            parameters=getattr(tool, "parameters", None) or {"type": "object", "properties": {}},
            invoke=lambda arguments, context: run(arguments, context),
            services=services,
        )
    if not callable(factory):
        raise TypeError(f"tool {spec.name!r}: {spec.factory} is neither a function nor a class")
    schema = function_schema(factory, fallback_description=spec.summary)
    is_async = inspect.iscoroutinefunction(factory)
    context_parameter = schema.context_parameter

    def invoke(arguments: dict[str, Any], context: ToolContext) -> Any:
        if context_parameter is not None:
            if context_parameter in arguments:
                raise TypeError(f"{context_parameter!r} is not an argument of this tool")
            arguments[context_parameter] = context
        if is_async:
            return factory(**arguments)
        return asyncio.to_thread(factory, **arguments)

    return BoundTool(
        spec=spec, description=schema.description, parameters=schema.parameters, invoke=invoke, services=services
    )
