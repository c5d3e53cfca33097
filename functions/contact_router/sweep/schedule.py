"""One scheduled sweep: its event's time, the sweep, and its observability (one summary line, a few metrics).
``composition.build_sweep_app`` wires it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.errors import PermanentError
from contact_router.observability import logger, metrics
from contact_router.sweep.sweeper import Sweeper, SweepFailed, SweepReport


@dataclass
class ScheduledSweep:
    sweeper: Sweeper
    clock: Callable[[], float] = time.time

    def run(self, event: Mapping[str, Any], context: LambdaContext | None = None) -> SweepReport:
        """One scheduled sweep. Logs ``sweep summary`` and counts the metrics, whether it completes or not;
        raises SweepFailed (the invocation fails, the schedule retries it) when it could not finish."""
        swept_at = scheduled_time(event, self.clock)
        remaining = context.get_remaining_time_in_millis if context is not None else None
        try:
            report = self.sweeper.sweep(swept_at, remaining)
        except SweepFailed as exc:
            record_sweep(exc.report)
            raise
        record_sweep(report)
        return report


def scheduled_time(event: Mapping[str, Any], clock: Callable[[], float]) -> float:
    """The sweep's time T: the event's ``time`` (an EventBridge scheduled event has it; configure an
    EventBridge Scheduler target's input as ``{"time": "<aws.scheduler.scheduled-time>"}``), else now.

    Anchoring on the scheduled time, not the invocation's, lets a retried invocation cover the same window
    and consecutive sweeps tile exactly.
    """
    raw = event.get("time") if isinstance(event, Mapping) else None
    if raw is None:
        return clock()
    if not isinstance(raw, str):
        raise PermanentError("malformed_event", f"scheduled event 'time' must be an ISO 8601 string, got {raw!r}")
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise PermanentError("malformed_event", f"scheduled event 'time' is not ISO 8601: {raw!r}") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def record_sweep(report: SweepReport) -> None:
    """``sweep summary``: found, waiting, re-injected, skipped by reason; and the sweep's metrics."""
    record = report.to_record()
    if report.completed:
        logger.info("sweep summary", sweep=record)
    else:
        logger.error("sweep summary", sweep=record)
    if report.truncated:
        logger.warning("sweep truncated: more contacts than the page limit", pages=report.search_calls)
    for name, value in (
        ("SweepFound", report.found),
        ("SweepWaiting", report.waiting),
        ("SweepReinjected", len(report.reinjected)),
        ("SweepSkipped", sum(report.skipped.values())),
        ("SweepSearchCalls", report.search_calls),
        ("SweepTruncated", int(report.truncated)),
        ("SweepFailed", int(not report.completed)),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
