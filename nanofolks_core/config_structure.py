"""Structuring config data into attrs classes, with every problem collected and located.

Used by :mod:`nanofolks_core.config`: strict scalar types (JSON ``true`` is not a number, NaN
and Infinity are not numbers), lists and objects checked, and attrs classes structured field by
field so that unknown keys, type errors and validator (range) errors all come out together as
:class:`ConfigIssue` records with their key paths.

The types config classes use (scalars, ``Secret``, ``X | None``, ``list[X]``, ``tuple[X, ...]``,
``dict[str, X]``, ``Any`` and attrs classes) are structured here directly: every command
validates config.json, and importing cattrs and building its converter cost ~15-25 ms of each
start (docs/performance.md). Any other type a plugin's config class uses goes to the cattrs
converter, built on first use, which is also what ``config show`` unstructures with.
"""

from __future__ import annotations

import difflib
import json
import math
import typing
from typing import TYPE_CHECKING, Any

import attrs

from nanofolks_core.secret import Secret

if TYPE_CHECKING:
    import cattrs


@attrs.frozen
class ConfigIssue:
    key: str  # dotted key path, "" for the whole file
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


def camel(name: str) -> str:
    """``use_cas_storage`` -> ``useCasStorage`` (how keys are written in config.json)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def describe_value(value: Any) -> str:
    """A short, JSON-like rendering of a config value for messages."""
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return f"{'an object' if isinstance(value, dict) else 'a list' if isinstance(value, list) else text}"


def _strict(kinds: tuple[type, ...], label: str, convert: type | None = None):
    """A structure hook that accepts only ``kinds`` (JSON true/false is not a number here)."""

    def hook(value: Any, _type: Any) -> Any:
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise TypeError(f"expected {label}, got {describe_value(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise TypeError(f"expected {label}, got {describe_value(value)} (write a finite number)")
        if convert is float and isinstance(value, int) and abs(value) > 1e308:
            raise TypeError(f"expected {label}, got a number too large to use")
        return convert(value) if convert else value

    return hook


def _make_converter() -> cattrs.Converter:
    import cattrs
    from cattrs.cols import is_mapping, is_sequence, list_structure_factory, mapping_structure_factory
    from cattrs.gen import make_dict_unstructure_fn, override

    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(str, _strict((str,), "a string"))
    conv.register_structure_hook(bool, _strict((bool,), "true or false"))
    conv.register_structure_hook(int, _strict((int,), "a whole number"))
    conv.register_structure_hook(float, _strict((int, float), "a number", float))
    conv.register_structure_hook(Any, lambda value, _t: value)

    def secret_hook(value: Any, _type: Any) -> Secret:
        if not isinstance(value, str) or not value:
            raise TypeError(
                f"expected a secret string (a value, 'env:VAR' or 'keyring:NAME'), got {describe_value(value)}"
            )
        return Secret.parse(value)

    conv.register_structure_hook(Secret, secret_hook)
    conv.register_unstructure_hook(Secret, Secret.display)

    def seq_factory(type_: Any, converter: cattrs.Converter):
        base = list_structure_factory(type_, converter)

        def hook(value: Any, t: Any) -> Any:
            if not isinstance(value, list):
                raise TypeError(f"expected a list, got {describe_value(value)}")
            result = base(value, t)
            return tuple(result) if typing.get_origin(type_) is tuple else result

        return hook

    def map_factory(type_: Any, converter: cattrs.Converter):
        base = mapping_structure_factory(type_, converter)

        def hook(value: Any, t: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected an object, got {describe_value(value)}")
            return base(value, t)

        return hook

    conv.register_structure_hook_factory(lambda t: is_sequence(t) and t not in (str, bytes), seq_factory)
    conv.register_structure_hook_factory(is_mapping, map_factory)

    # Attrs classes inside a type only cattrs handles still get the fast path's checks; its _Invalid
    # is located below the cattrs error's key path by _issues_from.
    conv.register_structure_hook_factory(attrs.has, lambda cls: lambda value, _t: _structurer(cls)(value, []))

    def attrs_unstructure_factory(cls: type, converter: cattrs.Converter):
        renames = {f.name: override(rename=camel(f.name)) for f in attrs.fields(cls)}
        internal = {f.name: override(omit=True) for f in attrs.fields(cls) if f.metadata.get("internal")}
        return make_dict_unstructure_fn(cls, converter, **{**renames, **internal})

    conv.register_unstructure_hook_factory(attrs.has, attrs_unstructure_factory)
    return conv


def _validator_errors(cls: type, fields: list[attrs.Attribute], values: dict[str, Any]) -> list[Exception]:
    """Run each field's converter and validator on its own, so one bad value cannot hide another."""
    shell: Any = object.__new__(cls)
    for f in attrs.fields(cls):
        default = f.default
        if isinstance(default, attrs.Factory) and not default.takes_self:
            default = default.factory()
        try:
            object.__setattr__(shell, f.name, values.get(f.name, default))
        except (AttributeError, TypeError):
            shell = None
            break
    errors: list[Exception] = []
    for f in fields:
        if f.name not in values or (f.validator is None and f.converter is None):
            continue
        value = values[f.name]
        try:
            if f.converter is not None and not isinstance(f.converter, attrs.Converter):
                value = f.converter(value)
            if f.validator is not None:
                f.validator(shell, f, value)
        except Exception as exc:  # noqa: BLE001 - a plugin's validator may raise anything; it is an issue
            errors.append(exc if isinstance(exc, (ValueError, TypeError)) else ValueError(str(exc)))
    return errors


