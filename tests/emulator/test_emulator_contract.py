"""The emulator cannot drift from botocore's service model: routes, responses and errors are checked
against it."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from connect_emulator import ConnectEmulator, ConnectModel, HttpRequest, HttpResponse
from connect_emulator.transport import attach_hook
from tests.emulator.support import (
    CONNECTED_CHAT,
    DANA,
    DISCONNECTED_CHAT,
    FOLLOW_UP_TASK,
    HANDLED_CHAT,
    INSTANCE_ID,
    LEAD_ONE,
    NEW_HIRES,
    ONE_ATTEMPT,
    QUEUED_CHAT,
    QUEUED_EMAIL,
    QUEUED_TASK,
    QUEUED_VIP_CHAT,
    SAM,
    SUPPORT_QUEUE,
    VIP_VOICE,
)

Exchange = tuple[HttpRequest, HttpResponse]


@pytest.fixture
def recorded(emulator: ConnectEmulator) -> tuple[Any, list[Exchange]]:
    """A real client whose every raw request and response is kept."""
    exchanges: list[Exchange] = []

    def dispatch(request: HttpRequest) -> HttpResponse:
        response = emulator.handle(request)
        exchanges.append((request, response))
        return response

    client = boto3.client("connect", region_name="eu-west-2", config=ONE_ATTEMPT)
    attach_hook(client, dispatch, "recording")
    return client, exchanges


def _exercise(client: Any, emulator: ConnectEmulator) -> None:
    """Every implemented operation, through its interesting states and options."""
    users = [u.id for u in emulator.world.users]
    client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA)
    client.monitor_contact(
        InstanceId=INSTANCE_ID,
        ContactId=VIP_VOICE,
        UserId=LEAD_ONE,
        AllowedMonitorCapabilities=["SILENT_MONITOR", "BARGE"],
        ClientToken="contract",
    )
    preferred = {"ComparisonOperator": "Match", "MatchCriteria": {"AgentsCriteria": {"AgentIds": [SAM]}}}
    client.update_contact_routing_data(
        InstanceId=INSTANCE_ID,
        ContactId=QUEUED_VIP_CHAT,
        QueuePriority=2,
        RoutingCriteria={
            "Steps": [
                {"Expiry": {"DurationInSeconds": 30}, "Expression": {"AttributeCondition": preferred}},
                {"Expression": {"OrExpression": [{"AttributeCondition": preferred}]}},
            ]
        },
    )
    client.transfer_contact(
        InstanceId=INSTANCE_ID, ContactId=QUEUED_TASK, UserId=SAM, ContactFlowId="transfer-to-agent-flow"
    )
    client.dismiss_user_contact(InstanceId=INSTANCE_ID, UserId=SAM, ContactId=HANDLED_CHAT)
    for contact in emulator.contacts():
        client.describe_contact(InstanceId=INSTANCE_ID, ContactId=contact.id)
        client.get_contact_attributes(InstanceId=INSTANCE_ID, InitialContactId=contact.id)
    for user_id in users:
        client.describe_user(InstanceId=INSTANCE_ID, UserId=user_id)
    client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Agents": users})
    client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Queues": [SUPPORT_QUEUE]}, MaxResults=1)
    client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"UserHierarchyGroups": [NEW_HIRES]})
    client.search_users(InstanceId=INSTANCE_ID)
    client.describe_instance(InstanceId=INSTANCE_ID)
    client.describe_queue(InstanceId=INSTANCE_ID, QueueId=SUPPORT_QUEUE)
    for profile in emulator.world.routing_profiles:
        client.list_routing_profile_queues(InstanceId=INSTANCE_ID, RoutingProfileId=profile.id, MaxResults=2)
    client.search_contacts(
        InstanceId=INSTANCE_ID,
        TimeRange={"Type": "INITIATION_TIMESTAMP", "StartTime": 0, "EndTime": emulator.now()},
        SearchCriteria={"QueueIds": [SUPPORT_QUEUE], "Channels": ["CHAT", "TASK", "EMAIL"]},
    )
    client.search_users(
        InstanceId=INSTANCE_ID,
        MaxResults=1,
        SearchCriteria={"StringCondition": {"FieldName": "Username", "Value": "a", "ComparisonType": "CONTAINS"}},
    )
    failing: list[tuple[Any, dict[str, Any]]] = [
        (client.describe_contact, {"ContactId": "nope"}),
        (client.describe_contact, {"ContactId": "c" * 300}),
        (client.get_contact_attributes, {"InitialContactId": "nope"}),
        (client.describe_queue, {"QueueId": "22222222-0000-4000-8000-00000000dead"}),
        (client.list_routing_profile_queues, {"RoutingProfileId": "55555555-0000-4000-8000-00000000dead"}),
        (client.associate_contact_with_user, {"ContactId": CONNECTED_CHAT, "UserId": DANA}),
        (client.get_current_user_data, {"Filters": {"Agents": [DANA], "Queues": [SUPPORT_QUEUE]}}),
        (client.monitor_contact, {"ContactId": QUEUED_CHAT, "UserId": LEAD_ONE}),
        (client.monitor_contact, {"ContactId": VIP_VOICE, "UserId": LEAD_ONE, "AllowedMonitorCapabilities": ["BARGE"]}),
        (client.update_contact_routing_data, {"ContactId": CONNECTED_CHAT, "QueuePriority": 1}),
        (client.transfer_contact, {"ContactId": QUEUED_CHAT, "QueueId": SUPPORT_QUEUE, "ContactFlowId": "f"}),
        (
            client.update_contact_routing_data,
            {"ContactId": QUEUED_EMAIL, "QueuePriority": 1, "QueueTimeAdjustmentSeconds": 5},
        ),
    ]
    for call, params in failing:
        with pytest.raises(ClientError):
            call(InstanceId=INSTANCE_ID, **params)


def test_every_response_validates_against_its_output_shape(
    emulator: ConnectEmulator, recorded: tuple[Any, list[Exchange]]
) -> None:
    # GIVEN every implemented operation exercised through a real client
    client, exchanges = recorded
    emulator.connect_contact(QUEUED_EMAIL, "sam")
    _exercise(client, emulator)
    model = emulator.model

    # WHEN each successful raw response body is checked strictly against the model
    checked: set[str] = set()
    for request, response in exchanges:
        if response.status != 200:
            continue
        operation, _ = model.match(request.method, request.path, request.query) or (None, None)
        assert operation is not None
        issues = model.validate(operation.output_shape, response.json(), strict=True)

        # THEN no member is unknown, mistyped, out of its enum or range, or missing when required
        assert issues == [], (operation.name, [str(i) for i in issues])
        checked.add(operation.name)

    # AND every implemented operation was covered
    assert checked == emulator.implemented_operations


def test_error_responses_are_the_modeled_errors(
    emulator: ConnectEmulator, recorded: tuple[Any, list[Exchange]]
) -> None:
    # GIVEN failing calls of several kinds
    client, exchanges = recorded
    _exercise(client, emulator)
    model = emulator.model

    # THEN each error has matching header and body codes, a message and the model's status
    errors = [response for _, response in exchanges if response.status != 200]
    assert len(errors) == 12  # one per failing call _exercise makes
    for response in errors:
        body = response.json()
        code = response.headers["x-amzn-ErrorType"]
        assert body["__type"] == code
        assert body["Message"]
        assert response.status == model.error_status(code)
        if code in model.error_codes:
            assert model.validate(model.service.shape_for(code), {"Message": body["Message"]}, strict=True) == []


def test_contact_timelines_are_ordered(emulator: ConnectEmulator, client: Any) -> None:
    # GIVEN seeded contacts in every state
    for contact_id in (QUEUED_CHAT, CONNECTED_CHAT, DISCONNECTED_CHAT, HANDLED_CHAT, FOLLOW_UP_TASK):
        contact = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=contact_id)["Contact"]
        times = [
            contact["InitiationTimestamp"],
            contact.get("QueueInfo", {}).get("EnqueueTimestamp"),
            contact.get("AgentInfo", {}).get("ConnectedToAgentTimestamp"),
            contact.get("DisconnectTimestamp"),
        ]
        present = [t for t in times if t is not None]

        # THEN initiation <= enqueue <= connection <= disconnection, all before now
        assert present == sorted(present), contact_id
        assert present[-1].timestamp() <= emulator.now()


def test_every_model_operation_is_routable() -> None:
    # GIVEN each operation's HTTP method and requestUri, labels filled in
    model = ConnectModel()
    for name in sorted(model.operation_names):
        operation = model.operation(name)
        template, _, static_query = operation.http["requestUri"].partition("?")
        path = re.sub(r"\{[^}]+\}", "label-value", template)

        # WHEN the route is matched
        matched = model.match(operation.http["method"], path, static_query)

        # THEN it is that operation
        assert matched is not None, name
        assert matched[0].name == name


def test_uri_labels_are_percent_decoded(emulator: ConnectEmulator) -> None:
    # GIVEN a contact id with characters botocore percent-encodes in the path
    emulator.add_contact("odd id/with:chars", channel="CHAT", queue="Support")

    # WHEN it is described through a real client
    contact = emulator.client().describe_contact(InstanceId=INSTANCE_ID, ContactId="odd id/with:chars")["Contact"]

    # THEN the label was decoded back to the id
    assert contact["Id"] == "odd id/with:chars"
