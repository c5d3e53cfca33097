"""SQS semantics in virtual time: delayed messages, visibility timeout, redelivery, receive count -> DLQ.

moto's SQS runs on the wall clock, so a 200 s visibility timeout would really take 200 s. This queue keeps
the semantics the router relies on and runs on the simulator's clock:

- ``send(body, delay)``: visible after ``delay`` seconds (SQS DelaySeconds, at most 900);
- ``receive(n)``: up to ``n`` visible messages, roughly oldest first (a standard queue's best-effort
  order: a little jitter reorders neighbours); each becomes invisible for the visibility timeout and its
  ApproximateReceiveCount goes up;
- ``delete(receipt)``: acknowledges a message, if that receipt is still the current one;
- a message received ``max_receive_count`` times and not deleted is moved to the dead-letter queue on the
  next receive (the redrive policy), keeping its body and attributes, with no ``reason`` of the router's.

Idle pollers park on the queue's channel; the queue wakes them when a message becomes visible.
"""

from __future__ import annotations

import heapq
import itertools
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contact_router_cli.simulate.clock import VirtualClock

SQS_MAX_DELAY = 900


@dataclass
class Message:
    id: str
    body: str
    attributes: dict[str, str]  # message attributes (string values)
    sent_at: float
    visible_at: float
    order: float  # receive order: send time plus a little jitter
    receive_count: int = 0
    first_received_at: float | None = None
    receipt: str | None = None
    redriven: bool = False  # moved here by a redrive policy (dead-letter queue only)
    source_id: str | None = None  # the source queue's message id, for a redriven message


@dataclass
class QueueStats:
    sent: int = 0
    received: int = 0
    deleted: int = 0
    redriven: int = 0
    max_receive_count: int = 0


