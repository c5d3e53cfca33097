"""Fallbacks through the real router handler: emulated Connect on a controllable clock, delayed re-checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contact_router.adapters.aws import Clients
from contact_router.adapters.rechecks import SqsRechecks
from contact_router.composition import build_router_app
from contact_router.config import Settings
from contact_router.handlers import router as router_handler
from contact_router.record_policy import RouterApp
from tests.fakes import FakeRechecks
from tests.integration.conftest import Harness, LambdaContext, event

DANA = "33333333-0000-4000-8000-000000000001"
RULES = """
version: 1
routing:
  - name: sticky
    when: {attributes: {preferredAgent: {present: true}}}
    candidates: [{attribute: preferredAgent}]
    fallback:
      - wait: {interval_seconds: 10, max_seconds: 60}
      - routing_criteria: {expiry_seconds: 120}
      - queue
"""


@pytest.fixture
def waiting(harness: Harness, tmp_path: Path) -> tuple[Harness, RouterApp, FakeRechecks, str]:
    """A chat for dana, whose chat slots are all taken; the router's clock is the emulator's."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    emulator = harness.emulator
    emulator.set_busy("dana", "CHAT", 3)
    contact = emulator.add_contact(
        channel="CHAT", state="QUEUED", queue="Support", attributes={"preferredAgent": "dana"}
    )
    rechecks = FakeRechecks()
    settings = Settings.from_env({**harness.env, "RULES_FILE": str(rules)})
    app = build_router_app(
        settings,
        Clients(connect=emulator.client(role="RouterFunction"), dynamodb=harness.dynamodb, sqs=harness.sqs),
        clock=emulator.now,
        rechecks=rechecks,
    )
    return harness, app, rechecks, contact.id


def queued_event(contact_id: str) -> dict[str, Any]:
    body = event("queued-chat-attribute.json")
    body["detail"]["contactId"] = contact_id
    return body


def run_until_settled(
    harness: Harness, app: RouterApp, rechecks: FakeRechecks, contact_id: str, caplog: pytest.LogCaptureFixture
) -> list[dict[str, Any]]:
    """Deliver the event, then each scheduled re-check after its delay (SQS's part), until none is left."""
    caplog.set_level("INFO")
    router_handler.lambda_handler({"Records": [harness.record(queued_event(contact_id))]}, LambdaContext(), app=app)
    delivered = 0
    while delivered < len(rechecks.sent):
        message, delay = rechecks.sent[delivered]
        delivered += 1
        harness.emulator.advance(delay)
        router_handler.lambda_handler({"Records": [harness.record(message)]}, LambdaContext(), app=app)
    return [r.decision for r in caplog.records if hasattr(r, "decision")]  # type: ignore[attr-defined]


def test_agent_frees_a_slot_20_s_later_and_gets_the_contact(waiting: Any, caplog: pytest.LogCaptureFixture) -> None:
    harness, app, rechecks, contact_id = waiting
    harness.emulator.schedule(20, user="dana", busy={"CHAT": 2})
    decisions = run_until_settled(harness, app, rechecks, contact_id, caplog)
    assert [d["outcome"] for d in decisions] == ["Waiting", "Waiting", "Associated"]
    assert (decisions[-1]["agent_id"], decisions[-1]["attempt"]) == (DANA, 2)
    assert 20 <= decisions[-1]["waited_seconds"] < 21
    assert [a.user_id for a in harness.emulator.associations] == [DANA]
    assert [delay for _, delay in rechecks.sent] == [10, 10]


def test_another_agent_takes_it_during_the_wait(waiting: Any, caplog: pytest.LogCaptureFixture) -> None:
    harness, app, rechecks, contact_id = waiting
    harness.emulator.schedule(15, contact=contact_id, connect_to="sam")
    decisions = run_until_settled(harness, app, rechecks, contact_id, caplog)
    # the re-checks ask about dana alone (GetCurrentUserData) and read the contact every third attempt
    assert [d["outcome"] for d in decisions] == ["Waiting", "Waiting", "Waiting", "NotWaiting"]
    assert decisions[-1]["reason"] == "connected_to_agent"
    assert len(rechecks.sent) == 3, "no re-check after the contact was taken"
    assert harness.emulator.associations == []


def test_wait_expires_then_routing_criteria_visible_in_describe_contact(
    waiting: Any, caplog: pytest.LogCaptureFixture
) -> None:
    harness, app, rechecks, contact_id = waiting
    decisions = run_until_settled(harness, app, rechecks, contact_id, caplog)
    assert [d["outcome"] for d in decisions] == ["Waiting"] * 6 + ["RoutingCriteriaSet"]
    final = decisions[-1]
    assert (final["routing_steps"], final["routing_step_seconds"], final["fallback"]) == (
        [[DANA]],
        120,
        "routing_criteria",
    )
    # THEN DescribeContact shows the step, active, preferring dana for 120 s
    described = harness.emulator.client().describe_contact(
        InstanceId=harness.emulator.instance_id, ContactId=contact_id
    )["Contact"]["RoutingCriteria"]
    (step,) = described["Steps"]
    assert step["Status"] == "ACTIVE"
    assert step["Expiry"]["DurationInSeconds"] == 120
    assert step["Expression"]["AttributeCondition"]["MatchCriteria"]["AgentsCriteria"]["AgentIds"] == [DANA]
    # AND when the step expires, Connect's own routing has it (no more re-checks from us)
    harness.emulator.advance(121)
    assert harness.emulator.routing_criteria(contact_id).active_step is None  # type: ignore[union-attr]
    assert len(rechecks.sent) == 6


def test_sqs_rechecks_are_delayed_messages_on_the_router_queue(harness: Harness) -> None:
    queue_url = harness.sqs.create_queue(QueueName="router")["QueueUrl"]
    SqsRechecks(queue_url, harness.sqs).schedule({"contact-router-recheck": {"contact_id": "c"}}, 1200)
    attributes = harness.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
