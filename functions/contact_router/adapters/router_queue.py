"""The router's SQS queue, seen from the sweep: synthetic events in, ten per SendMessageBatch."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from contact_router.errors import TransientError

if TYPE_CHECKING:
    from types_boto3_sqs import SQSClient
    from types_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

MAX_BATCH = 10  # SendMessageBatch entries


class RouterQueue:
    """Implements the sweep's ``EventSinkPort`` over a boto3 ``sqs`` client."""

    def __init__(self, queue_url: str, sqs_client: SQSClient) -> None:
        self.queue_url = queue_url
        self._sqs = sqs_client

    def send(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Send every event, or raise TransientError (the sweep fails and is retried; the router's idempotency
        absorbs what was already sent)."""
        for start in range(0, len(events), MAX_BATCH):
            chunk = events[start : start + MAX_BATCH]
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(n), "MessageBody": json.dumps(event)} for n, event in enumerate(chunk)
            ]
            try:
                response = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                raise TransientError(
                    "router_queue_unavailable", f"could not send {len(chunk)} event(s) to the router queue: {exc}"
                ) from exc
            failed = response.get("Failed") or []
            if failed:
                why = "; ".join(f"{f.get('Code', '?')}: {f.get('Message', '')}".strip() for f in failed)
                raise TransientError(
                    "router_queue_unavailable",
                    f"the router queue refused {len(failed)} of {len(chunk)} event(s): {why}",
                )

    def requeue(self, body: str, source_message_id: str) -> None:
        """Send a record the router had no time to start back to its queue as a new message (SQS counts each
        receive, so handing it back would spend one); raise TransientError if SQS refuses."""
        try:
            self._sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=body,
                MessageAttributes={"deferred_from": {"DataType": "String", "StringValue": source_message_id}},
            )
        except (ClientError, BotoCoreError) as exc:
            raise TransientError("deadline", f"record not started and not sent back to the queue: {exc}") from exc
