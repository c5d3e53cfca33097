"""MonitorContact: a supervisor's monitoring leg, idempotency by ClientToken, the per-supervisor limit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connect_emulator import ConnectEmulator, HttpRequest, World
from tests.emulator.support import (
    CONNECTED_CHAT,
    DISCONNECTED_CHAT,
    INSTANCE_ID,
    LEAD_ONE,
    LEAD_TWO,
    LEG_ON_OMAR_CHAT,
    LEG_ON_OMAR_VOICE,
    NINA,
    NINA_CHAT,
    NINA_OTHER_CHAT,
    OMAR_CHAT,
    OMAR_VOICE,
    QUEUED_CHAT,
    SAM,
    START,
    VIP_VOICE,
    client_error,
    sample_world_dict,
)


def _monitor(client: Any, contact_id: str, user_id: str = LEAD_ONE, **extra: Any) -> dict[str, Any]:
    response: dict[str, Any] = client.monitor_contact(
        InstanceId=INSTANCE_ID, ContactId=contact_id, UserId=user_id, **extra
    )
    return response


def _monitor_error(client: Any, contact_id: str, user_id: str = LEAD_ONE, **extra: Any) -> tuple[str, int, str]:
    return client_error(client.monitor_contact, InstanceId=INSTANCE_ID, ContactId=contact_id, UserId=user_id, **extra)


# ------------------------------------------------------------------------------ the monitoring leg


def test_monitoring_leg_is_a_connected_contact_of_the_supervisor(
    client: Any, emulator: ConnectEmulator, clock: Any
) -> None:
    # GIVEN sam's VIP call
    clock.advance(4)

    # WHEN lead.one starts monitoring it, allowed to barge
    response = _monitor(client, VIP_VOICE, AllowedMonitorCapabilities=["SILENT_MONITOR", "BARGE"], ClientToken="t-1")

    # THEN the answer names a new contact: the monitoring leg
    leg_id = response["ContactId"]
    assert leg_id not in (VIP_VOICE, LEG_ON_OMAR_VOICE)
    assert response["ContactArn"] == f"{emulator.instance_arn}/contact/{leg_id}"
    # AND the leg is a MONITOR contact on the same channel, connected to lead.one, related to the call, unqueued
    leg = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=leg_id)["Contact"]
    assert (leg["InitiationMethod"], leg["Channel"], leg["RelatedContactId"]) == ("MONITOR", "VOICE", VIP_VOICE)
    assert leg["AgentInfo"]["Id"] == LEAD_ONE
    assert leg["AgentInfo"]["ConnectedToAgentTimestamp"].timestamp() == START + 4
    assert "QueueInfo" not in leg
    # AND the session is recorded
    [session] = emulator.monitoring_sessions
    assert (session.monitored_contact_id, session.supervisor_id, session.monitoring_contact_id) == (
        VIP_VOICE,
        LEAD_ONE,
        leg_id,
    )
    assert (session.capabilities, session.client_token, session.time) == (("SILENT_MONITOR", "BARGE"), "t-1", START + 4)


def test_leg_is_listed_in_user_data_but_takes_no_routing_slot(client: Any) -> None:
    # GIVEN lead.one monitors sam's VIP call
    leg_id = _monitor(client, VIP_VOICE)["ContactId"]

    # WHEN lead.one's current data is read
    data = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Agents": [LEAD_ONE]})["UserDataList"][0]

    # THEN the leg is one of the contacts, as a connected MONITOR contact
    [contact] = data["Contacts"]
    assert (contact["ContactId"], contact["InitiationMethod"], contact["Channel"]) == (leg_id, "MONITOR", "VOICE")
    assert contact["AgentContactState"] == "CONNECTED"
    assert "Queue" not in contact
    # AND the voice slot stays free for routed work
    assert data["ActiveSlotsByChannel"]["VOICE"] == 0
    assert data["AvailableSlotsByChannel"]["VOICE"] == 1


def test_seeded_legs_show_for_their_supervisor(client: Any) -> None:
    # GIVEN the sample world's two legs of lead.two
    data = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Agents": [LEAD_TWO]})["UserDataList"][0]

    # THEN both are listed as MONITOR contacts, and no slot is taken
    assert [(c["ContactId"], c["InitiationMethod"]) for c in data["Contacts"]] == [
        (LEG_ON_OMAR_VOICE, "MONITOR"),
        (LEG_ON_OMAR_CHAT, "MONITOR"),
    ]
    assert set(data["ActiveSlotsByChannel"].values()) == {0}


def test_absent_capabilities_mean_silent_monitoring(client: Any, emulator: ConnectEmulator) -> None:
    _monitor(client, VIP_VOICE)
    assert emulator.monitoring_sessions[0].capabilities == ("SILENT_MONITOR",)


def test_disconnecting_the_monitored_contact_ends_its_legs(client: Any, emulator: ConnectEmulator, clock: Any) -> None:
    # GIVEN omar's call, monitored by lead.two (seeded) and by lead.one (started now)
    leg_id = _monitor(client, OMAR_VOICE)["ContactId"]

    # WHEN the call ends
    clock.advance(30)
    emulator.disconnect_contact(OMAR_VOICE)

    # THEN both legs end with it, and the supervisors have no contact of it left
    for leg in (leg_id, LEG_ON_OMAR_VOICE):
        snapshot = emulator.contact(leg)
        assert (snapshot.state, snapshot.disconnected_at) == ("DISCONNECTED", START + 30)
    assert leg_id not in emulator.user("lead.one").contact_ids
    assert emulator.user("lead.two").contact_ids == (LEG_ON_OMAR_CHAT,)


# ------------------------------------------------------------------------------ idempotency


def test_redelivered_request_with_the_same_token_starts_one_session(client: Any, emulator: ConnectEmulator) -> None:
    # GIVEN a request with a deterministic ClientToken
    request = {"AllowedMonitorCapabilities": ["SILENT_MONITOR"], "ClientToken": "contact-router-monitor-abc"}
    first = _monitor(client, NINA_CHAT, **request)

    # WHEN the same request comes again (a redelivered event, a retried call), the user now named by ARN
    again = _monitor(client, NINA_CHAT, emulator.user_arn("lead.one"), **request)

    # THEN the answer is the same leg, and only one session exists
    assert (again["ContactId"], again["ContactArn"]) == (first["ContactId"], first["ContactArn"])
    assert len(emulator.monitoring_sessions) == 1
    assert emulator.user("lead.one").contact_ids == (first["ContactId"],)


def test_replay_answers_the_same_even_after_the_session_ended(client: Any, emulator: ConnectEmulator) -> None:
    first = _monitor(client, NINA_CHAT, ClientToken="t")
    emulator.disconnect_contact(first["ContactId"])
    assert _monitor(client, NINA_CHAT, ClientToken="t")["ContactId"] == first["ContactId"]
    assert len(emulator.monitoring_sessions) == 1


@pytest.mark.parametrize(
    ("contact_id", "user_id", "capabilities"),
    [
        (NINA_CHAT, LEAD_ONE, ["SILENT_MONITOR", "BARGE"]),  # other capabilities
        (NINA_OTHER_CHAT, LEAD_ONE, ["SILENT_MONITOR"]),  # another contact
        (NINA_CHAT, LEAD_TWO, ["SILENT_MONITOR"]),  # another supervisor
    ],
)
def test_same_token_with_different_parameters_is_an_idempotency_conflict(
    client: Any, emulator: ConnectEmulator, contact_id: str, user_id: str, capabilities: list[str]
) -> None:
    # GIVEN a session started with a token
    _monitor(client, NINA_CHAT, AllowedMonitorCapabilities=["SILENT_MONITOR"], ClientToken="token-1")

    # WHEN the token is used again for a different request
    code, status, message = _monitor_error(
        client, contact_id, user_id, AllowedMonitorCapabilities=capabilities, ClientToken="token-1"
    )

    # THEN it is refused with IdempotencyException 409, and no session is added
    assert (code, status) == ("IdempotencyException", 409)
    assert "token-1" in message
    assert len(emulator.monitoring_sessions) == 1


def test_capability_order_and_spelling_out_the_default_are_the_same_request(
    client: Any, emulator: ConnectEmulator
) -> None:
    first = _monitor(client, NINA_CHAT, AllowedMonitorCapabilities=["SILENT_MONITOR", "BARGE"], ClientToken="a")
    again = _monitor(client, NINA_CHAT, AllowedMonitorCapabilities=["BARGE", "SILENT_MONITOR"], ClientToken="a")
    implicit = _monitor(client, VIP_VOICE, ClientToken="b")
    explicit = _monitor(client, VIP_VOICE, AllowedMonitorCapabilities=["SILENT_MONITOR"], ClientToken="b")
    assert first["ContactId"] == again["ContactId"]
    assert implicit["ContactId"] == explicit["ContactId"]
    assert len(emulator.monitoring_sessions) == 2


def test_without_a_token_each_call_is_a_new_request(client: Any, emulator: ConnectEmulator) -> None:
    # GIVEN botocore fills a random ClientToken when none is given
    _monitor(client, NINA_CHAT)

    # WHEN the same call is made again without a token
    code, status, message = _monitor_error(client, NINA_CHAT)

    # THEN it is a second request: lead.one already monitors that chat
    assert (code, status) == ("InvalidRequestException", 400)
    assert "already monitors" in message
    assert len(emulator.monitoring_sessions) == 1
    assert emulator.monitoring_sessions[0].client_token  # botocore's generated token was recorded


# ------------------------------------------------------------------------------ the per-supervisor limit


def test_supervisor_at_the_limit_gets_service_quota_exceeded(client: Any, emulator: ConnectEmulator) -> None:
    # GIVEN lead.two already monitors two contacts, the world's limit
    assert emulator.world.instance.max_monitors_per_supervisor == 2

    # WHEN lead.two is asked to monitor a third
    code, status, message = _monitor_error(client, VIP_VOICE, LEAD_TWO, ClientToken="third")

    # THEN it is refused with ServiceQuotaExceededException 402
    assert (code, status) == ("ServiceQuotaExceededException", 402)
    assert "limit" in message
    assert emulator.monitoring_sessions == []


def test_third_session_past_a_limit_of_two_then_a_freed_place(client: Any, emulator: ConnectEmulator) -> None:
    # GIVEN lead.one monitors two chats (limit 2)
    first = _monitor(client, NINA_CHAT, ClientToken="1")
    _monitor(client, NINA_OTHER_CHAT, ClientToken="2")

    # WHEN a third is requested
    code, status, _ = _monitor_error(client, VIP_VOICE, ClientToken="3")

    # THEN 402; the refused token was not spent
    assert (code, status) == ("ServiceQuotaExceededException", 402)
    # WHEN one of the monitored chats ends, and the third request is retried with its token
    emulator.disconnect_contact(NINA_CHAT)
    third = _monitor(client, VIP_VOICE, ClientToken="3")

    # THEN it succeeds: only connected legs count
    assert third["ContactId"] != first["ContactId"]
    assert len(emulator.monitoring_sessions) == 3


def test_limit_defaults_to_one_session() -> None:
    # GIVEN a world without max_monitors_per_supervisor
    data = sample_world_dict()
    del data["instance"]["max_monitors_per_supervisor"]
    client = ConnectEmulator(World.from_dict(data)).client()

    # WHEN lead.one monitors one chat, then another
    client.monitor_contact(InstanceId=INSTANCE_ID, ContactId=NINA_CHAT, UserId=LEAD_ONE)
    code, status, _ = _monitor_error(client, NINA_OTHER_CHAT)

    # THEN the second is over the limit
    assert (code, status) == ("ServiceQuotaExceededException", 402)


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("contact_id", "state"),
    [(QUEUED_CHAT, "QUEUED"), (DISCONNECTED_CHAT, "DISCONNECTED")],
)
def test_contact_not_connected_to_an_agent_cannot_be_monitored(client: Any, contact_id: str, state: str) -> None:
    code, status, message = _monitor_error(client, contact_id)
    assert (code, status) == ("InvalidRequestException", 400)
    assert f"not connected to an agent (state {state})" in message


def test_associated_contact_cannot_be_monitored_yet(client: Any) -> None:
    client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=SAM)
    code, status, message = _monitor_error(client, QUEUED_CHAT)
    assert (code, status) == ("InvalidRequestException", 400)
    assert "state ASSOCIATED" in message


def test_monitoring_leg_cannot_be_monitored(client: Any) -> None:
    code, status, message = _monitor_error(client, LEG_ON_OMAR_CHAT)
    assert (code, status) == ("InvalidRequestException", 400)
    assert "monitoring contact (initiation method MONITOR)" in message


def test_unknown_supervisor_contact_or_instance_is_not_found(client: Any) -> None:
    unknown_user = _monitor_error(client, NINA_CHAT, "99999999-0000-4000-8000-000000000000")
    unknown_contact = _monitor_error(client, "44444444-0000-4000-8000-999999999999")
    unknown_instance = client_error(
        client.monitor_contact, InstanceId="00000000-0000-4000-8000-000000000000", ContactId=NINA_CHAT, UserId=LEAD_ONE
    )
    assert unknown_user[:2] == unknown_contact[:2] == unknown_instance[:2] == ("ResourceNotFoundException", 404)
    assert "User not found" in unknown_user[2]
    assert "Contact not found" in unknown_contact[2]


def test_the_handling_agent_and_an_offline_supervisor_cannot_monitor(client: Any, emulator: ConnectEmulator) -> None:
    own = _monitor_error(client, NINA_CHAT, NINA)
    emulator.set_user_status("lead.one", "Offline")
    offline = _monitor_error(client, NINA_CHAT)
    assert own[:2] == offline[:2] == ("InvalidRequestException", 400)
    assert "is the agent on contact" in own[2]
    assert "not logged in" in offline[2]


def test_only_voice_and_chat_are_monitored(client: Any, emulator: ConnectEmulator) -> None:
    task = emulator.add_contact(channel="TASK", queue="Support", state="CONNECTED", agent="omar")
    code, status, message = _monitor_error(client, task.id)
    assert (code, status) == ("InvalidRequestException", 400)
    assert "only VOICE and CHAT" in message


@pytest.mark.parametrize(
    ("capabilities", "expected"),
    [
        (["FOO"], "Member must satisfy enum value set: [SILENT_MONITOR, BARGE]"),
        (["SILENT_MONITOR", "BARGE", "SILENT_MONITOR"], "Member must have length less than or equal to 2"),
        (["BARGE", "BARGE"], "lists a capability twice"),
        (["BARGE"], "BARGE requires SILENT_MONITOR"),
        ([], "must not be empty"),
    ],
)
def test_capabilities_are_validated(
    client: Any, emulator: ConnectEmulator, capabilities: list[str], expected: str
) -> None:
    # GIVEN capabilities botocore lets through (it checks neither enums nor list sizes)
    # WHEN they are sent
    code, status, message = _monitor_error(client, NINA_CHAT, AllowedMonitorCapabilities=capabilities)

    # THEN MonitorContact's modeled validation error comes back (it has no InvalidParameterException)
    assert (code, status) == ("InvalidRequestException", 400)
    assert expected in message
    assert emulator.monitoring_sessions == []


def test_client_token_longer_than_the_model_allows(client: Any) -> None:
    code, status, message = _monitor_error(client, NINA_CHAT, ClientToken="x" * 501)
    assert (code, status) == ("InvalidRequestException", 400)
    assert "clientToken" in message


def test_raw_answer_is_the_model_output(emulator: ConnectEmulator) -> None:
    # GIVEN a MonitorContact request as it travels over HTTP
    body = json.dumps({"InstanceId": INSTANCE_ID, "ContactId": OMAR_CHAT, "UserId": LEAD_ONE, "ClientToken": "raw"})
    response = emulator.handle(HttpRequest("POST", "/contact/monitor", body=body.encode()))

    # THEN it is a 200 whose body fits MonitorContactResponse exactly
    assert response.status == 200
    output_shape = emulator.model.operation("MonitorContact").output_shape
    assert emulator.model.validate(output_shape, response.json(), strict=True) == []
    assert set(response.json()) == {"ContactId", "ContactArn"}


def test_sessions_through_the_python_api_and_clients_agree(emulator: ConnectEmulator, client: Any) -> None:
    leg = _monitor(client, CONNECTED_CHAT)["ContactId"]
    snapshot = emulator.contact(leg)
    assert (snapshot.initiation_method, snapshot.related_contact_id, snapshot.agent_id) == (
        "MONITOR",
        CONNECTED_CHAT,
        LEAD_ONE,
    )
    assert snapshot.queue_id is None
