"""Fallbacks when nobody is eligible: wait and re-check, Connect routing criteria, the queue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contact_router.errors import PermanentError
from contact_router.models.contact import Contact
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import Outcome
from contact_router.routing.fallback import Recheck, choose_fallback, seconds_until_due
from contact_router.routing.router import Router, RouterOptions
from tests.fakes import (
    DANA,
    INSTANCE_ARN,
    SAM,
    Clock,
    FakeConnect,
    FakeRechecks,
    MemoryEpisodes,
    StaticRules,
    available,
)

RULES = StaticRules.of(
    f"""
version: 1
routing:
  - name: sticky
    when: {{channel: [CHAT]}}
    candidates: [{{users: [{DANA}, {SAM}]}}]
    fallback:
      - wait: {{interval_seconds: 10, max_seconds: 60}}
      - routing_criteria: {{expiry_seconds: 120}}
      - queue
  - name: long-wait
    when: {{channel: [EMAIL]}}
    candidates: [{{users: [{DANA}]}}]
    fallback: [{{wait: {{interval_seconds: 1200, max_seconds: 3600}}}}]
"""
)
RULE, LONG = RULES.rules.routing
ENQUEUED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def queued(**kw: object) -> Contact:
    base: dict[str, object] = {"id": "c1", "channel": "CHAT", "queue_id": "q-1", "enqueued_at": ENQUEUED}
    base.update(kw)
    return Contact(**base)  # type: ignore[arg-type]


def detail(channel: str = "CHAT") -> ContactEventDetail:
    return ContactEventDetail.model_validate(
        {"contactId": "c1", "eventType": "QUEUED", "channel": channel, "instanceArn": INSTANCE_ARN}
    )


def make(connect: FakeConnect, clock: Clock, rechecks: FakeRechecks, dry_run: bool = False) -> Router:
    return Router(
        RouterOptions(instance_arn=INSTANCE_ARN, dry_run=dry_run),
        connect=connect,
        users=connect,
        rules=RULES,
        episodes=MemoryEpisodes(clock),
        rechecks=rechecks,
        clock=clock,
    )


def deliver(router: Router, rechecks: FakeRechecks, clock: Clock, channel: str = "CHAT") -> object:
    """Deliver the last scheduled re-check after its delay, as SQS would."""
    message, delay = rechecks.sent[-1]
    clock.advance(delay)
    return router.route(detail(channel), Recheck.from_message(message))


def test_plan_waits_in_steps_then_moves_on() -> None:
    now = 1000.0
    first = choose_fallback(RULE, "c1", INSTANCE_ARN, "CHAT", None, now)
    assert first.__class__.__name__ == "WaitAgain"
    assert (first.delay_seconds, first.recheck.attempt, first.recheck.step_started_at) == (10, 1, now)  # type: ignore[union-attr]
    later = choose_fallback(RULE, "c1", INSTANCE_ARN, "CHAT", first.recheck, now + 55)  # type: ignore[union-attr]
    assert (later.delay_seconds, later.recheck.attempt) == (5, 2), "never waits past max_seconds"  # type: ignore[union-attr]
    done = choose_fallback(RULE, "c1", INSTANCE_ARN, "CHAT", later.recheck, now + 60)  # type: ignore[union-attr]
    assert done.__class__.__name__ == "SetRoutingCriteria"


def test_waits_longer_than_sqs_allows_are_chained_in_hops() -> None:
    first = choose_fallback(LONG, "c1", INSTANCE_ARN, "EMAIL", None, 0.0)
    assert first.delay_seconds == 900  # type: ignore[union-attr]
    assert first.recheck.not_before == 1200  # type: ignore[union-attr]
    assert seconds_until_due(first.recheck, 900.0) == 300  # type: ignore[union-attr]
    assert seconds_until_due(first.recheck, 1200.0) is None  # type: ignore[union-attr]


def test_busy_preferred_agent_frees_a_slot_20_s_later_and_gets_the_contact() -> None:
    # GIVEN dana (preferred) and sam both at capacity; the rule waits up to 60 s
    clock, rechecks = Clock(), FakeRechecks()
    connect = FakeConnect(
        contacts={"c1": queued()}, states={DANA: available(DANA, free=0), SAM: available(SAM, free=0)}
    )
    router = make(connect, clock, rechecks)
    first = router.route(detail())
    assert (first.outcome, first.attempt, first.fallback) == (Outcome.WAITING, 1, "wait")
    assert rechecks.sent[-1][1] == 10
    # WHEN 10 s later nothing changed, and dana frees a slot at 20 s
    assert deliver(router, rechecks, clock).outcome is Outcome.WAITING  # type: ignore[attr-defined]
    connect.states[DANA] = available(DANA, free=1)
    decision = deliver(router, rechecks, clock)
    # THEN the contact is associated to dana on the re-check after the slot freed, with the wait recorded
    assert (decision.outcome, decision.agent_id) == (Outcome.ASSOCIATED, DANA)  # type: ignore[attr-defined]
    assert (decision.attempt, decision.waited_seconds) == (2, 20.0)  # type: ignore[attr-defined]
    assert connect.count("AssociateContactWithUser") == 1
    assert len(rechecks.sent) == 2, "no re-check after the association"


def test_another_agent_takes_the_contact_during_the_wait() -> None:
    clock, rechecks = Clock(), FakeRechecks()
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA, free=0)})
    router = make(connect, clock, rechecks)
    router.route(detail())
    connect.contacts["c1"] = queued(agent_id="someone-else", connected_to_agent_at=ENQUEUED)
    # WHEN the awaited agent stays busy THEN the re-checks ask about her alone, without reading the contact...
    cheap = [deliver(router, rechecks, clock) for _ in range(2)]
    assert all("still nobody free (contact not read)" in d.detail for d in cheap)  # type: ignore[attr-defined]
    assert connect.count("DescribeContact") == 1
    # ... and every third one reads it anyway, which ends the chain
    decision = deliver(router, rechecks, clock)
    assert (decision.outcome, decision.reason) == (Outcome.NOT_WAITING, "connected_to_agent")  # type: ignore[attr-defined]
    assert len(rechecks.sent) == 3, "no further re-checks"
    assert connect.count("DescribeContact") == 2
    assert connect.count("AssociateContactWithUser") == 0


def test_a_recheck_reads_the_contact_only_once_an_awaited_agent_is_free() -> None:
    clock, rechecks = Clock(), FakeRechecks()
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA, free=0)})
    router = make(connect, clock, rechecks)
    router.route(detail())
    assert DANA in rechecks.sent[-1][0]["contact-router-recheck"]["candidates"]
    first = deliver(router, rechecks, clock)
    assert (first.outcome, connect.count("DescribeContact")) == (Outcome.WAITING, 1)  # type: ignore[attr-defined]
    connect.states[DANA] = available(DANA)
    decision = deliver(router, rechecks, clock)
    assert decision.outcome is Outcome.ASSOCIATED  # type: ignore[attr-defined]
    assert connect.count("DescribeContact") == 2


def test_wait_expires_then_routing_criteria_with_the_candidates_and_expiry() -> None:
    clock, rechecks = Clock(), FakeRechecks()
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA, free=0)})  # sam offline
    router = make(connect, clock, rechecks)
    decision = router.route(detail())
    while decision.outcome is Outcome.WAITING:
        decision = deliver(router, rechecks, clock)  # type: ignore[assignment]
    assert decision.outcome is Outcome.ROUTING_CRITERIA_SET
    assert (decision.routing_steps, decision.routing_step_seconds, decision.waited_seconds) == (
        ((DANA, SAM),),
        120,
        60.0,
    )
    ((_, (contact_id, steps)),) = [c for c in connect.calls if c[0] == "UpdateContactRoutingData"]
    assert contact_id == "c1"
    assert steps == [
        {
            "Expiry": {"DurationInSeconds": 120},
            "Expression": {
                "AttributeCondition": {
                    "ComparisonOperator": "Match",
                    "MatchCriteria": {"AgentsCriteria": {"AgentIds": [DANA, SAM]}},
                }
            },
        }
    ]
    assert len(rechecks.sent) == 6, "re-checks at 10, 20, 30, 40, 50, 60 s"


def test_routing_criteria_conflict_on_a_contact_taken_meanwhile_is_not_waiting() -> None:
    rules = StaticRules.of(
        f"version: 1\nrouting:\n  - name: r\n    candidates: [{{users: [{DANA}]}}]\n"
        "    fallback: [{routing_criteria: {expiry_seconds: 30, one_step_per_candidate: true}}]\n"
    )
    connect = FakeConnect(contacts={"c1": queued()}, states={})

    def conflict() -> None:
        connect.contacts["c1"] = queued(agent_id=SAM, connected_to_agent_at=ENQUEUED)

    connect.routing_error = PermanentError("conflict", "ResourceConflictException")
    router = make(connect, Clock(), FakeRechecks())
    router.rules = rules
    original = connect.update_routing_criteria

    def update(contact_id: str, steps: object) -> None:
        conflict()
        original(contact_id, steps)  # type: ignore[arg-type]

    connect.update_routing_criteria = update  # type: ignore[method-assign]
    decision = router.route(detail())
    assert (decision.outcome, decision.reason) == (Outcome.NOT_WAITING, "connected_to_agent")


def test_dry_run_waits_without_sending() -> None:
    rechecks = FakeRechecks()
    connect = FakeConnect(contacts={"c1": queued()}, states={})
    decision = make(connect, Clock(), rechecks, dry_run=True).route(detail())
    assert decision.outcome is Outcome.WAITING
    assert "dry run: not sent" in (decision.detail or "")
    assert rechecks.sent == []


def test_long_wait_hops_cost_no_api_call() -> None:
    clock, rechecks = Clock(), FakeRechecks()
    connect = FakeConnect(contacts={"c1": queued(channel="EMAIL")}, states={})
    router = make(connect, clock, rechecks)
    router.route(detail("EMAIL"))
    calls = len(connect.calls)
    hop_decision = deliver(router, rechecks, clock, "EMAIL")  # arrives at 900 s of a 1200 s interval
    assert (hop_decision.outcome, hop_decision.reason) == (Outcome.WAITING, "hop")  # type: ignore[attr-defined]
    assert rechecks.sent[-1][1] == 300
    assert len(connect.calls) == calls


@pytest.mark.parametrize("queue_only", [True])
def test_queue_fallback_is_still_the_default(queue_only: bool) -> None:
    rules = StaticRules.of(f"version: 1\nrouting:\n  - name: r\n    candidates: [{{users: [{DANA}]}}]\n")
    connect = FakeConnect(contacts={"c1": queued()}, states={})
    router = make(connect, Clock(), FakeRechecks())
    router.rules = rules
    decision = router.route(detail())
    assert (decision.outcome, decision.fallback) == (Outcome.NO_ELIGIBLE_AGENT, "queue")
    assert queue_only
