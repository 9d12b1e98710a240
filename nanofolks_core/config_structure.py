"""Structuring config data into attrs classes, with every problem collected and located.

Used by :mod:`nanofolks_core.config`: strict scalar types (JSON ``true`` is not a number, NaN
and Infinity are not numbers), lists and objects checked, and attrs classes structured field by
field so that unknown keys, type errors and validator (range) errors all come out together as
:class:`ConfigIssue` records with their key paths.
"""

from __future__ import annotations

import difflib
import json
import math
import typing
from typing import Any

import attrs
import cattrs
from cattrs.cols import is_mapping, is_sequence, list_structure_factory, mapping_structure_factory
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_unstructure_fn, override

from nanofolks_core.secret import Secret


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

    conv.register_structure_hook_factory(attrs.has, lambda cls, converter: _attrs_structure_hook(cls, converter))

    def attrs_unstructure_factory(cls: type, converter: cattrs.Converter):
        renames = {f.name: override(rename=camel(f.name)) for f in attrs.fields(cls)}
        internal = {f.name: override(omit=True) for f in attrs.fields(cls) if f.metadata.get("internal")}
        return make_dict_unstructure_fn(cls, converter, **{**renames, **internal})

    conv.register_unstructure_hook_factory(attrs.has, attrs_unstructure_factory)
    return conv


def _attrs_structure_hook(cls: type, converter: cattrs.Converter):
    """Structure an attrs config class, collecting every problem instead of stopping at the first.

    Unknown keys, each field's type error and each field's validator (range) error are all
    gathered into one ``ClassValidationError``; the class is built only when there are none.
    """
    attrs.resolve_types(cls)
    fields = [f for f in attrs.fields(cls) if not f.metadata.get("internal") and f.init]
    by_spelling: dict[str, attrs.Attribute] = {}
    for f in fields:
        by_spelling[f.name] = f
        by_spelling[camel(f.alias or f.name)] = f

    def hook(value: Any, _type: Any) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {describe_value(value)}")
        errors: list[Exception] = []
        raw: dict[str, Any] = {}
        extra = {key for key in value if key not in by_spelling}
        if extra:
            errors.append(ForbiddenExtraKeysError("", cls, extra))
        for key, item in value.items():
            if key in by_spelling:
                raw[by_spelling[key].name] = item
        values: dict[str, Any] = {}
        for f in fields:
            if f.name not in raw:
                if f.default is attrs.NOTHING:
                    errors.append(KeyError(camel(f.alias or f.name)))
                continue
            try:
                values[f.name] = converter.structure(raw[f.name], f.type)
            except Exception as exc:  # noqa: BLE001 - every structuring error becomes an issue with its key path
                exc.__notes__ = [*getattr(exc, "__notes__", []), AttributeValidationNote(f.name, f.name, f.type)]
                errors.append(exc)
        errors += _validator_errors(cls, fields, values)
        if errors:
            raise ClassValidationError(f"While structuring {cls.__name__}", errors, cls)
        return cls(**{(f.alias or f.name): values[f.name] for f in fields if f.name in values})

    return hook


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


converter = _make_converter()


def _issues_from(exc: BaseException, path: list[str]) -> list[ConfigIssue]:
    """Turn cattrs' nested validation errors into one issue per problem, with key paths."""
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
    return ConfigIssue(".".join([*path, key]).replace(".[", "["), f"unknown key{suggestion}")


def structure_section(raw: Any, cls: type, path: str) -> tuple[Any, list[ConfigIssue]]:
    """Structure one section; returns (object or None, issues with full key paths)."""
    try:
        return converter.structure(raw, cls), []
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        return None, _issues_from(exc, path.split(".") if path else [])
    except (TypeError, ValueError) as exc:
        return None, [ConfigIssue(path, str(exc))]
