"""contact-router dlq list / redrive against SQS (moto)."""

from __future__ import annotations

import json

import boto3
from click.testing import CliRunner
from moto import mock_aws

from contact_router_cli.main import main


def dead_letter(sqs: object, url: str, contact_id: str, reason: str | None) -> None:
    attributes = {"reason": {"DataType": "String", "StringValue": reason}} if reason else {}
    sqs.send_message(  # type: ignore[attr-defined]
        QueueUrl=url,
        MessageBody=json.dumps({"detail": {"contactId": contact_id}}),
        MessageAttributes=attributes,
    )


@mock_aws
def test_list_then_redrive_only_one_reason() -> None:
    sqs = boto3.client("sqs", region_name="eu-west-2")
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    source = sqs.create_queue(QueueName="source")["QueueUrl"]
    dead_letter(sqs, dlq, "c-1", "access_denied")
    dead_letter(sqs, dlq, "c-2", "access_denied")
    dead_letter(sqs, dlq, "c-3", "malformed_event")
    dead_letter(sqs, dlq, "c-4", None)
    listed = CliRunner().invoke(main, ["dlq", "list", "--queue-url", dlq, "--region", "eu-west-2"])
    assert listed.exit_code == 0, listed.output
    assert "    2  access_denied" in listed.output
    assert "    1  retries exhausted (moved by SQS redrive)" in listed.output
    assert "contact c-3  malformed_event" in listed.output
    # WHEN only the access_denied ones are sent back (after fixing the IAM policy)
    redriven = CliRunner().invoke(
        main,
        ["dlq", "redrive", "--queue-url", dlq, "--to", source, "--reason", "access_denied", "--region", "eu-west-2"],
    )
    assert "2 message(s) sent back" in redriven.output
    # THEN the source queue has exactly those bodies, unchanged, and the others stay
    moved = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["detail"]["contactId"] for m in moved) == ["c-1", "c-2"]
    attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "2"
