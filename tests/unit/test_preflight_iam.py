"""preflight's IAM port: the production call's request and answer (botocore's IAM model, no network), and the
local evaluator the integration tests use in its place."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from connect_emulator.iam import IamSwitches, evaluate
from contact_router_cli.preflight import ContextEntry, IamPolicySimulator, simulation_from_api
from tests.support.iam_conditions import AGENT as CASE_AGENT
from tests.support.iam_conditions import MISSING_KEY_CASES, SWITCHED, MissingKeyCase, statement
from tests.support.iam_policy import LocalPolicySimulator

ROLE = "arn:aws:iam::123456789012:role/contact-router-RouterFunctionRole-X"
INSTANCE = "arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555"
AGENT = f"{INSTANCE}/agent/33333333-0000-4000-8000-000000000001"


def test_the_real_call_is_a_valid_request_and_its_pages_are_read() -> None:
    # GIVEN IAM answering SimulatePrincipalPolicy in two pages, the second with the decision
    iam = boto3.client("iam", region_name="us-east-1")
    stubber = Stubber(iam)  # validates each request against botocore's IAM model
    request = {
        "PolicySourceArn": ROLE,
        "ActionNames": ["connect:AssociateContactWithUser"],
        "ResourceArns": [AGENT],
        "ContextEntries": [
            {"ContextKeyName": "connect:PreferredUserArn", "ContextKeyValues": [AGENT], "ContextKeyType": "string"},
            {
                "ContextKeyName": "connect:MonitorCapabilities",
                "ContextKeyValues": ["SILENT_MONITOR", "BARGE"],
                "ContextKeyType": "stringList",
            },
        ],
    }
    stubber.add_response(
        "simulate_principal_policy", {"EvaluationResults": [], "IsTruncated": True, "Marker": "m"}, request
    )
    stubber.add_response(
        "simulate_principal_policy",
        {
            "EvaluationResults": [
                {
                    "EvalActionName": "connect:AssociateContactWithUser",
                    "EvalResourceName": AGENT,
                    "EvalDecision": "implicitDeny",
                    "MissingContextValues": ["connect:PreferredUserArn"],
                }
            ],
            "IsTruncated": False,
        },
        {**request, "Marker": "m"},
    )
    # WHEN the production simulator asks
    with stubber:
        result = IamPolicySimulator(iam).simulate(
            ROLE,
            "connect:AssociateContactWithUser",
            AGENT,
            [
                ContextEntry("connect:PreferredUserArn", (AGENT,)),
                ContextEntry("connect:MonitorCapabilities", ("SILENT_MONITOR", "BARGE"), "stringList"),
            ],
        )
    # THEN it reads the decision and the missing context key of that resource
    assert (result.decision, result.missing_context, result.allowed) == (
        "implicitDeny",
        ("connect:PreferredUserArn",),
        False,
    )


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"EvalDecision": "allowed"}, ("allowed", "")),
        (
            {
                "EvalDecision": "implicitDeny",
                "PermissionsBoundaryDecisionDetail": {"AllowedByPermissionsBoundary": False},
            },
            ("implicitDeny", "permissions boundary"),
        ),
        (
            {"EvalDecision": "explicitDeny", "OrganizationsDecisionDetail": {"AllowedByOrganizations": False}},
            ("explicitDeny", "organization SCP"),
        ),
        (
            {
                "EvalDecision": "implicitDeny",
                "ResourceSpecificResults": [{"EvalResourceName": AGENT, "EvalResourceDecision": "allowed"}],
            },
            ("allowed", ""),
        ),
    ],
    ids=["allowed", "boundary", "scp", "per-resource"],
)
def test_each_answer_names_who_denied(result: dict[str, Any], expected: tuple[str, str]) -> None:
    simulation = simulation_from_api(AGENT, [{"EvalActionName": "connect:X", **result}])
    assert (simulation.decision, simulation.denied_by) == expected


class _Iam:
    """Just enough of IAM for the evaluator: one role with one inline policy."""

    def __init__(self, statements: list[dict[str, Any]]) -> None:
        self.document = {"Version": "2012-10-17", "Statement": statements}

    def list_role_policies(self, RoleName: str) -> dict[str, Any]:
        return {"PolicyNames": ["p"]}

    def get_role_policy(self, RoleName: str, PolicyName: str) -> dict[str, Any]:
        return {"PolicyDocument": repr(self.document)}  # as moto hands back CloudFormation-made policies

    def list_attached_role_policies(self, RoleName: str) -> dict[str, Any]:
        return {"AttachedPolicies": []}


def _allowed(statement: dict[str, Any], resource: str, *context: ContextEntry) -> bool:
    base = {"Effect": "Allow", "Action": "connect:AssociateContactWithUser", "Resource": f"{INSTANCE}/*"}
    return LocalPolicySimulator(_Iam([{**base, **statement}])).simulate(ROLE, base["Action"], resource, context).allowed


def test_arn_like_matches_each_part_of_the_arn_on_its_own() -> None:
    condition = {"Condition": {"ArnLike": {"connect:PreferredUserArn": "arn:aws:connect:*:123456789012:instance/*"}}}
    assert _allowed(condition, AGENT, ContextEntry("connect:PreferredUserArn", (AGENT,)))
    # a * never spans a colon: the account part must still be 123456789012
    other_account = AGENT.replace("123456789012", "999999999999")
    assert not _allowed(condition, AGENT, ContextEntry("connect:PreferredUserArn", (other_account,)))
    # a condition key missing from the request fails the condition
    assert not _allowed(condition, AGENT)


def test_for_all_values_holds_for_a_subset_and_an_absent_key() -> None:
    condition = {"Condition": {"ForAllValues:StringEquals": {"connect:MonitorCapabilities": ["SILENT_MONITOR"]}}}
    silent = ContextEntry("connect:MonitorCapabilities", ("SILENT_MONITOR",), "stringList")
    barge = ContextEntry("connect:MonitorCapabilities", ("SILENT_MONITOR", "BARGE"), "stringList")
    assert _allowed(condition, AGENT, silent)
    assert not _allowed(condition, AGENT, barge)
    assert _allowed(condition, AGENT)


def test_an_explicit_deny_wins_and_unknown_operators_are_refused() -> None:
    deny = {"Effect": "Deny", "Action": "connect:*", "Resource": "*"}
    iam = _Iam([{"Effect": "Allow", "Action": "connect:*", "Resource": "*"}, deny])
    assert LocalPolicySimulator(iam).simulate(ROLE, "connect:DescribeContact", AGENT, []).decision == "explicitDeny"
    with pytest.raises(ValueError, match="NumericLessThan"):
        _allowed({"Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}, AGENT)


@pytest.mark.parametrize("case", MISSING_KEY_CASES, ids=lambda c: f"{c.operator}={c.policy_value[:5]}")
def test_the_local_simulator_decides_a_missing_key_as_the_emulator_does(case: MissingKeyCase) -> None:
    # GIVEN a role whose one Allow has a condition on a key the simulated request does not carry
    iam = _Iam([statement(case.operator, case.policy_value)])
    # WHEN preflight's local simulator decides it, with the default switches and with the open case switched
    default = LocalPolicySimulator(iam).simulate(ROLE, "connect:AssociateContactWithUser", CASE_AGENT, [])
    switched = LocalPolicySimulator(iam, IamSwitches(for_any_value_missing_key_holds=True)).simulate(
        ROLE, "connect:AssociateContactWithUser", CASE_AGENT, []
    )
    # THEN it gives the documented answer, the same as the emulator's IAM mode (one evaluator)
    assert default.allowed is case.holds, case.source
    assert switched.allowed is (case.holds or case.operator in SWITCHED)
    assert default.decision == evaluate([statement(case.operator, case.policy_value)], *ASK, {})


ASK = ("connect:AssociateContactWithUser", CASE_AGENT)
