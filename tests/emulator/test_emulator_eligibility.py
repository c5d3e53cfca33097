"""ListRoutingProfileQueues, NextStatus and the two switches eligibility depends on (association to an agent whose
profile lacks the queue; logged-out agents in GetCurrentUserData), answered as the botocore model says."""

from __future__ import annotations

from typing import Any

import pytest

from connect_emulator import ConnectEmulator, World
from connect_emulator.iam import authorization_request
from connect_emulator.world import WorldError
from tests.emulator.support import (
    BACK_OFFICE,
    BILLING_QUEUE,
    DANA,
    GENERALISTS,
    INSTANCE_ID,
    LEE,
    ONE_ATTEMPT,
    QUEUED_CHAT,
    SUPPORT_QUEUE,
    TARIQ,
    VirtualClock,
    client_error,
    sample_world_dict,
)

INSTANCE_ARN = f"arn:aws:connect:eu-west-2:123456789012:instance/{INSTANCE_ID}"


def emulator_with(edit: Any = None, **instance: object) -> ConnectEmulator:
    data = sample_world_dict()
    data["instance"].update(instance)
    if edit is not None:
        edit(data)
    clock = VirtualClock()
    return ConnectEmulator(World.from_dict(data), clock=clock, sleep=clock.sleep, seed=7)


def back_office_serves_billing_only(data: dict[str, Any]) -> None:
    for profile in data["routing_profiles"]:
        if profile["id"] == BACK_OFFICE:
            profile["queues"] = [{"queue": "Billing email", "priority": 2, "delay": 30}]


def pairs(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["QueueId"], s["Channel"]) for s in page["RoutingProfileQueueConfigSummaryList"]]


# ------------------------------------------------------------------------ ListRoutingProfileQueues


def test_a_profile_lists_each_queue_it_serves_for_each_channel_it_has_slots_for() -> None:
    # GIVEN Back office (TASK 1, EMAIL 1 slot) serving only the billing queue, priority 2, delay 30
    client = emulator_with(back_office_serves_billing_only).client(config=ONE_ATTEMPT)
    # WHEN its queues are listed
    page = client.list_routing_profile_queues(InstanceId=INSTANCE_ID, RoutingProfileId=BACK_OFFICE)
    # THEN one summary per channel with slots, carrying the queue's name, ARN and the profile's config
    assert pairs(page) == [(BILLING_QUEUE, "TASK"), (BILLING_QUEUE, "EMAIL")]
    first = page["RoutingProfileQueueConfigSummaryList"][0]
    assert (first["QueueName"], first["Priority"], first["Delay"]) == ("Billing email", 2, 30)
    assert first["QueueArn"] == f"{INSTANCE_ARN}/queue/{BILLING_QUEUE}"
    assert page["LastModifiedRegion"] == "eu-west-2"


def test_a_profile_without_listed_queues_serves_every_standard_queue_and_pages(client: Any) -> None:
    # GIVEN Digital generalists (no queues listed: every queue; four channels with slots)
    first = client.list_routing_profile_queues(InstanceId=INSTANCE_ID, RoutingProfileId=GENERALISTS, MaxResults=5)
    rest = client.list_routing_profile_queues(
        InstanceId=INSTANCE_ID, RoutingProfileId=GENERALISTS, NextToken=first["NextToken"]
    )
    # THEN pages of at most MaxResults join into every (queue, channel)
    assert len(first["RoutingProfileQueueConfigSummaryList"]) == 5
    assert "NextToken" not in rest
    listed = pairs(first) + pairs(rest)
    assert (SUPPORT_QUEUE, "CHAT") in listed
    assert (BILLING_QUEUE, "EMAIL") in listed
    assert len(listed) == len(set(listed)) == 3 * 4  # three queues, four channels


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({"RoutingProfileId": "55555555-0000-4000-8000-00000000dead"}, "ResourceNotFoundException", 404),
        ({"RoutingProfileId": f"{INSTANCE_ARN}/routing-profile/{GENERALISTS}"}, "ResourceNotFoundException", 404),
        ({"RoutingProfileId": GENERALISTS, "MaxResults": 101}, "InvalidParameterException", 400),
        ({"RoutingProfileId": GENERALISTS, "InstanceId": "other"}, "ResourceNotFoundException", 404),
    ],
)
def test_refusals_follow_the_model(client: Any, params: dict[str, Any], code: str, status: int) -> None:
    got = client_error(client.list_routing_profile_queues, **{"InstanceId": INSTANCE_ID, **params})
    assert got[:2] == (code, status)


