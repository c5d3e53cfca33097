"""Valid requests through a real boto3 client, and what each implemented operation answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from connect_emulator import ConnectEmulator, World
from tests.emulator.support import (
    BACK_OFFICE,
    BILLING_QUEUE,
    CONNECTED_CHAT,
    DANA,
    DISCONNECTED_CHAT,
    FOLLOW_UP_TASK,
    GENERALISTS,
    HANDLED_CHAT,
    INSTANCE_ID,
    LEAD_ONE,
    LEAD_TWO,
    LEE,
    MO,
    NEW_HIRES,
    NINA,
    OMAR,
    QUEUED_CHAT,
    QUEUED_EMAIL,
    SAM,
    START,
    SUPPORT_QUEUE,
    TARIQ,
    VIP_VOICE,
    sample_world_dict,
)

LOGGED_IN = [DANA, SAM, TARIQ, MO, NINA, OMAR, LEAD_ONE, LEAD_TWO]

# ------------------------------------------------------------------------------ DescribeContact


def test_describe_queued_contact_has_queue_info_but_no_agent(client: Any) -> None:
    # GIVEN a chat waiting in Support with user-defined attributes
    # WHEN it is described
    contact = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)["Contact"]

    # THEN it carries plain ids, the queue with its enqueue time, attributes and segment attributes
    assert contact["Id"] == QUEUED_CHAT
    assert contact["Arn"].endswith(f"instance/{INSTANCE_ID}/contact/{QUEUED_CHAT}")
    assert contact["Channel"] == "CHAT"
    assert contact["InitiationMethod"] == "API"
    assert contact["QueueInfo"]["Id"] == SUPPORT_QUEUE
    assert isinstance(contact["QueueInfo"]["EnqueueTimestamp"], dt.datetime)
    assert contact["InitiationTimestamp"] <= contact["QueueInfo"]["EnqueueTimestamp"]
    assert "AgentInfo" not in contact
    assert "DisconnectTimestamp" not in contact
    assert contact["Attributes"] == {"preferredAgent": "dana", "customerTier": "gold"}
    assert contact["SegmentAttributes"] == {"connect:Subtype": {"ValueString": "connect:Chat"}}
    assert contact["CustomerEndpoint"] == {"Type": "TELEPHONE_NUMBER", "Address": "+447700900123"}


@pytest.mark.parametrize(
    ("setting", "with_attributes", "without"),
    [("when_set", True, False), ("always", True, True), ("never", False, False)],
)
def test_the_attributes_key_of_describe_contact_follows_its_switch(
    setting: str, with_attributes: bool, without: bool
) -> None:
    # GIVEN the switch instance.attributes_in_describe_contact, a chat with attributes and a task without
    data = sample_world_dict()
    data["instance"]["attributes_in_describe_contact"] = setting
    emulator = ConnectEmulator(World.from_dict(data))
    client = emulator.client()
    no_attributes = next(c.id for c in emulator.contacts() if not c.attributes)
    # WHEN both are described
    chat = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)["Contact"]
    other = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=no_attributes)["Contact"]
    # THEN the key is there (as {} when none) or not, as the switch says; GetContactAttributes answers either way
    assert ("Attributes" in chat, "Attributes" in other) == (with_attributes, without)
    if without:
        assert other["Attributes"] == {}
    answer = client.get_contact_attributes(InstanceId=INSTANCE_ID, InitialContactId=QUEUED_CHAT)
    assert answer["Attributes"] == {"preferredAgent": "dana", "customerTier": "gold"}


def test_get_contact_attributes_reads_the_chain_by_initial_contact_id(emulator: ConnectEmulator, client: Any) -> None:
    # GIVEN a contact whose chain starts at a contact the world does not hold (a transfer's new leg)
    follow_up = emulator.add_contact(
        channel="TASK", state="QUEUED", queue="Support", initial_contact="gone-initial", attributes={"k": "v"}
    )
    # WHEN its chain is read by the initial contact id
    answer = client.get_contact_attributes(InstanceId=INSTANCE_ID, InitialContactId="gone-initial")
    # THEN the chain's attributes come back; an id nobody carries is not found
    assert (follow_up.id != "gone-initial", answer["Attributes"]) == (True, {"k": "v"})
    try:
        client.get_contact_attributes(InstanceId=INSTANCE_ID, InitialContactId="nobody")
    except client.exceptions.ResourceNotFoundException:
        pass
    else:
        raise AssertionError("expected ResourceNotFoundException")


def test_describe_connected_contact_has_agent_with_connection_time(client: Any) -> None:
    # GIVEN a chat sam already took
    # WHEN it is described
    contact = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=CONNECTED_CHAT)["Contact"]

    # THEN AgentInfo names sam and when he was connected
    assert contact["AgentInfo"]["Id"] == SAM
    assert isinstance(contact["AgentInfo"]["ConnectedToAgentTimestamp"], dt.datetime)


def test_describe_disconnected_contacts(client: Any) -> None:
    # GIVEN a chat whose customer left while queued, and one sam handled
    # WHEN both are described
    left = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=DISCONNECTED_CHAT)["Contact"]
    handled = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=HANDLED_CHAT)["Contact"]

    # THEN both have a disconnect time; only the handled one has an agent
    assert "DisconnectTimestamp" in left
    assert "AgentInfo" not in left
    assert handled["AgentInfo"]["Id"] == SAM
    assert handled["DisconnectTimestamp"] > handled["AgentInfo"]["ConnectedToAgentTimestamp"]


def test_describe_contact_links_and_tags(client: Any) -> None:
    # GIVEN a follow-up task created from a call, an email related to a chat and a tagged VIP chat
    task = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=FOLLOW_UP_TASK)["Contact"]
    email = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=QUEUED_EMAIL)["Contact"]
    vip = client.describe_contact(InstanceId=INSTANCE_ID, ContactId="44444444-0000-4000-8000-000000000005")

    # THEN the links and tags come back as declared
    assert task["PreviousContactId"] == "44444444-0000-4000-8000-000000000011"
    assert task["InitialContactId"] == "44444444-0000-4000-8000-000000000011"
    assert email["RelatedContactId"] == HANDLED_CHAT
    assert vip["Contact"]["Tags"] == {"Segment": "vip"}


# ------------------------------------------------------------------------------ AssociateContactWithUser


def test_associate_by_user_id_marks_contact_associated_and_takes_a_slot(
    client: Any, emulator: ConnectEmulator, clock: Any
) -> None:
    # GIVEN dana has one of three chat slots taken
    assert emulator.user("dana").active_slots["CHAT"] == 1

    # WHEN a queued chat is associated with her
    clock.advance(5)
    response = client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA)

    # THEN the answer is an empty 200, the contact is associated but not yet connected
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert set(response) == {"ResponseMetadata"}
    snapshot = emulator.contact(QUEUED_CHAT)
    assert (snapshot.state, snapshot.agent_id, snapshot.connected_at) == ("ASSOCIATED", DANA, None)
    described = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)["Contact"]
    assert described["AgentInfo"] == {"Id": DANA}
    # AND her chat slots and contact list reflect it
    data = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Agents": [DANA]})["UserDataList"][0]
    assert data["ActiveSlotsByChannel"]["CHAT"] == 2
    assert data["AvailableSlotsByChannel"]["CHAT"] == 1
    assert [c["ContactId"] for c in data["Contacts"]] == [QUEUED_CHAT]
    assert data["Contacts"][0]["AgentContactState"] == "CONNECTING"
    assert data["Contacts"][0]["Queue"]["Id"] == SUPPORT_QUEUE
    assert "ConnectedToAgentTimestamp" not in data["Contacts"][0]
    # AND the association is recorded with its time
    [association] = emulator.associations
    assert (association.contact_id, association.user_id, association.time) == (QUEUED_CHAT, DANA, START + 5)


def test_associate_by_user_arn(client: Any, emulator: ConnectEmulator) -> None:
    # GIVEN the user ARN of sam
    # WHEN a queued email is associated with that ARN
    client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_EMAIL, UserId=emulator.user_arn("sam"))

    # THEN sam has it
    assert emulator.contact(QUEUED_EMAIL).agent_id == SAM


def test_associate_ignores_status_and_capacity(client: Any, emulator: ConnectEmulator) -> None:
    # GIVEN tariq's only task slot is taken and mo is in a custom status
    task = "44444444-0000-4000-8000-000000000003"
    assert emulator.user("tariq").available_slots["TASK"] == 0

    # WHEN contacts are associated with both
    client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=task, UserId=TARIQ)
    client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=MO)

    # THEN both succeed, as documented; tariq is over capacity but available slots never go negative
    assert emulator.user("tariq").active_slots["TASK"] == 2
    assert emulator.user("tariq").available_slots["TASK"] == 0
    assert emulator.contact(QUEUED_CHAT).agent_id == MO


# ------------------------------------------------------------------------------ GetCurrentUserData


def _user_ids(response: dict[str, Any]) -> list[str]:
    return [entry["User"]["Id"] for entry in response["UserDataList"]]


def test_current_user_data_by_agents_lists_logged_in_agents_only(client: Any) -> None:
    # GIVEN every user, an unknown id, and lee who is Offline
    agents = [DANA, SAM, TARIQ, LEE, MO, "99999999-0000-4000-8000-000000000000"]

    # WHEN their data is requested
    response = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Agents": agents})

    # THEN logged-in agents come back in request order; lee and the unknown id are absent
    assert _user_ids(response) == [DANA, SAM, TARIQ, MO]
    assert response["ApproximateTotalCount"] == 4
    dana = response["UserDataList"][0]
    assert dana["Status"]["StatusName"] == "Available"
    assert "/agent-state/" in dana["Status"]["StatusArn"]
    assert dana["RoutingProfile"]["Id"] == GENERALISTS
    assert dana["MaxSlotsByChannel"] == {"VOICE": 1, "CHAT": 3, "TASK": 2, "EMAIL": 2}
    assert dana["ActiveSlotsByChannel"] == {"VOICE": 0, "CHAT": 1, "TASK": 0, "EMAIL": 0}
    assert dana["AvailableSlotsByChannel"] == {"VOICE": 1, "CHAT": 2, "TASK": 2, "EMAIL": 2}
    assert response["UserDataList"][3]["Status"]["StatusName"] == "Training"


def test_current_user_data_counts_connected_contacts(client: Any) -> None:
    # GIVEN sam is connected to a chat and a VIP call
    # WHEN his data is requested by ARN
    sam_arn = f"arn:aws:connect:eu-west-2:123456789012:instance/{INSTANCE_ID}/agent/{SAM}"
    data = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Agents": [sam_arn]})["UserDataList"][0]

    # THEN each takes a slot of its channel and is listed as connected
    assert data["ActiveSlotsByChannel"] == {"VOICE": 1, "CHAT": 1, "TASK": 0, "EMAIL": 0}
    assert [c["ContactId"] for c in data["Contacts"]] == [CONNECTED_CHAT, VIP_VOICE]
    contact = data["Contacts"][0]
    assert contact["AgentContactState"] == "CONNECTED"
    assert isinstance(contact["ConnectedToAgentTimestamp"], dt.datetime)


def test_current_user_data_by_queue_and_routing_profile(client: Any) -> None:
    # GIVEN routing profiles that list no queues (so they serve every queue)
    # WHEN data is requested by queue and by routing profile
    by_queue = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Queues": [BILLING_QUEUE]})
    by_profile = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"RoutingProfiles": [BACK_OFFICE]})

    # THEN the queue is served by every logged-in agent; the profile has tariq only
    assert _user_ids(by_queue) == LOGGED_IN
    assert _user_ids(by_profile) == [TARIQ]


def test_current_user_data_queue_filter_respects_profile_queues() -> None:
    # GIVEN a world where the back-office profile only serves the billing queue
    data = sample_world_dict()
    data["routing_profiles"][1]["queues"] = ["Billing email"]
    emulator = ConnectEmulator(World.from_dict(data))
    client = emulator.client()

    # WHEN agents of the Support queue are requested
    response = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Queues": [SUPPORT_QUEUE]})

    # THEN tariq is not among them
    assert TARIQ not in _user_ids(response)
    assert DANA in _user_ids(response)


def test_current_user_data_paginates(client: Any) -> None:
    # GIVEN eight logged-in agents
    # WHEN they are read five at a time
    first = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Queues": [SUPPORT_QUEUE]}, MaxResults=5)
    second = client.get_current_user_data(
        InstanceId=INSTANCE_ID, Filters={"Queues": [SUPPORT_QUEUE]}, MaxResults=5, NextToken=first["NextToken"]
    )

    # THEN the pages are disjoint and the last one has no token
    assert _user_ids(first) == LOGGED_IN[:5]
    assert _user_ids(second) == LOGGED_IN[5:]
    assert "NextToken" not in second
    assert first["ApproximateTotalCount"] == 8


def test_current_user_data_contact_filter(client: Any) -> None:
    # GIVEN sam, nina and omar have connected contacts, and lead.two connected monitoring legs
    # WHEN agents with CONNECTED contacts are requested
    response = client.get_current_user_data(
        InstanceId=INSTANCE_ID,
        Filters={"Queues": [SUPPORT_QUEUE], "ContactFilter": {"ContactStates": ["CONNECTED"]}},
    )

    # THEN only they come back
    assert _user_ids(response) == [SAM, NINA, OMAR, LEAD_TWO]


def test_current_user_data_by_hierarchy_group(client: Any, emulator: ConnectEmulator) -> None:
    # GIVEN nina is the only member of the New hires group
    group_arn = f"{emulator.instance_arn}/agent-group/{NEW_HIRES}"

    # WHEN agents are requested by the group's id, then by its ARN
    by_id = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"UserHierarchyGroups": [NEW_HIRES]})
    by_arn = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"UserHierarchyGroups": [group_arn]})

    # THEN nina comes back with her hierarchy path; users outside a group have none
    assert _user_ids(by_id) == _user_ids(by_arn) == [NINA]
    assert by_id["UserDataList"][0]["HierarchyPath"] == {"LevelOne": {"Id": NEW_HIRES, "Arn": group_arn}}
    omar = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Agents": [OMAR]})["UserDataList"][0]
    assert "HierarchyPath" not in omar


# ------------------------------------------------------------------------------ SearchUsers


def _search(client: Any, criteria: dict[str, Any], **extra: Any) -> list[str]:
    response = client.search_users(InstanceId=INSTANCE_ID, SearchCriteria=criteria, **extra)
    return [user["Username"] for user in response["Users"]]


def _condition(value: str, comparison: str = "EXACT", field: str = "Username") -> dict[str, Any]:
    return {"StringCondition": {"FieldName": field, "Value": value, "ComparisonType": comparison}}


def test_search_users_exact_username_is_case_insensitive(client: Any) -> None:
    # GIVEN a user named dana
    # WHEN searched as DANA
    response = client.search_users(InstanceId=INSTANCE_ID, SearchCriteria=_condition("DANA"))

    # THEN she is found, with her id and routing profile
    [user] = response["Users"]
    assert (user["Id"], user["Username"], user["RoutingProfileId"]) == (DANA, "dana", GENERALISTS)
    assert user["Arn"].endswith(f"/agent/{DANA}")
    assert response["ApproximateTotalCount"] == 1


def test_search_users_comparisons_and_combinations(client: Any) -> None:
    # GIVEN users dana, sam, tariq, lee, mo, nina, omar, lead.one and lead.two
    # WHEN searching with each comparison and with Or/And combinations
    # THEN the matching users come back (Offline lee included: search is about configuration)
    assert _search(client, _condition("ta", "STARTS_WITH")) == ["tariq"]
    assert _search(client, _condition("A", "CONTAINS")) == [
        "dana",
        "sam",
        "tariq",
        "nina",
        "omar",
        "lead.one",
        "lead.two",
    ]
    assert _search(client, {"OrConditions": [_condition("lee"), _condition("mo")]}) == ["lee", "mo"]
    both = {"AndConditions": [_condition("a", "CONTAINS"), _condition(GENERALISTS, "EXACT", "RoutingProfileId")]}
    assert _search(client, both) == ["dana", "sam", "nina", "omar"]
    assert _search(client, _condition(TARIQ, "EXACT", "resourceId")) == ["tariq"]
    assert _search(client, _condition("nobody")) == []


def test_search_users_without_criteria_paginates_all_users(client: Any) -> None:
    # GIVEN nine users
    # WHEN searched five at a time without criteria
    first = client.search_users(InstanceId=INSTANCE_ID, MaxResults=5)
    second = client.search_users(InstanceId=INSTANCE_ID, MaxResults=5, NextToken=first["NextToken"])

    # THEN all nine come back over two pages
    names = [u["Username"] for u in first["Users"] + second["Users"]]
    assert names == ["dana", "sam", "tariq", "lee", "mo", "nina", "omar", "lead.one", "lead.two"]
    assert first["ApproximateTotalCount"] == 9
    assert "NextToken" not in second


def test_search_users_by_hierarchy_group(client: Any) -> None:
    # GIVEN nina in the New hires group
    # WHEN users are searched by that group, with either match type
    for match_type in ("EXACT", "WITH_CHILD_GROUPS"):
        condition = {"HierarchyGroupCondition": {"Value": NEW_HIRES, "HierarchyGroupMatchType": match_type}}
        response = client.search_users(InstanceId=INSTANCE_ID, SearchCriteria=condition)

        # THEN nina is found, with her group
        assert [(u["Username"], u["HierarchyGroupId"]) for u in response["Users"]] == [("nina", NEW_HIRES)]


# ------------------------------------------------------------------------------ DescribeUser


def test_describe_user(client: Any) -> None:
    # GIVEN tariq's user id
    # WHEN described
    user = client.describe_user(InstanceId=INSTANCE_ID, UserId=TARIQ)["User"]

    # THEN his username, ARN and routing profile come back
    assert (user["Id"], user["Username"], user["RoutingProfileId"]) == (TARIQ, "tariq", BACK_OFFICE)
    assert user["Arn"] == f"arn:aws:connect:eu-west-2:123456789012:instance/{INSTANCE_ID}/agent/{TARIQ}"
    assert user["PhoneConfig"]["PhoneType"] == "SOFT_PHONE"
    assert "HierarchyGroupId" not in user


def test_describe_user_in_a_hierarchy_group(client: Any) -> None:
    # GIVEN nina, a new hire
    # WHEN described
    user = client.describe_user(InstanceId=INSTANCE_ID, UserId=NINA)["User"]

    # THEN her own hierarchy group comes back
    assert user["HierarchyGroupId"] == NEW_HIRES
