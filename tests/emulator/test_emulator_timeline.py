"""State over time: the world file's timeline, `schedule`, and jumping the emulator's clock."""

from __future__ import annotations

from typing import Any

import pytest

from connect_emulator import ConnectEmulator, EmulatorStateError, World, WorldError
from tests.emulator.support import (
    DANA,
    INSTANCE_ID,
    LEE,
    ONE_ATTEMPT,
    QUEUED_CHAT,
    QUEUED_TASK,
    SAM,
    START,
    VirtualClock,
    sample_world_dict,
)

TIMELINE = [
    {"at": 60, "contact": QUEUED_CHAT, "connect_to": "dana"},
    {"at": 10, "user": "lee", "status": "Available"},
    {"at": 20, "user": "dana", "busy": {"CHAT": 2}},
    {"at": 20, "user": "dana", "status": "Lunch"},
    {"at": 120, "contact": QUEUED_CHAT, "disconnect": True},
]


def _world(timeline: list[dict[str, Any]]) -> World:
    data = sample_world_dict()
    data["timeline"] = timeline
    return World.from_dict(data)


@pytest.fixture
def timed(clock: VirtualClock) -> ConnectEmulator:
    """The sample world with TIMELINE, on the virtual clock."""
    return ConnectEmulator(_world(TIMELINE), clock=clock, sleep=clock.sleep)


def _agent(client: Any, user_id: str) -> dict[str, Any] | None:
    found = client.get_current_user_data(InstanceId=INSTANCE_ID, Filters={"Agents": [user_id]})["UserDataList"]
    return found[0] if found else None


# ------------------------------------------------------------------------------ the world file's timeline


def test_entries_apply_when_the_clock_passes_them(timed: ConnectEmulator, clock: VirtualClock) -> None:
    # GIVEN lee Offline, becoming Available 10 s after the start
    client = timed.client(config=ONE_ATTEMPT)
    assert _agent(client, LEE) is None

    # WHEN the clock moves past 10 s and a request comes
    clock.advance(15)
    lee = _agent(client, LEE)

    # THEN lee is logged in, and his status started at its scheduled time, not at the request
    assert lee is not None
    assert lee["Status"]["StatusName"] == "Available"
    assert lee["Status"]["StatusStartTimestamp"].timestamp() == START + 10


def test_contact_entries_connect_then_disconnect(timed: ConnectEmulator, clock: VirtualClock) -> None:
    client = timed.client(config=ONE_ATTEMPT)
    clock.advance(90)
    contact = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)["Contact"]
    assert contact["AgentInfo"]["Id"] == DANA
    assert contact["AgentInfo"]["ConnectedToAgentTimestamp"].timestamp() == START + 60
    assert "DisconnectTimestamp" not in contact
    clock.advance(60)
    assert timed.contact(QUEUED_CHAT).disconnected_at == START + 120


def test_entries_apply_in_time_order_then_file_order(timed: ConnectEmulator) -> None:
    # GIVEN entries written out of order, two of them at the same time
    # WHEN the emulator's time jumps past all of them
    records = timed.advance_to(200)

    # THEN they were applied by time, equal times in file order, each at its own time
    assert [(r.at, r.time) for r in records] == [
        (10, START + 10),
        (20, START + 20),
        (20, START + 20),
        (60, START + 60),
        (120, START + 120),
    ]
    assert [r.description for r in records] == [
        "user 33333333-0000-4000-8000-000000000004: status Available",
        "user 33333333-0000-4000-8000-000000000001: busy CHAT=2",
        "user 33333333-0000-4000-8000-000000000001: status Lunch",
        f"contact {QUEUED_CHAT}: connect to user {DANA}",
        f"contact {QUEUED_CHAT}: disconnect",
    ]
    assert all(r.error is None for r in records)
    dana = timed.user("dana")
    assert (dana.status, dana.active_slots["CHAT"]) == ("Lunch", 2)
    assert timed.timeline_records == records
    assert timed.pending_timeline == []


def test_python_api_reads_apply_the_timeline_too(timed: ConnectEmulator, clock: VirtualClock) -> None:
    clock.advance(25)
    assert timed.user("dana").status == "Lunch"
    assert [at for at, _ in timed.pending_timeline] == [60, 120]


# ------------------------------------------------------------------------------ jumping time


