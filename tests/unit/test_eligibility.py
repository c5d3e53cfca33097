"""Eligibility verdicts (pure), the GetCurrentUserData fields they read, and the rule-load limits of routing
criteria."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from contact_router.adapters.connect import agent_state_from_api
from contact_router.models.agent import AgentState, QueueMembership
from contact_router.models.contact import Contact
from contact_router.models.decision import CandidateVerdict, Decision, Outcome, Verdict
from contact_router.routing.eligibility import judge, profiles_to_check
from contact_router.routing.router import Router, RouterOptions
from contact_router.rules.loader import RulesError, parse_rules
from contact_router.rules.model import MAX_AGENTS_PER_STEP, MAX_ROUTING_STEPS, RoutingRule
from tests.fakes import DANA, INSTANCE_ARN, SAM, FakeConnect, StaticRules, available

QUEUE = "q-1"
SERVES = QueueMembership("rp-support", frozenset({(QUEUE, "CHAT")}))
ELSEWHERE = QueueMembership("rp-billing", frozenset({("q-2", "CHAT"), (QUEUE, "EMAIL")}))


def rule(**fields: object) -> RoutingRule:
    return RoutingRule.model_validate({"name": "r", "candidates": [{"users": [DANA, SAM]}], **fields})


def candidates(*ids: str) -> list[CandidateVerdict]:
    return [CandidateVerdict("users", Verdict.ELIGIBLE, user_id=i) for i in ids]


def state(user_id: str, profile: str = "rp-support", **fields: object) -> AgentState:
    return replace(available(user_id), routing_profile_id=profile, **fields)  # type: ignore[arg-type]


def verdicts(judged: list[CandidateVerdict]) -> list[tuple[Verdict, bool | None]]:
    return [(c.verdict, c.in_queue) for c in judged]


MEMBERSHIPS = {"rp-support": SERVES, "rp-billing": ELSEWHERE}


def test_a_member_is_chosen_and_a_non_member_is_not_in_queue() -> None:
    # GIVEN dana whose profile lacks the queue for CHAT (it has it for EMAIL only) and sam whose profile serves it
    states = {DANA: state(DANA, "rp-billing"), SAM: state(SAM)}
    # WHEN judged for a chat in the queue
    judged = judge(candidates(DANA, SAM), states, rule(), "CHAT", QUEUE, MEMBERSHIPS)
    # THEN dana is skipped with the reason and sam chosen
    assert verdicts(judged) == [(Verdict.NOT_IN_QUEUE, False), (Verdict.CHOSEN, True)]
    assert judged[0].detail == "routing profile rp-billing does not serve queue q-1 for CHAT"


def test_membership_not_required_lets_a_non_member_be_chosen_but_records_it() -> None:
    # GIVEN the same agents under a rule that does not require membership for association
    states = {DANA: state(DANA, "rp-billing"), SAM: state(SAM)}
    judged = judge(candidates(DANA, SAM), states, rule(require_queue_membership=False), "CHAT", QUEUE, MEMBERSHIPS)
    # THEN dana is chosen, and the record still says she is not in the queue
    assert verdicts(judged) == [(Verdict.CHOSEN, False), (Verdict.ELIGIBLE, True)]
    assert "not in the queue" in (judged[0].detail or "")


def test_next_status_and_blocking_contacts_make_an_agent_ineligible_with_a_named_reason() -> None:
    # GIVEN dana about to go to Lunch and sam with a missed chat, both Available with free slots
    states = {
        DANA: state(DANA, next_status="Lunch"),
        SAM: state(SAM, blocking=(("c-missed", "MISSED"),)),
    }
    judged = judge(candidates(DANA, SAM), states, rule(), "CHAT", QUEUE, MEMBERSHIPS)
    # THEN neither is chosen, each with its reason
    assert [c.verdict for c in judged] == [Verdict.LEAVING, Verdict.BLOCKED]
    assert judged[0].detail == "next status 'Lunch': Connect routes no new contacts to them"
    assert judged[1].detail == "contact c-missed MISSED: blocked until the agent clears it"


def test_unknown_membership_does_not_block_and_offline_stays_offline() -> None:
    # GIVEN dana with no routing profile reported and sam not logged in
    states = {DANA: available(DANA)}
    judged = judge(candidates(DANA, SAM), states, rule(), "CHAT", QUEUE, MEMBERSHIPS)
    # THEN dana is chosen (membership unknown, not checked) and sam is offline
    assert verdicts(judged) == [(Verdict.CHOSEN, None), (Verdict.OFFLINE, None)]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ["rp-support", "rp-billing"]),
        ({"require_queue_membership": False}, []),
        (
            {"require_queue_membership": False, "fallback": [{"routing_criteria": {"expiry_seconds": 30}}]},
            ["rp-support", "rp-billing"],
        ),
    ],
)
def test_profiles_are_read_only_when_a_verdict_needs_them(fields: dict[str, object], expected: list[str]) -> None:
    # GIVEN three logged-in candidates on two profiles
    states = {DANA: state(DANA), SAM: state(SAM, "rp-billing"), "u3": state("u3")}
    # THEN each profile once, and none when neither association nor routing criteria need membership
    assert profiles_to_check(candidates(DANA, SAM, "u3"), states, rule(**fields)) == expected


def test_get_current_user_data_fields_become_the_agent_state() -> None:
    # GIVEN a GetCurrentUserData item as the botocore model shapes it
    raw = {
        "User": {"Id": DANA, "Arn": f"{INSTANCE_ARN}/agent/{DANA}"},
        "RoutingProfile": {"Id": "rp-support", "Arn": f"{INSTANCE_ARN}/routing-profile/rp-support"},
        "Status": {"StatusName": "Available"},
        "NextStatus": "Lunch",
        "AvailableSlotsByChannel": {"CHAT": 1},
        "Contacts": [
            {"ContactId": "c-live", "AgentContactState": "CONNECTED"},
            {"ContactId": "c-rejected", "AgentContactState": "REJECTED"},
            {"ContactId": "c-acw", "AgentContactState": "ENDED"},
        ],
    }
    got = agent_state_from_api(raw)
    # THEN the profile, the next status and only the blocking contact are kept
    assert (got.routing_profile_id, got.next_status, got.blocking) == (
        "rp-support",
        "Lunch",
        (("c-rejected", "REJECTED"),),
    )
    assert agent_state_from_api({**raw, "NextStatus": ""}).next_status is None


def test_in_queue_survives_the_decision_record() -> None:
    judged = CandidateVerdict("users", Verdict.NOT_IN_QUEUE, user_id=DANA, detail="x", in_queue=False)
    decision = Decision(outcome=Outcome.NO_ELIGIBLE_AGENT, candidates=(judged,))
    assert Decision.from_record(decision.to_record()).candidates == (judged,)


# ------------------------------------------------------------------------ routing criteria: members only

CRITERIA_RULES = StaticRules.of(
    f"""
