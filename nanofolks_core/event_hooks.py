"""Calling the pipeline-event hooks the way pluggy users expect, with per-plugin isolation.

pluggy's own caller stops at the first exception, which would let one broken plugin sink every
message. This caller follows pluggy's conventions and order instead, but contains each plugin:

* order: pluggy's (wrappers outermost, then ``tryfirst`` ... normal ... ``trylast``; among equals
  the plugin registered last runs first);
* chaining: each implementation receives the value the previous one returned (None keeps it);
* ``firstresult`` hooks stop at the first non-None result;
* ``@hookimpl(wrapper=True)``: runs to its ``yield`` before the others, receives the final value
  at the ``yield`` and may return a replacement (None keeps it); an exception (such as
  ``LLMCallDenied``) is thrown into it at the ``yield``;
* ``@hookimpl(hookwrapper=True)`` (old style): receives a ``pluggy.Result`` at the ``yield``;
  ``force_result`` replaces the value;
* an implementation or wrapper that raises (anything but ``LLMCallDenied``), yields twice, never
  yields, or returns something of the wrong type is switched off and the value it was handed goes
  on unchanged, so a broken plugin can never pass a corrupt request to the provider.

What cannot work is refused when the plugin is registered (:func:`unsupported_hooks`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pluggy

from nanofolks_core.errors import LLMCallDenied

#: Results that must have a given type whatever the caller passes (firstresult hooks).
RESULT_TYPES: dict[str, type] = {"nanofolks_tool_call_check": str}

#: ``fail(impl, reason, exc)``: switch the implementation's plugin off (or raise in strict mode).
FailFn = Callable[[Any, str, BaseException | None], None]


def describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unsupported_hooks(pm: pluggy.PluginManager, plugin: object, registration_hooks: set[str]) -> list[str]:
    """Reasons why a registered plugin's hook implementations cannot be called as written."""
    problems = []
    for caller in pm.get_hookcallers(plugin) or []:
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            function = impl.function
            wraps = impl.wrapper or impl.hookwrapper
            if caller.name in registration_hooks:
                if wraps:
                    problems.append(
                        f"{caller.name} is marked as a wrapper; registration hooks are called once per plugin "
                        "with `register`, so wrappers are not supported there (remove wrapper=True/hookwrapper=True)"
                    )
                continue
            if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
                problems.append(f"{caller.name} is `async def`; pipeline hooks are called synchronously (use `def`)")
            elif inspect.isgeneratorfunction(function) and not wraps:
                problems.append(
                    f"{caller.name} is a generator function but not marked as a wrapper; use "
                    "@hookimpl(wrapper=True) to wrap the other implementations, or return instead of yield"
                )
    return problems


