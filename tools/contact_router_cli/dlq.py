"""``contact-router dlq list|redrive``: read a dead-letter queue's reasons, and send its messages back.

Messages the functions dead-letter themselves carry ``reason``, ``error``, ``source_message_id`` and
``receive_count`` attributes; messages SQS moved after ``maxReceiveCount`` carry none (they were retried).
Redriving sends each body unchanged to the source queue, then deletes it from the dead-letter queue (the
body is sent before the delete: a crash in between duplicates a message, which the functions' idempotency
absorbs, rather than losing one).

One pass looks at each message once. Every message received stays invisible (its visibility timeout) until
the pass ends, so the queue runs dry once every message has been seen: an empty receive ends the pass.
Messages left in the queue (listed, or skipped by ``--reason``) are made visible again at the end, in
batches. A message seen again (the pass outlasted its visibility timeout) is recognised by its MessageId,
hidden again and not counted twice; a pass also ends after a few receives that bring nothing new.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from types_boto3_sqs import SQSClient
    from types_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef, MessageTypeDef

DEFAULT_VISIBILITY_SECONDS = 300
# Long polling (any wait > 0) asks every SQS server, so an empty answer means empty; a short poll samples a
# few servers and may answer empty while messages remain.
WAIT_SECONDS = 1
NOTHING_NEW_LIMIT = 3  # receives in a row that bring only messages already seen
_SQS_HOST = re.compile(
    r"^https?://(?:sqs\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?"
    r"|(?P<legacy>[a-z]{2}(?:-[a-z]+)+-\d+)\.queue\.amazonaws\.com(?:\.cn)?)/"
)


@dataclass(frozen=True)
class DeadLetterMessage:
    message_id: str
    receipt_handle: str
    body: str
    reason: str
    error: str
    contact_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "contact_id": self.contact_id,
            "reason": self.reason,
            "error": self.error,
        }


@dataclass
class RedriveReport:
    looked_at: int = 0
    moved: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # left in the queue, by reason
    stopped_at_limit: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "looked_at": self.looked_at,
            "moved": self.moved,
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": dict(self.skipped.most_common()),
            "stopped_at_limit": self.stopped_at_limit,
        }


def region_of(queue_url: str) -> str | None:
    """The Region a queue URL names (sqs.REGION.amazonaws.com or the legacy REGION.queue.amazonaws.com)."""
    match = _SQS_HOST.match(queue_url)
    if match is None:
        return None
    return match.group("region") or match.group("legacy")


def approximate_count(sqs: SQSClient, queue_url: str) -> int | None:
    """Visible messages now (for the progress bar only); None when the caller may not read the attribute."""
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("AccessDenied", "AccessDeniedException"):
            return None
        raise
    return int(attributes.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))


class Scan:
    """One pass over a queue: each message yielded once, kept invisible until ``release``."""

    def __init__(
        self, sqs: SQSClient, queue_url: str, limit: int, visibility_seconds: int = DEFAULT_VISIBILITY_SECONDS
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.limit = limit
        self.visibility_seconds = visibility_seconds
        self.handles: dict[str, str] = {}  # message id -> latest receipt handle, of messages still in the queue
        self.seen = 0
        self.stopped_at_limit = False

    def __iter__(self) -> Iterator[DeadLetterMessage]:
        nothing_new = 0
        while nothing_new < NOTHING_NEW_LIMIT:
            if self.seen >= self.limit:
                self.stopped_at_limit = True
                return
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.limit - self.seen),
                MessageAttributeNames=["All"],
                VisibilityTimeout=self.visibility_seconds,
                WaitTimeSeconds=WAIT_SECONDS,
            ).get("Messages", [])
            if not batch:
                return  # everything left is invisible: seen in this pass
            new = 0
            for message in batch:
                message_id = message["MessageId"]
                if message_id in self.handles:
                    self.handles[message_id] = message["ReceiptHandle"]  # hidden again by this receive
                    continue
                new += 1
                self.seen += 1
                self.handles[message_id] = message["ReceiptHandle"]
                yield _message(message)
            nothing_new = 0 if new else nothing_new + 1

    def forget(self, message: DeadLetterMessage) -> None:
        """The message left the queue (deleted): nothing to release."""
        self.handles.pop(message.message_id, None)

    def release(self) -> None:
        """Make every message still held visible again at once (10 per call)."""
        entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for index, handle in enumerate(self.handles.values())
        ]
        for start in range(0, len(entries), 10):
            self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries[start : start + 10])
        self.handles.clear()


def receive_all(
    sqs: SQSClient, queue_url: str, limit: int, visibility_seconds: int = DEFAULT_VISIBILITY_SECONDS
) -> list[DeadLetterMessage]:
    """Up to ``limit`` messages, each once; they are visible again when this returns (nothing is removed)."""
    scan = Scan(sqs, queue_url, limit, visibility_seconds)
    try:
        return list(scan)
    finally:
        scan.release()


def summarize(messages: list[DeadLetterMessage]) -> Counter[str]:
    return Counter(m.reason for m in messages)


def redrive(
    sqs: SQSClient,
    dlq_url: str,
    to_url: str,
    limit: int,
    reason: str | None = None,
    *,
    visibility_seconds: int = DEFAULT_VISIBILITY_SECONDS,
    on_message: Callable[[DeadLetterMessage, bool], None] | None = None,
) -> RedriveReport:
    """Send each message (only those with ``reason``, if given) back to ``to_url`` once; the rest stay."""
    report = RedriveReport()
    scan = Scan(sqs, dlq_url, limit, visibility_seconds)
    try:
        for message in scan:
            report.looked_at += 1
            chosen = reason is None or message.reason == reason
            if chosen:
                sqs.send_message(QueueUrl=to_url, MessageBody=message.body)
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=scan.handles[message.message_id])
                scan.forget(message)
                report.moved += 1
            else:
                report.skipped[message.reason] += 1
            if on_message is not None:
                on_message(message, chosen)
    finally:
        scan.release()
    report.stopped_at_limit = scan.stopped_at_limit
    return report


def _message(message: MessageTypeDef) -> DeadLetterMessage:
    attributes = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
    return DeadLetterMessage(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        reason=attributes.get("reason", "retries exhausted (moved by SQS redrive)"),
        error=attributes.get("error", ""),
        contact_id=_contact_id(message["Body"]),
    )


def _contact_id(body: str) -> str | None:
    try:
        raw = json.loads(body)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    detail = raw.get("detail") or raw.get("contact-router-recheck") or {}
    value = (
        detail.get("contactId") or detail.get("ContactId") or detail.get("contact_id")
        if isinstance(detail, dict)
        else None
    )
    return str(value) if value else None
