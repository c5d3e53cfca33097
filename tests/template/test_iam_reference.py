"""Every Allow statement of the deployed stack agrees with the Service Authorization Reference
(tools/aws_reference/iam-reference.yaml): each action gets every resource type the reference marks required, no ARN the action
does not take, and only condition keys the action supports. Checked on the SAM-transformed template for each
set of parameters that changes the policies."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.cfn import TEST_INSTANCE_ARN, Stack, as_list, load_template, stack, stack_of
from tests.support.iam_reference import (
    action_reference,
    load_reference,
    patterns_meet,
    resolver_for,
    resource_format,
    statement_problems,
)

EVERYTHING = {
    "SweepEnabled": "true",
    "SweepQueueIds": "22222222-0000-4000-8000-000000000001",
    "KmsKeyArn": "arn:aws:kms:eu-west-2:123456789012:key/0d3b7b43-0000-4000-8000-00000000c0de",
    "RulesSource": "ssm",
    "RulesSsmParameterName": "/contact-router/rules",
    "AllowBarge": "true",
    "AllowedAgentArnPattern": f"{TEST_INSTANCE_ARN}/agent/a*",
    "FlowIntegration": "true",
    "CustomerProfilesDomain": "acme-profiles",
}
VARIANTS = {
    "defaults": {},
    "everything": EVERYTHING,
    "appconfig-rules": {
        "RulesSource": "appconfig",
        "RulesAppConfigApplication": "abc1234",
        "RulesAppConfigEnvironment": "env5678",
        "RulesAppConfigProfile": "prf9012",
    },
}
INSTANCE = TEST_INSTANCE_ARN


def allow_statements(deployed: Stack) -> list[tuple[str, dict[str, Any]]]:
    """(resource id, statement) for every Allow statement: identity policies and queue policies."""
    found = [(name, s) for name, s in deployed.iam_statements() if s["Effect"] == "Allow"]
    for name, policy in deployed.of_type("AWS::SQS::QueuePolicy").items():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        found += [(name, s) for s in as_list(statements) if s["Effect"] == "Allow"]
    return found


def reference_problems(deployed: Stack) -> list[str]:
    resolve = resolver_for(deployed.resources)
    return [
        f"{name} {problem}"
        for name, statement in allow_statements(deployed)
        for problem in statement_problems(statement, resolve)
    ]


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_every_statement_agrees_with_the_service_authorization_reference(variant: str) -> None:
    # GIVEN the deployed stack for these parameters WHEN each Allow statement is checked against the reference
    # THEN none lacks a required resource type, grants a type its action does not take or uses an unknown key
    assert reference_problems(stack(**VARIANTS[variant])) == []


def test_every_action_the_template_grants_is_in_the_table() -> None:
    deployed = stack(**EVERYTHING)
    granted = {a for _, s in allow_statements(deployed) for a in as_list(s["Action"])}
    granted |= {a for _, s in allow_statements(stack(**VARIANTS["appconfig-rules"])) for a in as_list(s["Action"])}
    assert {a for a in granted if action_reference(a) is None} == set()


def test_every_connect_row_was_read_in_the_reference() -> None:
    connect = load_reference()["services"]["connect"]["actions"]
    assert {name for name, row in connect.items() if not row["read"]} == set()


# ---------------------------------------------------------------- the matcher itself


@pytest.mark.parametrize(
    ("arn", "resource_type", "meets"),
    [
        (INSTANCE, "instance", True),
        (f"{INSTANCE}/*", "instance", False),  # the instance/* wildcard covers what is inside, not the instance
        (INSTANCE, "contact", False),
        (f"{INSTANCE}/contact/*", "contact", True),
        (f"{INSTANCE}/*", "contact", True),
        (f"{INSTANCE}/agent/*", "user", True),
        (f"{INSTANCE}/agent/a*", "user", True),
        (f"{INSTANCE}/agent/*", "contact", False),
        ("*", "queue", True),
        ("arn:aws:connect:eu-west-1:123456789012:instance/x/queue/*", "queue", False),  # another Region
        (f"{INSTANCE}/queue/q-1/extra", "queue", False),  # a placeholder is one path segment
    ],
)
def test_an_arn_covers_a_resource_type_when_some_arn_matches_both(arn: str, resource_type: str, meets: bool) -> None:
    assert patterns_meet(arn, resource_format("connect", resource_type)) is meets


def test_multi_segment_names_and_the_log_group_form_iam_evaluates() -> None:
    parameter = resource_format("ssm", "parameter")
    assert patterns_meet("arn:aws:ssm:eu-west-2:123456789012:parameter/contact-router/rules", parameter)
    group = "arn:aws:logs:eu-west-2:123456789012:log-group:/contact-router/router:*"
    assert patterns_meet(group, resource_format("logs", "log-group"))
    assert patterns_meet(group, resource_format("logs", "log-stream"))


# ---------------------------------------------------------------- ... and it catches each kind of mistake


def role_statement(template: dict[str, Any], role: str, sid: str) -> dict[str, Any]:
    for statement in template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
        candidate = statement["Fn::If"][1] if "Fn::If" in statement else statement
        if candidate.get("Sid") == sid:
            found: dict[str, Any] = candidate
            return found
    raise KeyError(f"{role} has no statement {sid}")


def connect_arn(suffix: str = "") -> dict[str, Any]:
    return {
        "Fn::Sub": [
            "arn:${AWS::Partition}:connect:${AWS::Region}:${AWS::AccountId}:instance/${InstanceId}" + suffix,
            {"InstanceId": {"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "ConnectInstanceArn"}]}]}},
        ]
    }


def test_the_pre_fix_association_and_monitoring_statements_are_caught() -> None:
    # GIVEN the statements as they were before the reference was checked: contact and agent ARNs, no instance
    template = load_template()
    for role, sid in (
        ("RouterFunctionRole", "AssociateContactWithAllowedAgents"),
        ("SupervisionFunctionRole", "MonitorInstanceContacts"),
    ):
        role_statement(template, role, sid)["Resource"] = [connect_arn("/contact/*"), connect_arn("/agent/*")]
    # WHEN checked THEN both lack the instance resource the reference marks required
    problems = reference_problems(stack_of(template))
    assert any(
        "AssociateContactWithAllowedAgents: connect:AssociateContactWithUser requires the instance" in p
        for p in problems
    )
    assert any("MonitorInstanceContacts: connect:MonitorContact requires the instance" in p for p in problems)


def test_a_resource_the_action_does_not_take_is_caught() -> None:
    # GIVEN DescribeContact also granted on the instance itself
    template = load_template()
    role_statement(template, "RouterFunctionRole", "DescribeInstanceContacts")["Resource"] = [
        connect_arn("/contact/*"),
        connect_arn(),
    ]
    problems = reference_problems(stack_of(template))
    assert any("DescribeInstanceContacts: connect:DescribeContact takes no resource like" in p for p in problems)


def test_an_unsupported_condition_key_is_caught() -> None:
    # GIVEN DescribeContact conditioned on connect:PreferredUserArn, which only association and search support
    template = load_template()
    statement = role_statement(template, "RouterFunctionRole", "DescribeInstanceContacts")
    statement["Condition"] = {"ArnLike": {"connect:PreferredUserArn": f"{INSTANCE}/agent/*"}}
    problems = reference_problems(stack_of(template))
    assert any("does not support the condition key connect:PreferredUserArn" in p for p in problems)
