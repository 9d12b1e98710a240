"""A function's signature and docstring as a tool schema (the function form of a tool).

::

    def word_count(text: str, unit: Literal["words", "lines"] = "words") -> int:
        \"\"\"Count the words in a text.

        Args:
            text: the text to count
            unit: what to count
        \"\"\"

becomes the description "Count the words in a text." and the JSON schema
``{"type": "object", "properties": {"text": {"type": "string", "description": "the text to count"},
"unit": {"type": "string", "enum": ["words", "lines"], "default": "words", ...}}, "required": ["text"]}``.
A parameter annotated :class:`~nanofolks_core.contracts.ToolContext` is left out: the core passes the context.
"""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

import attrs

from nanofolks_core.contracts import ToolContext

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object"}
_ARRAYS = (list, tuple, set, frozenset)
_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:\s*$")
_SECTION_HEADER = re.compile(r"^\s*[A-Z][A-Za-z ]*:\s*$")
_ARG_LINE = re.compile(r"^(\s*)\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r"^\s*:param\s+(?:[\w\[\], |]+\s+)?(\w+)\s*:\s*(.*)$")


@attrs.frozen
class FunctionSchema:
    """What a tool function offers the model: its description and parameter schema, and where the context goes."""

    description: str
    parameters: dict[str, Any]
    context_parameter: str | None


def function_schema(func: Callable[..., Any], *, fallback_description: str = "") -> FunctionSchema:
    """Read ``func``'s signature and docstring. Raises TypeError for a signature a model cannot call."""
    signature = inspect.signature(func)
    try:
        # ToolContext resolves even when a plugin imports it only under TYPE_CHECKING.
        hints = typing.get_type_hints(func, localns={"ToolContext": ToolContext})
    except Exception as exc:  # noqa: BLE001 - a hint naming something undefined: say which function
        raise TypeError(f"the type hints of {_qualname(func)} cannot be resolved: {exc}") from None
    description, param_docs = parse_docstring(inspect.getdoc(func) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    context_parameter = None
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"{_qualname(func)}: tool functions take named parameters only (not {param})")
        hint = hints.get(name, inspect.Parameter.empty)
        if hint is ToolContext:
            context_parameter = name
            continue
        schema, optional = type_schema(hint, where=f"{_qualname(func)}({name})")
        if param.default is not param.empty:
            optional = True
            if _json_scalar(param.default):
                schema["default"] = param.default
        if name in param_docs:
            schema["description"] = param_docs[name]
        properties[name] = schema
        if not optional:
            required.append(name)
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return FunctionSchema(description or fallback_description, parameters, context_parameter)


def type_schema(hint: Any, *, where: str = "") -> tuple[dict[str, Any], bool]:
    """The JSON schema of a type hint, and whether it allows None (``X | None``: optional)."""
    if hint is inspect.Parameter.empty or hint is Any:
        return {"type": "string"}, False
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        rest = [arg for arg in args if arg is not type(None)]
        optional = len(rest) < len(args)
        if len(rest) == 1:
            return type_schema(rest[0], where=where)[0], optional
        return {"anyOf": [type_schema(arg, where=where)[0] for arg in rest]}, optional
    if origin is typing.Literal:
        values = list(args)
        schema: dict[str, Any] = {"enum": values}
        kinds = {_SCALARS.get(type(value)) for value in values}
        if len(kinds) == 1 and None not in kinds:
            schema["type"] = kinds.pop()
        return schema, False
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}, False
    if hint in _ARRAYS or origin in _ARRAYS:
        schema = {"type": "array"}
        if args and args[0] is not Ellipsis:
            schema["items"] = type_schema(args[0], where=where)[0]
        return schema, False
    if origin is dict or hint is dict:
        return {"type": "object"}, False
    if inspect.isclass(hint) and issubclass(hint, enum.Enum):
        return {"enum": [member.value for member in hint]}, False
    raise TypeError(f"{where}: the type {hint!r} has no JSON schema; use str, int, float, bool, list, dict or Literal")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph, and parameter descriptions from a Google-style ``Args:`` section or ``:param:`` lines."""
    lines = doc.strip().splitlines()
    description_lines: list[str] = []
    for line in lines:
        if not line.strip() or _ARGS_HEADER.match(line) or _SPHINX_PARAM.match(line):
            break
        description_lines.append(line.strip())
    params: dict[str, str] = {}
    current: str | None = None
    in_args = False
    args_indent: int | None = None
    for line in lines:
        sphinx = _SPHINX_PARAM.match(line)
        if sphinx:
            current, in_args = sphinx.group(1), False
            params[current] = sphinx.group(2).strip()
            continue
        if _ARGS_HEADER.match(line):
            in_args, current, args_indent = True, None, None
            continue
        if not line.strip():
            continue
        if in_args and _SECTION_HEADER.match(line) and (args_indent is None or _indent(line) < args_indent):
            in_args, current = False, None
            continue
        match = _ARG_LINE.match(line) if in_args else None
        if match and (args_indent is None or len(match.group(1)) == args_indent):
            args_indent = len(match.group(1))
            current = match.group(2)
            params[current] = match.group(3).strip()
        elif current is not None and (in_args or line.startswith((" ", "\t"))):
            params[current] = f"{params[current]} {line.strip()}".strip()
    return " ".join(description_lines), params


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _qualname(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"
