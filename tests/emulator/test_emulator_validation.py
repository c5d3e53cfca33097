"""Invalid requests are rejected as the service would, with the modeled error code and HTTP status."""

from __future__ import annotations

from typing import Any

import pytest

from connect_emulator import ConnectEmulator, HttpRequest, World, WorldError
from tests.emulator.support import (
    CONNECTED_CHAT,
    DANA,
    DISCONNECTED_CHAT,
    INSTANCE_ID,
    ONE_ATTEMPT,
    QUEUED_CHAT,
    QUEUED_EMAIL,
    QUEUED_VOICE,
    SAM,
    SUPPORT_QUEUE,
    client_error,
    sample_world_dict,
)

OTHER_INSTANCE = "99999999-2222-4333-8444-555555555555"


# ------------------------------------------------------------------------------ model constraints


def test_contact_id_longer_than_256_is_an_invalid_parameter(client: Any) -> None:
    # GIVEN a ContactId of 257 characters (botocore checks only minimum lengths, so it is sent)
    # WHEN the contact is described
    code, status, message = client_error(client.describe_contact, InstanceId=INSTANCE_ID, ContactId="c" * 257)

    # THEN the service-style validation error names the member and the constraint
    assert (code, status) == ("InvalidParameterException", 400)
    assert "'contactId'" in message
    assert "length less than or equal to 256" in message


def test_instance_id_longer_than_100_is_an_invalid_parameter(client: Any) -> None:
    # GIVEN an InstanceId of 101 characters
    code, status, message = client_error(client.describe_user, InstanceId="i" * 101, UserId=DANA)

    # THEN it is rejected before any lookup
    assert (code, status) == ("InvalidParameterException", 400)
    assert "'instanceId'" in message


def test_more_than_100_agents_is_an_invalid_parameter(client: Any) -> None:
    # GIVEN 101 agent ids in one filter
    agents = [f"{n:08d}-0000-4000-8000-000000000000" for n in range(101)]

    # WHEN user data is requested
    code, status, message = client_error(
        client.get_current_user_data, InstanceId=INSTANCE_ID, Filters={"Agents": agents}
    )

    # THEN the list size is rejected, naming the nested member
    assert (code, status) == ("InvalidParameterException", 400)
    assert "'filters.agents'" in message
    assert "length less than or equal to 100" in message


def test_bad_contact_state_enum_is_an_invalid_parameter(client: Any) -> None:
    # GIVEN a contact filter with a state that is not in the model's enum
    filters = {"Agents": [DANA], "ContactFilter": {"ContactStates": ["CONNECTED", "BUSY"]}}

    # WHEN user data is requested
    code, status, message = client_error(client.get_current_user_data, InstanceId=INSTANCE_ID, Filters=filters)

    # THEN the enum is enforced (botocore does not check it)
    assert (code, status) == ("InvalidParameterException", 400)
    assert "'BUSY'" in message
    assert "enum value set" in message


def test_bad_comparison_type_is_an_invalid_parameter(client: Any) -> None:
    # GIVEN a search with an unknown ComparisonType
    criteria = {"StringCondition": {"FieldName": "Username", "Value": "dana", "ComparisonType": "LIKE"}}

    # WHEN users are searched
    code, status, message = client_error(client.search_users, InstanceId=INSTANCE_ID, SearchCriteria=criteria)

    # THEN the enum is enforced on the nested member
    assert (code, status) == ("InvalidParameterException", 400)
    assert "'searchCriteria.stringCondition.comparisonType'" in message


def test_max_results_above_maximum_is_an_invalid_parameter(client: Any) -> None:
    # GIVEN MaxResults 101 where the model allows 1-100
    code, status, message = client_error(
        client.get_current_user_data, InstanceId=INSTANCE_ID, Filters={"Agents": [DANA]}, MaxResults=101
    )

    # THEN it is rejected
    assert (code, status) == ("InvalidParameterException", 400)
    assert "value less than or equal to 100" in message


def test_several_violations_are_reported_together(emulator: ConnectEmulator) -> None:
    # GIVEN a raw request breaking two constraints at once
    body = b'{"Filters": {"Agents": []}, "MaxResults": 0}'

    # WHEN it is sent
    response = emulator.handle(HttpRequest("POST", f"/metrics/userdata/{INSTANCE_ID}", body=body))

    # THEN both are listed in one message
    assert response.status == 400
    assert response.json()["Message"].startswith("2 validation errors detected: ")


def test_missing_required_member_is_rejected(emulator: ConnectEmulator) -> None:
    # GIVEN a raw request without the required Filters (botocore would refuse to send it)
    response = emulator.handle(HttpRequest("POST", f"/metrics/userdata/{INSTANCE_ID}", body=b"{}"))

    # THEN the service answers with a validation error naming it
    assert response.status == 400
    assert response.headers["x-amzn-ErrorType"] == "InvalidParameterException"
    assert "'filters'" in response.json()["Message"]
    assert "must not be null" in response.json()["Message"]


