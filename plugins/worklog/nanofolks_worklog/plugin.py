"""Entry module of ``nanofolks-worklog``: the work-log hooks, the ``worklog`` and ``metrics``
commands and the ``worklog_search`` tool. Imports only the core's API; the SQLite store is
imported the first time something is recorded or read.
"""

from __future__ import annotations

from nanofolks_core.api import CommandSpec, ToolSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_commands(register):
    register(
        CommandSpec(
            name="worklog",
            summary="List, show, search and export what the crew did.",
            factory="nanofolks_worklog.cli:worklog",
        )
    )
    register(
        CommandSpec(
            name="metrics",
            summary="Messages, model calls, tokens, cost, tools and latency per day, bot, tier or provider.",
            factory="nanofolks_worklog.metrics_cli:metrics",
        )
    )


@hookimpl
def nanofolks_register_tools(register):
    register(
        ToolSpec(
            name="worklog_search",
            summary="Look up past work in the work log",
            factory="nanofolks_worklog.tool:worklog_search",
        )
    )


@hookimpl
def nanofolks_turn_done(inbound, result):
    from nanofolks_worklog import recorder

    recorder.record_turn(inbound, result)


@hookimpl
def nanofolks_tool_done(call, bot, room, outcome, error, seconds):
    from nanofolks_worklog import recorder

    recorder.record_tool(call, bot, room, outcome, error, seconds)


@hookimpl
def nanofolks_task_changed(room, task, event):
    from nanofolks_worklog import recorder

    recorder.record_task(room, task, event)


@hookimpl
def nanofolks_after_llm_call(request, response):
    from nanofolks_worklog import recorder

    recorder.record_llm_call(request, response)  # returns None: the response goes on unchanged


@hookimpl
def nanofolks_metrics():
    from nanofolks_core.api import NanofolksError
    from nanofolks_worklog import metrics

    try:
        return metrics.prometheus_lines()
    except NanofolksError as exc:  # an unreadable work log: say so in the scrape, keep the plugin on
        return [f"# nanofolks-worklog: {' '.join(str(exc).split())}"]
