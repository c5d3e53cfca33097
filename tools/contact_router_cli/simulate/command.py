"""``contact-router simulate``: run the simulation with a progress bar, print the summary, write the series
(and the chart, with the plot extra), and exit non-zero when an invariant breaks."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contact_router_cli.simulate import invariants, outcome, report
from contact_router_cli.simulate.pipeline import SimulationConfig, SimulationResult, run_simulation


@dataclass(frozen=True)
class Outputs:
    """Where the run's files go, and whether a progress bar shows."""

    log: Path
    series: Path | None = None
    plot: Path | None = None
    json_path: Path | None = None
    progress: bool = False


def run(config: SimulationConfig, options: Outputs, out: Console | None = None) -> int:
    """Returns the exit code: 0 when every invariant held, 1 otherwise, 2 for --plot without matplotlib."""
    out = out or Console()
    if options.plot is not None and not report.plotting_available():
        out.print(report.PLOT_MISSING, markup=False, highlight=False, soft_wrap=True)
        return 2
    options.log.parent.mkdir(parents=True, exist_ok=True)
    with options.log.open("w", encoding="utf-8") as log:
        result = _run(config, log, options.progress)
    checked = invariants.check(result)
    report.print_summary(out, result, checked)
    points = report.time_series(result)
    if options.series is not None:
        out.print(f"series: {report.write_series(options.series, points)}")
    if options.plot is not None:
        out.print(f"chart: {report.write_chart(options.plot, points)}")
    if options.json_path is not None:
        out.print(f"figures: {report.write_json(options.json_path, report.figures(result, checked))}")
    out.print(f"Lambda logs and metrics: {options.log}")
    broken = [inv.name for inv in checked if not inv.ok]
    if broken:
        out.print(f"[red]{len(broken)} invariant(s) broken: {', '.join(broken)}[/red]")
        return 1
    out.print("[green]every invariant held[/green]")
    return 0


def run_modes(configs: list[SimulationConfig], options: Outputs, out: Console | None = None) -> int:
    """One seeded workload in every mode given, one after the other: each run's invariants, then the outcome
    side by side (docs/simulation.md). Returns 0 when every invariant held in every mode, 1 otherwise."""
    out = out or Console()
    options.log.parent.mkdir(parents=True, exist_ok=True)
    outcomes: dict[str, outcome.Outcome] = {}
    checks: dict[str, list[invariants.Invariant]] = {}
    walls: dict[str, float] = {}
    with options.log.open("w", encoding="utf-8") as log:
        for config in configs:
            mode = str(config.mode)
            result = _run(config, log, options.progress, label=mode)
            checks[mode] = invariants.check(result)
            outcomes[mode] = outcome.measure(result)
            walls[mode] = result.wall_seconds
    spec = configs[0].workload
    out.print(
        f"workload: {spec.contacts} chats, {spec.agents} agents x {spec.chat_slots} slots, "
        f"{spec.preferred_share:.0%} naming a preferred agent (wait window {spec.preferred_window:g} s), "
        f"seed {spec.seed}; EventBridge to SQS p50 {spec.event_delay[0]:g} s / p99 {spec.event_delay[1]:g} s; "
        f"flow steps: {configs[0].flow_steps}",
        highlight=False,
    )
    out.print(outcome_table(outcomes, walls))
    for line in target_lines(outcomes):
        out.print(line, highlight=False)
    for mode, checked in checks.items():
        out.print(report.invariants_table(checked, title=f"invariants ({mode})"))
    if options.json_path is not None:
        data = {
            "scenario": {
                "contacts": spec.contacts,
                "agents": spec.agents,
                "chat_slots": spec.chat_slots,
                "preferred_share": spec.preferred_share,
                "preferred_window_s": spec.preferred_window,
                "event_delay_s": list(spec.event_delay),
                "seed": spec.seed,
                "flow_steps": configs[0].flow_steps,
            },
            "outcome": {mode: found.as_dict() for mode, found in outcomes.items()},
            "invariants": {mode: {inv.name: inv.ok for inv in checked} for mode, checked in checks.items()},
        }
        out.print(f"figures: {report.write_json(options.json_path, data)}")
    out.print(f"Lambda logs and metrics: {options.log}")
    broken = [f"{inv.name} ({mode})" for mode, checked in checks.items() for inv in checked if not inv.ok]
    if broken:
        out.print(f"[red]{len(broken)} invariant(s) broken: {', '.join(broken)}[/red]")
        return 1
    out.print("[green]every invariant held in every mode[/green]")
    return 0


