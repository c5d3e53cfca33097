"""Property: any SQS body is parsed into a contact event (or a re-check), or rejected as malformed with a
reason -- never anything else."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, reject, settings

from contact_router.errors import PermanentError
from contact_router.records import parse_record
from tests.property.strategies import INSTANCE_ARN, RECHECK_KEY, is_known_parse_bug, sqs_bodies

PROPERTY = settings(
    max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(sqs_bodies)
def test_a_body_is_parsed_or_rejected_with_a_reason(body: str) -> None:
    rejection: PermanentError | None = None
    try:
        detail, recheck = parse_record(body)
    except PermanentError as exc:
        rejection = exc
    except Exception as exc:
        if is_known_parse_bug(exc):
            reject()  # reported; pinned by the xfail tests below
        raise
    if rejection is not None:
        assert rejection.reason == "malformed_event"
        assert rejection.message.strip()
        return
    # A parsed body has the four keys the router needs, non-empty
    assert detail.contact_id
    assert detail.event_type
    assert detail.channel
    assert detail.instance_arn
    if recheck is not None:
        assert recheck.contact_id == detail.contact_id


def recheck(**state: object) -> str:
    base = {
        "contact_id": "44444444-0000-4000-8000-000000000001",
        "instance_arn": INSTANCE_ARN,
        "channel": "CHAT",
        "rule": "preferred-agent-attribute",
        "step": 0,
        "step_started_at": 1894006800.0,
        "attempt": 1,
        "not_before": 1894006810.0,
    }
    return json.dumps({RECHECK_KEY: {**base, **state}})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(recheck(channel=""), id="blank channel"),
        pytest.param(recheck(contact_id=""), id="blank contact id"),
        pytest.param(recheck(step="first"), id="text step"),
    ],
)
def test_malformed_recheck_messages_are_rejected_with_a_reason(body: str) -> None:
    # found by the property above (pydantic's ValidationError escaped); fixed in parse_record
    with pytest.raises(PermanentError) as caught:
        parse_record(body)
    assert caught.value.reason == "malformed_event"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 100_000, id="deeply nested JSON (RecursionError)"),
        pytest.param(recheck(step=float("inf")), id="re-check with an infinite step (OverflowError)"),
        pytest.param(recheck(attempt=float("-inf")), id="re-check with an infinite attempt (OverflowError)"),
    ],
)
def test_known_malformed_bodies_are_rejected_with_a_reason(body: str) -> None:
    with pytest.raises(PermanentError) as caught:
        parse_record(body)
    assert caught.value.reason == "malformed_event"
