"""The park fallback: a TASK or EMAIL contact nobody can take now goes to its preferred agent's own queue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from contact_router.errors import PermanentError
from contact_router.models.contact import Contact
from contact_router.models.decision import Outcome
from contact_router.routing.fallback import LeaveToQueue, Park, choose_fallback, park_token
from contact_router.routing.router import Router, RouterOptions
from contact_router.rules.loader import parse_rules
from contact_router.rules.model import RulesFile
from tests.fakes import DANA, INSTANCE_ARN, SAM, FakeConnect, StaticRules, available

FLOW_ID = "77777777-0000-4000-8000-000000000001"
RULES = StaticRules.of(
    f"""
version: 1
routing:
  - name: owned-work
    candidates: [{{attribute: owner}}, {{users: [{SAM}]}}]
    fallback:
      - park: {{contact_flow_id: "{INSTANCE_ARN}/contact-flow/{FLOW_ID}"}}
      - queue
"""
)


def queued(channel: str = "TASK", **kw: object) -> Contact:
    base: dict[str, object] = {
        "id": "c1",
        "channel": channel,
        "queue_id": "q-1",
        "enqueued_at": datetime(2026, 11, 20, 9, tzinfo=UTC),
        "attributes": {"owner": DANA},
    }
    base.update(kw)
    return Contact(**base)  # type: ignore[arg-type]


def router(connect: FakeConnect, dry_run: bool = False) -> Router:
    return Router(
        RouterOptions(instance_arn=INSTANCE_ARN, dry_run=dry_run), connect=connect, users=connect, rules=RULES
    )


def test_busy_owner_gets_the_task_in_their_own_queue_with_a_deterministic_token() -> None:
    # GIVEN a task owned by dana, who is busy, and sam (next candidate) offline
    connect = FakeConnect(states={DANA: available(DANA, "TASK", free=0)})
    # WHEN it is decided twice (a redelivery without the idempotency table)
    first = router(connect).decide(queued())
    second = router(connect).decide(queued())
    # THEN it is parked with dana through the rule's flow (its id, from the ARN), the same token both times
    assert (first.outcome, first.agent_id, first.fallback) == (Outcome.PARKED, DANA, "park")
    transfers = [args for op, args in connect.calls if op == "TransferContact"]
    assert transfers[0] == ("c1", DANA, FLOW_ID, park_token("c1", DANA, FLOW_ID))
    assert transfers[0] == transfers[1]
    assert second.outcome is Outcome.PARKED
    assert len(park_token("c1", DANA, FLOW_ID)) <= 500


def test_a_free_candidate_is_associated_not_parked() -> None:
    # GIVEN dana busy, sam free WHEN routed THEN sam gets it, nothing is transferred
    connect = FakeConnect(states={DANA: available(DANA, "TASK", free=0), SAM: available(SAM, "TASK")})
    decision = router(connect).decide(queued())
    assert (decision.outcome, decision.agent_id, connect.count("TransferContact")) == (Outcome.ASSOCIATED, SAM, 0)


@pytest.mark.parametrize("channel", ["CHAT", "VOICE"])
def test_other_channels_go_on_to_the_next_step(channel: str) -> None:
    # GIVEN a chat (TransferContact is TASK and EMAIL only) WHEN nobody can take it THEN the queue step decides
    connect = FakeConnect(states={DANA: available(DANA, channel, free=0)})
    decision = Router(
        RouterOptions(instance_arn=INSTANCE_ARN, route_voice=True), connect=connect, users=connect, rules=RULES
    ).decide(queued(channel))
    assert (decision.outcome, decision.fallback, connect.count("TransferContact")) == (
        Outcome.NO_ELIGIBLE_AGENT,
        "queue",
        0,
    )


def test_no_candidate_who_is_a_user_means_no_park() -> None:
    # GIVEN a rule whose candidates resolve to nobody (attribute unset, static user unknown to the directory)
    rules = parse_rules(
        f"""
version: 1
routing:
  - name: r
    candidates: [{{attribute: owner}}]
    fallback: [{{park: {{contact_flow_id: {FLOW_ID}}}}}, queue]
""",
        "t",
    )
    # WHEN the fallback is chosen without an owner THEN it leaves the contact with its queue
    action = choose_fallback(rules.routing[0], "c1", INSTANCE_ARN, "TASK", None, 0.0, has_owner=False)
    assert isinstance(action, LeaveToQueue)
    assert isinstance(choose_fallback(rules.routing[0], "c1", INSTANCE_ARN, "EMAIL", None, 0.0, has_owner=True), Park)


def test_dry_run_parks_nothing() -> None:
    connect = FakeConnect(states={DANA: available(DANA, "TASK", free=0)})
    decision = router(connect, dry_run=True).decide(queued())
    assert (decision.outcome, connect.count("TransferContact")) == (Outcome.PARKED, 0)
    assert "dry run" in (decision.detail or "")


@pytest.mark.parametrize("reason", ["invalid_request", "quota_exceeded"])
def test_a_refused_transfer_rereads_the_contact_and_leaves_it_with_its_queue(reason: str) -> None:
    # GIVEN Connect refuses the transfer (not active, or 11 transfers already) and the contact still waits
    connect = FakeConnect(
        contacts={"c1": queued()},
        states={DANA: available(DANA, "TASK", free=0)},
        transfer_error=PermanentError(reason, "TransferContact failed"),
    )
    decision = router(connect).decide(queued())
    assert (decision.outcome, decision.reason, decision.fallback) == (
        Outcome.NO_ELIGIBLE_AGENT,
        "park_refused",
        "queue",
    )


def test_a_refused_transfer_of_a_contact_taken_meanwhile_is_not_waiting() -> None:
    connect = FakeConnect(
        contacts={"c1": queued(agent_id=SAM)},
        states={DANA: available(DANA, "TASK", free=0)},
        transfer_error=PermanentError("invalid_request", "not active"),
    )
    assert router(connect).decide(queued()).outcome is Outcome.NOT_WAITING


@pytest.mark.parametrize(
    ("fallback", "message"),
    [
        ("[park]", "park needs its flow"),
        ("[{routing_criteria: {expiry_seconds: 30}}, {park: {contact_flow_id: f}}]", "park cannot follow"),
        ("[{park: {contact_flow_id: f}}, {wait: {interval_seconds: 5, max_seconds: 10}}]", "wait cannot follow park"),
    ],
)
def test_impossible_park_orders_are_rejected(fallback: str, message: str) -> None:
    text = f"version: 1\nrouting:\n  - name: r\n    candidates: [{{attribute: a}}]\n    fallback: {fallback}\n"
    with pytest.raises(Exception, match=message):
        RulesFile.model_validate(yaml.safe_load(text))
