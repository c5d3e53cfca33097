"""The contact event model: tolerant of real traffic, strict about the four keys it needs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from contact_router.errors import PermanentError
from contact_router.models.contact_event import ContactEvent, queue_id_from_arn, user_id_from_arn
from contact_router.records import parse_contact_event
from tests.conftest import EVENTS_DIR

INSTANCE = "arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555"


def envelope(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e-1",
        "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect",
        "account": "123456789012",
        "time": "2026-11-20T09:00:00Z",
        "region": "eu-west-2",
        "resources": [],
        "detail": detail,
    }


def test_minimal_real_event_is_enough() -> None:
    event = ContactEvent.model_validate(
        envelope({"contactId": "c-1", "eventType": "QUEUED", "channel": "CHAT", "instanceArn": INSTANCE})
    )
    assert event.detail.contact_id == "c-1"
    assert event.detail.queue_info is None
    assert event.detail.tags == {}


def test_pascal_case_and_lower_case_channel_are_accepted() -> None:
    event = ContactEvent.model_validate(
        envelope(
            {
                "EventType": "queued",
                "ContactId": "c-1",
                "Channel": "Chat",
                "InstanceARN": INSTANCE,
                "QueueInfo": {"QueueArn": f"{INSTANCE}/queue/q-1", "QueueType": "standard"},
            }
        )
    )
    assert (event.detail.event_type, event.detail.channel) == ("QUEUED", "CHAT")
    assert event.detail.queue_info is not None
    assert (event.detail.queue_info.queue_id, event.detail.queue_info.queue_type) == ("q-1", "STANDARD")


@pytest.mark.parametrize("key", ["instanceArn", "instanceARN", "InstanceArn", "InstanceARN"])
def test_every_spelling_of_the_instance_arn_seen_in_samples_is_accepted(key: str) -> None:
    # GIVEN a QUEUED event whose instance ARN uses one of the spellings found in AWS samples
    # WHEN parsed THEN the instance ARN is read, whatever its spelling
    event = ContactEvent.model_validate(
        envelope({"contactId": "c-1", "eventType": "QUEUED", "channel": "CHAT", key: INSTANCE})
    )
    assert event.detail.instance_arn == INSTANCE


def test_unknown_fields_are_ignored() -> None:
    event = ContactEvent.model_validate(
        envelope({"contactId": "c", "eventType": "NEW_TYPE", "channel": "CHAT", "instanceArn": INSTANCE, "x": {"y": 1}})
    )
    assert event.detail.event_type == "NEW_TYPE"


@pytest.mark.parametrize("missing", ["contactId", "eventType", "channel", "instanceArn"])
def test_each_required_key_is_required(missing: str) -> None:
    detail = {"contactId": "c", "eventType": "QUEUED", "channel": "CHAT", "instanceArn": INSTANCE}
    del detail[missing]
    with pytest.raises(ValidationError) as err:
        ContactEvent.model_validate(envelope(detail))
    assert missing in str(err.value)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json", "SQS body is not JSON"),
        ("[1, 2]", "a JSON list, not an event object"),
        (json.dumps({"detail": {}}), "not an Amazon Connect contact event"),
    ],
)
def test_malformed_bodies_are_permanent_errors_with_a_reason(body: str, fragment: str) -> None:
    with pytest.raises(PermanentError) as err:
        parse_contact_event(body)
    assert err.value.reason == "malformed_event"
    assert fragment in err.value.message


def test_arn_helpers() -> None:
    assert queue_id_from_arn(f"{INSTANCE}/queue/agent/u-1") == "agent/u-1"
    assert user_id_from_arn(f"{INSTANCE}/agent/u-1") == "u-1"
    assert user_id_from_arn("dana") is None


def test_every_fixture_parses_or_is_rejected_as_the_catalog_says() -> None:
    # GIVEN every JSON fixture in events/  THEN it parses, unless the catalog says it is malformed
    import yaml

    catalog = yaml.safe_load((EVENTS_DIR / "catalog.yaml").read_text())
    for path in sorted(EVENTS_DIR.glob("*.json")):
        body = path.read_text()
        if catalog[path.name].get("reason") == "malformed_event":
            with pytest.raises(PermanentError):
                parse_contact_event(body)
        else:
            assert parse_contact_event(body).detail.contact_id, path.name


@pytest.mark.parametrize(
    "state",
    [
        {
            "contact_id": "",
            "instance_arn": "a",
            "channel": "CHAT",
            "rule": "r",
            "step": 0,
            "step_started_at": 0,
            "attempt": 1,
            "not_before": 0,
        },
        {
            "contact_id": "c",
            "instance_arn": "a",
            "channel": "CHAT",
            "rule": "r",
            "step": "x",
            "step_started_at": 0,
            "attempt": 1,
            "not_before": 0,
        },
        {"contact_id": "c"},
        "not a mapping",
    ],
)
def test_malformed_recheck_messages_are_rejected_with_a_reason(state: object) -> None:
    from contact_router.records import parse_record

    with pytest.raises(PermanentError) as err:
        parse_record(json.dumps({"contact-router-recheck": state}))
    assert err.value.reason == "malformed_event"
    assert err.value.message.startswith("not a valid re-check message")