def test_iam_mode_authorizes_it_on_the_routing_profile() -> None:
    request = authorization_request(
        "ListRoutingProfileQueues", {"InstanceId": INSTANCE_ID, "RoutingProfileId": GENERALISTS}, INSTANCE_ARN
    )
    assert request is not None
    assert request.resources == (f"{INSTANCE_ARN}/routing-profile/{GENERALISTS}",)


# ------------------------------------------------------------------------ NextStatus


def dana_leaving(data: dict[str, Any]) -> None:
    for user in data["users"]:
        if user["username"] == "dana":
            user["next_status"] = "Lunch"


def test_next_status_is_reported_and_native_routing_offers_nothing_to_a_leaving_agent() -> None:
    # GIVEN dana Available with a free chat slot but a next status; native routing on; only dana serves Support
    def setup(data: dict[str, Any]) -> None:
        dana_leaving(data)
        data["routing"] = {"native": True}
        for user in data["users"]:
            if user["username"] != "dana":
                user["status"] = "Offline"

    emulator = emulator_with(setup)
    client = emulator.client(config=ONE_ATTEMPT)
    # THEN GetCurrentUserData says NextStatus, and the queued chat stays queued
    (dana,) = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Agents": [DANA]})["UserDataList"]
    assert dana["NextStatus"] == "Lunch"
    assert emulator.contact(QUEUED_CHAT).agent_id is None


def test_a_next_status_outside_the_model_is_refused_when_the_world_loads() -> None:
    def setup(data: dict[str, Any]) -> None:
        data["users"][0]["next_status"] = "x" * 128

    with pytest.raises(WorldError, match="next_status"):
        emulator_with(setup)


# ------------------------------------------------------------------------ switches


@pytest.mark.parametrize("requires", [False, True])
def test_association_to_an_agent_whose_profile_lacks_the_queue(requires: bool) -> None:
    # GIVEN tariq (Back office: billing queue only) and a chat queued in Support
    emulator = emulator_with(back_office_serves_billing_only, association_requires_queue=requires)
    client = emulator.client(config=ONE_ATTEMPT)
    params = {"InstanceId": INSTANCE_ID, "ContactId": QUEUED_CHAT, "UserId": TARIQ}
    if requires:
        # THEN with the switch on it is refused like any other invalid association
        code, status, message = client_error(client.associate_contact_with_user, **params)
        assert (code, status) == ("InvalidRequestException", 400)
        assert "does not serve queue" in message
    else:
        # THEN by default (the API reference does not say it is refused) it is accepted
        client.associate_contact_with_user(**params)
        assert emulator.contact(QUEUED_CHAT).agent_id == TARIQ


@pytest.mark.parametrize("lists_offline", [False, True])
def test_logged_out_agents_in_get_current_user_data(lists_offline: bool) -> None:
    # GIVEN lee logged out
    client = emulator_with(user_data_lists_offline=lists_offline).client(config=ONE_ATTEMPT)
    found = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Agents": [LEE, DANA]})["UserDataList"]
    listed = {item["User"]["Id"]: item for item in found}
    # THEN lee appears (status Offline, with his routing profile) only with the switch on
    assert (LEE in listed) is lists_offline
    if lists_offline:
        assert listed[LEE]["Status"]["StatusName"] == "Offline"
        assert listed[LEE]["RoutingProfile"]["Id"] == GENERALISTS
