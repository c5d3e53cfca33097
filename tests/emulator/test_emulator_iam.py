"""The IAM mode: requests authorized against the calling role's policy, as Amazon Connect does, on the resources
and condition keys the Service Authorization Reference lists per action (tools/aws_reference/iam-reference.yaml,
read through aws_reference.iam)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from connect_emulator import ConnectEmulator, Iam, IamPolicyError, IamSwitches
from connect_emulator.iam import authorization_request, evaluate
from tests.emulator.support import CONNECTED_CHAT, INSTANCE_ID, ONE_ATTEMPT, QUEUED_CHAT, SUPPORT_QUEUE
from tests.support.iam_conditions import AGENT, KEY, MISSING_KEY_CASES, SWITCHED, MissingKeyCase, statement
from tests.support.iam_reference import action_reference, patterns_meet, resource_format

INSTANCE = f"arn:aws:connect:eu-west-2:123456789012:instance/{INSTANCE_ID}"
DANA = "33333333-0000-4000-8000-000000000001"
DANA_ARN = f"{INSTANCE}/agent/{DANA}"
LEAD = "33333333-0000-4000-8000-000000000008"

ASSOCIATE = {
    "Effect": "Allow",
    "Action": "connect:AssociateContactWithUser",
    "Resource": [INSTANCE, f"{INSTANCE}/contact/*", f"{INSTANCE}/agent/*"],
    "Condition": {"ArnLike": {"connect:PreferredUserArn": f"{INSTANCE}/agent/*"}},
}
MONITOR = {
    "Effect": "Allow",
    "Action": "connect:MonitorContact",
    "Resource": [INSTANCE, f"{INSTANCE}/contact/*", f"{INSTANCE}/agent/*"],
    "Condition": {"ForAllValues:StringEquals": {"connect:MonitorCapabilities": ["SILENT_MONITOR"]}},
}


def role_client(emulator: ConnectEmulator, *statements: dict[str, Any], switches: IamSwitches | None = None) -> Any:
    emulator.use_iam(Iam({"Router": list(statements)}, switches))
    return emulator.client(role="Router", config=ONE_ATTEMPT)


def denied(call: Any) -> ClientError:
    with pytest.raises(ClientError) as err:
        call()
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return err.value


def test_an_action_no_statement_allows_is_denied_naming_action_and_resource(emulator: ConnectEmulator) -> None:
    client = role_client(emulator, ASSOCIATE)
    error = denied(lambda: client.describe_contact(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT))
    message = error.response["Error"]["Message"]
    assert "not authorized to perform: connect:DescribeContact" in message
    assert f"on resource: {INSTANCE}/contact/{QUEUED_CHAT}" in message
    assert emulator.calls[-1].error_code == "AccessDeniedException"


def test_association_by_arn_within_the_pattern_is_allowed(emulator: ConnectEmulator) -> None:
    client = role_client(emulator, ASSOCIATE)
    client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA_ARN)
    assert [a.user_id for a in emulator.associations] == [DANA]


def test_association_outside_the_pattern_is_denied(emulator: ConnectEmulator) -> None:
    narrow = {**ASSOCIATE, "Condition": {"ArnLike": {"connect:PreferredUserArn": f"{INSTANCE}/agent/9*"}}}
    client = role_client(emulator, narrow)
    denied(lambda: client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA_ARN))
    assert emulator.associations == []


@pytest.mark.parametrize(("from_id", "allowed"), [(False, False), (True, True)])
def test_a_plain_user_id_depends_on_the_undocumented_switch(
    emulator: ConnectEmulator, from_id: bool, allowed: bool
) -> None:
    # GIVEN the association statement conditioned with ArnLike on connect:PreferredUserArn, and a plain user id
    client = role_client(emulator, ASSOCIATE, switches=IamSwitches(preferred_user_arn_from_id=from_id))

    def associate() -> None:
        client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA)

    # THEN absent key (switch off): the ArnLike condition fails; filled from the id (switch on): allowed
    if allowed:
        associate()
    else:
        denied(associate)


def test_every_required_resource_must_be_allowed(emulator: ConnectEmulator) -> None:
    # GIVEN the association statement without the instance, which the reference marks required
    pre_fix = {**ASSOCIATE, "Resource": [f"{INSTANCE}/contact/*", f"{INSTANCE}/agent/*"]}
    client = role_client(emulator, pre_fix)
    error = denied(
        lambda: client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA_ARN)
    )
    assert error.response["Error"]["Message"].endswith(
        "because no identity-based policy allows the connect:AssociateContactWithUser action"
    )
    assert f"on resource: {INSTANCE} " in error.response["Error"]["Message"]


def test_monitor_capabilities_are_held_to_the_condition(emulator: ConnectEmulator) -> None:
    client = role_client(emulator, MONITOR)
    ok = client.monitor_contact(
        InstanceId=INSTANCE_ID, ContactId=CONNECTED_CHAT, UserId=LEAD, AllowedMonitorCapabilities=["SILENT_MONITOR"]
    )
    assert ok["ContactId"]
    denied(
        lambda: client.monitor_contact(
            InstanceId=INSTANCE_ID,
            ContactId=CONNECTED_CHAT,
            UserId=LEAD,
            AllowedMonitorCapabilities=["SILENT_MONITOR", "BARGE"],
        )
    )


def test_an_explicit_deny_wins(emulator: ConnectEmulator) -> None:
    deny = {"Effect": "Deny", "Action": "connect:*", "Resource": f"{INSTANCE}/contact/{QUEUED_CHAT}"}
    client = role_client(emulator, ASSOCIATE, deny)
    denied(lambda: client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA_ARN))


def test_get_current_user_data_is_authorized_on_each_filtered_resource(emulator: ConnectEmulator) -> None:
    agents_only = {"Effect": "Allow", "Action": "connect:GetCurrentUserData", "Resource": f"{INSTANCE}/agent/*"}
    client = role_client(emulator, agents_only)
    assert client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Agents": [DANA]})["UserDataList"]
    denied(lambda: client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Queues": [SUPPORT_QUEUE]}))


def test_callers_that_name_no_role_and_the_mode_off_are_not_evaluated(emulator: ConnectEmulator) -> None:
    emulator.use_iam(Iam({"Router": [ASSOCIATE]}))
    emulator.client(config=ONE_ATTEMPT).describe_contact(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)
    emulator.use_iam(None)
    emulator.client(role="Router", config=ONE_ATTEMPT).describe_contact(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "connect:DescribeContact", "Resource": "*", "Condition": {"DateGreaterThan": {}}},
        {"Effect": "Allow", "Action": "connect:DescribeContact", "Resource": "*", "Principal": "*"},
        {"Effect": "Allow", "Action": "connect:DescribeContact", "NotAction": "connect:X", "Resource": "*"},
        {"Effect": "Allow", "Action": "connect:DescribeContact", "Resource": {"Ref": "Unresolved"}},
    ],
)
def test_a_policy_the_mode_cannot_evaluate_is_refused_when_loaded(statement: dict[str, Any]) -> None:
    with pytest.raises(IamPolicyError):
        Iam({"Router": [statement]})


# ------------------------------------------------------------- the one evaluator: condition keys missing
@pytest.mark.parametrize("case", MISSING_KEY_CASES, ids=lambda c: f"{c.operator}={c.policy_value[:5]}")
def test_a_condition_on_a_missing_key_is_decided_as_iam_documents(case: MissingKeyCase) -> None:
    # GIVEN an Allow whose one condition names a key the request does not carry
    allow = statement(case.operator, case.policy_value)
    # WHEN it is evaluated (the emulator's IAM mode and preflight's local simulator both call evaluate)
    decision = evaluate([allow], "connect:AssociateContactWithUser", AGENT, {})
    # THEN the condition holds exactly where the IAM User Guide (or the named switch's default) says it does
    assert decision == ("allowed" if case.holds else "implicitDeny"), case.source
    # AND with the key present and matching, every operator but Null=true allows
    present = evaluate([allow], "connect:AssociateContactWithUser", AGENT, {KEY: (AGENT,)})
    negated = "Not" in case.operator or (case.operator == "Null" and case.policy_value == "true")
    assert present == ("implicitDeny" if negated else "allowed")


@pytest.mark.parametrize("operator", sorted(SWITCHED))
def test_for_any_value_on_a_missing_key_follows_its_switch(operator: str) -> None:
    allow = statement(operator, AGENT)
    on = IamSwitches(for_any_value_missing_key_holds=True)
    assert evaluate([allow], "connect:AssociateContactWithUser", AGENT, {}) == "implicitDeny"
    assert evaluate([allow], "connect:AssociateContactWithUser", AGENT, {}, on) == "allowed"


def test_condition_key_names_are_not_case_sensitive_and_not_action_and_not_resource_are_evaluated() -> None:
    allow = statement("ArnLike", AGENT)
    assert evaluate([allow], "connect:AssociateContactWithUser", AGENT, {KEY.upper(): (AGENT,)}) == "allowed"
    not_action = {"Effect": "Allow", "NotAction": "connect:Associate*", "Resource": "*"}
    assert evaluate([not_action], "connect:DescribeContact", AGENT, {}) == "allowed"
    assert evaluate([not_action], "connect:AssociateContactWithUser", AGENT, {}) == "implicitDeny"
    deny_others = {"Effect": "Deny", "Action": "connect:*", "NotResource": f"{INSTANCE}/*"}
    wide = {"Effect": "Allow", "Action": "connect:*", "Resource": "*"}
    assert evaluate([wide, deny_others], "connect:DescribeContact", f"{INSTANCE}/contact/c", {}) == "allowed"
    assert evaluate([wide, deny_others], "connect:DescribeContact", "arn:aws:connect:x:1:instance/y", {}) == (
        "explicitDeny"
    )


def test_the_iam_mode_allows_a_request_without_the_key_under_a_negated_operator(emulator: ConnectEmulator) -> None:
    # GIVEN a role that may associate with any agent except one, by a negated condition on PreferredUserArn
    not_lead = {**ASSOCIATE, "Condition": {"ArnNotLike": {"connect:PreferredUserArn": f"{INSTANCE}/agent/{LEAD}"}}}
    client = role_client(emulator, not_lead)
    # THEN a plain user id (no PreferredUserArn in the request, switch off) is allowed: the negated operator holds
    client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA)


# ---------------------------------------------------------------- agrees with the reference table

SAMPLE_PARAMS: dict[str, dict[str, Any]] = {
    "DescribeContact": {"InstanceId": INSTANCE_ID, "ContactId": "c-1"},
    "UpdateContactRoutingData": {"InstanceId": INSTANCE_ID, "ContactId": "c-1"},
    "DescribeUser": {"InstanceId": INSTANCE_ID, "UserId": DANA},
    "SearchUsers": {"InstanceId": INSTANCE_ID},
    "SearchContacts": {"InstanceId": INSTANCE_ID},
    "AssociateContactWithUser": {"InstanceId": INSTANCE_ID, "ContactId": "c-1", "UserId": DANA},
    "MonitorContact": {"InstanceId": INSTANCE_ID, "ContactId": "c-1", "UserId": DANA},
    "GetContactAttributes": {"InstanceId": INSTANCE_ID, "InitialContactId": "c-1"},
    "DescribeInstance": {"InstanceId": INSTANCE_ID},
    "DescribeQueue": {"InstanceId": INSTANCE_ID, "QueueId": SUPPORT_QUEUE},
    "DismissUserContact": {"InstanceId": INSTANCE_ID, "UserId": DANA, "ContactId": "c-1"},
    "TransferContact": {
        "InstanceId": INSTANCE_ID,
        "ContactId": "c-1",
        "QueueId": SUPPORT_QUEUE,
        "ContactFlowId": "f-1",
    },
    "ListRoutingProfileQueues": {"InstanceId": INSTANCE_ID, "RoutingProfileId": "rp-1"},
}


@pytest.mark.parametrize("operation", sorted(SAMPLE_PARAMS))
def test_each_operation_is_authorized_on_the_required_resource_types_of_the_reference(operation: str) -> None:
    request = authorization_request(operation, SAMPLE_PARAMS[operation], INSTANCE)
    reference = action_reference(f"connect:{operation}")
    assert request is not None
    assert reference is not None
    # one resource per required type, each an ARN of that type, and only keys the action supports
    assert len(request.resources) == len(reference.required)
    for resource_type in reference.required:
        assert any(patterns_meet(r, resource_format("connect", resource_type)) for r in request.resources)
    assert set(request.context) <= set(reference.condition_keys)


def test_get_current_user_data_resources_are_of_its_reference_types() -> None:
    filters = {"Agents": [DANA], "Queues": ["q"], "RoutingProfiles": ["rp"], "UserHierarchyGroups": ["g"]}
    request = authorization_request("GetCurrentUserData", {"InstanceId": INSTANCE_ID, "Filters": filters}, INSTANCE)
    reference = action_reference("connect:GetCurrentUserData")
    assert request is not None
    assert reference is not None
    for resource_type in reference.required:
        assert any(patterns_meet(r, resource_format("connect", resource_type)) for r in request.resources)


def test_every_operation_the_emulator_implements_has_an_authorization_model(emulator: ConnectEmulator) -> None:
    for operation in emulator.implemented_operations:
        params = SAMPLE_PARAMS.get(operation, {"InstanceId": INSTANCE_ID})
        assert authorization_request(operation, params, INSTANCE) is not None, operation
