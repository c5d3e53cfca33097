"""Send a permanently failing record to the dead-letter queue, with its reason, at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from contact_router.errors import TransientError

if TYPE_CHECKING:
    from types_boto3_sqs import SQSClient


class DeadLetterQueue:
    def __init__(self, queue_url: str, sqs_client: SQSClient) -> None:
        self.queue_url = queue_url
        self._sqs = sqs_client

    def send(self, body: str, reason: str, message: str, source_message_id: str, receive_count: str | None) -> None:
        """The original body unchanged, the reason in message attributes (redrive sends the body back as is)."""
        attributes = {
            "reason": reason,
            "error": message[:1024],
            "source_message_id": source_message_id,
            "receive_count": receive_count or "1",
        }
        try:
            self._sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=body or "(empty body)",
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )
        except (ClientError, BotoCoreError) as exc:
            # Not sent: give the record back to SQS; its redrive policy will dead-letter it eventually.
            raise TransientError("dead_letter_unavailable", f"could not dead-letter the record: {exc}") from exc
