"""What every EventBridge -> SQS -> Lambda path of template.yaml shares, checked once for each path:
the rule's target (retries, dead-letter queue), encrypted queues, the redrive, and queue policies that let
only that path's rule send, over TLS."""

from __future__ import annotations

import pytest

from tests.support.cfn import as_list, stack

# (rule, queue, dead-letter queue) of each path
PATHS = [
    ("RouterRule", "RouterQueue", "DeadLetterQueue"),
    ("SupervisionRule", "SupervisionQueue", "SupervisionDeadLetterQueue"),
    ("AffinityRule", "AffinityQueue", "AffinityDeadLetterQueue"),
]
QUEUES = [(rule, queue) for rule, main, dlq in PATHS for queue in (main, dlq)]


def arn(resource: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [resource, "Arn"]}


@pytest.mark.parametrize(("rule", "queue", "dlq"), PATHS)
def test_rule_targets_its_queue_with_retries_and_its_dead_letter_queue(rule: str, queue: str, dlq: str) -> None:
    props = stack().properties(rule)
    assert props["EventBusName"] == "default"
    (target,) = props["Targets"]
    assert target["Arn"] == arn(queue)
    assert target["DeadLetterConfig"] == {"Arn": arn(dlq)}
    assert set(target["RetryPolicy"]) == {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"}
    assert 60 <= int(target["RetryPolicy"]["MaximumEventAgeInSeconds"]) <= 86400


@pytest.mark.parametrize(("rule", "queue"), QUEUES)
def test_queues_are_encrypted(rule: str, queue: str) -> None:
    props = stack().properties(queue)
    assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props


@pytest.mark.parametrize(("rule", "queue", "dlq"), PATHS)
def test_queue_redrives_to_its_own_dead_letter_queue(rule: str, queue: str, dlq: str) -> None:
    redrive = stack().properties(queue)["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == arn(dlq)
    assert 3 <= int(redrive["maxReceiveCount"]) <= 10


@pytest.mark.parametrize(("rule", "queue"), QUEUES)
def test_queue_policy_lets_only_its_rule_send_over_tls(rule: str, queue: str) -> None:
    statements = stack().queue_policy(queue)["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows, "no Allow statement"
    for statement in allows:
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert as_list(statement["Action"]) == ["sqs:SendMessage"]
        assert statement["Resource"] == arn(queue)
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": arn(rule)}}
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert [s["Condition"] for s in denies] == [{"Bool": {"aws:SecureTransport": "false"}}]


@pytest.mark.parametrize("function", ["RouterFunction", "SupervisionFunction", "AffinityFunction"])
def test_function_knows_its_queues_max_receive_count(function: str) -> None:
    # Given the queue feeding the function (its only event source mapping)
    mapping = stack().event_source_mapping(function)
    (queue,) = [q for _, q, _ in PATHS if mapping["EventSourceArn"] == arn(q)]
    # Then the function's MAX_RECEIVE_COUNT is that queue's redrive limit, so its last receive is known
    # and a failure is dead-lettered there with its reason, never redriven by SQS without one
    variables = stack().properties(function)["Environment"]["Variables"]
    assert variables["MAX_RECEIVE_COUNT"] == str(stack().properties(queue)["RedrivePolicy"]["maxReceiveCount"])
