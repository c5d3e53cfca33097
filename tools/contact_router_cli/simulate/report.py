"""The summary of a simulation: tables for the terminal, the figures as JSON, the contacts routed over time
against the quota as CSV, and (with the optional ``plot`` extra) that series as a chart."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from contact_router.models.decision import Outcome
from contact_router_cli.simulate import metrics
from contact_router_cli.simulate.invariants import LEFT_WITH_QUEUE, Invariant, decisions_by_contact, final_decision
from contact_router_cli.simulate.pipeline import SimulationResult

OK, FAIL = "[green]held[/green]", "[red]BROKEN[/red]"


def print_summary(out: Console, result: SimulationResult, invariants: list[Invariant]) -> None:
    out.print(setup_table(result))
    out.print(contacts_table(result))
    out.print(records_table(result))
    out.print(api_table(result))
    out.print(pipeline_table(result))
    out.print(figures_table(result))
    out.print(invariants_table(invariants))


def setup_table(result: SimulationResult) -> Table:
    config, spec, d = result.config, result.config.workload, result.deployment
    table = Table(title="simulation", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value")
    kinds = Counter(c.kind for c in result.workload.contacts)
    table.add_row(
        "contacts", f"{kinds['valid']} queued ({spec.mix} mix) + {kinds['stale']} stale, {spec.agents} agents"
    )
    table.add_row(
        "events",
        f"{len(result.workload.deliveries)} deliveries (1-{spec.duplicates} per event), "
        f"{result.filtered} filtered by the rule, {result.queued} reached the queue",
    )
    workers = config.workers or d.max_concurrency
    window = d.batching_window if config.batching_window is None else config.batching_window
    table.add_row(
        "pipeline",
        f"{workers} workers, batches of {config.batch_size or d.batch_size}, window {window:g} s, "
        f"visibility {config.visibility_timeout or d.visibility_timeout:g} s, "
        f"maxReceiveCount {config.max_receive_count or d.max_receive_count}, timeout {config.timeout or d.timeout:g} s",
    )
    quotas = "none" if config.quota_scale is None else f"documented x {config.quota_scale:g}"
    low, high = config.latency
    table.add_row(
        "faults",
        f"quotas {quotas}; throttling {config.throttle_rate:.0%}, 5xx {config.error_rate:.0%} of calls; "
        f"latency {low * 1000:.0f}-{high * 1000:.0f} ms; worker crash after {config.crash_rate:.0%} of associations",
    )
    if config.inject_bug:
        table.add_row("[red]injected bug[/red]", config.inject_bug)
    table.add_row("seed", str(config.seed))
    return table


def contact_outcomes(result: SimulationResult) -> Counter[str]:
    """How each queued contact (valid or stale) ended."""
    associated = {a.contact_id for a in result.associations}
    decisions = decisions_by_contact(result.records)
    dead = {o.contact_id for m in result.dead_letters if (o := result.origin_of_dead_letter(m)).contact_id}
    ends: Counter[str] = Counter()
    for plan in result.workload.contacts:
        final = final_decision(decisions.get(plan.id, []))
        if plan.id in associated:
            end = "associated"
        elif plan.id in dead:
            end = "dead-lettered"
        elif final is not None and final.outcome in LEFT_WITH_QUEUE:
            end = f"{final.outcome.value} ({final.reason})"
        else:
            end = "LOST"
        ends[f"{plan.kind}: {end}"] += 1
    return ends


def contacts_table(result: SimulationResult) -> Table:
    table = Table(title="how each contact ended", title_justify="left")
    table.add_column("contact: end")
    table.add_column("contacts", justify="right")
    for end, count in sorted(contact_outcomes(result).items(), key=lambda kv: (kv[0].split(":")[0], -kv[1])):
        style = "red" if "LOST" in end else ""
        table.add_row(f"[{style}]{end}[/{style}]" if style else end, str(count))
    return table


def records_table(result: SimulationResult) -> Table:
    """What the router did with each SQS record it received, by what the message really was."""
    counts: Counter[tuple[str, str]] = Counter()
    for record in result.records:
        if record.decision is not None:
            what = record.decision.outcome.value
            if record.decision.outcome in (Outcome.REJECTED, Outcome.NOT_WAITING, Outcome.DUPLICATE):
                what += f" ({record.decision.reason})"
        elif record.transient:
            what = f"back to SQS ({record.transient})"
        else:
            what = f"UNHANDLED {record.unexpected}"
        counts[(record.origin.kind, what)] += 1
    table = Table(title="SQS records handled by the router", title_justify="left")
    table.add_column("message")
    table.add_column("result")
    table.add_column("records", justify="right")
    for (kind, what), count in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1])):
        table.add_row(kind, what, str(count))
    return table


def api_table(result: SimulationResult) -> Table:
    table = Table(title="Connect API calls", title_justify="left")
    for column in ("operation", "requests", "ok", "throttled", "5xx", "4xx", "ok per associated contact"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    per = metrics.successful_calls_per_association(result)
    for operation, counts in sorted(metrics.calls_by_operation(result).items()):
        table.add_row(
            operation,
            *(str(counts[k]) for k in ("requests", "ok", "throttled", "5xx", "4xx")),
            f"{per.get(operation, 0.0):.2f}",
        )
    table.add_row("[bold]total[/bold]", "", "", "", "", "", f"[bold]{sum(per.values()):.2f}[/bold]")
    return table


def pipeline_table(result: SimulationResult) -> Table:
    workers, queue = result.workers, result.queue_stats
    table = Table(title="pipeline", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row(
        "invocations",
        f"{workers.invocations} ({workers.cold_starts} cold starts, {workers.crashes} crashes after an association, "
        f"{workers.timeouts} timeouts, {len(workers.batch_errors)} failed batches)",
    )
    sizes = sum(size * n for size, n in workers.batch_sizes.items()) / max(1, workers.invocations)
    table.add_row("batches", f"{sizes:.1f} records on average")
    table.add_row(
        "SQS",
        f"{queue.sent} messages ({queue.sent - result.queued} re-checks), {queue.received} receives, "
        f"{queue.received - queue.sent} redeliveries, max receive count {queue.max_receive_count}, "
        f"{queue.redriven} redriven to the DLQ",
    )
    reasons = Counter(m.attributes.get("reason", "(redriven, no reason)") for m in result.dead_letters)
    table.add_row("dead-letter queue", ", ".join(f"{r}: {n}" for r, n in reasons.most_common()) or "empty")
    if result.races:
        table.add_row(
            "[yellow]check-then-act[/yellow]",
            "associations landing on an agent no longer eligible: "
            + ", ".join(f"{k}: {n}" for k, n in result.races.most_common()),
        )
    table.add_row(
        "time",
        f"{result.end - result.first_event_at:,.0f} s simulated in {result.wall_seconds:,.1f} s "
        f"({len(result.records)} records)",
    )
    return table


def figures_table(result: SimulationResult) -> Table:
    t, lat = metrics.throughput(result), metrics.latency(result)
    table = Table(title="throughput and latency", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value")
    quota = f"{t.quota:g}/s" if t.quota else "no quota"
    efficiency = f" = {t.efficiency:.2f} of the AssociateContactWithUser quota ({quota})" if t.efficiency else ""
    table.add_row("associations", f"{t.associations} in {t.seconds:,.0f} s: {t.per_second:.2f}/s{efficiency}")
    if lat.samples:
        table.add_row(
            "event -> association",
            f"p50 {lat.p50:.2f} s, p99 {lat.p99:.2f} s (ideal {lat.ideal:.2f} s: three round trips; "
            f"waits for a busy agent included)",
        )
    return table


def invariants_table(invariants: list[Invariant], title: str = "invariants") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("invariant")
    table.add_column("checked", justify="right")
    table.add_column("")
    table.add_column("examples", overflow="fold")
    for inv in invariants:
        examples = "; ".join(inv.violations[:3]) + (f" (+{len(inv.violations) - 3})" if len(inv.violations) > 3 else "")
        table.add_row(inv.name, str(inv.checked), OK if inv.ok else FAIL, examples)
    return table


PLOT_MISSING = "--plot needs matplotlib: pip install 'contact-router[plot]' (the series CSV needs nothing)"


@dataclass(frozen=True)
class Point:
    """One moment of the run: contacts queued and associated by then, and the most the AssociateContactWithUser
    quota allows by then (burst + rate x t; None without a quota)."""

    seconds: float
    contacts_queued: int
    contacts_associated: int
    quota_allows: float | None


def time_series(result: SimulationResult) -> list[Point]:
    """The run in 300 points (or one a second, if fewer), from the first event on."""
    start = result.first_event_at
    end = max(result.end, start + 1.0)
    step = max(1.0, (end - start) / 300)
    associated = metrics.cumulative([a.time for a in result.associations], start, step, end)
    queued = metrics.cumulative(list(result.first_sent.values()), start, step, end)
    quota = result.emulator.faults.rate_quota("AssociateContactWithUser")
    points = []
    for (x, arrived), (_, done) in zip(queued, associated, strict=True):
        seconds = round(x, 3)
        allows = None if quota is None else round(quota.burst + quota.rate * seconds, 3)
        points.append(Point(seconds, arrived, done, allows))
    return points


def write_series(path: Path, points: list[Point]) -> Path:
    """The time series as CSV (an empty cell where there is no quota), for any plotting tool."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=[f.name for f in fields(Point)])
        writer.writeheader()
        writer.writerows(asdict(point) for point in points)
    return path


