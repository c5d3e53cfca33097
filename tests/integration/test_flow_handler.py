"""The contact-flow Lambda in-process: a ConnectContactFlowEvent through the real handler, Connect emulated
(IAM mode: FlowFunctionRole from template.yaml), the sample rules; the answer a flow reads, and fail-open."""

from __future__ import annotations

import io
import json
from typing import Any

from contact_router.handlers import flow as flow_handler
from tests.integration.conftest import Harness, LambdaContext

DANA = "33333333-0000-4000-8000-000000000001"
SAM = "33333333-0000-4000-8000-000000000002"
MO = "33333333-0000-4000-8000-000000000005"
SUPPORT = "22222222-0000-4000-8000-000000000001"
VIP = "22222222-0000-4000-8000-000000000002"


def flow_event(harness: Harness, channel: str = "VOICE", queue: str = SUPPORT, **data: Any) -> dict[str, Any]:
    arn = harness.emulator.instance_arn
    contact = {
        "ContactId": "55555555-aaaa-4000-8000-000000000001",
        "InitialContactId": "55555555-aaaa-4000-8000-000000000001",
        "PreviousContactId": "55555555-aaaa-4000-8000-000000000001",
        "Channel": channel,
        "InitiationMethod": "INBOUND",
        "InstanceARN": arn,
        "Attributes": {},
        "CustomerEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": "+447700900999"},
        "SystemEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": "+441632960000"},
        "Queue": {"ARN": f"{arn}/queue/{queue}", "Name": "Support"},
        "MediaStreams": {"Customer": {"Audio": None}},
        **data,
    }
    return {"Name": "ContactFlowEvent", "Details": {"ContactData": contact, "Parameters": {}}}


def test_voice_call_naming_an_agent_gets_that_agent_as_its_preference(harness: Harness) -> None:
    # GIVEN a call whose flow stored dana's username (dana is Available with a free voice slot)
    event = flow_event(harness, Attributes={"preferredAgent": "dana"})
    # WHEN the flow invokes the function through its handler
    answer = flow_handler.lambda_handler(event, LambdaContext(), app=harness.flow_app())
    # THEN the flat answer names dana first, with the rule's routing-criteria step (120 s), all strings
    assert (answer["agent1"], answer["preferredAgentIds"], answer["agentCount"]) == (DANA, DANA, "1")
    assert (answer["rule"], answer["outcome"], answer["stepSeconds"]) == (
        "preferred-agent-attribute",
        "Preferred",
        "120",
    )
    assert all(isinstance(value, str) for value in answer.values())


def test_vip_chat_prefers_only_who_can_take_it(harness: Harness) -> None:
    # GIVEN a VIP chat: the rule names mo (Training) then sam (Available); its fallback is the queue
    event = flow_event(harness, channel="CHAT", queue=VIP, Tags={"Segment": "vip"})
    # WHEN the flow asks
    answer = flow_handler.lambda_handler(event, LambdaContext(), app=harness.flow_app())
    # THEN only sam, free now, is preferred: the router would not wait for mo either
    assert (answer["preferredAgentIds"], answer["reason"]) == (SAM, "available")


def test_no_rule_answers_no_preference_and_connect_is_not_called(harness: Harness) -> None:
    # GIVEN a call no rule matches WHEN the flow asks THEN no preference, and nothing was asked of Connect
    answer = flow_handler.lambda_handler(flow_event(harness), LambdaContext(), app=harness.flow_app())
    assert (answer["agentCount"], answer["outcome"], answer["reason"]) == ("0", "NoRuleMatched", "no_rule_matched")


def test_connect_failure_fails_open_with_the_reason(harness: Harness) -> None:
    # GIVEN GetCurrentUserData fails on the server side
    harness.emulator.faults.fail_next("GetCurrentUserData", "InternalServiceException", times=5)
    # WHEN the flow asks about a call naming dana
    event = flow_event(harness, Attributes={"preferredAgent": "dana"})
    answer = flow_handler.lambda_handler(event, LambdaContext(), app=harness.flow_app())
    # THEN the flow gets no preference, and why
    assert (answer["agentCount"], answer["outcome"]) == ("0", "Failed")
    assert answer["reason"]


def test_a_deployment_that_cannot_start_still_answers(harness: Harness, monkeypatch: Any) -> None:
    # GIVEN an environment whose rules file does not exist
    flow_handler.reset()
    for name, value in {**harness.env, "RULES_FILE": "/nonexistent/rules.yaml"}.items():
        monkeypatch.setenv(name, value)
    try:
        # WHEN the flow invokes the handler
        answer = flow_handler.lambda_handler(flow_event(harness), LambdaContext())
    finally:
        flow_handler.reset()
    # THEN it answers no preference, reason configuration
    assert (answer["agentCount"], answer["outcome"], answer["reason"]) == ("0", "Failed", "configuration")


def test_the_decision_record_has_no_customer_address(harness: Harness, lambda_output: io.StringIO) -> None:
    # GIVEN a call from a known number WHEN the flow asks
    event = flow_event(harness, Attributes={"preferredAgent": "dana"})
    flow_handler.lambda_handler(event, LambdaContext(), app=harness.flow_app())
    # THEN one routing decision is logged, and the caller's number is nowhere in the output
    text = lambda_output.getvalue()
    decisions = [json.loads(line) for line in text.splitlines() if '"routing decision"' in line]
    assert len(decisions) == 1
    assert decisions[0]["decision"]["event_type"] == "FLOW"
    assert "7700900999" not in text