@dataclass
class SimulatedQueue:
    name: str
    clock: VirtualClock
    visibility_timeout: float = 30.0
    max_receive_count: int | None = None
    dead_letter: SimulatedQueue | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    reorder_seconds: float = 0.5
    stats: QueueStats = field(default_factory=QueueStats)

    def __post_init__(self) -> None:
        self.url = f"https://sqs.sim.local/000000000000/{self.name}"
        self.arn = f"arn:aws:sqs:eu-west-2:123456789012:{self.name}"
        self.channel = f"queue:{self.name}"
        self._messages: dict[str, Message] = {}
        self._hidden: list[tuple[float, int, str]] = []  # (visible_at, seq, id): delayed or in flight
        self._ready: list[tuple[float, int, str]] = []  # (order, seq, id): visible now
        self._sequence = itertools.count()
        self._ids = itertools.count(1)
        self.archive: list[Message] = []  # every message ever sent here (the DLQ's contents are read from it)

    # ------------------------------------------------------------------------------------------ api
    def send(
        self,
        body: str,
        delay: float = 0.0,
        attributes: Mapping[str, str] | None = None,
        *,
        source_id: str | None = None,
    ) -> Message:
        now = self.clock.now()
        delay = max(0.0, min(float(delay), SQS_MAX_DELAY))
        message = Message(
            id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            body=body,
            attributes=dict(attributes or {}),
            sent_at=now,
            visible_at=now + delay,
            order=now + delay + self.rng.uniform(0.0, self.reorder_seconds),
            source_id=source_id,
        )
        self._messages[message.id] = message
        self.archive.append(message)
        self.stats.sent += 1
        self._hide_until(message, message.visible_at)
        return message

    def receive(self, max_messages: int) -> list[Message]:
        """Up to ``max_messages`` visible messages; each is in flight for the visibility timeout."""
        now = self.clock.now()
        self._reveal(now)
        out: list[Message] = []
        while self._ready and len(out) < max_messages:
            _, _, message_id = heapq.heappop(self._ready)
            message = self._messages.get(message_id)
            if message is None or message.visible_at > now:
                continue  # deleted, or a stale entry of a message received meanwhile
            if self.max_receive_count is not None and message.receive_count >= self.max_receive_count:
                self._redrive(message)
                continue
            message.receive_count += 1
            message.first_received_at = message.first_received_at or now
            message.receipt = f"{message.id}#{next(self._ids)}"
            self.stats.received += 1
            self.stats.max_receive_count = max(self.stats.max_receive_count, message.receive_count)
            self._hide_until(message, now + self.visibility_timeout)
            out.append(message)
        return out

    def delete(self, receipt: str | None) -> bool:
        """Acknowledge a message; a stale receipt (the message was received again since) does nothing."""
        if not receipt:
            return False
        message = self._messages.get(receipt.split("#", 1)[0])
        if message is None or message.receipt != receipt:
            return False
        del self._messages[message.id]
        self.stats.deleted += 1
        return True

    def change_visibility(self, receipt: str | None, seconds: float) -> bool:
        """ChangeMessageVisibility: an in-flight message becomes visible ``seconds`` from now."""
        if not receipt:
            return False
        message = self._messages.get(receipt.split("#", 1)[0])
        if message is None or message.receipt != receipt:
            return False
        self._hide_until(message, self.clock.now() + max(0.0, min(float(seconds), 43_200.0)))
        return True

    # ----------------------------------------------------------------------------------- inspection
    def __len__(self) -> int:
        """Messages not deleted yet: visible, delayed or in flight."""
        return len(self._messages)

    def visible(self) -> int:
        self._reveal(self.clock.now())
        return sum(1 for _, _, mid in self._ready if mid in self._messages)

    def next_visible_at(self) -> float | None:
        live = [when for when, _, mid in self._hidden if mid in self._messages]
        return min(live) if live else None

    # ------------------------------------------------------------------------------------ internals
    def _hide_until(self, message: Message, when: float) -> None:
        message.visible_at = when
        heapq.heappush(self._hidden, (when, next(self._sequence), message.id))
        if when <= self.clock.now():
            self.clock.notify(self.channel)
        else:
            self.clock.call_at(when, lambda: self.clock.notify(self.channel))

    def _reveal(self, now: float) -> None:
        while self._hidden and self._hidden[0][0] <= now:
            when, _, message_id = heapq.heappop(self._hidden)
            message = self._messages.get(message_id)
            if message is None or message.visible_at != when:
                continue
            order = message.order if message.receive_count == 0 else when + self.rng.uniform(0, self.reorder_seconds)
            heapq.heappush(self._ready, (order, next(self._sequence), message_id))

    def _redrive(self, message: Message) -> None:
        del self._messages[message.id]
        self.stats.redriven += 1
        if self.dead_letter is not None:
            moved = self.dead_letter.send(message.body, attributes=message.attributes, source_id=message.id)
            moved.redriven = True
            moved.receive_count = message.receive_count


class SimulatedSqsClient:
    """The slice of a boto3 ``sqs`` client the router's adapters use (SendMessage, ChangeMessageVisibility),
    over simulated queues (found by the last part of a queue URL or ARN, i.e. the queue's name)."""

    def __init__(self, *queues: SimulatedQueue) -> None:
        self._queues = {q.name: q for q in queues}

    def _queue(self, url: str) -> SimulatedQueue:
        queue = self._queues.get(url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
        if queue is None:
            raise KeyError(f"no simulated queue at {url}")
        return queue

    def change_message_visibility(
        self,
        *,
        QueueUrl: str,
        ReceiptHandle: str,
        VisibilityTimeout: int,
        **_: Any,
    ) -> dict[str, Any]:
        self._queue(QueueUrl).change_visibility(ReceiptHandle, VisibilityTimeout)
        return {}

    def send_message(
        self,
        *,
        QueueUrl: str,
        MessageBody: str,
        DelaySeconds: int = 0,
        MessageAttributes: Mapping[str, Mapping[str, Any]] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        queue = self._queue(QueueUrl)
        attributes = {name: str(value.get("StringValue", "")) for name, value in (MessageAttributes or {}).items()}
        message = queue.send(MessageBody, DelaySeconds, attributes)
        return {"MessageId": message.id}
