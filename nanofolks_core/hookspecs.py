"""Hook specifications: the one source of truth for what plugins can contribute.

Every hook is documented in docs/hooks.md (a test enforces it). Hooks evolve additively:
an implementation may accept fewer arguments than its spec lists.

Registration hooks receive a ``register`` callback and call it with spec records
(``nanofolks_core.api``). They must be cheap: no I/O, no heavy imports. The core calls
them one implementation at a time, so one plugin's exception cannot stop the others.

Pipeline-event hooks run on every message; keep them fast. They follow pluggy's conventions,
with each plugin isolated from the others:

* Order: wrappers first (outermost), then ``@hookimpl(tryfirst=True)``, plain, ``trylast=True``;
  among equals the plugin registered last runs first.
* Chain: each implementation receives the value the previous one returned; None keeps it.
  A ``firstresult`` hook stops at the first non-None result.
* ``@hookimpl(wrapper=True)``: a generator that runs to its ``yield`` before the others;
  the ``yield`` gives it the final value (or raises the error, e.g. ``LLMCallDenied``);
  it returns a replacement, or None to keep the value. Old-style ``hookwrapper=True``
  receives a ``pluggy.Result`` (``get_result()``, ``force_result(value)``).
* If an implementation raises (anything but ``LLMCallDenied``), returns a value of the wrong
  type, or a wrapper does not yield exactly once, its plugin is switched off: the value it was
  handed goes on unchanged, a warning names the plugin and reason, and ``plugins list`` shows
  it as failed, also in later processes, until ``nanofolks plugins enable NAME`` or a new
  version. ``NANOFOLKS_STRICT_PLUGINS=1`` raises instead.
* Refused when the plugin loads (it is marked failed with the reason, in ``plugins list`` and
  ``plugins doctor``): ``async def`` implementations, generator functions not marked as
  wrappers, and wrappers on registration hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from nanofolks_core.messages import InboundMessage, LLMRequest, LLMResponse, OutboundMessage, ToolCall
    from nanofolks_core.pipeline.records import TurnResult
    from nanofolks_core.rooms import Task
    from nanofolks_core.specs import (
        ChannelSpec,
        CommandSpec,
        ConfigSectionSpec,
        MemoryBackendSpec,
        ProviderSpec,
        RouterSpec,
        RoutineSpec,
        SecretPatternSpec,
        SecretStoreSpec,
        ServiceSpec,
        SessionStoreSpec,
        SkillScannerSpec,
        SkillSpec,
        TeamSpec,
        TierSpec,
        ToolSpec,
    )

hookspec = pluggy.HookspecMarker("nanofolks")

# ---------------------------------------------------------------------------
# Registration: called once per process when the registry is built.
# ---------------------------------------------------------------------------


@hookspec
def nanofolks_register_channels(register: Callable[[ChannelSpec], None]) -> None:
    """Register chat channels.

    :param register: call with one :class:`ChannelSpec` per channel.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register LLM providers.

    :param register: call with one :class:`ProviderSpec` per provider.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_memory_backends(register: Callable[[MemoryBackendSpec], None]) -> None:
    """Register memory backends (``memory.backend`` in config picks one).

    :param register: call with one :class:`MemoryBackendSpec` per backend.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_session_stores(register: Callable[[SessionStoreSpec], None]) -> None:
    """Register stores for room history (``storage.backend`` in config picks one).

    :param register: call with one :class:`SessionStoreSpec` per store.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_router_tiers(register: Callable[[TierSpec], None]) -> None:
    """Register router tiers (simple, medium, complex, reasoning, coding ...).

    :param register: call with one :class:`TierSpec` per tier.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_routers(register: Callable[[RouterSpec], None]) -> None:
    """Register routers that pick the model tier for each user message (the first one is used).

    :param register: call with one :class:`RouterSpec` per router; its runtime is built as
        ``factory(spec=, config=<the routing section>, services=)``.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_teams(register: Callable[[TeamSpec], None]) -> None:
    """Register team persona packs.

    :param register: call with one :class:`TeamSpec` per team.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_skills(register: Callable[[SkillSpec], None]) -> None:
    """Register skills (folders with a SKILL.md).

    :param register: call with one :class:`SkillSpec` per skill.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_skill_scanners(register: Callable[[SkillScannerSpec], None]) -> None:
    """Register security scanners that rate skills before they load.

    :param register: call with one :class:`SkillScannerSpec` per scanner.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_secret_stores(register: Callable[[SecretStoreSpec], None]) -> None:
    """Register secret stores (``keyring:`` references in config are resolved through them).

    :param register: call with one :class:`SecretStoreSpec` per store.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_secret_patterns(register: Callable[[SecretPatternSpec], None]) -> None:
    """Register regular expressions that recognise credentials for the secret sanitizer.

    :param register: call with one :class:`SecretPatternSpec` per pattern.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_tools(register: Callable[[ToolSpec], None]) -> None:
    """Register tools bots may call in the tool loop.

    :param register: call with one :class:`ToolSpec` per tool.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_commands(register: Callable[[CommandSpec], None]) -> None:
    """Register top-level CLI commands (``nanofolks <name> ...``).

    :param register: call with one :class:`CommandSpec` per command; its ``factory`` names a
        click command or group, imported only when the command is run.
    Called when the CLI lists or resolves commands. Returns nothing.
    """