def test_advance_to_moves_the_emulator_time_forward_only(timed: ConnectEmulator, clock: VirtualClock) -> None:
    # GIVEN the emulator at its start
    assert timed.elapsed() == 0

    # WHEN its time is moved to 65 s
    records = timed.advance_to(65)

    # THEN its clock says so (the virtual clock itself did not move), and entries up to 65 s applied
    assert (timed.now(), clock.now) == (START + 65, START)
    assert [r.at for r in records] == [10, 20, 20, 60]
    assert timed.contact(QUEUED_CHAT).state == "CONNECTED"
    # AND moving "to" an earlier time changes nothing
    assert timed.advance_to(30) == []
    assert timed.elapsed() == 65
    # AND advance adds seconds; the two clocks add up
    clock.advance(5)
    timed.advance(50)
    assert timed.elapsed() == 120
    assert timed.contact(QUEUED_CHAT).state == "DISCONNECTED"


def test_advance_works_on_the_real_clock(sample_world: World) -> None:
    emulator = ConnectEmulator(sample_world)
    emulator.schedule(3600, user="sam", status="Lunch")
    emulator.advance(3600)
    assert emulator.user("sam").status == "Lunch"
    assert emulator.elapsed() >= 3600


def test_jumps_refill_rate_quotas(timed: ConnectEmulator) -> None:
    client = timed.client(config=ONE_ATTEMPT)
    timed.faults.set_rate_quota("DescribeUser", rate=1, burst=1)
    client.describe_user(InstanceId=INSTANCE_ID, UserId=DANA)
    with pytest.raises(client.exceptions.ThrottlingException):
        client.describe_user(InstanceId=INSTANCE_ID, UserId=DANA)
    timed.advance(1)
    client.describe_user(InstanceId=INSTANCE_ID, UserId=DANA)


# ------------------------------------------------------------------------------ schedule


def test_schedule_entries_in_world_file_form(emulator: ConnectEmulator, client: Any, clock: VirtualClock) -> None:
    # GIVEN changes scheduled from Python, as keywords and as a mapping
    emulator.schedule(30, user="sam", status="Training", busy={"chat": 3})
    emulator.schedule(40, {"contact": QUEUED_TASK, "connect_to": "tariq"})

    # WHEN the clock passes them and a request comes
    clock.advance(45)
    sam = _agent(client, SAM)

    # THEN both happened at their times
    assert sam is not None
    assert (sam["Status"]["StatusName"], sam["AvailableSlotsByChannel"]["CHAT"]) == ("Training", 0)
    assert sam["Status"]["StatusStartTimestamp"].timestamp() == START + 30
    assert emulator.contact(QUEUED_TASK).connected_at == START + 40


def test_schedule_a_callable(emulator: ConnectEmulator, clock: VirtualClock) -> None:
    # GIVEN a callable adding a contact 30 s after the start
    added: list[str] = []

    def new_chat(emu: ConnectEmulator) -> None:
        added.append(emu.add_contact(channel="CHAT", queue="Support").id)

    emulator.schedule(30, new_chat)

    # WHEN the emulator is used after that
    clock.advance(31)
    emulator.apply_timeline()

    # THEN the contact exists, queued at the scheduled time
    [contact_id] = added
    assert emulator.contact(contact_id).enqueued_at == START + 30
    assert emulator.timeline_records[-1].description == "call new_chat"


def test_schedule_in_the_past_applies_now(emulator: ConnectEmulator, clock: VirtualClock) -> None:
    clock.advance(100)
    emulator.schedule(10, user="dana", status="Lunch")
    [record] = emulator.timeline_records
    assert (record.at, record.time) == (10, START + 100)
    assert emulator.user("dana").status == "Lunch"


def test_schedule_checks_its_entry(emulator: ConnectEmulator) -> None:
    runtime_contact = emulator.add_contact(channel="CHAT", queue="Support").id
    emulator.schedule(5, contact=runtime_contact, disconnect=True)  # contacts added at runtime are known
    with pytest.raises(EmulatorStateError, match="'ghost' is not a defined user"):
        emulator.schedule(5, user="ghost", status="Available")
    with pytest.raises(EmulatorStateError, match="not a defined contact"):
        emulator.schedule(5, contact="nope", disconnect=True)
    with pytest.raises(EmulatorStateError, match="a callable or entry fields, not both"):
        emulator.schedule(5, print, user="dana")
    with pytest.raises(EmulatorStateError, match="at must be a number of seconds >= 0"):
        emulator.schedule(-1, user="dana", status="Lunch")


