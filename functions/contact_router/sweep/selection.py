"""Which contacts a sweep re-injects, and the synthetic QUEUED event it sends for each (pure).

A sweep at time T re-injects a contact when it still waits (queued in a swept queue, no agent, not
disconnected) and its wait crossed the threshold since the previous sweep: enqueued in
(T - min_wait - interval, T - min_wait]. Consecutive sweeps' windows tile without gap or overlap, so a
contact that legitimately waits for a long time is sent once, not every interval.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from contact_router.models.contact import Contact
from contact_router.models.contact_event import CONTACT_EVENT_DETAIL_TYPE, SWEEP_EVENT_SOURCE
from contact_router.routing.screening import NOT_CUSTOMER_WORK, ROUTED_CHANNELS

SWEPT_CHANNELS: tuple[str, ...] = tuple(sorted(ROUTED_CHANNELS))  # CHAT, EMAIL, TASK
# SearchContacts looks back over initiation times: the threshold plus this many intervals. A contact whose
# time before the queue (flow, bot) exceeds what is left of that look-back is not found (docs/sweep.md).
LOOKBACK_INTERVALS = 2
SWEEP_EVENT_ID_PREFIX = "sweep-"


class SkipReason(StrEnum):
    CHANNEL_NOT_SWEPT = "channel_not_swept"
    NOT_CUSTOMER_WORK = "not_customer_work"
    DISCONNECTED = "disconnected"
    CONNECTED_TO_AGENT = "connected_to_agent"
    ALREADY_ASSIGNED = "already_assigned"
    NOT_QUEUED = "not_queued"
    OTHER_QUEUE = "other_queue"
    NO_ENQUEUE_TIME = "no_enqueue_time"
    UNDER_THRESHOLD = "waiting_under_threshold"  # the next sweep will see it cross
    CROSSED_BEFORE_LAST_SWEEP = "crossed_before_last_sweep"  # an earlier sweep's window had it
    DUPLICATE = "duplicate"  # listed twice in one sweep (pages moved under us)


# Contacts skipped for these reasons still wait in a swept queue.
WAITING_SKIPS = frozenset({SkipReason.UNDER_THRESHOLD, SkipReason.CROSSED_BEFORE_LAST_SWEEP})


@dataclass(frozen=True)
class SweepWindow:
    """The times one sweep covers, in epoch seconds."""

    swept_at: float  # T: the sweep's scheduled time
    min_wait_seconds: int
    interval_seconds: int

    @property
    def enqueued_after(self) -> float:
        """Exclusive: a contact enqueued at or before this crossed the threshold by the previous sweep."""
        return self.swept_at - self.min_wait_seconds - self.interval_seconds

    @property
    def enqueued_by(self) -> float:
        """Inclusive: a contact enqueued after this has waited less than the threshold."""
        return self.swept_at - self.min_wait_seconds

    @property
    def search_from(self) -> float:
        """SearchContacts TimeRange start (initiation time)."""
        return self.swept_at - self.min_wait_seconds - LOOKBACK_INTERVALS * self.interval_seconds

    @property
    def search_to(self) -> float:
        return self.swept_at


def skip_reason(contact: Contact, window: SweepWindow, queue_ids: frozenset[str]) -> SkipReason | None:
    """Why this search result is not re-injected, or None if it is."""
    if contact.channel not in ROUTED_CHANNELS:
        return SkipReason.CHANNEL_NOT_SWEPT
    if contact.initiation_method in NOT_CUSTOMER_WORK:
        return SkipReason.NOT_CUSTOMER_WORK
    not_waiting = contact.not_waiting_reason()
    if not_waiting is not None:
        return SkipReason(not_waiting.value)
    if contact.queue_id not in queue_ids:
        return SkipReason.OTHER_QUEUE
    if contact.enqueued_at is None:
        return SkipReason.NO_ENQUEUE_TIME
    enqueued = contact.enqueued_at.timestamp()
    if enqueued > window.enqueued_by:
        return SkipReason.UNDER_THRESHOLD
    if enqueued <= window.enqueued_after:
        return SkipReason.CROSSED_BEFORE_LAST_SWEEP
    return None


def synthetic_queued_event(contact: Contact, instance_arn: str, swept_at: float) -> dict[str, Any]:
    """The EventBridge "Amazon Connect Contact Event" the router would have received, as far as a search
    summary tells it. Recognisable by its ``source``, its ``id`` and ``detail.sweep`` (which the router's
    model ignores). The router re-reads the contact with DescribeContact anyway."""
    _, region, account, _ = _arn_parts(instance_arn)
    enqueued = contact.enqueued_at
    queue_info: dict[str, Any] = {"queueArn": f"{instance_arn}/queue/{contact.queue_id}", "queueType": "STANDARD"}
    if enqueued is not None:
        queue_info["enqueueTimestamp"] = _iso(enqueued.timestamp())
    detail: dict[str, Any] = {
        "eventType": "QUEUED",
        "contactId": contact.id,
        "channel": contact.channel,
        "instanceArn": instance_arn,
        "initiationMethod": contact.initiation_method,
        "queueInfo": queue_info,
        "sweep": True,
    }
    if contact.initial_contact_id:
        detail["initialContactId"] = contact.initial_contact_id
    if contact.previous_contact_id:
        detail["previousContactId"] = contact.previous_contact_id
    enqueued_ms = round(enqueued.timestamp() * 1000) if enqueued is not None else 0
    return {
        "version": "0",
        # The same queuing gets the same id in every sweep attempt, so retries can be told apart from news.
        "id": f"{SWEEP_EVENT_ID_PREFIX}{contact.id}-{enqueued_ms}",
        "detail-type": CONTACT_EVENT_DETAIL_TYPE,
        "source": SWEEP_EVENT_SOURCE,
        "account": account,
        "time": _iso(swept_at),
        "region": region,
        "resources": [instance_arn, f"{instance_arn}/contact/{contact.id}"],
        "detail": detail,
    }


def _arn_parts(instance_arn: str) -> tuple[str, str, str, str]:
    """(partition, region, account, resource) of an ARN."""
    parts = instance_arn.split(":", 5)
    if len(parts) != 6:
        raise ValueError(f"not an ARN: {instance_arn!r}")
    return parts[1], parts[3], parts[4], parts[5]


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
