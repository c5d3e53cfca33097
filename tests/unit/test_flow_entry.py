"""The contact-flow entry point over fakes: the router's rules and eligibility give the flow its preferred
agents, and every failure answers "no preference" instead of raising to the flow."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest

from contact_router.errors import TransientError
from contact_router.flow_app import FlowApp, contact_from_flow
from contact_router.models.agent import AgentState
from contact_router.models.contact import Contact
from contact_router.models.decision import Outcome
from contact_router.routing.preference import OFFER_STEP_SECONDS, flow_answer, preference
from contact_router.routing.router import Router, RouterOptions
from contact_router_cli.local import lambda_output_to
from tests.fakes import DANA, INSTANCE_ARN, SAM, TARIQ, FakeConnect, StaticRules, available

RULES = StaticRules.of(
    """
version: 1
routing:
  - name: named
    when: {attributes: {preferredAgent: {present: true}}}
    candidates: [{attribute: preferredAgent}, {agent_of: previous}]
    fallback: [{routing_criteria: {expiry_seconds: 45, one_step_per_candidate: true}}, queue]
  - name: vip-wait
    when: {tags: {Segment: {equals: vip}}}
    candidates: [{users: [33333333-0000-4000-8000-000000000001, 33333333-0000-4000-8000-000000000002]}]
    fallback: [{wait: {interval_seconds: 10, max_seconds: 120}}, queue]
  - name: team
    when: {attributes: {team: {equals: gold}}}
    candidates: [{users: [33333333-0000-4000-8000-000000000001, 33333333-0000-4000-8000-000000000002,
                          33333333-0000-4000-8000-000000000003]}]
"""
)


def flow_event(contact_id: str = "c1", **data: Any) -> dict[str, Any]:
    contact: dict[str, Any] = {
        "ContactId": contact_id,
        "InitialContactId": contact_id,
        "PreviousContactId": None,
        "Channel": "VOICE",
        "InitiationMethod": "INBOUND",
        "InstanceARN": INSTANCE_ARN,
        "Attributes": {},
        "CustomerEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": "+447700900123"},
        "SystemEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": "+441632960000"},
        "Queue": {"ARN": f"{INSTANCE_ARN}/queue/q-1", "Name": "Support"},
        "MediaStreams": {},
    }
    contact.update(data)
    return {"Name": "ContactFlowEvent", "Details": {"ContactData": contact, "Parameters": {}}}


def app(connect: FakeConnect) -> FlowApp:
    router = Router(
        RouterOptions(instance_arn=INSTANCE_ARN, route_voice=True, allowed_agent_arn_pattern=f"{INSTANCE_ARN}/agent/*"),
        connect=connect,
        users=connect,
        rules=RULES,
    )
    return FlowApp(router, INSTANCE_ARN)


def plenty() -> int:
    return 3_000


def busy(user_id: str) -> AgentState:
    return available(user_id, channel="VOICE", free=0)


def test_voice_contact_gets_its_named_agent_then_the_previous_agent_one_step_each() -> None:
    # GIVEN a call naming dana (busy), transferred from a contact sam handled (free)
    connect = FakeConnect(
        contacts={"c0": Contact(id="c0", channel="VOICE", agent_id=SAM)},
        states={DANA: busy(DANA), SAM: available(SAM, channel="VOICE")},
    )
    event = flow_event(Attributes={"preferredAgent": DANA}, PreviousContactId="c0")
    # WHEN the flow asks
    answer = app(connect).answer(event, plenty)
    # THEN sam (free now) comes first, then dana (busy; the rule waits through routing criteria), 45 s each
    assert answer["preferredAgentIds"] == f"{SAM},{DANA}"
    assert (answer["agent1"], answer["agent2"], answer["agentCount"]) == (SAM, DANA, "2")
    assert (answer["stepCount"], answer["stepSeconds"], answer["oneStepPerAgent"]) == ("2", "45,45", "true")
    assert (answer["rule"], answer["outcome"], answer["reason"]) == ("named", "Preferred", "available")
    # AND nothing was written to Connect: the flow sets the criteria itself
    assert [op for op, _ in connect.calls] == ["DescribeContact", "GetCurrentUserData"]
    assert all(isinstance(v, str) for v in answer.values())


def test_wait_rule_prefers_busy_agents_for_its_wait_but_never_offline_ones() -> None:
    # GIVEN a vip rule waiting 120 s for dana (busy) or sam (not logged in)
    connect = FakeConnect(states={DANA: busy(DANA)})
    # WHEN the flow asks
    answer = app(connect).answer(flow_event(Tags={"Segment": "vip"}), plenty)
    # THEN only dana is preferred, for the rule's 120 s
    assert (answer["preferredAgentIds"], answer["stepSeconds"], answer["reason"]) == (DANA, "120", "busy")


def test_queue_only_rule_prefers_only_agents_free_now() -> None:
    # GIVEN a rule with the default fallback [queue]: dana busy, sam and tariq free
    states = {DANA: busy(DANA), SAM: available(SAM, "VOICE"), TARIQ: available(TARIQ, "VOICE")}
    # WHEN the flow asks
    answer = app(FakeConnect(states=states)).answer(flow_event(Attributes={"team": "gold"}), plenty)
    # THEN the free agents, in rule order, each for one offer
    assert answer["preferredAgentIds"] == f"{SAM},{TARIQ}"
    assert answer["stepSeconds"] == f"{OFFER_STEP_SECONDS},{OFFER_STEP_SECONDS}"


def test_no_rule_and_nobody_to_prefer_are_empty_answers() -> None:
    # GIVEN a contact no rule matches, and one whose candidates are all offline
    connect = FakeConnect()
    # WHEN the flow asks about each
    none = app(connect).answer(flow_event(), plenty)
    offline = app(connect).answer(flow_event(Attributes={"team": "gold"}), plenty)
    # THEN both answer no preference, with the reason
    assert (none["agentCount"], none["outcome"], none["reason"]) == ("0", "NoRuleMatched", "no_rule_matched")
    assert (offline["agentCount"], offline["outcome"], offline["reason"]) == ("0", "NoEligibleAgent", "offline")
    assert "agent1" not in offline


def test_connect_error_fails_open() -> None:
    # GIVEN GetCurrentUserData is throttled
    class Throttled(FakeConnect):
        def current_user_data(self, user_ids: Any) -> Any:
            raise TransientError("throttled", "Rate exceeded")

    # WHEN the flow asks
    answer = app(Throttled()).answer(flow_event(Attributes={"team": "gold"}), plenty)
    # THEN no preference, the reason says why
    assert (answer["agentCount"], answer["outcome"], answer["reason"]) == ("0", "Failed", "throttled")


def test_slow_decision_fails_open_at_the_deadline() -> None:
    # GIVEN a GetCurrentUserData that hangs
    release = threading.Event()

    class Slow(FakeConnect):
        def current_user_data(self, user_ids: Any) -> Any:
            release.wait(5)
            return {}

    # WHEN the flow asks with 400 ms left
    answer = app(Slow()).answer(flow_event(Attributes={"team": "gold"}), lambda: 400)
    release.set()
    # THEN it answers no preference before the deadline, reason deadline
    assert (answer["agentCount"], answer["reason"]) == ("0", "deadline")


@pytest.mark.parametrize(
    "event",
    [{}, {"Details": {}}, {"Details": {"ContactData": {"ContactId": "c1"}}}, flow_event(Attributes=["x"])],
)
def test_malformed_payloads_fail_open(event: dict[str, Any]) -> None:
    # GIVEN a payload that is not a contact flow event WHEN the flow asks THEN no preference, reason given
    answer = app(FakeConnect()).answer(event, plenty)
    assert (answer["agentCount"], answer["outcome"], answer["reason"]) == ("0", "Failed", "malformed_event")


def test_other_instance_fails_open() -> None:
    # GIVEN a flow of another instance WHEN it asks THEN no preference, and no Connect call
    connect = FakeConnect()
    answer = app(connect).answer(flow_event(InstanceARN=INSTANCE_ARN.replace("1111", "9999")), plenty)
    assert (answer["reason"], connect.calls) == ("other_instance", [])


def test_a_bug_fails_open_too() -> None:
    # GIVEN a port that breaks in an unexpected way
    class Broken(FakeConnect):
        def current_user_data(self, user_ids: Any) -> Any:
            raise RuntimeError("boom")

    # WHEN the flow asks THEN the flow still gets an answer
    answer = app(Broken()).answer(flow_event(Attributes={"team": "gold"}), plenty)
    assert (answer["agentCount"], answer["reason"]) == ("0", "internal_error")


def test_contact_from_flow_reads_task_and_email_channels_and_segment_attributes() -> None:
    # GIVEN a task flow event (Powertools' channel enum knows only VOICE and CHAT)
    event = flow_event(
        Channel="TASK", RelatedContactId="r1", SegmentAttributes={"connect:Subtype": {"ValueString": "connect:Task"}}
    )
    # WHEN it is read THEN the contact carries what the rules test
    contact, instance = contact_from_flow(event)
    assert (contact.channel, contact.related_contact_id, contact.queue_id, instance) == (
        "TASK",
        "r1",
        "q-1",
        INSTANCE_ARN,
    )
    assert contact.segment_attributes == {"connect:Subtype": "connect:Task"}


def test_one_step_with_every_agent_when_the_rule_says_so() -> None:
    # GIVEN a routing_criteria rule with every candidate in one step
    rules = StaticRules.of(
        """
