"""SearchContacts: time ranges, the filters the sweep uses, pagination, validation, and the summary shape."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from connect_emulator import ConnectEmulator, HttpRequest
from tests.emulator.support import (
    BILLING_QUEUE,
    DANA,
    INSTANCE_ID,
    SAM,
    START,
    SUPPORT_QUEUE,
    client_error,
)

VIP_QUEUE = "22222222-0000-4000-8000-000000000002"


def at(seconds: float) -> dt.datetime:
    """START + seconds, as an aware datetime."""
    return dt.datetime.fromtimestamp(START + seconds, dt.UTC)


def iso(seconds: float) -> str:
    return at(seconds).isoformat()


def ids(response: dict[str, Any]) -> list[str]:
    return [contact["Id"] for contact in response["Contacts"]]


def search(client: Any, start: float, end: float, kind: str = "INITIATION_TIMESTAMP", **params: Any) -> Any:
    return client.search_contacts(
        InstanceId=INSTANCE_ID, TimeRange={"Type": kind, "StartTime": at(start), "EndTime": at(end)}, **params
    )


@pytest.fixture
def later(emulator: ConnectEmulator) -> None:
    """Contacts initiated after the seeded ones (which all start 300 s before START), one per case."""
    emulator.add_contact(
        "queued-chat",
        channel="CHAT",
        queue="Support",
        initiated_at=iso(100),
        enqueued_at=iso(130),
        segment_attributes={"connect:Subtype": "connect:Chat", "count": {"ValueInteger": 3}},
        attributes={"secret": "not in summaries"},
        customer_endpoint={"type": "TELEPHONE_NUMBER", "address": "+447700900999"},
    )
    emulator.add_contact("queued-task", channel="TASK", queue="VIP", initiated_at=iso(110), enqueued_at=iso(115))
    emulator.add_contact(
        "transferred-email",
        channel="EMAIL",
        initiation_method="TRANSFER",
        queue="Billing email",
        initiated_at=iso(120),
        enqueued_at=iso(121),
    )
    emulator.add_contact(
        "answered-chat",
        channel="CHAT",
        queue="Support",
        state="CONNECTED",
        agent="sam",
        initiated_at=iso(140),
        enqueued_at=iso(150),
        connected_at=iso(160),
    )
    emulator.add_contact(
        "ended-chat",
        channel="CHAT",
        queue="Support",
        state="DISCONNECTED",
        initiated_at=iso(150),
        enqueued_at=iso(151),
        disconnected_at=iso(170),
    )
    emulator.add_contact("queued-call", channel="VOICE", queue="Support", initiated_at=iso(160), enqueued_at=iso(161))
    emulator.add_contact(
        "answered-call",
        channel="VOICE",
        queue="Support",
        state="CONNECTED",
        agent="dana",
        initiated_at=iso(165),
        enqueued_at=iso(166),
        connected_at=iso(180),
    )


# ------------------------------------------------------------------------------ time ranges and filters


@pytest.mark.usefixtures("later")
def test_initiation_range_is_inclusive_and_leaves_out_older_contacts(client: Any) -> None:
    # GIVEN contacts initiated from START+100 on, and seeded ones initiated at START-300
    # WHEN contacts initiated in [START+100, START+150] are searched
    found = search(client, 100, 150)

    # THEN both bounds are included, in initiation order, and the seeded contacts are not there
    assert ids(found) == ["queued-chat", "queued-task", "transferred-email", "answered-chat", "ended-chat"]
    assert found["TotalCount"] == 5
    assert "NextToken" not in found


@pytest.mark.usefixtures("later")
@pytest.mark.parametrize(
    ("kind", "start", "end", "expected"),
    [
        ("ENQUEUE_TIMESTAMP", 120, 140, ["queued-chat", "transferred-email"]),
        ("CONNECTED_TO_AGENT_TIMESTAMP", 0, 1000, ["answered-chat", "answered-call"]),
        ("DISCONNECT_TIMESTAMP", 0, 1000, ["ended-chat"]),
        ("SCHEDULED_TIMESTAMP", -10_000, 10_000, []),
    ],
)
def test_each_time_range_type_uses_its_own_timestamp(
    client: Any, kind: str, start: float, end: float, expected: list[str]
) -> None:
    # WHEN the range is on another timestamp
    found = search(client, start, end, kind)

    # THEN only contacts having that timestamp in range match (scheduled tasks are not emulated)
    assert ids(found) == expected


@pytest.mark.usefixtures("later")
def test_filters_the_sweep_uses_combine(client: Any) -> None:
    # GIVEN the sweep's criteria: its queues and the routed channels
    criteria = {"QueueIds": [SUPPORT_QUEUE, BILLING_QUEUE], "Channels": ["CHAT", "TASK", "EMAIL"]}

    # WHEN searched
    found = search(client, 0, 1000, SearchCriteria=criteria)

    # THEN every list must match (VIP's task and the calls are left out)
    assert ids(found) == ["queued-chat", "transferred-email", "answered-chat", "ended-chat"]


@pytest.mark.usefixtures("later")
@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"InitiationMethods": ["TRANSFER"]}, ["transferred-email"]),
        ({"AgentIds": [SAM]}, ["answered-chat"]),
        ({"QueueIds": [VIP_QUEUE]}, ["queued-task"]),
        ({"Channels": []}, ["queued-chat", "queued-task", "transferred-email", "answered-chat", "ended-chat"]),
    ],
)
def test_single_filters(client: Any, criteria: dict[str, Any], expected: list[str]) -> None:
    # WHEN one filter is given (an empty list filters nothing)
    found = search(client, 100, 150, SearchCriteria=criteria)

    # THEN it alone decides
    assert ids(found) == expected


@pytest.mark.usefixtures("later")
def test_queued_voice_contacts_are_not_searchable_until_answered(client: Any, emulator: ConnectEmulator) -> None:
    # GIVEN a queued call and an answered call (the admin guide: voice contacts are searchable once connected
    # to an agent or disconnected)
    found = search(client, 155, 170, SearchCriteria={"Channels": ["VOICE"]})

    # THEN only the answered one is found
    assert ids(found) == ["answered-call"]

    # AND the queued one appears once an agent takes it
    emulator.connect_contact("queued-call", "sam")
    assert ids(search(client, 155, 170, SearchCriteria={"Channels": ["VOICE"]})) == ["queued-call", "answered-call"]


# ------------------------------------------------------------------------------ the summary


@pytest.mark.usefixtures("later")
def test_summary_carries_the_waiting_state_but_no_customer_data(client: Any) -> None:
    # WHEN the waiting chat, the answered chat and the ended chat are found
    found = {c["Id"]: c for c in search(client, 100, 150)["Contacts"]}
    waiting, answered, ended = found["queued-chat"], found["answered-chat"], found["ended-chat"]

    # THEN the waiting one has QueueInfo, no AgentInfo, no DisconnectTimestamp
    assert waiting["Channel"] == "CHAT"
    assert waiting["InitiationMethod"] == "API"
    assert waiting["Arn"].endswith(f"instance/{INSTANCE_ID}/contact/queued-chat")
    assert waiting["QueueInfo"] == {"Id": SUPPORT_QUEUE, "EnqueueTimestamp": at(130)}
    assert waiting["InitiationTimestamp"] == at(100)
    assert "AgentInfo" not in waiting
    assert "DisconnectTimestamp" not in waiting

    # AND the others show why they no longer wait
    assert answered["AgentInfo"] == {"Id": SAM, "ConnectedToAgentTimestamp": at(160)}
    assert ended["DisconnectTimestamp"] == at(170)

    # AND no user-defined attribute or customer endpoint is in a summary (the model has neither); segment
    # attributes keep only the members a summary value may have (ValueString, ValueMap)
    assert "Attributes" not in waiting
    assert "CustomerEndpoint" not in waiting
    assert waiting["SegmentAttributes"] == {"connect:Subtype": {"ValueString": "connect:Chat"}}


def test_routing_criteria_and_transfers_are_visible(emulator: ConnectEmulator, client: Any) -> None:
    # GIVEN a contact transferred from another one, with routing criteria preferring dana
    emulator.add_contact(
        "follow-up",
        channel="TASK",
        initiation_method="TRANSFER",
        queue="Support",
        previous_contact="earlier",
        initiated_at=iso(10),
    )
    preferred = {"ComparisonOperator": "Match", "MatchCriteria": {"AgentsCriteria": {"AgentIds": [DANA]}}}
    client.update_contact_routing_data(
        InstanceId=INSTANCE_ID,
        ContactId="follow-up",
        RoutingCriteria={"Steps": [{"Expression": {"AttributeCondition": preferred}}]},
    )

    # WHEN it is found
    (summary,) = search(client, 0, 20)["Contacts"]

    # THEN the previous and initial contacts and the routing criteria are in its summary
    assert summary["PreviousContactId"] == "earlier"
    assert summary["InitialContactId"] == "earlier"
    assert summary["RoutingCriteria"]["Steps"][0]["Status"] == "ACTIVE"


# ------------------------------------------------------------------------------ pages


def test_pages_of_max_results_with_a_total_count(emulator: ConnectEmulator, client: Any) -> None:
    # GIVEN 250 queued chats
    for n in range(250):
        emulator.add_contact(f"chat-{n:03}", channel="CHAT", queue="Support", initiated_at=iso(1000 + n))

    # WHEN they are read page by page, 100 at a time
    pages, token = [], None
    while True:
        params: dict[str, Any] = {"MaxResults": 100}
        if token:
            params["NextToken"] = token
        page = search(client, 1000, 2000, **params)
        pages.append(ids(page))
        token = page.get("NextToken")
        if not token:
            break

    # THEN there are three pages, every contact once, in order, and each page knows the total
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [i for p in pages for i in p] == [f"chat-{n:03}" for n in range(250)]
    assert page["TotalCount"] == 250


@pytest.mark.usefixtures("later")
def test_sort_by_a_timestamp_or_a_field(client: Any) -> None:
    # WHEN sorted by initiation time, newest first, and by channel
    newest = search(client, 100, 150, Sort={"FieldName": "INITIATION_TIMESTAMP", "Order": "DESCENDING"})
    by_channel = search(client, 100, 150, Sort={"FieldName": "CHANNEL", "Order": "ASCENDING"})

    # THEN the order follows
    assert ids(newest) == ["ended-chat", "answered-chat", "transferred-email", "queued-task", "queued-chat"]
    assert [c["Channel"] for c in by_channel["Contacts"]] == ["CHAT", "CHAT", "CHAT", "EMAIL", "TASK"]


# ------------------------------------------------------------------------------ rejections


def test_max_results_above_100_is_an_invalid_parameter(client: Any) -> None:
    code, status, message = client_error(
        client.search_contacts,
        InstanceId=INSTANCE_ID,
        TimeRange={"Type": "INITIATION_TIMESTAMP", "StartTime": at(0), "EndTime": at(1)},
        MaxResults=101,
    )
    assert (code, status) == ("InvalidParameterException", 400)
    assert "value less than or equal to 100" in message


def test_unknown_channel_and_range_type_are_invalid_parameters(client: Any) -> None:
    # GIVEN values outside the model's enums (botocore does not check them)
    code, _, message = client_error(
        client.search_contacts,
        InstanceId=INSTANCE_ID,
        TimeRange={"Type": "QUEUED_TIMESTAMP", "StartTime": at(0), "EndTime": at(1)},
        SearchCriteria={"Channels": ["SMS"]},
    )

    # THEN both are reported
    assert code == "InvalidParameterException"
    assert "'SMS'" in message
    assert "'QUEUED_TIMESTAMP'" in message


def test_start_after_end_is_an_invalid_parameter(client: Any) -> None:
    code, status, message = client_error(
        client.search_contacts,
        InstanceId=INSTANCE_ID,
        TimeRange={"Type": "INITIATION_TIMESTAMP", "StartTime": at(10), "EndTime": at(0)},
    )
    assert (code, status) == ("InvalidParameterException", 400)
    assert "StartTime" in message


def test_missing_time_range_is_rejected_by_the_service(emulator: ConnectEmulator) -> None:
    # GIVEN a raw request without the required TimeRange (botocore would refuse to send it)
    body = json.dumps({"InstanceId": INSTANCE_ID}).encode()
    response = emulator.handle(HttpRequest("POST", "/search-contacts", body=body))

    # THEN the service names it
    assert response.status == 400
    assert "'timeRange'" in response.json()["Message"]


def test_unknown_instance_is_not_found(client: Any) -> None:
    code, status, _ = client_error(
        client.search_contacts,
        InstanceId="99999999-2222-4333-8444-555555555555",
        TimeRange={"Type": "INITIATION_TIMESTAMP", "StartTime": at(0), "EndTime": at(1)},
    )
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_bad_next_token_is_an_invalid_parameter(client: Any) -> None:
    code, _, _ = client_error(
        client.search_contacts,
        InstanceId=INSTANCE_ID,
        TimeRange={"Type": "INITIATION_TIMESTAMP", "StartTime": at(0), "EndTime": at(1)},
        NextToken="not-a-token",
    )
    assert code == "InvalidParameterException"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        (
            {"SearchCriteria": {"SearchableContactAttributes": {"Criteria": [{"Key": "k", "Values": ["v"]}]}}},
            "Searchable",
        ),
        ({"SearchCriteria": {"Name": {"SearchText": ["x"], "MatchType": "MATCH_ANY"}}}, "Name"),
        ({"Sort": {"FieldName": "EXPIRY_TIMESTAMP", "Order": "ASCENDING"}}, "EXPIRY_TIMESTAMP"),
    ],
)
def test_criteria_not_emulated_answer_501(client: Any, params: dict[str, Any], named: str) -> None:
    # WHEN a criterion the emulator does not implement is used
    code, status, message = client_error(
        client.search_contacts,
        InstanceId=INSTANCE_ID,
        TimeRange={"Type": "INITIATION_TIMESTAMP", "StartTime": at(0), "EndTime": at(1)},
        **params,
    )

    # THEN it says so, rather than answering as if nothing matched
    assert (code, status) == ("NotImplementedByEmulator", 501)
    assert named in message


@pytest.mark.usefixtures("later")
def test_responses_validate_against_the_output_shape(emulator: ConnectEmulator) -> None:
    # GIVEN a raw search over every later contact and the seeded ones
    body = {
        "InstanceId": INSTANCE_ID,
        "TimeRange": {"Type": "INITIATION_TIMESTAMP", "StartTime": START - 1000, "EndTime": START + 1000},
        "MaxResults": 100,
    }
    response = emulator.handle(HttpRequest("POST", "/search-contacts", body=json.dumps(body).encode()))

    # THEN the answer is exactly what the model allows
    operation = emulator.model.operation("SearchContacts")
    assert response.status == 200
    assert response.json()["TotalCount"] > 20
    assert emulator.model.validate(operation.output_shape, response.json(), strict=True) == []


def test_search_contacts_is_throttled_like_any_operation(emulator: ConnectEmulator, client: Any) -> None:
    # GIVEN a quota of one search per two seconds with no burst beyond one
    emulator.faults.set_rate_quota("SearchContacts", 0.5, 1)

    # WHEN two searches come at once
    search(client, 0, 1)
    code, status, _ = client_error(
        client.search_contacts,
        InstanceId=INSTANCE_ID,
        TimeRange={"Type": "INITIATION_TIMESTAMP", "StartTime": at(0), "EndTime": at(1)},
    )

    # THEN the second is throttled
    assert (code, status) == ("ThrottlingException", 429)
