"""Delayed re-checks: the router sends itself a message through its own SQS queue (no sleeping in Lambda)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from contact_router.errors import TransientError

if TYPE_CHECKING:
    from types_boto3_sqs import SQSClient


class SqsRechecks:
    """Implements ``RecheckPort`` with SendMessage(DelaySeconds) to the router queue."""

    def __init__(self, queue_url: str, sqs_client: SQSClient) -> None:
        self.queue_url = queue_url
        self._sqs = sqs_client

    def schedule(self, message: Mapping[str, Any], delay_seconds: int) -> None:
        try:
            self._sqs.send_message(
                QueueUrl=self.queue_url, MessageBody=json.dumps(message), DelaySeconds=max(0, min(delay_seconds, 900))
            )
        except (ClientError, BotoCoreError) as exc:
            # Not scheduled: give the record back so the wait is not silently dropped.
            raise TransientError("recheck_unavailable", f"could not schedule the re-check: {exc}") from exc