def plotting_available() -> bool:
    """Whether the optional ``plot`` extra (matplotlib) is installed."""
    return importlib.util.find_spec("matplotlib") is not None


def write_chart(path: Path, points: list[Point]) -> Path:
    """The time series drawn by matplotlib (the optional ``plot`` extra, imported here only); the quota line
    stops a little above the contacts queued."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise RuntimeError(PLOT_MISSING) from exc
    seconds = [p.seconds for p in points]
    figure = Figure(figsize=(9.6, 5.4), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(seconds, [p.contacts_queued for p in points], color="grey", label="contacts queued")
    axes.plot(seconds, [p.contacts_associated for p in points], color="tab:blue", label="contacts associated")
    top = 1.1 * max((p.contacts_queued for p in points), default=0)
    quota = [(p.seconds, p.quota_allows) for p in points if p.quota_allows is not None and p.quota_allows <= top]
    if quota:
        axes.plot(*zip(*quota, strict=True), "--", color="tab:red", label="AssociateContactWithUser quota allows")
    axes.set(title="Routed contacts over time (simulated)", xlabel="seconds", ylabel="contacts")
    axes.legend(loc="upper left")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def figures(result: SimulationResult, invariants: list[Invariant]) -> dict[str, Any]:
    """The run's figures as plain data (for --json and the benchmark)."""
    t, lat = metrics.throughput(result), metrics.latency(result)

    def number(value: float | None) -> float | None:
        return None if value is None or math.isnan(value) else round(value, 4)

    return {
        "config": {
            "contacts": result.config.workload.contacts,
            "agents": result.config.workload.agents,
            "seed": result.config.seed,
            "inject_bug": result.config.inject_bug,
        },
        "associations": t.associations,
        "associations_per_second": number(t.per_second),
        "quota": t.quota,
        "quota_efficiency": number(t.efficiency),
        "latency_p50": number(lat.p50),
        "latency_p99": number(lat.p99),
        "latency_ideal": number(lat.ideal),
        "calls_per_association": {k: round(v, 4) for k, v in metrics.successful_calls_per_association(result).items()},
        "contacts": dict(contact_outcomes(result)),
        "crashes": result.workers.crashes,
        "timeouts": result.workers.timeouts,
        "races": dict(result.races),
        "virtual_seconds": round(result.end - result.first_event_at, 1),
        "wall_seconds": round(result.wall_seconds, 2),
        "invariants": {inv.name: {"held": inv.ok, "violations": inv.violations[:20]} for inv in invariants},
    }


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
