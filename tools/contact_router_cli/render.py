"""Readable tables for the terminal (rich)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table

from contact_router.models.decision import Decision, Outcome

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
        table.add_column(column, overflow="fold")
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


def summary_table(decisions: Sequence[Decision], api_calls: Counter[str], dead_letters: int) -> Table:
    table = Table(title="summary", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for outcome, count in sorted(Counter(d.outcome.value for d in decisions).items()):
        table.add_row(f"outcome {outcome}", str(count))
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


def console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=200)
