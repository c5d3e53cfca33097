"""The edge of every SQS-fed function: re-check messages validated like events, only this instance's Connect
contact events accepted, and a record failing on its last receive dead-lettered by the function with its
last error (never moved on by SQS's redrive without a reason)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from contact_router.errors import PermanentError, TransientError
from contact_router.models.contact import Contact
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import Decision, Outcome
from contact_router.record_policy import RecordPolicy
from contact_router.records import parse_record
from contact_router.routing.fallback import RECHECK_KEY, Recheck
from contact_router.routing.router import Router, RouterOptions
from tests.fakes import DANA, INSTANCE_ARN, FakeConnect, StaticRules, available

GOOD_STATE: dict[str, Any] = {
    "contact_id": "c1",
    "instance_arn": INSTANCE_ARN,
    "channel": "CHAT",
    "rule": "r",
    "step": 0,
    "step_started_at": 1_800_000_000.0,
    "attempt": 1,
    "not_before": 0,
}


def recheck_body(**changes: Any) -> str:
    return json.dumps({RECHECK_KEY: {**GOOD_STATE, **changes}})


def event_body(source: str = "aws.connect", detail_type: str = "Amazon Connect Contact Event") -> str:
    return json.dumps(
        {
            "version": "0",
            "id": "e-1",
            "detail-type": detail_type,
            "source": source,
            "account": "123456789012",
            "time": "2026-11-20T09:00:00Z",
            "region": "eu-west-2",
            "resources": [],
            "detail": {"contactId": "c1", "eventType": "QUEUED", "channel": "CHAT", "instanceArn": INSTANCE_ARN},
        }
    )


# ---------------------------------------------------------------------------------- re-check messages
def test_a_well_formed_recheck_parses() -> None:
    detail, recheck = parse_record(recheck_body())
    assert (detail.contact_id, recheck) == ("c1", Recheck("c1", INSTANCE_ARN, "CHAT", "r", 0, 1.8e9, 1, 0.0))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (recheck_body(not_before="inf"), "not_before"),
        (recheck_body(not_before="nan"), "not_before"),
        (recheck_body(not_before="-inf"), "not_before"),
        (recheck_body().replace('"not_before": 0', '"not_before": Infinity'), "not_before"),
        (recheck_body().replace('"not_before": 0', '"not_before": NaN'), "not_before"),
        (recheck_body(step_started_at=1e300), "step_started_at"),
        (recheck_body(not_before=-1), "not_before"),
        (recheck_body(step=10**30), "step"),
        (recheck_body(attempt=-1), "attempt"),
        (recheck_body(contact_id="x" * 1000), "contact_id"),
        (recheck_body(admin=True), "admin"),
    ],
    ids=["inf", "nan", "-inf", "Infinity", "NaN", "1e300", "negative", "huge step", "attempt", "long id", "extra"],
)
def test_a_forged_recheck_is_malformed_and_says_which_field(body: str, field: str) -> None:
    with pytest.raises(PermanentError) as err:
        parse_record(body)
    assert err.value.reason == "malformed_event"
    assert field in err.value.message


def test_a_recheck_with_fields_beside_it_is_malformed() -> None:
    body = json.dumps({RECHECK_KEY: GOOD_STATE, "detail": {}})
    with pytest.raises(PermanentError, match="unknown fields"):
        parse_record(body)


# ------------------------------------------------------------------------------------- event sources
@pytest.mark.parametrize("source", ["aws.connect", "contact-router.sweep"])
def test_connect_and_sweep_events_are_accepted(source: str) -> None:
    assert parse_record(event_body(source))[0].contact_id == "c1"


@pytest.mark.parametrize(
    ("source", "detail_type"),
    [("evil.app", "Amazon Connect Contact Event"), ("aws.connect", "Amazon Connect Agent Event"), ("", "")],
)
def test_anything_else_is_not_a_contact_event(source: str, detail_type: str) -> None:
    with pytest.raises(PermanentError) as err:
        parse_record(event_body(source, detail_type))
    assert err.value.reason == "not_a_contact_event"


def test_another_instance_is_rejected_before_screening_or_hops() -> None:
    # Given a non-QUEUED event and a far-future re-check, both of another instance
    router = Router(RouterOptions(instance_arn=INSTANCE_ARN), FakeConnect(), FakeConnect(), _rules())
    other = INSTANCE_ARN.replace("1111", "9999")
    event = ContactEventDetail.model_validate(
        {"contactId": "c1", "eventType": "DISCONNECTED", "channel": "CHAT", "instanceArn": other}
    )
    far = Recheck("c1", other, "CHAT", "r", 0, 0.0, 1, 4e9)
    # Then both are rejected as other_instance (neither ignored nor passed on as a hop)
    for recheck in (None, far):
        with pytest.raises(PermanentError) as err:
            router.route(event, recheck)
        assert err.value.reason == "other_instance"


def _rules() -> StaticRules:
    return StaticRules.of("version: 1\nrouting:\n  - name: r\n    candidates: [{attribute: preferredAgent}]\n")


# -------------------------------------------------------------------------------- last receive
class Letters:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, **kw: Any) -> None:
        self.sent.append(kw)


def sqs_record(body: str, receive_count: int) -> SQSRecord:
    return SQSRecord(
        {
            "messageId": "m-1",
            "receiptHandle": "r",
            "body": body,
            "attributes": {"ApproximateReceiveCount": str(receive_count)},
            "messageAttributes": {},
        }
    )


def policy(
    decide: Callable[..., Decision], letters: Letters, max_receive_count: int | None = 5
) -> RecordPolicy[Decision]:
    return RecordPolicy(decide=decide, kind=Decision, dead_letters=letters, max_receive_count=max_receive_count)  # type: ignore[arg-type]


def throttled(*_: Any) -> Decision:
    raise TransientError("throttled", "Rate exceeded")


def broken(*_: Any) -> Decision:
    raise KeyError("bug")


@pytest.mark.parametrize(("decide", "reason"), [(throttled, "throttled"), (broken, "unexpected_error")])
def test_the_last_receive_dead_letters_the_last_error(decide: Callable[..., Decision], reason: str) -> None:
    letters = Letters()
    app = policy(decide, letters)
    # Given receives 1..4 fail: each goes back to SQS
    for receive in range(1, 5):
        with pytest.raises((TransientError, KeyError)):
            app.handle_record(sqs_record(event_body(), receive))
    assert letters.sent == []
    # When the 5th (maxReceiveCount) fails too, Then the function dead-letters it with that error
    decision = app.handle_record(sqs_record(event_body(), 5))
    assert (decision.outcome, decision.reason) == (Outcome.REJECTED, reason)
    (letter,) = letters.sent
    assert letter["reason"] == reason
    assert letter["message"].startswith("retries exhausted (5 of 5 receives)")


def test_without_a_known_limit_failures_go_back_to_sqs() -> None:
    letters = Letters()
    with pytest.raises(TransientError):
        policy(throttled, letters, max_receive_count=None).handle_record(sqs_record(event_body(), 50))
    assert letters.sent == []


# ---------------------------------------------------------------------------- one bad record, one batch
class ChokingConnect(FakeConnect):
    def describe_contact(self, contact_id: str) -> Contact:
        if contact_id == "odd":
            raise ValueError("a value no one expected")
        return super().describe_contact(contact_id)


def test_a_record_the_prefetch_chokes_on_does_not_cost_the_others_their_prefetch() -> None:
    # Given a batch: a contact whose read raises an unexpected ValueError, then a good contact
    connect = ChokingConnect(
        contacts={"c1": Contact(id="c1", channel="CHAT", queue_id="q-1", attributes={"preferredAgent": DANA})},
        states={DANA: available(DANA)},
    )
    router = Router(RouterOptions(instance_arn=INSTANCE_ARN), connect, connect, _rules())
    odd, good = (
        ContactEventDetail.model_validate(
            {"contactId": cid, "eventType": "QUEUED", "channel": "CHAT", "instanceArn": INSTANCE_ARN}
        )
        for cid in ("odd", "c1")
    )
    # When the batch is prefetched
    batch = router.prefetch_batch([(odd, None, None), (good, None, None)])
    # Then the good contact still has its first pass and the shared agent states
    assert "c1" in batch.prepared
    assert batch.agents.covers([DANA])
    # And it is decided from them: no second DescribeContact or GetCurrentUserData
    assert router.route(good, None, batch).outcome is Outcome.ASSOCIATED
    assert (connect.count("DescribeContact"), connect.count("GetCurrentUserData")) == (1, 1)