def test_failed_entries_are_recorded_and_the_rest_goes_on(emulator: ConnectEmulator, clock: VirtualClock) -> None:
    # GIVEN a connection scheduled after the customer left, then a status change
    emulator.schedule(10, contact=QUEUED_CHAT, disconnect=True)
    emulator.schedule(20, contact=QUEUED_CHAT, connect_to="dana")
    emulator.schedule(30, user="dana", status="Lunch")

    # WHEN they are due
    clock.advance(30)
    records = emulator.apply_timeline()

    # THEN the impossible one is recorded with its error, the others applied
    assert [r.error is None for r in records] == [True, False, True]
    assert "DISCONNECTED" in str(records[1].error)
    assert emulator.user("dana").status == "Lunch"


def test_timeline_and_routing_criteria(emulator: ConnectEmulator, client: Any) -> None:
    # GIVEN a chat preferring dana for 30 s then sam for 30 s, and sam taking it at 40 s
    steps = [
        {
            "Expiry": {"DurationInSeconds": 30},
            "Expression": {
                "AttributeCondition": {
                    "ComparisonOperator": "Match",
                    "MatchCriteria": {"AgentsCriteria": {"AgentIds": [agent]}},
                }
            },
        }
        for agent in (DANA, SAM)
    ]
    client.update_contact_routing_data(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, RoutingCriteria={"Steps": steps})
    emulator.schedule(40, contact=QUEUED_CHAT, connect_to="sam")

    # WHEN the emulator's time jumps well past both steps
    emulator.advance_to(300)

    # THEN the second step is the one that JOINED
    criteria = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)["Contact"]["RoutingCriteria"]
    assert [step["Status"] for step in criteria["Steps"]] == ["EXPIRED", "JOINED"]


# ------------------------------------------------------------------------------ world-file mistakes


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"user": "dana", "status": "Lunch"}, "timeline[0]: at is required"),
        ({"at": -5, "user": "dana", "status": "Lunch"}, "timeline[0] (-5): at must be a number of seconds >= 0"),
        ({"at": "soon", "user": "dana", "status": "Lunch"}, "at must be a number of seconds >= 0, got 'soon'"),
        ({"at": 1, "status": "Lunch"}, "give either user (with status and/or busy) or contact"),
        ({"at": 1, "user": "dana", "contact": QUEUED_CHAT, "disconnect": True}, "give either user"),
        ({"at": 1, "user": "dana"}, "a user entry needs status, busy or both"),
        ({"at": 1, "user": "ghost", "status": "Lunch"}, "user 'ghost' is not a defined user"),
        ({"at": 1, "user": "dana", "busy": {"FAX": 1}}, "busy channel 'FAX' is not one of"),
        ({"at": 1, "user": "dana", "disconnect": True}, "disconnect applies to a contact, not to a user"),
        ({"at": 1, "contact": "nope", "disconnect": True}, "contact 'nope' is not a defined contact"),
        ({"at": 1, "contact": QUEUED_CHAT}, "needs exactly one of connect_to: USER or disconnect: true"),
        ({"at": 1, "contact": QUEUED_CHAT, "connect_to": "dana", "disconnect": True}, "needs exactly one of"),
        ({"at": 1, "contact": QUEUED_CHAT, "disconnect": False}, "disconnect must be true when given"),
        ({"at": 1, "contact": QUEUED_CHAT, "connect_to": "ghost"}, "connect_to 'ghost' is not a defined user"),
        ({"at": 1, "contact": QUEUED_CHAT, "status": "Lunch"}, "status applies to a user, not to a contact"),
        ({"at": 1, "contact": QUEUED_CHAT, "queue": "VIP"}, "unknown field 'queue'"),
    ],
)
def test_timeline_mistakes_name_the_entry_and_field(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(WorldError) as caught:
        _world([entry])
    assert message in str(caught.value)


def test_timeline_must_be_a_list() -> None:
    with pytest.raises(WorldError, match="timeline: must be a list"):
        World.from_dict({**sample_world_dict(), "timeline": {"at": 1}})
