"""contact-router dlq list / redrive against SQS (moto)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from contact_router_cli.dlq import Scan, region_of
from contact_router_cli.main import main


def dead_letter(sqs: Any, url: str, contact_id: str, reason: str | None) -> None:
    attributes = {"reason": {"DataType": "String", "StringValue": reason}} if reason else {}
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"detail": {"contactId": contact_id}}),
        MessageAttributes=attributes,
    )


def visible(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


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
    assert visible(sqs, dlq) == 4, "listing leaves every message in the queue, visible"
    # WHEN only the access_denied ones are sent back (after fixing the IAM policy)
    redriven = CliRunner().invoke(
        main,
        ["dlq", "redrive", "--queue-url", dlq, "--to", source, "--reason", "access_denied", "--region", "eu-west-2"],
    )
    assert redriven.exit_code == 0, redriven.output
    assert redriven.output.startswith("4 message(s) looked at: 2 sent back to ")
    assert "2 left in the queue (other reasons: malformed_event 1, retries exhausted" in redriven.output
    # THEN the source queue has exactly those bodies, unchanged, and the others stay, visible at once
    moved = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["detail"]["contactId"] for m in moved) == ["c-1", "c-2"]
    assert visible(sqs, dlq) == 2


@mock_aws
def test_redrive_with_a_reason_looks_at_each_message_once_and_counts_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a dead-letter queue with 37 messages of another reason and 3 of the chosen one, and no Region
    # configured: the queue URL names it
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    sqs = boto3.client("sqs", region_name="eu-west-2")
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    source = sqs.create_queue(QueueName="source")["QueueUrl"]
    for index in range(37):
        dead_letter(sqs, dlq, f"other-{index}", "malformed_event")
    for index in range(3):
        dead_letter(sqs, dlq, f"denied-{index}", "access_denied")
    # WHEN only access_denied is redriven, with machine-readable output
    result = CliRunner().invoke(
        main,
        ["dlq", "redrive", "--queue-url", dlq, "--to", source, "--reason", "access_denied", "--json"],
        catch_exceptions=False,
    )
    # THEN every message was looked at once: 40 looked at, 3 moved, 37 left (not "998 skipped"), in one pass
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["looked_at"] == 40
    assert report["moved"] == 3
    assert report["skipped_by_reason"] == {"malformed_event": 37}
    assert report["stopped_at_limit"] is False
    assert visible(sqs, dlq) == 37
    assert visible(sqs, source) == 3
    # AND running it again finds nothing more to send and still leaves the 37
    again = json.loads(
        CliRunner()
        .invoke(main, ["dlq", "redrive", "--queue-url", dlq, "--to", source, "--reason", "access_denied", "--json"])
        .output
    )
    assert (again["looked_at"], again["moved"]) == (37, 0)
    assert visible(sqs, source) == 3


@mock_aws
def test_redrive_stops_at_max_and_says_so() -> None:
    sqs = boto3.client("sqs", region_name="eu-west-2")
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    source = sqs.create_queue(QueueName="source")["QueueUrl"]
    for index in range(12):
        dead_letter(sqs, dlq, f"c-{index}", "access_denied")
    result = CliRunner().invoke(main, ["dlq", "redrive", "--queue-url", dlq, "--to", source, "--max", "5"])
    assert result.exit_code == 0, result.output
    assert "5 message(s) looked at: 5 sent back" in result.output
    assert "stopped after --max 5 message(s): run it again for the rest" in result.output
    assert (visible(sqs, dlq), visible(sqs, source)) == (7, 5)


@mock_aws
def test_a_pass_longer_than_the_visibility_timeout_still_counts_each_message_once() -> None:
    # GIVEN messages that come back at once after each receive (visibility timeout 0: the worst case of a
    # pass that outlasts the timeout)
    sqs = boto3.client("sqs", region_name="eu-west-2")
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    for index in range(4):
        dead_letter(sqs, dlq, f"c-{index}", "malformed_event")
    # WHEN one pass looks at them
    scan = Scan(sqs, dlq, limit=1000, visibility_seconds=0)
    seen = [m.contact_id for m in scan]
    scan.release()
    # THEN each is yielded once and the pass ends (receives bringing nothing new stop it), nothing deleted
    assert sorted(seen) == ["c-0", "c-1", "c-2", "c-3"]
    assert visible(sqs, dlq) == 4


@mock_aws
def test_list_json_names_every_message_and_the_count_per_reason() -> None:
    sqs = boto3.client("sqs", region_name="eu-west-2")
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dead_letter(sqs, dlq, "c-1", "access_denied")
    dead_letter(sqs, dlq, "c-2", None)
    result = CliRunner().invoke(main, ["dlq", "list", "--queue-url", dlq, "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed["looked_at"] == 2
    assert listed["reasons"] == {"access_denied": 1, "retries exhausted (moved by SQS redrive)": 1}
    assert sorted(m["contact_id"] for m in listed["messages"]) == ["c-1", "c-2"]
    assert set(listed["messages"][0]) == {"message_id", "contact_id", "reason", "error"}


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://sqs.eu-west-2.amazonaws.com/123456789012/contact-router-dlq", "eu-west-2"),
        ("https://sqs.us-gov-west-1.amazonaws.com/123456789012/q", "us-gov-west-1"),
        ("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1"),
        ("https://ap-southeast-2.queue.amazonaws.com/123456789012/q", "ap-southeast-2"),
        ("http://localhost:4566/000000000000/q", None),
    ],
)
def test_the_region_comes_from_the_queue_url(url: str, region: str | None) -> None:
    assert region_of(url) == region


def test_queues_in_two_regions_are_refused_before_any_call() -> None:
    result = CliRunner().invoke(
        main,
        [
            "dlq",
            "redrive",
            "--queue-url",
            "https://sqs.eu-west-2.amazonaws.com/123456789012/dlq",
            "--to",
            "https://sqs.us-east-1.amazonaws.com/123456789012/source",
        ],
    )
    assert result.exit_code == 2
    assert "both must be in one Region" in result.output


@mock_aws
def test_redrive_with_progress_counts_the_same_and_keeps_stdout_clean() -> None:
    # GIVEN the progress bar forced on (it goes to stderr, sized by the queue's approximate count)
    sqs = boto3.client("sqs", region_name="eu-west-2")
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    source = sqs.create_queue(QueueName="source")["QueueUrl"]
    for index in range(15):
        dead_letter(sqs, dlq, f"c-{index}", "access_denied" if index % 3 == 0 else "throttled")
    result = CliRunner().invoke(
        main,
        ["dlq", "redrive", "--queue-url", dlq, "--to", source, "--reason", "access_denied", "--progress", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    # THEN stdout is still exactly the JSON report
    report = json.loads(result.stdout)
    assert (report["looked_at"], report["moved"], report["skipped"]) == (15, 5, 10)