_converter: Any = None


def get_converter() -> cattrs.Converter:
    """The cattrs converter (built on first use): unstructuring, and types the fast path does not know."""
    global _converter
    if _converter is None:
        _converter = _make_converter()
    return _converter


def __getattr__(name: str) -> Any:
    if name == "converter":  # the module attribute it used to be, built on first use
        return get_converter()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _issues_from(exc: BaseException, path: list[str]) -> list[ConfigIssue]:
    """Turn cattrs' nested validation errors into one issue per problem, with key paths."""
    from cattrs.errors import (
        AttributeValidationNote,
        ClassValidationError,
        ForbiddenExtraKeysError,
        IterableValidationError,
        IterableValidationNote,
    )

    if isinstance(exc, _Invalid):
        prefix = _key(path)
        return [
            ConfigIssue(_key([prefix, i.key]) if prefix and i.key else prefix or i.key, i.message) for i in exc.issues
        ]
    if isinstance(exc, ForbiddenExtraKeysError):
        return [_unknown_key_issue(path, key, exc.cl) for key in sorted(exc.extra_fields)]
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        issues: list[ConfigIssue] = []
        for sub in exc.exceptions:
            sub_path = list(path)
            for note in getattr(sub, "__notes__", []):
                if isinstance(note, AttributeValidationNote):
                    sub_path.append(camel(note.name))
                elif isinstance(note, IterableValidationNote):
                    # mapping keys read as a dotted path (routing.tiers.simple), list items as [0]
                    sub_path.append(note.index if isinstance(note.index, str) else f"[{note.index}]")
            issues += _issues_from(sub, sub_path)
        return issues
    key = ".".join(path).replace(".[", "[")
    message = str(exc)
    if isinstance(exc, KeyError):
        message = f"missing required key {exc}"
    return [ConfigIssue(key, message)]


def _unknown_key_issue(path: list[str], key: str, cls: type | None) -> ConfigIssue:
    known = [camel(f.name) for f in attrs.fields(cls) if not f.metadata.get("internal")] if cls else []
    hint = difflib.get_close_matches(key, known, n=1)
    suggestion = f" (did you mean '{hint[0]}'?)" if hint else f" (known keys: {', '.join(known)})" if known else ""
    if path and path[0] == "channels" and key in CHANNEL_KEYS:
        # A channel plugin whose config class forgot the shared base: say so to its author.
        suggestion += "; the channel's config class must subclass nanofolks_core.api.ChannelConfig"
    return ConfigIssue(".".join([*path, key]).replace(".[", "["), f"unknown key{suggestion}")


#: Keys every channel section has through ChannelConfig, in both spellings.
CHANNEL_KEYS = frozenset({"enabled", "allowFrom", "allow_from", "apiBase", "api_base"})


def structure_section(raw: Any, cls: type, path: str) -> tuple[Any, list[ConfigIssue]]:
    """Structure one section; returns (object or None, issues with full key paths)."""
    try:
        return _structurer(cls)(raw, path.split(".") if path else []), []
    except _Invalid as exc:
        return None, exc.issues
    except (TypeError, ValueError) as exc:
        return None, [ConfigIssue(path, str(exc))]


# -- the fast path -------------------------------------------------------------------------
# Each structurer is ``(value, key_path) -> object``; it raises _Invalid with located issues,
# or any other exception, which its caller reports at the key path it was structuring.


class _Invalid(Exception):
    def __init__(self, issues: list[ConfigIssue]) -> None:
        super().__init__(issues)
        self.issues = issues


def _key(path: list[str]) -> str:
    return ".".join(path).replace(".[", "[")


def _run(structure: Any, value: Any, path: list[str], issues: list[ConfigIssue]) -> Any:
    """Structure one nested value; its problems go to ``issues`` (located at ``path``)."""
    try:
        return structure(value, path)
    except _Invalid as exc:
        issues += exc.issues
    except KeyError as exc:
        issues.append(ConfigIssue(_key(path), f"missing required key {exc}"))
    except Exception as exc:  # noqa: BLE001 - every structuring error becomes an issue with its key path
        issues.append(ConfigIssue(_key(path), str(exc)))
    return None


