"""The emulator's IAM mode through the real handlers: each function's Connect requests are authorized against
its role in template.yaml, so a policy Connect would deny fails here as it would in production (the contact
dead-lettered with ``access_denied``) instead of passing against an emulator that allows everything."""

from __future__ import annotations

from typing import Any

import pytest

from connect_emulator import Iam, IamSwitches
from contact_router.handlers import supervision as supervision_handler
from contact_router_cli.roles import function_role_policies
from tests.integration.conftest import DEPLOYMENT, Harness, LambdaContext, event
from tests.support.cfn import load_template

DANA = "33333333-0000-4000-8000-000000000001"
CHAT_BY_ATTRIBUTE = "queued-chat-attribute.json"
NEW_HIRE = "connected-to-agent-new-hire-chat.json"


def role_statement(template: dict[str, Any], role: str, sid: str) -> dict[str, Any]:
    for statement in template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
        candidate = statement["Fn::If"][1] if "Fn::If" in statement else statement
        if candidate.get("Sid") == sid:
            found: dict[str, Any] = candidate
            return found
    raise KeyError(f"{role} has no statement {sid}")


def connect_arn(suffix: str) -> dict[str, Any]:
    return {
        "Fn::Sub": [
            "arn:${AWS::Partition}:connect:${AWS::Region}:${AWS::AccountId}:instance/${InstanceId}" + suffix,
            {"InstanceId": {"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "ConnectInstanceArn"}]}]}},
        ]
    }


def pre_fix_template() -> dict[str, Any]:
    """template.yaml with the association and monitoring statements as they were before the Service
    Authorization Reference was checked: contact and agent ARNs, not the instance."""
    template = load_template()
    for role, sid in (
        ("RouterFunctionRole", "AssociateContactWithAllowedAgents"),
        ("SupervisionFunctionRole", "MonitorInstanceContacts"),
    ):
        role_statement(template, role, sid)["Resource"] = [connect_arn("/contact/*"), connect_arn("/agent/*")]
    return template


def use_roles(harness: Harness, template: dict[str, Any] | None = None, switches: IamSwitches | None = None) -> None:
    roles = function_role_policies(harness.emulator.instance_arn, DEPLOYMENT, template=template)
    harness.emulator.use_iam(Iam(roles, switches))


def new_chat_for(harness: Harness, preferred: str) -> dict[str, Any]:
    contact = harness.emulator.add_contact(
        channel="CHAT", state="QUEUED", queue="Support", attributes={"preferredAgent": preferred}
    )
    body = event(CHAT_BY_ATTRIBUTE)
    body["detail"]["contactId"] = contact.id
    return body


def test_the_pre_fix_policy_is_denied_association_and_the_contact_is_dead_lettered(harness: Harness) -> None:
    # GIVEN the router's role as it was before the fix (no instance resource for AssociateContactWithUser)
    use_roles(harness, pre_fix_template())
    # WHEN a routable chat is processed
    assert harness.invoke([harness.record(new_chat_for(harness, DANA))]) == {"batchItemFailures": []}
    # THEN Connect (emulated) answers AccessDeniedException: nothing associated, the contact dead-lettered
    (denied,) = [c for c in harness.emulator.calls if c.operation == "AssociateContactWithUser"]
    assert (denied.status, denied.error_code) == (403, "AccessDeniedException")
    assert harness.emulator.associations == []
    assert [letter["reason"] for letter in harness.dead_letters()] == ["access_denied"]


def test_the_fixed_policy_associates(harness: Harness) -> None:
    # GIVEN the harness's roles: template.yaml as it is
    # WHEN the same chat is processed  THEN it is associated, nothing dead-lettered
    assert harness.invoke([harness.record(new_chat_for(harness, DANA))]) == {"batchItemFailures": []}
    assert [a.user_id for a in harness.emulator.associations] == [DANA]
    assert harness.dead_letters() == []


def test_the_pre_fix_policy_is_denied_monitoring(harness: Harness) -> None:
    # GIVEN the supervision role as it was before the fix (no instance resource for MonitorContact)
    use_roles(harness, pre_fix_template())
    app = harness.supervision_app()
    # WHEN a supervised contact connects  THEN MonitorContact is denied and the event dead-lettered
    supervision_handler.lambda_handler({"Records": [harness.record(event(NEW_HIRE))]}, LambdaContext(), app=app)
    assert {c.error_code for c in harness.emulator.calls if c.operation == "MonitorContact"} == {
        "AccessDeniedException"
    }
    assert harness.emulator.monitoring_sessions == []
    assert [letter["reason"] for letter in harness.dead_letters()] == ["access_denied"]


def test_the_fixed_policy_monitors(harness: Harness) -> None:
    app = harness.supervision_app()
    supervision_handler.lambda_handler({"Records": [harness.record(event(NEW_HIRE))]}, LambdaContext(), app=app)
    assert len(harness.emulator.monitoring_sessions) == 1
    assert harness.dead_letters() == []


@pytest.mark.parametrize("from_id", [False, True], ids=["key-absent-for-an-id", "key-filled-from-an-id"])
def test_association_passes_whether_or_not_connect_fills_the_key_from_a_plain_id(
    harness: Harness, from_id: bool
) -> None:
    # GIVEN either answer to the undocumented question (is connect:PreferredUserArn filled from a plain id?)
    use_roles(harness, switches=IamSwitches(preferred_user_arn_from_id=from_id))
    # WHEN the router associates  THEN it is allowed either way: it names the user by ARN
    assert harness.invoke([harness.record(new_chat_for(harness, DANA))]) == {"batchItemFailures": []}
    assert [a.user_id for a in harness.emulator.associations] == [DANA]
    (call,) = [c for c in harness.emulator.calls if c.operation == "AssociateContactWithUser"]
    assert call.params["UserId"] == harness.emulator.user_arn(DANA)