class EventCall:
    """One call of a pipeline-event hook chain (see the module docstring)."""

    def __init__(self, hook_name: str, *, firstresult: bool, arg_name: str | None, fail: FailFn, alive) -> None:
        self.hook_name = hook_name
        self.firstresult = firstresult
        self.arg_name = arg_name
        self._fail = fail
        self._alive = alive  # plugin name -> still registered? (skips plugins switched off mid-call)
        self.expected: type | None = None

    def run(self, impls: list[Any], kwargs: dict[str, Any], expected: type | None) -> Any:
        """Run ``impls`` (in call order) and return the final value (pipe) or first result.

        ``expected``: the type every non-None result must have (None: any).
        """
        self.expected = expected
        value = kwargs.get(self.arg_name) if self.arg_name else None
        started: list[tuple[Any, Any]] = []
        result, error = value, None
        wrappers = [impl for impl in impls if impl.wrapper or impl.hookwrapper]
        for impl in wrappers:
            try:
                gen = self._start_wrapper(impl, kwargs)
            except LLMCallDenied as exc:  # a wrapper may deny before its yield, like a plain hook
                error = exc
                break
            if gen is not None:
                started.append((impl, gen))
        if error is None:
            try:
                result = self._run_plain([impl for impl in impls if impl not in wrappers], kwargs, value)
            except LLMCallDenied as exc:
                error = exc
        for impl, gen in reversed(started):
            if not self._alive(impl.plugin_name):
                _close_quietly(gen)  # switched off mid-call: its finally blocks still run
                continue
            result, error = self._finish_wrapper(impl, gen, result, error, value)
        if error is not None:
            raise error
        return result

    # -- plain implementations -------------------------------------------------------------

    def _run_plain(self, impls: list[Any], kwargs: dict[str, Any], value: Any) -> Any:
        for impl in impls:
            if not self._alive(impl.plugin_name):
                continue
            call_kwargs = {**kwargs, self.arg_name: value} if self.arg_name else kwargs
            try:
                result = impl.function(**{arg: call_kwargs[arg] for arg in impl.argnames})
            except LLMCallDenied:
                raise
            except Exception as exc:  # noqa: BLE001 - isolate one broken plugin; the caller reports it
                self._fail(impl, f"{self.hook_name} raised {describe(exc)}{where(exc)}", exc)
                continue
            if result is None:
                continue
            if not self._acceptable(impl, result, value):
                continue
            if self.firstresult:
                return result
            value = result
        return None if self.firstresult else value

    def _acceptable(self, impl: Any, result: Any, value: Any) -> bool:
        expected = self.expected
        if expected is None or isinstance(result, expected):
            return True
        got = type(result).__name__
        hint = " (a generator: mark the hook @hookimpl(wrapper=True))" if inspect.isgenerator(result) else ""
        self._fail(impl, f"{self.hook_name} returned a {got}{hint}, not a {expected.__name__} or None", None)
        return False

    # -- wrappers ----------------------------------------------------------------------------

    def _start_wrapper(self, impl: Any, kwargs: dict[str, Any]) -> Any:
        try:
            gen = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            next(gen)
        except LLMCallDenied:
            raise
        except StopIteration:
            self._fail(impl, f"{self.hook_name} wrapper returned without yielding", None)
            return None
        except Exception as exc:  # noqa: BLE001 - isolate; the value goes on unchanged
            self._fail(impl, f"{self.hook_name} wrapper raised before its yield: {describe(exc)}{where(exc)}", exc)
            return None
        return gen

    def _finish_wrapper(self, impl: Any, gen: Any, result: Any, error: BaseException | None, value: Any):
        """Resume a wrapper after its yield; returns the new (result, error)."""
        old_style = impl.hookwrapper
        outcome = pluggy.Result(result, error) if old_style else None
        try:
            if old_style:
                gen.send(outcome)
            elif error is not None:
                gen.throw(error)
            else:
                gen.send(result)
        except StopIteration as stop:
            if old_style:
                new_error = outcome.exception
                new_result = None if new_error is not None else outcome.get_result()
                if new_error is None and not self._keep(impl, new_result, result):
                    return result, error
                return (result if new_result is None and not self.firstresult else new_result), new_error
            if not self._keep(impl, stop.value, result):
                return result, error
            if stop.value is None:  # a bare yield keeps the result (a deny reason included)
                return result, None
            return stop.value, None
        except LLMCallDenied as exc:
            return result, exc
        except Exception as exc:  # noqa: BLE001 - isolate; keep what the inner implementations produced
            if exc is error:
                return result, error
            self._fail(impl, f"{self.hook_name} wrapper raised after its yield: {describe(exc)}{where(exc)}", exc)
            return result, error
        gen.close()
        self._fail(impl, f"{self.hook_name} wrapper yielded more than once", None)
        return result, error

    def _keep(self, impl: Any, new: Any, current: Any) -> bool:
        return new is None or self._acceptable(impl, new, current)


def where(exc: BaseException) -> str:
    """The innermost frame of a plugin's exception, so the reason says where it broke."""
    import os
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    return f" ({os.path.basename(frame.filename)}:{frame.lineno})"


def _close_quietly(gen: Any) -> None:
    try:
        gen.close()
    except Exception:  # noqa: BLE001 - the plugin is already switched off; its cleanup must not stop the call
        return