version: 1
routing:
  - name: prefer
    candidates: [{{users: [{DANA}, {SAM}]}}]
    require_queue_membership: false
    fallback: [{{routing_criteria: {{expiry_seconds: 60}}}}]
"""
)


def test_routing_criteria_leave_out_non_members_logged_in_or_not() -> None:
    # GIVEN dana logged in at capacity on a profile without the queue, sam offline whose profile serves it
    connect = FakeConnect(
        contacts={
            "c1": Contact(id="c1", channel="CHAT", queue_id=QUEUE, enqueued_at=datetime(2026, 12, 1, tzinfo=UTC))
        },
        states={DANA: replace(available(DANA, free=0), routing_profile_id="rp-billing")},
        profile_queues={"rp-billing": ELSEWHERE.queues, "rp-support": SERVES.queues},
        profiles={SAM: "rp-support"},
    )
    router = Router(RouterOptions(instance_arn=INSTANCE_ARN), connect=connect, users=connect, rules=CRITERIA_RULES)
    # WHEN nobody can take it and the fallback sets routing criteria
    decision = router.decide(connect.contacts["c1"])
    # THEN only sam is preferred; dana is recorded not_in_queue; sam's profile came from DescribeUser
    assert decision.outcome is Outcome.ROUTING_CRITERIA_SET
    assert decision.routing_steps == ((SAM,),)
    assert [(c.user_id, c.verdict, c.in_queue) for c in decision.candidates] == [
        (DANA, Verdict.NOT_IN_QUEUE, False),
        (SAM, Verdict.OFFLINE, True),
    ]
    assert ("DescribeUser", SAM) in connect.calls


def test_routing_criteria_without_any_member_leave_the_contact_to_its_queue() -> None:
    connect = FakeConnect(
        contacts={"c1": Contact(id="c1", channel="CHAT", queue_id=QUEUE)},
        profile_queues={"rp-billing": ELSEWHERE.queues},
        profiles={DANA: "rp-billing", SAM: "rp-billing"},
    )
    router = Router(RouterOptions(instance_arn=INSTANCE_ARN), connect=connect, users=connect, rules=CRITERIA_RULES)
    decision = router.decide(connect.contacts["c1"])
    assert (decision.outcome, decision.fallback) == (Outcome.NO_ELIGIBLE_AGENT, "queue")
    assert connect.count("UpdateContactRoutingData") == 0
    assert {c.verdict for c in decision.candidates} == {Verdict.NOT_IN_QUEUE}


# ------------------------------------------------------------------------ rule-load limits


def criteria_rule(users: int, dynamic: int = 0, **spec: object) -> str:
    ids = ", ".join(f"u{i}" for i in range(users))
    sources = [f"{{users: [{ids}]}}"] + [f"{{attribute: a{i}}}" for i in range(dynamic)]
    spec_text = ", ".join(f"{k}: {str(v).lower()}" for k, v in {"expiry_seconds": 30, **spec}.items())
    return (
        "version: 1\nrouting:\n  - name: r\n"
        f"    candidates: [{', '.join(sources)}]\n"
        f"    fallback: [{{routing_criteria: {{{spec_text}}}}}]\n"
    )


def test_one_step_with_every_candidate_fits_one_hundred_agents() -> None:
    parse_rules(criteria_rule(MAX_AGENTS_PER_STEP - 2, dynamic=2))  # exactly the limit loads
    with pytest.raises(RulesError, match="at most 100 per step"):
        parse_rules(criteria_rule(MAX_AGENTS_PER_STEP - 2, dynamic=3))


def test_one_step_per_candidate_fits_the_step_limit() -> None:
    parse_rules(criteria_rule(MAX_ROUTING_STEPS, one_step_per_candidate=True))
    with pytest.raises(RulesError, match="at most 20 steps"):
        parse_rules(criteria_rule(MAX_ROUTING_STEPS, dynamic=1, one_step_per_candidate=True))


@pytest.mark.parametrize("seconds", [9, 86_401])
def test_step_expiry_outside_the_range_is_refused(seconds: int) -> None:
    with pytest.raises(RulesError, match="expiry_seconds"):
        parse_rules(criteria_rule(1, expiry_seconds=seconds))


def test_the_limits_apply_only_to_rules_with_routing_criteria() -> None:
    # A rule with 100 users and three more sources but no routing criteria loads.
    text = criteria_rule(MAX_AGENTS_PER_STEP, dynamic=3).replace(
        "fallback: [{routing_criteria: {expiry_seconds: 30}}]", "fallback: [queue]"
    )
    assert parse_rules(text).routing[0].max_candidates == MAX_AGENTS_PER_STEP + 3


def test_leaving_and_blocked_members_are_still_preferred_by_routing_criteria() -> None:
    # GIVEN dana leaving and sam blocked by a missed chat, both members of the queue's profile
    connect = FakeConnect(
        contacts={"c1": Contact(id="c1", channel="CHAT", queue_id=QUEUE)},
        states={
            DANA: state(DANA, next_status="Lunch"),
            SAM: state(SAM, blocking=(("c-missed", "MISSED"),)),
        },
        profile_queues={"rp-support": SERVES.queues},
    )
    router = Router(RouterOptions(instance_arn=INSTANCE_ARN), connect=connect, users=connect, rules=CRITERIA_RULES)
    decision = router.decide(connect.contacts["c1"])
    # THEN Connect is asked to prefer both: it offers when they are routable again
    assert decision.outcome is Outcome.ROUTING_CRITERIA_SET
    assert decision.routing_steps == ((DANA, SAM),)
    assert [c.verdict for c in decision.candidates] == [Verdict.LEAVING, Verdict.BLOCKED]
