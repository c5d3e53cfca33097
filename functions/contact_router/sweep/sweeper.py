"""The sweep use case: search one window, re-inject what crossed the threshold, report what it did.

Bounded: one SearchContacts page of 100 per call, at most ``max_pages`` pages a sweep, paced to stay under
SearchContacts' low quota, and no page started without ``deadline_margin_ms`` left in the invocation.
Events are sent page by page, so a sweep cut short keeps what it sent; its retry sends those again and the
router's idempotency absorbs them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from contact_router.errors import ContactRouterError, TransientError
from contact_router.models.contact import Contact
from contact_router.sweep.selection import (
    SWEPT_CHANNELS,
    WAITING_SKIPS,
    SkipReason,
    SweepWindow,
    skip_reason,
    synthetic_queued_event,
)

PAGE_SIZE = 100  # SearchContacts MaxResults: at most 100
MAX_PAGES = 10
# SearchContacts' quota is low (about 0.5 request/s, unverified) and shared by the account: never faster.
PAGE_INTERVAL_SECONDS = 2.0
# A page is only started with this much time left: one SearchContacts call with its retries (3 attempts,
# 2 s connect + 5 s read timeouts) and the SendMessageBatch calls for what it found.
DEADLINE_MARGIN_MS = 30_000
REPORTED_CONTACT_IDS = 50  # the summary names at most this many re-injected contacts


class ContactSearchPort(Protocol):
    def search_contacts(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        queue_ids: Sequence[str],
        channels: Sequence[str],
        timestamp: str = "INITIATION_TIMESTAMP",
        next_token: str | None = None,
        max_results: int = 100,
    ) -> tuple[list[Contact], str | None]: ...


class EventSinkPort(Protocol):
    def send(self, events: Sequence[Mapping[str, Any]]) -> None: ...


@dataclass(frozen=True)
class SweepOptions:
    instance_arn: str
    queue_ids: tuple[str, ...]
    min_wait_seconds: int
    interval_seconds: int
    max_pages: int = MAX_PAGES
    page_interval_seconds: float = PAGE_INTERVAL_SECONDS
    deadline_margin_ms: int = DEADLINE_MARGIN_MS


@dataclass
class SweepReport:
    """What one sweep did: the ``sweep summary`` log line and the metrics come from here."""

    window: SweepWindow
    queue_ids: tuple[str, ...]
    search_calls: int = 0
    found: int = 0
    waiting: int = 0
    reinjected: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    truncated: bool = False
    error_reason: str | None = None
    error: str | None = None

    @property
    def completed(self) -> bool:
        return self.error_reason is None

    def to_record(self) -> dict[str, Any]:
        return {
            "swept_at": _iso(self.window.swept_at),
            "min_wait_seconds": self.window.min_wait_seconds,
            "enqueued_after": _iso(self.window.enqueued_after),
            "enqueued_by": _iso(self.window.enqueued_by),
            "searched_initiated_from": _iso(self.window.search_from),
            "queues": len(self.queue_ids),
            "search_calls": self.search_calls,
            "found": self.found,
            "waiting": self.waiting,
            "reinjected": len(self.reinjected),
            "reinjected_contacts": self.reinjected[:REPORTED_CONTACT_IDS],
            "skipped": dict(sorted(self.skipped.items())),
            "truncated": self.truncated,
            "completed": self.completed,
            "error_reason": self.error_reason,
            "error": self.error,
        }


class SweepFailed(ContactRouterError):
    """The sweep stopped part-way (throttled, deadline, queue unavailable...): ``report`` says how far it got.

    The invocation fails so that the schedule retries it; the target's dead-letter queue keeps it otherwise.
    """

    def __init__(self, cause: ContactRouterError, report: SweepReport) -> None:
        super().__init__(cause.reason, cause.message)
        self.report = report
        self.transient = isinstance(cause, TransientError)


class Sweeper:
    def __init__(
        self,
        options: SweepOptions,
        search: ContactSearchPort,
        sink: EventSinkPort,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self.search = search
        self.sink = sink
        self._monotonic = monotonic
        self._sleep = sleep

    def window(self, swept_at: float) -> SweepWindow:
        return SweepWindow(swept_at, self.options.min_wait_seconds, self.options.interval_seconds)

    def sweep(self, swept_at: float, remaining_ms: Callable[[], int] | None = None) -> SweepReport:
        """Sweep the window of the sweep scheduled at ``swept_at`` (epoch seconds).

        Raises SweepFailed (with the report so far) when Connect, SQS or the deadline stops it.
        """
        report = SweepReport(self.window(swept_at), self.options.queue_ids)
        try:
            self._sweep(report, remaining_ms)
        except ContactRouterError as exc:
            report.error_reason, report.error = exc.reason, exc.message
            raise SweepFailed(exc, report) from exc
        return report

    def _sweep(self, report: SweepReport, remaining_ms: Callable[[], int] | None) -> None:
        window, queues = report.window, frozenset(self.options.queue_ids)
        start, end = _datetime(window.search_from), _datetime(window.search_to)
        seen: set[str] = set()
        token: str | None = None
        last_call: float | None = None
        for _ in range(self.options.max_pages):
            self._check_deadline(remaining_ms)
            last_call = self._pace(last_call)
            contacts, next_token = self.search.search_contacts(
                start,
                end,
                queue_ids=self.options.queue_ids,
                channels=SWEPT_CHANNELS,
                next_token=token,
                max_results=PAGE_SIZE,
            )
            report.search_calls += 1
            events, ids = [], []
            for contact in contacts:
                report.found += 1
                skip = SkipReason.DUPLICATE if contact.id in seen else skip_reason(contact, window, queues)
                seen.add(contact.id)
                if skip is None or skip in WAITING_SKIPS:
                    report.waiting += 1
                if skip is not None:
                    report.skipped[skip.value] += 1
                    continue
                events.append(synthetic_queued_event(contact, self.options.instance_arn, window.swept_at))
                ids.append(contact.id)
            if events:
                self.sink.send(events)
                report.reinjected.extend(ids)
            if not next_token or next_token == token:
                return
            token = next_token
        report.truncated = True  # pages left: the next sweeps will not see these contacts cross again

    def _pace(self, last_call: float | None) -> float:
        if last_call is not None:
            wait = last_call + self.options.page_interval_seconds - self._monotonic()
            if wait > 0:
                self._sleep(wait)
        return self._monotonic()

    def _check_deadline(self, remaining_ms: Callable[[], int] | None) -> None:
        if remaining_ms is None:
            return
        left = remaining_ms()
        if left < self.options.deadline_margin_ms:
            raise TransientError("deadline", f"only {left} ms left in this invocation; sweep stopped before a page")


def _datetime(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _iso(epoch: float) -> str:
    return _datetime(epoch).isoformat(timespec="seconds").replace("+00:00", "Z")