_STRUCTURERS: dict[Any, Any] = {}
_SCALARS = {
    str: _strict((str,), "a string"),
    bool: _strict((bool,), "true or false"),
    int: _strict((int,), "a whole number"),
    float: _strict((int, float), "a number", float),
}


def _structurer(type_: Any) -> Any:
    try:
        return _STRUCTURERS[type_]
    except KeyError:
        pass
    except TypeError:  # an unhashable type annotation: let cattrs deal with it
        return _via_cattrs(type_)
    made = _make_structurer(type_)
    _STRUCTURERS[type_] = made
    return made


def _make_structurer(type_: Any) -> Any:
    if type_ is Any:
        return lambda value, _path: value
    if type_ in _SCALARS:
        scalar = _SCALARS[type_]
        return lambda value, _path: scalar(value, type_)
    if type_ is Secret:
        return lambda value, _path: _secret(value)
    if isinstance(type_, type) and attrs.has(type_):
        return _attrs_structurer(type_)
    origin, args = typing.get_origin(type_), typing.get_args(type_)
    if origin in (typing.Union, _union_type()) and len(args) == 2 and type(None) in args:
        inner = _structurer(next(arg for arg in args if arg is not type(None)))
        return lambda value, path: None if value is None else inner(value, path)
    if (origin is list and len(args) == 1) or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        return _sequence_structurer(_structurer(args[0]), origin)
    if origin is dict and len(args) == 2 and args[0] is str:
        return _mapping_structurer(_structurer(args[1]))
    return _via_cattrs(type_)


def _union_type() -> Any:
    import types

    return types.UnionType


def _secret(value: Any) -> Secret:
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected a secret string (a value, 'env:VAR' or 'keyring:NAME'), got {describe_value(value)}")
    return Secret.parse(value)


def _sequence_structurer(item: Any, origin: type) -> Any:
    def structure(value: Any, path: list[str]) -> Any:
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {describe_value(value)}")
        issues: list[ConfigIssue] = []
        result = [_run(item, element, [*path, f"[{index}]"], issues) for index, element in enumerate(value)]
        if issues:
            raise _Invalid(issues)
        return tuple(result) if origin is tuple else result

    return structure


def _mapping_structurer(item: Any) -> Any:
    def structure(value: Any, path: list[str]) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {describe_value(value)}")
        issues: list[ConfigIssue] = []
        result = {}
        for key, element in value.items():
            if not isinstance(key, str):
                issues.append(ConfigIssue(_key(path), f"expected a string key, got {describe_value(key)}"))
                continue
            result[key] = _run(item, element, [*path, key], issues)
        if issues:
            raise _Invalid(issues)
        return result

    return structure


def _attrs_structurer(cls: type) -> Any:
    """Structure an attrs config class, collecting every problem instead of stopping at the first.

    Unknown keys, each field's type error and each field's validator (range) error are all
    reported together; the class is built only when there are none.
    """
    attrs.resolve_types(cls)
    fields = [f for f in attrs.fields(cls) if not f.metadata.get("internal") and f.init]
    by_spelling: dict[str, attrs.Attribute] = {}
    for f in fields:
        by_spelling[f.name] = f
        by_spelling[camel(f.alias or f.name)] = f
    # Field structurers are made on first use: a class may name itself (or a later class) in a field.
    field_structurers: dict[str, Any] = {}

    def structure(value: Any, path: list[str]) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {describe_value(value)}")
        issues: list[ConfigIssue] = []
        extra = sorted(key for key in value if key not in by_spelling)
        issues += [_unknown_key_issue(path, str(key), cls) for key in extra]
        raw: dict[str, Any] = {}
        for key, item in value.items():
            if key in by_spelling:
                raw[by_spelling[key].name] = item
        values: dict[str, Any] = {}
        for f in fields:
            if f.name not in raw:
                if f.default is attrs.NOTHING:
                    issues.append(ConfigIssue(_key(path), f"missing required key {KeyError(camel(f.alias or f.name))}"))
                continue
            if f.name not in field_structurers:
                field_structurers[f.name] = _structurer(f.type)
            before = len(issues)
            result = _run(field_structurers[f.name], raw[f.name], [*path, camel(f.name)], issues)
            if len(issues) == before:
                values[f.name] = result
        issues += [ConfigIssue(_key(path), str(exc)) for exc in _validator_errors(cls, fields, values)]
        if issues:
            raise _Invalid(issues)
        return cls(**{(f.alias or f.name): values[f.name] for f in fields if f.name in values})

    return structure


def _via_cattrs(type_: Any) -> Any:
    def structure(value: Any, path: list[str]) -> Any:
        from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

        try:
            return get_converter().structure(value, type_)
        except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
            raise _Invalid(_issues_from(exc, path)) from None

    return structure