def outcome_table(outcomes: dict[str, outcome.Outcome], walls: dict[str, float] | None = None) -> Table:
    table = Table(title="outcome against Connect's native routing", title_justify="left")
    columns = (
        ("mode", "mode"),
        ("hit", "preferred_hit_rate"),
        ("hit|free", "preferred_hit_rate_when_available"),
        ("p50 s", "wait_p50_s"),
        ("p90 s", "wait_p90_s"),
        ("abandon", "abandon_rate"),
        ("calls", "connect_calls_per_contact"),
        ("occup.", "occupancy"),
    )
    for header, _ in columns:
        table.add_column(header, justify="left" if header == "mode" else "right")
    for mode, found in outcomes.items():
        values = found.as_dict()
        table.add_row(mode, *(_cell(name, values[name]) for _, name in columns[1:]))
    caption = (
        "hit: preferred agent reached; hit|free: ... when they had a free slot within the window; p50/p90: wait "
        "queued to connected; calls: Connect calls per contact"
    )
    if walls:
        caption += "; wall time: " + ", ".join(f"{mode} {seconds:.0f} s" for mode, seconds in walls.items())
    table.caption = caption
    return table


# Issue 12's targets on the reference workload, for the modes with the flow.
TARGET_HIT_WHEN_FREE = 0.95
TARGET_EXTRA_P90_S = 5.0


def target_lines(outcomes: dict[str, outcome.Outcome]) -> list[str]:
    """Each flow mode against the targets (hit rate when free, p90 wait over native's): met or MISSED."""
    native = outcomes.get("native")
    lines = []
    for mode in ("flow", "flow+events"):
        found = outcomes.get(mode)
        if found is None or native is None:
            continue
        hit_ok = found.preferred_hit_rate_when_available >= TARGET_HIT_WHEN_FREE
        extra = found.wait_p90_s - native.wait_p90_s
        wait_ok = extra <= TARGET_EXTRA_P90_S
        lines.append(
            f"{mode}: hit rate when free {found.preferred_hit_rate_when_available:.3f} (target >= "
            f"{TARGET_HIT_WHEN_FREE}) {'met' if hit_ok else 'MISSED'}; p90 wait {extra:+.1f} s over native "
            f"(target <= +{TARGET_EXTRA_P90_S:g} s) {'met' if wait_ok else 'MISSED'}"
        )
    return lines


def _cell(name: str, value: float) -> str:
    if name.endswith("_s"):
        return f"{value:.1f}"
    if name == "connect_calls_per_contact":
        return f"{value:.2f}"
    return f"{value:.3f}"


def _run(config: SimulationConfig, stream: IO[str], show: bool, label: str = "") -> SimulationResult:
    if not show:
        return run_simulation(config, log_stream=stream)
    console = Console(file=sys.stderr)
    columns = (
        TextColumn(f"[bold]simulating {label}[/bold]".replace("  ", " ")),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("contacts settled, {task.fields[associated]} associated, {task.fields[virtual]} simulated"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("simulate", total=config.workload.contacts, associated=0, virtual="0 s")

        def progress(virtual: float, settled: int, total: int, associated: int) -> None:
            bar.update(task, completed=settled, total=total, associated=associated, virtual=f"{virtual:,.0f} s")

        return run_simulation(config, log_stream=stream, progress=progress)