def test_malformed_json_and_wrong_types_are_serialization_errors(emulator: ConnectEmulator) -> None:
    # GIVEN a body that is not JSON, and one whose MaxResults is a string
    path = f"/metrics/userdata/{INSTANCE_ID}"
    broken = emulator.handle(HttpRequest("POST", path, body=b"{not json"))
    typed = emulator.handle(HttpRequest("POST", path, body=b'{"Filters": {"Agents": ["a"]}, "MaxResults": "5"}'))

    # THEN both are SerializationException 400, as AWS JSON services answer
    assert (broken.status, broken.json()["__type"]) == (400, "SerializationException")
    assert (typed.status, typed.json()["__type"]) == (400, "SerializationException")


def test_unknown_body_members_are_ignored(emulator: ConnectEmulator) -> None:
    # GIVEN a request with a member the model does not have (a newer client, say)
    body = b'{"Filters": {"Agents": ["%s"], "Future": 1}, "Extra": true}' % DANA.encode()

    # WHEN it is sent
    response = emulator.handle(HttpRequest("POST", f"/metrics/userdata/{INSTANCE_ID}", body=body))

    # THEN it is accepted
    assert response.status == 200


# ------------------------------------------------------------------------------ semantic checks


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param({"Agents": [DANA], "Queues": [SUPPORT_QUEUE]}, id="two filters"),
        pytest.param({"ContactFilter": {"ContactStates": ["CONNECTED"]}}, id="no user filter"),
    ],
)
def test_user_data_needs_exactly_one_filter(client: Any, filters: dict[str, Any]) -> None:
    # GIVEN filters with two user filters, or none
    code, status, message = client_error(client.get_current_user_data, InstanceId=INSTANCE_ID, Filters=filters)

    # THEN the request is invalid
    assert (code, status) == ("InvalidRequestException", 400)
    assert "exactly one of" in message


def test_bad_next_token_is_rejected(client: Any) -> None:
    code, status, _ = client_error(client.search_users, InstanceId=INSTANCE_ID, NextToken="not-a-token")
    assert (code, status) == ("InvalidParameterException", 400)


# ------------------------------------------------------------------------------ not found


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("describe_contact", {"ContactId": QUEUED_CHAT}),
        ("describe_user", {"UserId": DANA}),
        ("search_users", {}),
        ("get_current_user_data", {"Filters": {"Agents": [DANA]}}),
        ("associate_contact_with_user", {"ContactId": QUEUED_CHAT, "UserId": DANA}),
    ],
)
def test_unknown_instance_is_not_found(client: Any, operation: str, params: dict[str, Any]) -> None:
    # GIVEN another instance's id
    # WHEN any operation is called on it
    code, status, _ = client_error(getattr(client, operation), InstanceId=OTHER_INSTANCE, **params)

    # THEN the instance is not found
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_instance_arn_is_not_accepted_as_instance_id(client: Any, emulator: ConnectEmulator) -> None:
    # GIVEN the instance ARN where the model documents the instance id
    code, status, _ = client_error(client.describe_contact, InstanceId=emulator.instance_arn, ContactId=QUEUED_CHAT)

    # THEN it is not found (the emulator is strict where AWS is unverified)
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_unknown_contact_is_not_found(client: Any) -> None:
    code, status, message = client_error(client.describe_contact, InstanceId=INSTANCE_ID, ContactId="nope")
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert "nope" in message


@pytest.mark.parametrize("user_ref", ["33333333-0000-4000-8000-999999999999", "dana"], ids=["unknown id", "username"])
def test_unknown_user_is_not_found(client: Any, user_ref: str) -> None:
    # GIVEN a user id that does not exist, or a username (DescribeUser takes ids)
    code, status, _ = client_error(client.describe_user, InstanceId=INSTANCE_ID, UserId=user_ref)
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_associate_with_unknown_user_or_contact_is_not_found(client: Any) -> None:
    code, status, _ = client_error(
        client.associate_contact_with_user, InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId="nobody"
    )
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, status, _ = client_error(
        client.associate_contact_with_user, InstanceId=INSTANCE_ID, ContactId="nope", UserId=DANA
    )
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_user_arn_of_another_instance_is_not_found(client: Any) -> None:
    arn = f"arn:aws:connect:eu-west-2:123456789012:instance/{OTHER_INSTANCE}/agent/{DANA}"
    code, status, _ = client_error(
        client.associate_contact_with_user, InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=arn
    )
    assert (code, status) == ("ResourceNotFoundException", 404)


# ------------------------------------------------------------------------------ association rules


