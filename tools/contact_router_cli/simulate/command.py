"""``contact-router simulate``: run the simulation with a progress bar, print the summary, write the series
(and the chart, with the plot extra), and exit non-zero when an invariant breaks."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from contact_router_cli.simulate import invariants, report
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


def _run(config: SimulationConfig, stream: IO[str], show: bool) -> SimulationResult:
    if not show:
        return run_simulation(config, log_stream=stream)
    console = Console(file=sys.stderr)
    columns = (
        TextColumn("[bold]simulating[/bold]"),
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
