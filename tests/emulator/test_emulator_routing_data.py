"""UpdateContactRoutingData: queue priority / age and Connect's native preferred-agent routing criteria."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connect_emulator import ConnectEmulator, HttpRequest, World
from tests.emulator.support import (
    CONNECTED_CHAT,
    DANA,
    DISCONNECTED_CHAT,
    INSTANCE_ID,
    LEG_ON_OMAR_CHAT,
    MO,
    QUEUED_CHAT,
    SAM,
    START,
    VirtualClock,
    client_error,
    sample_world_dict,
)


def _prefer(*agent_ids: str) -> dict[str, Any]:
    return {
        "AttributeCondition": {
            "ComparisonOperator": "Match",
            "MatchCriteria": {"AgentsCriteria": {"AgentIds": list(agent_ids)}},
        }
    }


def _step(agent_ids: tuple[str, ...] | str, seconds: int | None = None) -> dict[str, Any]:
    ids = (agent_ids,) if isinstance(agent_ids, str) else agent_ids
    step: dict[str, Any] = {"Expression": _prefer(*ids)}
    if seconds is not None:
        step["Expiry"] = {"DurationInSeconds": seconds}
    return step


def _update(client: Any, contact_id: str = QUEUED_CHAT, **params: Any) -> dict[str, Any]:
    response: dict[str, Any] = client.update_contact_routing_data(
        InstanceId=INSTANCE_ID, ContactId=contact_id, **params
    )
    return response


def _update_error(client: Any, contact_id: str = QUEUED_CHAT, **params: Any) -> tuple[str, int, str]:
    return client_error(client.update_contact_routing_data, InstanceId=INSTANCE_ID, ContactId=contact_id, **params)


def _described(client: Any, contact_id: str = QUEUED_CHAT) -> dict[str, Any]:
    contact: dict[str, Any] = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=contact_id)["Contact"]
    return contact


def _statuses(client: Any, contact_id: str = QUEUED_CHAT) -> list[str]:
    return [step["Status"] for step in _described(client, contact_id)["RoutingCriteria"]["Steps"]]


# ------------------------------------------------------------------------------ the effect


def test_routing_criteria_show_in_describe_contact(client: Any, clock: VirtualClock) -> None:
    # GIVEN a waiting chat
    clock.advance(5)

    # WHEN it gets two preferred-agent steps (dana for 30 s, then sam for 60 s) and a priority
    response = _update(client, RoutingCriteria={"Steps": [_step(DANA, 30), _step(SAM, 60)]}, QueuePriority=2)

    # THEN the answer is an empty 200
    assert set(response) == {"ResponseMetadata"}
    # AND DescribeContact shows the criteria, activated now, the first step active until its expiry
    contact = _described(client)
    criteria = contact["RoutingCriteria"]
    assert criteria["ActivationTimestamp"].timestamp() == START + 5
    assert criteria["Index"] == 0
    first, second = criteria["Steps"]
    assert first["Status"] == "ACTIVE"
    assert first["Expiry"]["DurationInSeconds"] == 30
    assert first["Expiry"]["ExpiryTimestamp"].timestamp() == START + 35
    assert first["Expression"] == _prefer(DANA)
    assert second == {"Expiry": {"DurationInSeconds": 60}, "Expression": _prefer(SAM), "Status": "INACTIVE"}
    assert contact["QueuePriority"] == 2
    assert "QueueTimeAdjustmentSeconds" not in contact


def test_step_statuses_follow_the_clock(client: Any, emulator: ConnectEmulator, clock: VirtualClock) -> None:
    # GIVEN a chat preferring dana for 30 s, then sam for 60 s
    _update(client, RoutingCriteria={"Steps": [_step(DANA, 30), _step(SAM, 60)]})
    assert emulator.routing_criteria(QUEUED_CHAT).preferred_agent_ids == (DANA,)  # type: ignore[union-attr]

    # WHEN the first step's time is up
    clock.advance(30)

    # THEN it is EXPIRED and the second is ACTIVE, expiring 60 s later
    criteria = _described(client)["RoutingCriteria"]
    assert [step["Status"] for step in criteria["Steps"]] == ["EXPIRED", "ACTIVE"]
    assert criteria["Steps"][1]["Expiry"]["ExpiryTimestamp"].timestamp() == START + 90
    snapshot = emulator.routing_criteria(QUEUED_CHAT)
    assert snapshot is not None
    assert snapshot.active_step is not None
    assert (snapshot.active_step.position, snapshot.preferred_agent_ids) == (1, (SAM,))

    # WHEN every step's time is up
    clock.advance(60)

    # THEN all are EXPIRED: Connect offers the contact to any agent of the queue
    assert _statuses(client) == ["EXPIRED", "EXPIRED"]
    snapshot = emulator.routing_criteria(QUEUED_CHAT)
    assert snapshot is not None
    assert (snapshot.exhausted, snapshot.active_step, snapshot.preferred_agent_ids) == (True, None, ())


def test_last_step_without_expiry_lasts(client: Any, clock: VirtualClock) -> None:
    # GIVEN a last step without Expiry
    _update(client, RoutingCriteria={"Steps": [_step(DANA, 10), _step((SAM, MO))]})

    # WHEN an hour goes by
    clock.advance(3600)

    # THEN it is still active, and has no expiry to show
    assert _statuses(client) == ["EXPIRED", "ACTIVE"]
    assert "Expiry" not in _described(client)["RoutingCriteria"]["Steps"][1]


def test_step_active_when_an_agent_takes_the_contact_is_joined(
    client: Any, emulator: ConnectEmulator, clock: VirtualClock
) -> None:
    # GIVEN three steps of 10 s, and sam taking the chat during the second
    _update(client, RoutingCriteria={"Steps": [_step(DANA, 10), _step(SAM, 10), _step(MO, 10)]})
    clock.advance(15)
    emulator.connect_contact(QUEUED_CHAT, "sam")

    # WHEN time goes on
    clock.advance(100)

    # THEN the statuses stopped changing when the contact left the queue: the second step JOINED
    assert _statuses(client) == ["EXPIRED", "JOINED", "INACTIVE"]
    snapshot = emulator.routing_criteria(QUEUED_CHAT)
    assert snapshot is not None
    assert snapshot.active_step is None


def test_association_also_joins_the_active_step(client: Any, clock: VirtualClock) -> None:
    _update(client, RoutingCriteria={"Steps": [_step(DANA, 10), _step(SAM, 10)]})
    client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA)
    clock.advance(50)
    assert _statuses(client) == ["JOINED", "INACTIVE"]


def test_customer_leaving_freezes_the_statuses(client: Any, emulator: ConnectEmulator, clock: VirtualClock) -> None:
    _update(client, RoutingCriteria={"Steps": [_step(DANA, 10), _step(SAM, 10)]})
    clock.advance(5)
    emulator.disconnect_contact(QUEUED_CHAT)
    clock.advance(50)
    assert _statuses(client) == ["ACTIVE", "INACTIVE"]


def test_a_new_update_replaces_the_criteria_with_the_next_index(client: Any, clock: VirtualClock) -> None:
    # GIVEN criteria set once
    _update(client, RoutingCriteria={"Steps": [_step(DANA, 10)]})

    # WHEN set again later
    clock.advance(20)
    _update(client, RoutingCriteria={"Steps": [_step(SAM, 30)]})

    # THEN the new ones apply from now, with the next index
    criteria = _described(client)["RoutingCriteria"]
    assert (criteria["Index"], criteria["ActivationTimestamp"].timestamp()) == (1, START + 20)
    assert [(s["Status"], s["Expression"]) for s in criteria["Steps"]] == [("ACTIVE", _prefer(SAM))]


def test_priority_or_age_alone_keep_the_criteria(client: Any, emulator: ConnectEmulator) -> None:
    _update(client, RoutingCriteria={"Steps": [_step(DANA, 10)]})
    _update(client, QueueTimeAdjustmentSeconds=-30)
    _update(client, QueuePriority=1)
    contact = _described(client)
    assert (contact["QueuePriority"], contact["QueueTimeAdjustmentSeconds"]) == (1, -30)
    assert contact["RoutingCriteria"]["Steps"][0]["Status"] == "ACTIVE"
    snapshot = emulator.contact(QUEUED_CHAT)
    assert (snapshot.queue_priority, snapshot.queue_time_adjustment) == (1, -30)


def test_and_or_expressions_collect_their_agents(client: Any, emulator: ConnectEmulator) -> None:
    expression = {"OrExpression": [_prefer(DANA), {"AndExpression": [_prefer(SAM, DANA)]}]}
    _update(client, RoutingCriteria={"Steps": [{"Expiry": {"DurationInSeconds": 20}, "Expression": expression}]})
    snapshot = emulator.routing_criteria(QUEUED_CHAT)
    assert snapshot is not None
    assert snapshot.preferred_agent_ids == (DANA, SAM)
    assert _described(client)["RoutingCriteria"]["Steps"][0]["Expression"] == expression


def test_requeueing_drops_routing_data(client: Any, emulator: ConnectEmulator) -> None:
    _update(client, RoutingCriteria={"Steps": [_step(DANA, 10)]}, QueuePriority=3)
    emulator.queue_contact(QUEUED_CHAT, "VIP")
    contact = _described(client)
    assert "RoutingCriteria" not in contact
    assert "QueuePriority" not in contact
    assert emulator.routing_criteria(QUEUED_CHAT) is None


def test_contact_in_an_agent_queue_never_activates_its_criteria() -> None:
    # GIVEN a chat waiting in an agent queue
    data = sample_world_dict()
    data["queues"].append({"name": "dana (agent)", "type": "AGENT"})
    clock = VirtualClock()
    emulator = ConnectEmulator(World.from_dict(data), clock=clock)
    client = emulator.client()
    chat = emulator.add_contact(channel="CHAT", queue="dana (agent)").id

    # WHEN routing criteria are set
    _update(client, chat, RoutingCriteria={"Steps": [_step(SAM, 10)]})

    # THEN they carry an activation time, but no step ever becomes active
    assert _described(client, chat)["RoutingCriteria"]["ActivationTimestamp"].timestamp() == START
    assert _statuses(client, chat) == ["INACTIVE"]


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize("contact_id", [CONNECTED_CHAT, DISCONNECTED_CHAT, LEG_ON_OMAR_CHAT])
def test_contact_no_longer_waiting_is_a_conflict(client: Any, contact_id: str) -> None:
    code, status, message = _update_error(client, contact_id, RoutingCriteria={"Steps": [_step(DANA, 10)]})
    assert (code, status) == ("ResourceConflictException", 409)
    assert "not waiting in a queue" in message


def test_associated_contact_is_a_conflict(client: Any) -> None:
    client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA)
    code, status, message = _update_error(client, QueuePriority=1)
    assert (code, status) == ("ResourceConflictException", 409)
    assert "state ASSOCIATED" in message


def test_unknown_contact_or_instance_is_not_found(client: Any) -> None:
    unknown_contact = _update_error(client, "44444444-0000-4000-8000-999999999999", QueuePriority=1)
    unknown_instance = client_error(
        client.update_contact_routing_data, InstanceId="nope", ContactId=QUEUED_CHAT, QueuePriority=1
    )
    assert unknown_contact[:2] == unknown_instance[:2] == ("ResourceNotFoundException", 404)


def test_priority_and_age_are_mutually_exclusive(client: Any, emulator: ConnectEmulator) -> None:
    code, status, message = _update_error(client, QueuePriority=1, QueueTimeAdjustmentSeconds=10)
    assert (code, status) == ("InvalidParameterException", 400)
    assert "mutually exclusive" in message
    assert emulator.contact(QUEUED_CHAT).queue_priority is None


def test_an_update_must_change_something(client: Any) -> None:
    code, status, message = _update_error(client)
    assert (code, status) == ("InvalidParameterException", 400)
    assert "Nothing to update" in message


def test_priority_below_one_breaks_the_model(emulator: ConnectEmulator) -> None:
    # GIVEN a request botocore would refuse client-side, as another client may send it
    body = json.dumps({"QueuePriority": 0}).encode()
    path = f"/contacts/{INSTANCE_ID}/{QUEUED_CHAT}/routing-data"

    # WHEN it reaches the emulator
    response = emulator.handle(HttpRequest("POST", path, body=body))

    # THEN the model's minimum is enforced with UpdateContactRoutingData's modeled validation error
    assert (response.status, response.json()["__type"]) == (400, "InvalidParameterException")
    assert "queuePriority" in response.json()["Message"]


def test_unknown_agent_ids_are_invalid_parameters(client: Any, emulator: ConnectEmulator) -> None:
    # GIVEN a step naming an unknown user id and a username instead of an id
    steps = [_step(("99999999-0000-4000-8000-000000000000", "dana"), 10)]

    # WHEN sent
    code, status, message = _update_error(client, RoutingCriteria={"Steps": steps})

    # THEN InvalidParameterException 400 names them (a 404 would read as "contact not found")
    assert (code, status) == ("InvalidParameterException", 400)
    assert "99999999-0000-4000-8000-000000000000, dana" in message
    assert emulator.routing_criteria(QUEUED_CHAT) is None


_MATCH_DANA = {"MatchCriteria": {"AgentsCriteria": {"AgentIds": [DANA]}}}


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([], "Steps must contain at least one step"),
        ([{"Expiry": {}, "Expression": _prefer(DANA)}], "Steps[1].Expiry requires DurationInSeconds"),
        ([_step(DANA, 0)], "DurationInSeconds must be >= 1"),
        ([_step(DANA), _step(SAM, 10)], "Steps[1] has no Expiry: only the last step"),
        ([{"Expiry": {"DurationInSeconds": 10}}], "Steps[1] requires an Expression"),
        ([{"Expression": {}}], "must set exactly one of AttributeCondition"),
        ([{"Expression": {**_prefer(DANA), "OrExpression": [_prefer(SAM)]}}], "got AttributeCondition, OrExpression"),
        ([{"Expression": {"OrExpression": []}}], "OrExpression must contain at least one expression"),
        ([{"Expression": {"AttributeCondition": {**_MATCH_DANA, "ComparisonOperator": "Equals"}}}], "must be 'Match'"),
        ([{"Expression": {"AttributeCondition": {"ComparisonOperator": "Match"}}}], "requires MatchCriteria"),
        (
            [{"Expression": {"AttributeCondition": {"ComparisonOperator": "Match", "MatchCriteria": {}}}}],
            "AgentIds must list at least one user id",
        ),
        (
            [{"Expression": {"AttributeCondition": {**_MATCH_DANA, "ComparisonOperator": "Match", "Value": "x"}}}],
            "MatchCriteria cannot be combined with Value",
        ),
        ([_step(SAM, 10), _step(("nobody",), 10)], "Steps[2].Expression.AttributeCondition: no user with id nobody"),
    ],
)
def test_routing_steps_are_validated(
    client: Any, emulator: ConnectEmulator, steps: list[dict[str, Any]], expected: str
) -> None:
    code, status, message = _update_error(client, RoutingCriteria={"Steps": steps})
    assert (code, status) == ("InvalidParameterException", 400)
    assert expected in message
    assert emulator.routing_criteria(QUEUED_CHAT) is None


@pytest.mark.parametrize(
    "expression",
    [
        {
            "AttributeCondition": {
                "Name": "Technology",
                "Value": "Connect",
                "ComparisonOperator": "NumberGreaterOrEqualTo",
                "ProficiencyLevel": 3,
            }
        },
        {"NotAttributeCondition": {"ComparisonOperator": "Match", **_MATCH_DANA}},
    ],
)
def test_proficiency_routing_is_not_emulated(client: Any, expression: dict[str, Any]) -> None:
    code, status, message = _update_error(client, RoutingCriteria={"Steps": [{"Expression": expression}]})
    assert (code, status) == ("NotImplementedByEmulator", 501)
    assert "not emulated" in message
