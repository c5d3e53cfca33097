"""The Python API for local runs and tests: inspecting and changing the emulated state."""

from __future__ import annotations

from typing import Any

import pytest

from connect_emulator import ConnectEmulator, EmulatorStateError
from tests.emulator.support import (
    CONNECTED_CHAT,
    DANA,
    DISCONNECTED_CHAT,
    INSTANCE_ID,
    LEE,
    QUEUED_CHAT,
    SAM,
    START,
    SUPPORT_QUEUE,
)


def test_identity_helpers(emulator: ConnectEmulator) -> None:
    assert emulator.instance_id == INSTANCE_ID
    assert emulator.instance_arn == f"arn:aws:connect:eu-west-2:123456789012:instance/{INSTANCE_ID}"
    assert emulator.user_arn("dana") == f"{emulator.instance_arn}/agent/{DANA}"
    assert emulator.user_arn(DANA) == emulator.user_arn(emulator.user_arn("dana"))
    assert emulator.user("SAM").id == SAM


def test_associated_contact_connects_then_disconnects(emulator: ConnectEmulator, client: Any, clock: Any) -> None:
    # GIVEN a chat associated with dana
    client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA)

    # WHEN dana accepts it a little later
    clock.advance(3)
    connected = emulator.connect_contact(QUEUED_CHAT)

    # THEN it is connected to her, with the connection time, and DescribeContact shows it
    assert (connected.state, connected.agent_id, connected.connected_at) == ("CONNECTED", DANA, START + 3)
    agent = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)["Contact"]["AgentInfo"]
    assert agent["ConnectedToAgentTimestamp"].timestamp() == START + 3

    # WHEN the customer hangs up
    clock.advance(60)
    ended = emulator.disconnect_contact(QUEUED_CHAT)

    # THEN the slot is free again
    assert ended.disconnected_at == START + 63
    assert emulator.user("dana").active_slots["CHAT"] == 1
    assert QUEUED_CHAT not in emulator.user("dana").contact_ids


def test_impossible_transitions_raise(emulator: ConnectEmulator) -> None:
    with pytest.raises(EmulatorStateError, match="no associated agent"):
        emulator.connect_contact(QUEUED_CHAT)
    with pytest.raises(EmulatorStateError, match="DISCONNECTED"):
        emulator.connect_contact(DISCONNECTED_CHAT, "dana")
    with pytest.raises(EmulatorStateError, match="already disconnected"):
        emulator.disconnect_contact(DISCONNECTED_CHAT)
    with pytest.raises(EmulatorStateError, match="no contact"):
        emulator.contact("nope")
    with pytest.raises(EmulatorStateError, match="no user"):
        emulator.set_user_status("nobody", "Available")
    with pytest.raises(EmulatorStateError, match="no queue"):
        emulator.queue_contact(CONNECTED_CHAT, "Nowhere")


def test_queue_contact_releases_the_agent(emulator: ConnectEmulator) -> None:
    # GIVEN sam connected to a chat
    # WHEN it is transferred back to the Support queue by name
    snapshot = emulator.queue_contact(CONNECTED_CHAT, "Support")

    # THEN it waits again without an agent, and sam's slot is free
    assert (snapshot.state, snapshot.queue_id, snapshot.agent_id) == ("QUEUED", SUPPORT_QUEUE, None)
    assert emulator.user("sam").active_slots["CHAT"] == 0


def test_status_and_busy_changes_show_in_user_data(emulator: ConnectEmulator, client: Any, clock: Any) -> None:
    # GIVEN lee logs in to a custom status and dana's chat work is set to three slots
    clock.advance(10)
    emulator.set_user_status("lee", "Lunch")
    emulator.set_busy("dana", "chat", 3)
    emulator.set_user_status("sam", "offline")

    # WHEN user data is read
    data = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Agents": [DANA, LEE, SAM]})["UserDataList"]

    # THEN lee appears with the new status and its start time; dana has no chat slot left; sam is gone
    by_id = {entry["User"]["Id"]: entry for entry in data}
    assert set(by_id) == {DANA, LEE}
    assert by_id[LEE]["Status"]["StatusName"] == "Lunch"
    assert by_id[LEE]["Status"]["StatusStartTimestamp"].timestamp() == START + 10
    assert by_id[DANA]["AvailableSlotsByChannel"]["CHAT"] == 0
    assert emulator.user("sam").logged_in is False


def test_add_contact_with_world_file_fields(emulator: ConnectEmulator, client: Any) -> None:
    # GIVEN a new email queued now, described with the world file's fields
    added = emulator.add_contact(
        channel="EMAIL",
        queue="Billing email",
        initiation_method="INBOUND",
        attributes={"preferredAgent": "sam"},
        segment_attributes={"connect:Subtype": "connect:Email"},
    )

    # WHEN it is described
    contact = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=added.id)["Contact"]

    # THEN it is there with a generated id, queued at the current time
    assert added.state == "QUEUED"
    assert contact["QueueInfo"]["EnqueueTimestamp"].timestamp() == START
    assert contact["Attributes"] == {"preferredAgent": "sam"}
    assert contact["SegmentAttributes"]["connect:Subtype"] == {"ValueString": "connect:Email"}


def test_add_contact_is_validated_and_ids_are_unique(emulator: ConnectEmulator) -> None:
    with pytest.raises(EmulatorStateError, match="queue 'Nowhere'"):
        emulator.add_contact(queue="Nowhere")
    with pytest.raises(EmulatorStateError, match="already exists"):
        emulator.add_contact(QUEUED_CHAT, queue="Support")


def test_generated_contact_ids_depend_on_the_seed(sample_world: Any) -> None:
    first = ConnectEmulator(sample_world, seed=1).add_contact(queue="Support").id
    again = ConnectEmulator(sample_world, seed=1).add_contact(queue="Support").id
    other = ConnectEmulator(sample_world, seed=2).add_contact(queue="Support").id
    assert first == again != other


def test_calls_are_recorded_and_can_be_reset(emulator: ConnectEmulator, client: Any, clock: Any) -> None:
    # GIVEN one good and one failing call
    clock.advance(1)
    client.describe_user(InstanceId=INSTANCE_ID, UserId=DANA)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_contact(InstanceId=INSTANCE_ID, ContactId="nope")

    # THEN both are recorded with params, status and error code
    first, second = emulator.calls
    assert (first.operation, dict(first.params), first.status, first.error_code, first.time) == (
        "DescribeUser",
        {"InstanceId": INSTANCE_ID, "UserId": DANA},
        200,
        None,
        START + 1,
    )
    assert (second.operation, second.status, second.error_code) == (
        "DescribeContact",
        404,
        "ResourceNotFoundException",
    )
    assert emulator.call_counts() == {"DescribeUser": 1, "DescribeContact": 1}

    # WHEN reset
    emulator.reset_calls()

    # THEN the record is empty
    assert emulator.calls == []
    assert emulator.call_counts() == {}


def test_attach_refuses_other_services_and_can_detach(emulator: ConnectEmulator, sample_world: Any) -> None:
    import boto3

    # GIVEN an SQS client, and a Connect client moved from one emulator to another
    with pytest.raises(ValueError, match="'sqs'"):
        emulator.attach(boto3.client("sqs", region_name="eu-west-2"))
    client = emulator.client()
    emulator.detach(client)
    other = ConnectEmulator(sample_world)
    other.attach(client)

    # WHEN the client calls Connect
    client.describe_user(InstanceId=INSTANCE_ID, UserId=DANA)

    # THEN only the emulator it is attached to answers
    assert emulator.call_counts() == {}
    assert other.call_counts() == {"DescribeUser": 1}
