"""Metrics over the work log: per day, bot, tier or provider, and the Prometheus lines for ``/metrics``.

Model calls, tokens and cost come from the ``llm`` entries (one per ``nanofolks_after_llm_call``);
messages, routine runs and latency from the ``turn`` entries; tool calls and failures from the
``tool`` and ``delegation`` entries. Cost is what the provider reported for a call, else what
``price(model, prompt, completion)`` says (the router's prices), else unknown: never guessed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nanofolks_core.api import data_root
from nanofolks_worklog.store import WorkLog, worklog_for

GROUPINGS = ("day", "bot", "tier", "provider")
UNKNOWN = "unknown"
#: Prometheus latency quantiles are over the turns of this many recent seconds.
LATENCY_WINDOW = 24 * 3600

PriceFn = Callable[[str, int, int], float | None]


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil without math
    return ordered[int(rank) - 1]


def _key(row: Any, by: str) -> str:
    if by == "day":
        return datetime.fromtimestamp(row["ts"]).astimezone().strftime("%Y-%m-%d")
    if by == "bot":
        return (row["bot"] or "-").split(",")[0] or "-"
    value = row[by]
    return value if value else "-"


def _empty() -> dict[str, Any]:
    return {
        "messages": 0,
        "model_calls": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "tokens": 0,
        "cost": 0.0,
        "unpriced_calls": 0,
        "tool_calls": 0,
        "tool_failures": 0,
        "routine_runs": 0,
        "latencies": [],
    }


def compute(work: WorkLog, *, since: float | None, by: str, price: PriceFn | None = None) -> dict[str, Any]:
    """``{"by": by, "since": ..., "groups": [{"key": ..., metrics...}], "total": {metrics...}}``."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {GROUPINGS}")
    where, params = ("WHERE ts >= ?", [since]) if since is not None else ("", [])
    columns = (
        "ts, kind, room, bot, tier, provider, model, outcome, routine, seconds, prompt_tokens, completion_tokens, cost"
    )
    # Column names and the WHERE clause are fixed text; values go in as parameters.
    rows = work.rows(f"SELECT {columns} FROM entry {where} ORDER BY ts, id", params)  # noqa: S608  # nosec B608
    groups: dict[str, dict[str, Any]] = defaultdict(_empty)
    total = _empty()
    asked_by: dict[tuple[str, str], Any] = {}  # (room, bot) -> that bot's latest model call
    for row in rows:
        kind = row["kind"]
        if kind not in ("turn", "llm", "tool", "delegation"):
            continue
        if kind == "llm":
            asked_by[row["room"], row["bot"]] = row
        key = _key(row, by)
        if kind in ("tool", "delegation") and by in ("tier", "provider"):
            # A tool call has no model: it belongs to the model call that asked for it.
            asking = asked_by.get((row["room"], row["bot"]))
            key = _key(asking, by) if asking is not None else key
        for bucket in (groups[key], total):
            _add(bucket, row, price)
    return {
        "by": by,
        "since": since,
        "groups": [{"key": key, **_finish(groups[key])} for key in sorted(groups)],
        "total": _finish(total),
    }


def _add(bucket: dict[str, Any], row: Any, price: PriceFn | None) -> None:
    kind = row["kind"]
    if kind == "turn":
        bucket["messages"] += 1
        bucket["routine_runs"] += row["routine"] is not None
        if row["seconds"] is not None:
            bucket["latencies"].append(row["seconds"] * 1000)
    elif kind == "llm":
        prompt, completion = row["prompt_tokens"] or 0, row["completion_tokens"] or 0
        bucket["model_calls"] += 1
        bucket["prompt_tokens"] += prompt
        bucket["completion_tokens"] += completion
        bucket["tokens"] += prompt + completion
        cost = row["cost"]
        if cost is None and price is not None:
            cost = price(row["model"] or "", prompt, completion)
        if cost is None:
            bucket["unpriced_calls"] += 1
        else:
            bucket["cost"] += cost
    else:
        bucket["tool_calls"] += 1
        bucket["tool_failures"] += row["outcome"] != "ok"


def _finish(bucket: dict[str, Any]) -> dict[str, Any]:
    latencies = bucket.pop("latencies")
    out = dict(bucket)
    if out["model_calls"] and out["unpriced_calls"] == out["model_calls"]:
        out["cost"] = UNKNOWN  # no call had a price: saying 0 would be a guess
    else:
        out["cost"] = round(out["cost"], 6)
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    out["latency_p50_ms"] = round(p50, 1) if p50 is not None else None
    out["latency_p95_ms"] = round(p95, 1) if p95 is not None else None
    return out