version: 1
routing:
  - name: all
    candidates: [{users: [33333333-0000-4000-8000-000000000001, 33333333-0000-4000-8000-000000000002]}]
    fallback: [{routing_criteria: {expiry_seconds: 60}}]
"""
    )
    judged_rule = rules.current().routing[0]
    connect = FakeConnect(states={DANA: busy(DANA), SAM: busy(SAM)})
    router = Router(
        RouterOptions(instance_arn=INSTANCE_ARN, route_voice=True), connect=connect, users=connect, rules=rules
    )
    # WHEN the flow asks
    answer = FlowApp(router, INSTANCE_ARN).answer(flow_event(), plenty)
    # THEN one step of both agents for 60 s
    assert (answer["stepCount"], answer["stepSeconds"], answer["oneStepPerAgent"]) == ("1", "60", "false")
    assert answer["preferredAgentIds"] == f"{DANA},{SAM}"
    assert preference(judged_rule, []).steps == ()
    assert flow_answer(None, outcome="Failed", reason="x")["preferredAgentIds"] == ""


def test_decision_record_is_the_routers() -> None:
    # GIVEN a free agent WHEN the flow asks
    connect = FakeConnect(states={SAM: available(SAM, "VOICE")})
    out = io.StringIO()
    with lambda_output_to(out):
        app(connect).answer(flow_event(Attributes={"team": "gold"}), plenty)
    # THEN one "routing decision" record, as the router writes it, with the steps the flow was given
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    records = [line["decision"] for line in lines if line.get("message") == "routing decision"]
    assert len(records) == 1
    assert (records[0]["outcome"], records[0]["event_type"], records[0]["routing_steps"]) == (
        Outcome.PREFERRED.value,
        "FLOW",
        [[SAM]],
    )
