"""Readable tables for the terminal (rich)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from contact_router.models.affinity import AffinityDecision
from contact_router.models.decision import Decision, Outcome
from contact_router.models.supervision import SupervisionDecision, SupervisionOutcome

OUTCOME_STYLE = {
    Outcome.ASSOCIATED: "green",
    Outcome.WOULD_ASSOCIATE: "cyan",
    Outcome.NO_ELIGIBLE_AGENT: "yellow",
    Outcome.NO_RULE_MATCHED: "yellow",
    Outcome.NOT_WAITING: "blue",
    Outcome.IGNORED: "dim",
    Outcome.DUPLICATE: "dim",
    Outcome.REJECTED: "red",
    Outcome.FAILED: "red",
}


def decisions_table(
    rows: Sequence[tuple[str, Decision]], agent_name: Callable[[str | None], str | None], title: str
) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in ("event", "contact", "channel", "rule", "outcome", "agent", "reason"):
        table.add_column(column, overflow="fold", no_wrap=column in ("event", "contact"))
    for source, d in rows:
        style = OUTCOME_STYLE.get(d.outcome, "")
        table.add_row(
            source.removesuffix(".json"),
            _short(d.contact_id),
            d.channel or "-",
            d.rule or "-",
            f"[{style}]{d.outcome.value}[/{style}]" if style else d.outcome.value,
            d.agent_username or agent_name(d.agent_id) or "-",
            _reason(d, agent_name),
        )
    return table


SUPERVISION_STYLE = {
    SupervisionOutcome.MONITORING_STARTED: "green",
    SupervisionOutcome.WOULD_MONITOR: "cyan",
    SupervisionOutcome.ALREADY_MONITORED: "green",
    SupervisionOutcome.NO_SUPERVISOR_AVAILABLE: "yellow",
    SupervisionOutcome.NOT_SAMPLED: "dim",
    SupervisionOutcome.NO_RULE_MATCHED: "dim",
    SupervisionOutcome.IGNORED: "dim",
    SupervisionOutcome.REJECTED: "red",
    SupervisionOutcome.FAILED: "red",
}


def supervision_table(
    rows: Sequence[tuple[str, SupervisionDecision]], agent_name: Callable[[str | None], str | None], title: str
) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("event", "contact", "channel", "agent", "rule", "outcome", "supervisor", "reason"):
        table.add_column(column, overflow="fold", no_wrap=column in ("event", "contact"))
    for source, d in rows:
        style = SUPERVISION_STYLE.get(d.outcome, "")
        skipped = [
            f"{c.username or agent_name(c.user_id) or c.label}: {c.verdict.value}"
            for c in d.candidates
            if c.verdict.value != "chosen"
        ]
        reason = d.detail or ""
        if skipped and d.outcome is not SupervisionOutcome.NO_SUPERVISOR_AVAILABLE:
            reason = f"{reason}; skipped {', '.join(skipped)}"
        table.add_row(
            source.removesuffix(".json"),
            _short(d.contact_id),
            d.channel or "-",
            agent_name(d.agent_id) or d.agent_id or "-",
            d.rule or "-",
            f"[{style}]{d.outcome.value}[/{style}]" if style else d.outcome.value,
            d.supervisor_username or agent_name(d.supervisor_id) or "-",
            f"{d.reason}: {reason}" if d.reason and reason else d.reason or reason,
        )
    return table


def affinity_table(
    rows: Sequence[tuple[str, AffinityDecision]], agent_name: Callable[[str | None], str | None], title: str
) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("event", "contact", "channel", "agent", "outcome", "keys", "reason"):
        table.add_column(column, overflow="fold", no_wrap=column in ("event", "contact"))
    for source, d in rows:
        keys = ", ".join(f"{k.kind} {k.key}…{'' if k.written else ' (kept newer)'}" for k in d.keys) or "-"
        table.add_row(
            source.removesuffix(".json"),
            _short(d.contact_id),
            d.channel or "-",
            agent_name(d.agent_id) or d.agent_id or "-",
            d.outcome.value,
            keys,
            f"{d.reason}: {d.detail}" if d.reason and d.detail else d.reason or "",
        )
    return table


def summary_table(
    decisions: Sequence[Decision | SupervisionDecision | AffinityDecision], api_calls: Counter[str], dead_letters: int
) -> Table:
    table = Table(title="summary", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for outcome, count in sorted(Counter(d.outcome.value for d in decisions if isinstance(d, Decision)).items()):
        table.add_row(f"routing {outcome}", str(count))
    for outcome, count in sorted(
        Counter(d.outcome.value for d in decisions if isinstance(d, SupervisionDecision)).items()
    ):
        table.add_row(f"supervision {outcome}", str(count))
    for outcome, count in sorted(
        Counter(d.outcome.value for d in decisions if isinstance(d, AffinityDecision)).items()
    ):
        table.add_row(f"affinity {outcome}", str(count))
    for operation, count in sorted(api_calls.items()):
        table.add_row(f"Connect {operation}", str(count))
    table.add_row("dead-letter queue messages", str(dead_letters))
    return table


def candidates_table(decision: Decision, agent_name: Callable[[str | None], str | None]) -> Table:
    table = Table(title="candidates, in rule order", title_justify="left")
    for column in ("#", "source", "user", "verdict", "detail"):
        table.add_column(column, overflow="fold")
    for index, c in enumerate(decision.candidates, start=1):
        table.add_row(
            str(index), c.source, c.username or agent_name(c.user_id) or c.label, c.verdict.value, c.detail or ""
        )
    return table


def _reason(d: Decision, agent_name: Callable[[str | None], str | None]) -> str:
    if d.outcome in (Outcome.ASSOCIATED, Outcome.WOULD_ASSOCIATE):
        return f"via {d.reason}" + (f" ({d.detail})" if d.detail else "")
    if d.outcome is Outcome.NO_ELIGIBLE_AGENT and d.candidates:
        parts = [
            f"{c.username or agent_name(c.user_id) or c.label}: {c.verdict.value}"
            + (f" ({c.detail})" if c.detail else "")
            for c in d.candidates
        ]
        return f"{d.reason}: " + "; ".join(parts) + "; left with its queue"
    return f"{d.reason}: {d.detail}" if d.detail and d.reason else d.reason or d.detail or ""


def _short(contact_id: str | None) -> str:
    return contact_id or "-"


def console(*, stderr: bool = False) -> Console:
    """Tables as wide as the terminal (rich reads its size, or COLUMNS when the output is not a terminal)."""
    return Console(highlight=False, soft_wrap=False, stderr=stderr)


def run_json(result: Any, rules: Path, log: Path) -> dict[str, Any]:
    """A local run as JSON: each decision record (as the Lambda logs it) with the event file it came from."""
    return {
        "rules": str(rules),
        "owners": None
        if result.owners is None
        else {"stored": result.owners.stored, "unchanged": result.owners.unchanged, "bad": len(result.owners.bad)},
        "affinity": [{"event": source, **d.to_record()} for source, d in result.affinity],
        "routing": [{"event": source, **d.to_record()} for source, d in result.decisions],
        "supervision": [{"event": source, **d.to_record()} for source, d in result.supervision],
        "dead_letters": [
            {"event": letter.source, "contact_id": letter.contact_id, "reason": letter.reason, "error": letter.error}
            for letter in result.dead_letters
        ],
        "api_calls": dict(sorted(result.api_calls.items())),
        "users": {u.id: u.username for u in result.emulator.world.users},  # agent_id -> username
        "log": str(log),
    }
