"""events/sqs/: the EventBridge fixtures wrapped as the SQS events the functions receive (sam local invoke)."""

from __future__ import annotations

import json

from contact_router_cli.sqs_events import SQS_DIR, expected_files
from tests.conftest import EVENTS_DIR
from tests.integration.conftest import Harness


def test_every_fixture_has_its_sqs_copy_and_they_are_in_sync() -> None:
    expected = expected_files()
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in sorted(SQS_DIR.glob("*.json"))}
    assert sorted(on_disk) == sorted(p.name for p in EVENTS_DIR.glob("*.json")), "run `make sqs-events`"
    stale = sorted(name for name in expected if on_disk.get(name) != expected[name])
    assert not stale, f"out of date (run `make sqs-events`): {stale}"


def test_each_record_body_is_the_fixture_itself() -> None:
    for path in sorted(EVENTS_DIR.glob("*.json")):
        [record] = json.loads((SQS_DIR / path.name).read_text())["Records"]
        assert json.loads(record["body"]) == json.loads(path.read_text()), path.name
        assert record["eventSource"] == "aws:sqs"


def test_the_router_handler_takes_the_wrapped_events_as_sam_local_invoke_would_give_them(harness: Harness) -> None:
    # GIVEN the SQS-wrapped copies of a routable chat and of a malformed event
    records = [
        json.loads((SQS_DIR / name).read_text())["Records"][0]
        for name in ("queued-chat-attribute.json", "malformed-missing-contact-id.json")
    ]
    # WHEN the router's Lambda handler receives them
    response = harness.invoke(records)
    # THEN the chat is associated with dana, the malformed one is dead-lettered with its reason, none retried
    assert response == {"batchItemFailures": []}
    assert [a.contact_id for a in harness.emulator.associations] == ["44444444-0000-4000-8000-000000000001"]
    [letter] = harness.dead_letters()
    assert letter["reason"] == "malformed_event"
