"""The real entry point with nothing injected: settings from the environment, boto3 clients created by the
handler, Connect reached over HTTP on loopback through AWS_ENDPOINT_URL_CONNECT (as with `emulator serve`)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from connect_emulator import ConnectEmulator, World
from contact_router.handlers import router as router_handler
from tests.conftest import EVENTS_DIR, SAMPLES_DIR
from tests.integration.conftest import LambdaContext, create_idempotency_table


def test_handler_from_environment_against_the_http_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = ConnectEmulator(World.from_file(SAMPLES_DIR / "world.yaml"))
    with emulator.serve() as url, mock_aws():
        # GIVEN the deployment's environment variables, and Connect's endpoint overridden as a user would
        sqs = boto3.client("sqs", region_name="eu-west-2")
        create_idempotency_table(boto3.client("dynamodb", region_name="eu-west-2"), "idem")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        for name, value in {
            "AWS_ENDPOINT_URL_CONNECT": url,
            "CONNECT_INSTANCE_ARN": emulator.instance_arn,
            "IDEMPOTENCY_TABLE": "idem",
            "DEAD_LETTER_QUEUE_URL": dlq,
        }.items():
            monkeypatch.setenv(name, value)
        router_handler.function.reset()
        body = (EVENTS_DIR / "queued-chat-attribute.json").read_text()
        records = [
            {
                "messageId": f"m{i}",
                "receiptHandle": "r",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-2:123456789012:q",
                "awsRegion": "eu-west-2",
            }
            for i in range(2)
        ]
        # WHEN the Lambda entry point runs with the bundled rules
        response = router_handler.lambda_handler({"Records": records}, LambdaContext())
        router_handler.function.reset()
    # THEN the chat is associated once, over HTTP
    assert response == {"batchItemFailures": []}
    assert [a.contact_id for a in emulator.associations] == [json.loads(body)["detail"]["contactId"]]
    assert emulator.call_counts()["AssociateContactWithUser"] == 1