# -- Prometheus -----------------------------------------------------------------------------------


#: SQL: the entry is a call of a tool that does not exist, or a delegation to a bot that does not
#: (the core's error texts for them, kept in ``detail.error``).
_INVENTED = (
    "(json_extract(detail, '$.error') LIKE 'there is no tool named %' "
    "OR json_extract(detail, '$.error') LIKE 'cannot delegate to %')"
)


def _boolean(value: Any) -> str:
    """Prometheus label values are case-sensitive text; Python's ``True`` is not what queries expect."""
    return "true" if value else "false"


def _labels(**labels: Any) -> str:
    parts = []
    for key, value in labels.items():
        text = str(value if value is not None else "-").replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{key}="{text}"')
    return "{" + ",".join(parts) + "}" if parts else ""


def _family(lines: list[str], name: str, kind: str, help_text: str, samples: list[tuple[dict, float]]) -> None:
    lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{_labels(**labels)} {value:g}" for labels, value in samples]


def prometheus_lines(work: WorkLog | None = None, *, now: float | None = None) -> list[str]:
    """Counters since the work log began, and turn-latency quantiles over the last day."""
    work = work or worklog_for(data_root())
    now = time.time() if now is None else now
    lines: list[str] = []
    turns = work.rows(
        "SELECT room, channel, routine IS NOT NULL AS routine, COUNT(*) AS n FROM entry "
        "WHERE kind = 'turn' GROUP BY 1, 2, 3"
    )
    _family(
        lines,
        "nanofolks_turns_total",
        "counter",
        "Messages the crew answered.",
        [({"room": r["room"], "channel": r["channel"], "routine": _boolean(r["routine"])}, r["n"]) for r in turns],
    )
    calls = work.rows(
        "SELECT provider, tier, COUNT(*) AS n, SUM(prompt_tokens) AS p, SUM(completion_tokens) AS c, "
        "SUM(cost) AS cost FROM entry WHERE kind = 'llm' GROUP BY 1, 2"
    )
    _family(
        lines,
        "nanofolks_model_calls_total",
        "counter",
        "Model calls.",
        [({"provider": r["provider"], "tier": r["tier"]}, r["n"]) for r in calls],
    )
    tokens = [({"provider": r["provider"], "tier": r["tier"], "type": "prompt"}, r["p"] or 0) for r in calls]
    tokens += [({"provider": r["provider"], "tier": r["tier"], "type": "completion"}, r["c"] or 0) for r in calls]
    _family(lines, "nanofolks_tokens_total", "counter", "Tokens sent and received.", tokens)
    _family(
        lines,
        "nanofolks_cost_usd_total",
        "counter",
        "Cost the providers reported (calls without a price are left out).",
        [({"provider": r["provider"], "tier": r["tier"]}, r["cost"] or 0.0) for r in calls],
    )
    # A name the model made up (the crew answered "there is no tool named ..." / "cannot delegate to ...")
    # is labelled unknown: one series per invented name would grow without bound.
    tools = work.rows(
        f"SELECT CASE WHEN {_INVENTED} THEN '{UNKNOWN}' ELSE name END AS tool, outcome, COUNT(*) AS n "  # noqa: S608  # nosec B608 - fixed text
        "FROM entry WHERE kind IN ('tool', 'delegation') GROUP BY 1, 2"
    )
    _family(
        lines,
        "nanofolks_tool_calls_total",
        "counter",
        "Tool calls by outcome (ok, error, denied).",
        [({"tool": r["tool"], "outcome": r["outcome"]}, r["n"]) for r in tools],
    )
    recent = [
        r["seconds"]
        for r in work.rows(
            "SELECT seconds FROM entry WHERE kind = 'turn' AND seconds IS NOT NULL AND ts >= ?", [now - LATENCY_WINDOW]
        )
    ]
    quantiles = [({"quantile": q}, percentile(recent, q) or 0.0) for q in (0.5, 0.95)]
    _family(lines, "nanofolks_turn_latency_seconds", "summary", "Turn latency over the last 24 hours.", quantiles)
    lines += [
        f"nanofolks_turn_latency_seconds_count {len(recent)}",
        f"nanofolks_turn_latency_seconds_sum {sum(recent):g}",
    ]
    return lines