@pytest.mark.parametrize("contact_id", [CONNECTED_CHAT, DISCONNECTED_CHAT], ids=["connected", "disconnected"])
def test_associate_a_contact_that_is_not_waiting_is_invalid(
    client: Any, emulator: ConnectEmulator, contact_id: str
) -> None:
    # GIVEN a contact that an agent took, or whose customer left
    before = emulator.contact(contact_id)

    # WHEN it is associated with dana
    code, status, message = client_error(
        client.associate_contact_with_user, InstanceId=INSTANCE_ID, ContactId=contact_id, UserId=DANA
    )

    # THEN the request is invalid and nothing changes
    assert (code, status) == ("InvalidRequestException", 400)
    assert "not waiting" in message
    assert emulator.contact(contact_id) == before
    assert emulator.associations == []


def test_associate_twice_is_invalid(client: Any, emulator: ConnectEmulator) -> None:
    # GIVEN a chat already associated with dana
    client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_EMAIL, UserId=DANA)

    # WHEN it is associated again, with sam
    code, status, _ = client_error(
        client.associate_contact_with_user, InstanceId=INSTANCE_ID, ContactId=QUEUED_EMAIL, UserId=SAM
    )

    # THEN the second call is refused and dana keeps it
    assert (code, status) == ("InvalidRequestException", 400)
    assert emulator.contact(QUEUED_EMAIL).agent_id == DANA
    assert len(emulator.associations) == 1


def test_associate_voice_is_invalid_by_default(client: Any) -> None:
    # GIVEN a queued voice call and an instance without voice association
    code, status, message = client_error(
        client.associate_contact_with_user, InstanceId=INSTANCE_ID, ContactId=QUEUED_VOICE, UserId=DANA
    )

    # THEN it is refused with an explanation
    assert (code, status) == ("InvalidRequestException", 400)
    assert "VOICE" in message


def test_associate_voice_when_the_world_allows_it() -> None:
    # GIVEN a world with voice_association on
    data = sample_world_dict()
    data["instance"]["voice_association"] = True
    emulator = ConnectEmulator(World.from_dict(data))

    # WHEN a queued voice call is associated
    emulator.client().associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_VOICE, UserId=DANA)

    # THEN it is associated and takes dana's voice slot
    assert emulator.contact(QUEUED_VOICE).state == "ASSOCIATED"
    assert emulator.user("dana").available_slots["VOICE"] == 0


@pytest.mark.parametrize(
    ("shown", "expected"), [(None, "CALLBACK"), ("CALLBACK_CUSTOMER_FIRST_QUEUED", "CALLBACK_CUSTOMER_FIRST_QUEUED")]
)
def test_a_customer_first_callback_is_never_associated_and_shows_as_the_switch_says(
    shown: str | None, expected: str
) -> None:
    # GIVEN voice association on, and two queued voice callbacks: one customer-first, one agent-first (the default)
    data = sample_world_dict()
    data["instance"]["voice_association"] = True
    if shown:
        data["instance"]["customer_first_callback_method"] = shown
    emulator = ConnectEmulator(World.from_dict(data))
    client = emulator.client(config=ONE_ATTEMPT)
    customer_first = emulator.add_contact(
        channel="VOICE", initiation_method="CALLBACK", callback_mode="customer_first", queue="Support"
    ).id
    agent_first = emulator.add_contact(channel="VOICE", initiation_method="CALLBACK", queue="Support").id
    # WHEN both are described and associated
    described = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=customer_first)["Contact"]
    code, status, message = client_error(
        client.associate_contact_with_user, InstanceId=INSTANCE_ID, ContactId=customer_first, UserId=DANA
    )
    client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=agent_first, UserId=DANA)
    # THEN the customer-first one is named as the switch says and refused (newest API reference); the other is not
    assert described["InitiationMethod"] == expected
    assert (code, status) == ("InvalidRequestException", 400)
    assert "customer-first" in message
    assert emulator.contact(agent_first).state == "ASSOCIATED"


def test_callback_mode_is_only_for_voice_callbacks() -> None:
    data = sample_world_dict()
    data["contacts"].append({"id": "c-mode", "channel": "CHAT", "queue": "Support", "callback_mode": "customer_first"})
    with pytest.raises(WorldError, match="callback_mode is only for VOICE contacts with initiation_method CALLBACK"):
        World.from_dict(data)


# ------------------------------------------------------------------------------ unimplemented and unknown


def test_unimplemented_operation_answers_501_not_implemented(client: Any) -> None:
    # GIVEN an operation the model has but the emulator does not implement yet
    # WHEN it is called
    code, status, message = client_error(
        client.describe_agent_status, InstanceId=INSTANCE_ID, AgentStatusId="33333333-0000-4000-8000-00000000beef"
    )

    # THEN the answer cannot be mistaken for a missing resource
    assert (code, status) == ("NotImplementedByEmulator", 501)
    assert "DescribeAgentStatus" in message


def test_unknown_route_is_not_a_connect_operation(emulator: ConnectEmulator) -> None:
    # GIVEN a path no operation of the model has
    response = emulator.handle(HttpRequest("GET", "/no/such/thing"))

    # THEN it is rejected as unknown (and still recorded)
    assert response.status == 400
    assert response.json()["__type"] == "UnknownOperationException"
    assert emulator.call_counts()["<unknown>"] == 1
