"""Composition of the sweep, its scheduled event, and its observability (one summary line, a few metrics).

``build_sweep`` wires the Connect gateway and the router's queue to the ``Sweeper`` from ``SweepSettings``;
clients can be injected (tests) and default to real boto3 clients.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.adapters import aws
from contact_router.adapters.connect import ConnectGateway
from contact_router.errors import PermanentError
from contact_router.observability import logger, metrics
from contact_router.sweep.router_queue import RouterQueue
from contact_router.sweep.settings import SweepSettings
from contact_router.sweep.sweeper import Sweeper, SweepFailed, SweepOptions, SweepReport


@dataclass
class SweepApp:
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


def build_sweep(
    settings: SweepSettings,
    *,
    connect_client: Any = None,
    sqs_client: Any = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> SweepApp:
    connect = ConnectGateway(
        connect_client or aws.client("connect", settings.region, aws.CONNECT_CONFIG), instance_id=settings.instance_id
    )
    queue = RouterQueue(settings.router_queue_url, sqs_client or aws.client("sqs", settings.region))
    sweeper = Sweeper(
        SweepOptions(
            instance_arn=settings.instance_arn,
            queue_ids=settings.queue_ids,
            min_wait_seconds=settings.min_wait_seconds,
            interval_seconds=settings.interval_seconds,
        ),
        search=connect,
        sink=queue,
        sleep=sleep,
    )
    logger.debug("sweep configured", queues=len(settings.queue_ids), min_wait_seconds=settings.min_wait_seconds)
    return SweepApp(sweeper, clock)