@hookspec
def nanofolks_register_services(register: Callable[[ServiceSpec], None]) -> None:
    """Register background services the gateway runs next to the channels (routines ...).

    :param register: call with one :class:`ServiceSpec` per service; its runtime, built as
        ``factory(spec=, config=, services=)``, has ``async run(crew)`` (``crew`` is a
        :class:`nanofolks_core.api.CrewAccess`) that runs until cancelled. It is restarted with
        backoff when ``run`` returns or raises; ``GET /health`` shows it under ``services``.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_routines(register: Callable[[RoutineSpec], None]) -> None:
    """Register team routines: check-ins the crew runs on a schedule (a Leader's daily summary ...).

    :param register: call with one :class:`RoutineSpec` per routine. The ``nanofolks-routines``
        plugin runs them inside the gateway; users list, pause and resume them with
        ``nanofolks routines``.
    Called when the registry is built. Returns nothing.
    """


@hookspec
def nanofolks_register_config_sections(register: Callable[[ConfigSectionSpec], None]) -> None:
    """Register config sections not tied to one spec (``routing``, ``routines`` ...).

    :param register: call with one :class:`ConfigSectionSpec` per section.
    Called when config is loaded. Returns nothing.
    """


# ---------------------------------------------------------------------------
# Pipeline events: called for every message. Implementations run one at a time in
# pluggy's order; a returned record replaces the one the next implementation sees.
# Calling rules, wrappers and what happens when one raises: see the module docstring.
# ---------------------------------------------------------------------------


@hookspec
def nanofolks_message_in(message: InboundMessage) -> InboundMessage | None:
    """A message arrived from a channel, before the pipeline tags it.

    :param message: the inbound message (as returned by the previous implementation).
    :return: a replacement :class:`InboundMessage` (``attrs.evolve``), or None to keep it.
    Chain hook; wrappers allowed. Raising switches the plugin off; the message goes on unchanged.
    """


@hookspec
def nanofolks_message_out(message: OutboundMessage) -> OutboundMessage | None:
    """A reply is about to be sent to a channel and stored in room history.

    :param message: the outbound message (as returned by the previous implementation).
    :return: a replacement :class:`OutboundMessage`, or None to keep it.
    Chain hook; wrappers allowed. Raising switches the plugin off; the reply goes on unchanged.
    """


@hookspec
def nanofolks_before_llm_call(request: LLMRequest) -> LLMRequest | None:
    """Just before a request goes to a provider (redaction, budgets, tracing).

    :param request: the request, with ``metadata`` naming room, bot and tier.
    :return: a replacement :class:`LLMRequest`, or None to keep it. Raise
        :class:`nanofolks_core.api.LLMCallDenied` to stop the call with a reason (wrappers see it
        raised at their ``yield``).
    Chain hook; wrappers allowed: ``request = yield`` gives the request after the other plugins,
    ``return attrs.evolve(request, ...)`` replaces it. Anything but an ``LLMRequest`` or None is
    refused (the plugin is switched off), so the provider always receives a real request.
    Any other exception switches the plugin off; the request goes on unchanged.
    """


@hookspec
def nanofolks_after_llm_call(request: LLMRequest, response: LLMResponse) -> LLMResponse | None:
    """Just after a provider answered (usage accounting, redaction of the reply).

    :param request: the request as it was sent.
    :param response: the provider's response (as returned by the previous implementation).
    :return: a replacement :class:`LLMResponse`, or None to keep it.
    Chain hook; wrappers allowed. Raising switches the plugin off; the response goes on unchanged.
    """


@hookspec(firstresult=True)
def nanofolks_tool_call_check(call: ToolCall, context: dict[str, Any]) -> str | None:
    """Before a tool runs: may it?

    :param call: the tool call the model asked for.
    :param context: ``room``, ``bot`` and ``role`` of the caller.
    :return: a reason string to deny the call, or None to allow it.
    ``firstresult``: the first non-None wins and the rest are not called (``tryfirst=True`` to
    run early); a wrapper's return value is the final answer. A result that is not a string, or
    an exception, switches the plugin off and the others decide.
    """


# ---------------------------------------------------------------------------
# Pipeline notifications: the crew reports what it did (work logs, metrics, tracing).
# Return values are ignored; the same isolation applies (one raising plugin is switched off,
# the turn goes on). They run in the turn's thread: keep them short (a local write).
# ---------------------------------------------------------------------------


@hookspec
def nanofolks_turn_done(inbound: InboundMessage, result: TurnResult) -> None:
    """A turn finished and its message and replies are stored in the room's history.

    :param inbound: the message (``channel``, ``sender``, ``room``, ``metadata``: a routine run
        carries ``metadata["routine"]``), its ``text`` as stored: credentials as ``{{name}}`` references.
    :param result: the :class:`TurnResult`: ``room``, ``replies`` (each with ``bot``, ``model``,
        ``usage``, ``delegated_by``, ``error``), ``route`` (tier), ``timings`` in ms (``total``, ``llm``).
    Notification; the return value is ignored. Not called for a turn that failed before anything
    was stored (provider down, message too long).
    """


@hookspec
def nanofolks_tool_done(call: ToolCall, bot: str, room: str, outcome: str, error: str | None, seconds: float) -> None:
    """A bot's tool call finished (``delegate`` and ``hand_over_task`` included).

    :param call: the call with its arguments sanitized: credentials are ``{{name}}`` references,
        never values.
    :param bot: the role that called it. :param room: the room id.
    :param outcome: ``ok``, ``error`` (the tool raised or refused; see ``error``) or ``denied``
        (a ``nanofolks_tool_call_check`` said no).
    :param error: the error text (sanitized) or deny reason; None when ``ok``.
    :param seconds: how long it ran.
    Notification; the return value is ignored.
    """


@hookspec
def nanofolks_task_changed(room: str, task: Task, event: str) -> None:
    """The crew created or changed a room task during a turn (delegation, ``hand_over_task``).

    :param room: the room id. :param task: the task as it is now (``id``, ``title``, ``owner``,
        ``status``, ``history``: the last entry says what happened and why).
    :param event: ``created``, ``done``, ``failed`` or ``handoff``.
    Notification; the return value is ignored. Changes made with ``nanofolks room task`` on the
    command line are not reported.
    """


@hookspec
def nanofolks_metrics() -> list[str] | None:
    """Lines for the gateway's Prometheus endpoint, ``GET /metrics`` (text exposition format 0.0.4).

    :return: lines such as ``# TYPE nanofolks_turns_total counter`` and
        ``nanofolks_turns_total{room="general"} 12``, or None. Every implementation's lines are
        joined in plugin order. Called in a worker thread, at most once every 5 s (scrapes in between
    get the same lines): be thread-safe, read, don't wait.
    A plugin that raises is switched off; the others' lines are still served.
    """
