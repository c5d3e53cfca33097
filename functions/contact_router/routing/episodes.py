"""Routing episodes: one queuing of one contact (contact id + enqueue time) is decided once.

The first delivery to *claim* an episode owns it: one conditional write, made before any Connect call, so
duplicates (EventBridge's at-least-once copies, in the same batch or later) are settled without reading the
contact. What the owner may do follows from how it holds the episode (pure, no I/O here):

- ``FRESH``: this delivery just created the claim. Nobody else can act on the episode while it runs, so it
  may associate without another write: one DynamoDB request per routed contact.
- ``RESUMED``: the same SQS message again after its invocation died (crash, timeout) while holding the
  claim. That attempt may have associated just before it died, so a resumed delivery never associates,
  never waits and never parks: it re-reads the contact and, if still waiting, leaves it with its queue.
- ``CHAIN``: a re-check of the owner's wait. Several chains can exist (a resumed owner, an old message), so
  each association of a chain takes the episode's association guard first (a second conditional write,
  only on that path).
- ``TAKEN``: another delivery owns the episode: a Duplicate, decided with no Connect call.
- ``IN_PROGRESS``: the same message is being handled by a live invocation: retried later.

A delivery that fails with a transient error gives its claim back, so its retry (or a duplicate) starts
afresh; so does a record the time budget hands back to SQS unstarted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

# Timestamps from the event (queueInfo.enqueueTimestamp) and from DescribeContact may differ in precision.
SAME_QUEUING_SECONDS = 1.0


class Hold(StrEnum):
    FRESH = "fresh"
    RESUMED = "resumed"
    CHAIN = "chain"
    TAKEN = "taken"
    IN_PROGRESS = "in_progress"
    UNGUARDED = "unguarded"  # no episode store configured (local runs without a table): no guarantee


class Guard(StrEnum):
    """The answer of the association guard (a path that is not a fresh claim, before associating)."""

    WON = "won"  # this attempt is the episode's one association attempt
    AGAIN = "again"  # this same attempt got it before and its outcome is unknown (timeout, 5xx): not tried again
    TAKEN = "taken"  # another attempt has it


@dataclass(frozen=True)
class Delivery:
    """The SQS delivery that carries a record: it is the owner a claim names."""

    message_id: str
    remaining_ms: int | None = None  # the invocation's time left when the record starts (the claim's lease)


@dataclass(frozen=True)
class Claim:
    """The answer of one claim: how this delivery holds the episode, and who holds it otherwise."""

    hold: Hold
    episode: str
    owner: str = ""
    holder: str | None = None  # the owner when TAKEN or IN_PROGRESS
    claimed_at: float | None = None  # when the holder claimed it (epoch seconds)

    @property
    def may_associate_unguarded(self) -> bool:
        return self.hold in (Hold.FRESH, Hold.UNGUARDED)


def episode_key(contact_id: str, enqueued_at: datetime | None, *, dry_run: bool = False) -> str:
    """``<contact>#<enqueue epoch seconds>``; a dry run's episodes never block a live deployment's.

    Whole seconds, truncated: the event, DescribeContact and SearchContacts give the same instant to different
    precisions (milliseconds, microseconds), and each truncation of it falls in the same second."""
    when = str(math.floor(enqueued_at.timestamp())) if enqueued_at else "not-enqueued"
    return f"{'dry#' if dry_run else ''}{contact_id}#{when}"


def same_queuing(first: datetime | None, second: datetime | None) -> bool:
    """Whether two enqueue timestamps name the same queuing (None: unknown, taken as the same)."""
    if first is None or second is None:
        return True
    return abs(first.timestamp() - second.timestamp()) < SAME_QUEUING_SECONDS


def lease_until(now: float, delivery: Delivery | None, default_seconds: float = 900.0) -> float:
    """Until when a claim is this delivery's alone: the end of its invocation (Lambda's remaining time)."""
    if delivery is None or delivery.remaining_ms is None:
        return now + default_seconds
    return now + delivery.remaining_ms / 1000.0
