"""``contact-router dlq list|redrive``: read a dead-letter queue's reasons, and send its messages back.

Messages the functions dead-letter themselves carry ``reason``, ``error``, ``source_message_id`` and
``receive_count`` attributes; messages SQS moved after ``maxReceiveCount`` carry none (they were retried).
Redriving sends each body unchanged to the source queue, then deletes it from the dead-letter queue (the
body is sent before the delete: a crash in between duplicates a message, which the functions' idempotency
absorbs, rather than losing one).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DeadLetterMessage:
    message_id: str
    receipt_handle: str
    body: str
    reason: str
    error: str
    contact_id: str | None


def receive_all(sqs: Any, queue_url: str, limit: int, visibility_seconds: int = 60) -> Iterator[DeadLetterMessage]:
    """Up to ``limit`` messages, each hidden for ``visibility_seconds`` while being looked at."""
    seen = 0
    while seen < limit:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, limit - seen),
            MessageAttributeNames=["All"],
            VisibilityTimeout=visibility_seconds,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            return
        for message in batch:
            seen += 1
            attributes = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
            yield DeadLetterMessage(
                message_id=message["MessageId"],
                receipt_handle=message["ReceiptHandle"],
                body=message["Body"],
                reason=attributes.get("reason", "retries exhausted (moved by SQS redrive)"),
                error=attributes.get("error", ""),
                contact_id=_contact_id(message["Body"]),
            )


def release(sqs: Any, queue_url: str, messages: list[DeadLetterMessage]) -> None:
    """Make looked-at messages visible again at once."""
    for message in messages:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=0)


def summarize(messages: list[DeadLetterMessage]) -> Counter[str]:
    return Counter(m.reason for m in messages)


def redrive(sqs: Any, dlq_url: str, to_url: str, limit: int, reason: str | None = None) -> tuple[int, int]:
    """Send messages (optionally only those with ``reason``) back to ``to_url``. Returns (moved, skipped)."""
    moved = skipped = 0
    for message in receive_all(sqs, dlq_url, limit):
        if reason is not None and message.reason != reason:
            skipped += 1
            sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=0)
            continue
        sqs.send_message(QueueUrl=to_url, MessageBody=message.body)
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message.receipt_handle)
        moved += 1
    return moved, skipped


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
