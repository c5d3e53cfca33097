"""Native routing: the emulated instance offers queued contacts to agents by itself (docs/emulator.md)."""

from __future__ import annotations

from typing import Any

import pytest

from connect_emulator import ConnectEmulator, EmulatorStateError, RoutingEvent, World, WorldError
from tests.emulator.support import ONE_ATTEMPT, VirtualClock, client_error

INSTANCE = "11111111-2222-4333-8444-555555555555"


def _world(**routing: Any) -> dict[str, Any]:
    """Three chat agents on Support, a back-office agent on Billing, one Offline; contacts come at runtime."""
    return {
        "instance": {"id": INSTANCE},
        "routing": {"native": True, **routing},
        "routing_profiles": [
            {"name": "Chat", "concurrency": {"CHAT": 2, "TASK": 1}, "queues": ["Support"]},
            {"name": "Back office", "concurrency": {"TASK": 1, "EMAIL": 1}, "queues": ["Billing"]},
        ],
        "queues": [
            {"name": "Support"},
            {"name": "Billing"},
            {"name": "Ana's queue", "type": "AGENT", "agent": "ana"},
        ],
        "users": [
            {"username": "ana", "routing_profile": "Chat"},
            {"username": "ben", "routing_profile": "Chat"},
            {"username": "cy", "routing_profile": "Chat"},
            {"username": "dee", "routing_profile": "Back office"},
            {"username": "eve", "routing_profile": "Chat", "status": "Offline"},
        ],
    }


def _emulator(world: dict[str, Any] | None = None, seed: int = 3, **routing: Any) -> ConnectEmulator:
    clock = VirtualClock()
    return ConnectEmulator(World.from_dict(world or _world(**routing)), clock=clock, sleep=clock.sleep, seed=seed)


def _busy_all_but(emulator: ConnectEmulator, *free: str) -> None:
    for name in ("ana", "ben", "cy"):
        if name not in free:
            emulator.set_user_status(name, "Lunch")


def _id(emulator: ConnectEmulator, username: str) -> str:
    return emulator.user(username).id


def _criteria(*steps: tuple[list[str], int | None]) -> dict[str, Any]:
    built = []
    for agent_ids, duration in steps:
        condition = {"ComparisonOperator": "Match", "MatchCriteria": {"AgentsCriteria": {"AgentIds": agent_ids}}}
        step: dict[str, Any] = {"Expression": {"AttributeCondition": condition}}
        if duration is not None:
            step["Expiry"] = {"DurationInSeconds": duration}
        built.append(step)
    return {"Steps": built}


# ------------------------------------------------------------------------------ offers and eligibility


def test_a_contact_entering_a_staffed_queue_is_connected_to_an_agent_at_once() -> None:
    # GIVEN native routing on (the default) and free agents on Support
    emulator = _emulator()

    # WHEN a chat enters Support
    contact = emulator.add_contact(channel="CHAT", queue="Support")

    # THEN it is connected now, by native routing, to an agent serving Support
    seen = emulator.contact(contact.id)
    assert seen.state == "CONNECTED"
    assert seen.connected_via == "native"
    assert seen.connected_at == emulator.now()
    assert seen.agent_id in {_id(emulator, name) for name in ("ana", "ben", "cy")}
    assert [(c.contact_id, c.via) for c in emulator.connections] == [(contact.id, "native")]
    assert [e.kind for e in emulator.routing_events] == ["offered", "connected"]


def test_a_routing_section_turns_routing_on_its_absence_keeps_the_old_world() -> None:
    # GIVEN the world with `routing: {}`, the same world without the section, and the first forced off
    with_section = {**_world(), "routing": {}}
    without = _world()
    del without["routing"]
    on = _emulator(with_section)
    legacy = _emulator(without)
    forced_off = ConnectEmulator(World.from_dict(with_section), routing=False)
    forced_on = ConnectEmulator(World.from_dict(without), routing=True)

    # WHEN a chat enters Support in each
    states = [emu.add_contact(channel="CHAT", queue="Support").state for emu in (on, legacy, forced_off, forced_on)]

    # THEN Connect's own routing takes it where routing is on; elsewhere it waits, as before
    assert states == ["CONNECTED", "QUEUED", "QUEUED", "CONNECTED"]
    assert (on.routing.native, legacy.routing.native) == (True, False)


def test_only_agents_serving_the_queue_routable_and_with_a_free_slot_are_offered() -> None:
    # GIVEN dee (Back office: Billing only), eve Offline, ana at Lunch, ben with both chat slots busy
    emulator = _emulator()
    emulator.set_user_status("ana", "Lunch")
    emulator.set_busy("ben", "CHAT", 2)
    emulator.set_user_status("cy", "Training")

    # WHEN a chat enters Support
    contact = emulator.add_contact(channel="CHAT", queue="Support").id

    # THEN nobody is eligible: it waits
    assert emulator.contact(contact).state == "QUEUED"

    # WHEN ana comes back from lunch 30 s later
    emulator.schedule(30, user="ana", status="Available")
    emulator.advance_to(40)

    # THEN it is connected to her at that moment, not when the emulator noticed
    seen = emulator.contact(contact)
    assert seen.agent_id == _id(emulator, "ana")
    assert seen.connected_at == emulator.started_at + 30


def test_a_freed_slot_takes_the_oldest_waiting_contact() -> None:
    # GIVEN only cy Available with one free chat slot, then two chats waiting
    emulator = _emulator()
    _busy_all_but(emulator, "cy")
    emulator.set_busy("cy", "CHAT", 2)
    first = emulator.add_contact(channel="CHAT", queue="Support").id
    emulator.advance(5)
    second = emulator.add_contact(channel="CHAT", queue="Support").id

    # WHEN one of cy's slots frees
    emulator.set_busy("cy", "CHAT", 1)

    # THEN the older contact is connected, the newer still waits
    assert emulator.contact(first).state == "CONNECTED"
    assert emulator.contact(second).state == "QUEUED"


def test_priority_comes_before_age_and_time_adjustment_changes_age() -> None:
    # GIVEN three waiting chats: old (priority 5), newer with priority 2, newest aged by 100 s
    emulator = _emulator()
    _busy_all_but(emulator, "cy")
    emulator.set_busy("cy", "CHAT", 2)
    client = emulator.client(config=ONE_ATTEMPT)
    old = emulator.add_contact(channel="CHAT", queue="Support").id
    emulator.advance(10)
    urgent = emulator.add_contact(channel="CHAT", queue="Support").id
    emulator.advance(10)
    aged = emulator.add_contact(channel="CHAT", queue="Support").id
    client.update_contact_routing_data(InstanceId=INSTANCE, ContactId=urgent, QueuePriority=2)
    client.update_contact_routing_data(InstanceId=INSTANCE, ContactId=aged, QueueTimeAdjustmentSeconds=100)

    # WHEN slots free one at a time
    order = []
    for busy in (1, 0):
        emulator.set_busy("cy", "CHAT", busy)
        order += [c for c in (old, urgent, aged) if emulator.contact(c).state == "CONNECTED" and c not in order]

    # THEN priority 2 first, then the contact aged by 100 s (older than `old` by 80 s)
    assert order == [urgent, aged]
    assert emulator.contact(old).state == "QUEUED"


def _two_queue_world(support: dict[str, Any], billing: dict[str, Any]) -> dict[str, Any]:
    world = _world()
    world["routing_profiles"][0]["queues"] = [{"queue": "Support", **support}, {"queue": "Billing", **billing}]
    return world


def test_routing_profile_queue_priority_comes_before_age() -> None:
    # GIVEN cy's profile: Billing priority 1, Support priority 2; an older Support chat, a newer Billing chat
    emulator = _emulator(_two_queue_world({"priority": 2}, {"priority": 1}))
    _busy_all_but(emulator)
    support = emulator.add_contact(channel="CHAT", queue="Support").id
    emulator.advance(30)
    billing = emulator.add_contact(channel="CHAT", queue="Billing").id
    emulator.set_busy("cy", "CHAT", 1)

    # WHEN cy becomes Available with one free chat slot
    emulator.set_user_status("cy", "Available")

    # THEN she is offered the Billing chat first (admin guide, queue priority and delay examples)
    assert emulator.contact(billing).state == "CONNECTED"
    assert emulator.contact(support).state == "QUEUED"


def test_routing_profile_queue_delay_holds_a_contact_back_from_that_profile() -> None:
    # GIVEN cy's profile takes Billing only after 30 s in queue; cy free
    emulator = _emulator(_two_queue_world({}, {"delay": 30}))
    _busy_all_but(emulator, "cy")
    billing = emulator.add_contact(channel="CHAT", queue="Billing").id

    # THEN the Billing chat waits until it is 30 s old, then reaches cy at that moment
    emulator.advance(29)
    assert emulator.contact(billing).state == "QUEUED"
    emulator.advance(10)
    seen = emulator.contact(billing)
    assert seen.agent_id == _id(emulator, "cy")
    assert seen.connected_at == seen.enqueued_at + 30


def test_routing_profile_queue_config_mistakes_are_named() -> None:
    with pytest.raises(WorldError, match="must be 1-99 and delay 0-9999"):
        World.from_dict(_two_queue_world({"priority": 100}, {}))
    with pytest.raises(WorldError, match=r"queues\[1\]: queue 'Nope' is not a defined queue"):
        World.from_dict(_two_queue_world({}, {"queue": "Nope"}))


@pytest.mark.parametrize(
    ("order", "expected"),
    [("fewest_contacts", "cy"), ("longest_idle", "ana")],
)
def test_agent_order_switch(order: str, expected: str) -> None:
    # GIVEN ana idle longest but already on a chat (busy), ben idle more recently, cy idle less long but free
    emulator = _emulator(agent_order=order)
    emulator.set_busy("ana", "CHAT", 1)
    emulator.advance(10)
    emulator.set_user_status("cy", "Available")  # status change: idle from now
    emulator.advance(10)
    emulator.set_user_status("ben", "Available")

    # WHEN a chat enters Support
    contact = emulator.add_contact(channel="CHAT", queue="Support").id

    # THEN fewest_contacts picks cy (no contact, idle longer than ben); longest_idle picks ana (idle longest)
    assert emulator.contact(contact).agent_id == _id(emulator, expected)


def test_random_agent_order_is_deterministic_for_a_seed() -> None:
    # GIVEN two emulators with the same seed and random agent order
    def agents(seed: int) -> list[str | None]:
        emulator = _emulator(agent_order="random", seed=seed)
        return [emulator.add_contact(channel="CHAT", queue="Support").agent_id for _ in range(4)]

    # THEN the same seed gives the same choices
    assert agents(11) == agents(11)


def test_cross_channel_behavior_switch() -> None:
    # GIVEN cy (the only Available agent) on a chat; the profile's chat behaviour varies
    def offered_task(behavior: str) -> bool:
        world = _world()
        world["routing_profiles"][0]["cross_channel"] = {"CHAT": behavior}
        emulator = _emulator(world)
        _busy_all_but(emulator, "cy")
        emulator.add_contact(channel="CHAT", queue="Support")
        return emulator.add_contact(channel="TASK", queue="Support").state == "CONNECTED"

    # THEN a task reaches cy only when the chat lets other channels be routed
    assert offered_task("ROUTE_ANY_CHANNEL")
    assert not offered_task("ROUTE_CURRENT_CHANNEL_ONLY")


# ------------------------------------------------------------------------------ routing criteria


def test_routing_criteria_offer_only_the_steps_agents_until_the_steps_expire() -> None:
    # GIVEN ana and ben busy, cy free; a waiting chat prefers ana for 20 s then ben for 10 s
    emulator = _emulator()
    emulator.set_busy("ana", "CHAT", 2)
    emulator.set_busy("ben", "CHAT", 2)
    emulator.set_user_status("cy", "Lunch")
    contact = emulator.add_contact(channel="CHAT", queue="Support").id
    client = emulator.client(config=ONE_ATTEMPT)
    steps = _criteria(([_id(emulator, "ana")], 20), ([_id(emulator, "ben")], 10))
    client.update_contact_routing_data(InstanceId=INSTANCE, ContactId=contact, RoutingCriteria=steps)
    emulator.set_user_status("cy", "Available")

    # THEN cy, free, is not offered it while the steps last
    emulator.advance(29)
    assert emulator.contact(contact).state == "QUEUED"

    # WHEN the last step expires (30 s after activation)
    emulator.advance(5)

    # THEN any agent of the queue gets it, at the expiry
    seen = emulator.contact(contact)
    assert seen.agent_id == _id(emulator, "cy")
    assert seen.connected_at == pytest.approx(emulator.now() - 4)


def test_a_free_preferred_agent_gets_the_contact_during_their_step() -> None:
    # GIVEN everyone busy; a chat prefers ben for 60 s
    emulator = _emulator()
    for name in ("ana", "ben", "cy"):
        emulator.set_busy(name, "CHAT", 2)
    contact = emulator.add_contact(channel="CHAT", queue="Support").id
    steps = _criteria(([_id(emulator, "ben")], 60))
    emulator.client().update_contact_routing_data(InstanceId=INSTANCE, ContactId=contact, RoutingCriteria=steps)

    # WHEN ana frees a slot first, then ben
    emulator.set_busy("ana", "CHAT", 1)
    assert emulator.contact(contact).state == "QUEUED"
    emulator.advance(5)
    emulator.set_busy("ben", "CHAT", 1)

    # THEN ben gets it, and the step shows JOINED
    assert emulator.contact(contact).agent_id == _id(emulator, "ben")
    criteria = emulator.routing_criteria(contact)
    assert criteria is not None
    assert criteria.steps[0].status == "JOINED"


def test_a_preferred_agent_who_does_not_serve_the_queue_is_never_offered_it() -> None:
    # GIVEN a Support chat whose only step prefers dee (Back office: Billing only), no expiry
    emulator = _emulator()
    _busy_all_but(emulator)
    contact = emulator.add_contact(channel="TASK", queue="Support").id
    steps = _criteria(([_id(emulator, "dee")], None))
    emulator.client().update_contact_routing_data(InstanceId=INSTANCE, ContactId=contact, RoutingCriteria=steps)

    # WHEN time passes with dee free
    emulator.advance(600)

    # THEN it still waits (the admin guide: agents in criteria must have the queue in their routing profile)
    assert emulator.contact(contact).state == "QUEUED"


# ------------------------------------------------------------------------------ agent queues


def test_an_agent_queue_is_offered_only_to_its_agent() -> None:
    # GIVEN ana at Lunch, ben and cy free; a task in ana's own queue
    emulator = _emulator()
    emulator.set_user_status("ana", "Lunch")
    contact = emulator.add_contact(channel="TASK", queue="Ana's queue").id
    assert emulator.contact(contact).state == "QUEUED"

    # WHEN ana becomes Available
    emulator.set_user_status("ana", "Available")

    # THEN only she gets it
    assert emulator.contact(contact).agent_id == _id(emulator, "ana")


# ------------------------------------------------------------------------------ offers: accepted, missed


def test_an_offer_rings_before_it_is_accepted_and_association_then_fails() -> None:
    # GIVEN agents who take 3 s to accept
    emulator = _emulator(accept_after=3)
    client = emulator.client(config=ONE_ATTEMPT)
    contact = emulator.add_contact(channel="CHAT", queue="Support").id

    # THEN the contact rings (ASSOCIATED, CONNECTING to the agent) and can no longer be associated
    assert emulator.contact(contact).state == "ASSOCIATED"
    code, status, _ = client_error(
        client.associate_contact_with_user, InstanceId=INSTANCE, ContactId=contact, UserId=_id(emulator, "dee")
    )
    assert (code, status) == ("InvalidRequestException", 400)
    user = client.get_current_user_data(InstanceId=INSTANCE, Filters={"Agents": [emulator.contact(contact).agent_id]})
    assert user["UserDataList"][0]["Contacts"][0]["AgentContactState"] == "CONNECTING"

    # WHEN 3 s pass
    emulator.advance(3)

    # THEN it is connected
    assert emulator.contact(contact).state == "CONNECTED"


def test_an_association_is_an_offer_the_agent_accepts() -> None:
    # GIVEN every Support agent at Lunch, a waiting chat
    emulator = _emulator(accept_after=2)
    _busy_all_but(emulator)
    contact = emulator.add_contact(channel="CHAT", queue="Support").id

    # WHEN the router associates it with ben (status and capacity are not checked, as documented)
    emulator.client().associate_contact_with_user(InstanceId=INSTANCE, ContactId=contact, UserId=_id(emulator, "ben"))
    emulator.advance(2)

    # THEN ben is connected to it, by association
    seen = emulator.contact(contact)
    assert (seen.state, seen.agent_id, seen.connected_via) == ("CONNECTED", _id(emulator, "ben"), "association")


def test_an_association_with_an_offline_agent_is_missed() -> None:
    # GIVEN every Support agent away, a waiting chat
    emulator = _emulator(offer_timeout=20)
    _busy_all_but(emulator)
    contact = emulator.add_contact(channel="CHAT", queue="Support").id

    # WHEN it is associated with eve, who is Offline (no CCP to accept it with), and the offer times out
    emulator.client().associate_contact_with_user(InstanceId=INSTANCE, ContactId=contact, UserId=_id(emulator, "eve"))
    emulator.advance(20)

    # THEN it waits in its queue again
    assert emulator.contact(contact).state == "QUEUED"
    assert [(e.kind, e.via) for e in emulator.routing_events] == [("offered", "association"), ("missed", "association")]


def test_a_missed_offer_goes_back_to_the_queue_and_blocks_the_agent() -> None:
    # GIVEN only cy Available, and every offer missed
    emulator = _emulator(miss_share=1.0, offer_timeout=20)
    _busy_all_but(emulator, "cy")
    contact = emulator.add_contact(channel="CHAT", queue="Support").id
    enqueued = emulator.contact(contact).enqueued_at

    # WHEN the offer times out
    emulator.advance(20)

    # THEN the contact waits again, keeping its place; cy is blocked by the missed contact
    seen = emulator.contact(contact)
    assert (seen.state, seen.agent_id, seen.enqueued_at) == ("QUEUED", None, enqueued)
    assert emulator.user("cy").missed_contact_id == contact
    assert [e.kind for e in emulator.routing_events] == ["offered", "missed"]
    data = emulator.client().get_current_user_data(InstanceId=INSTANCE, Filters={"Agents": [_id(emulator, "cy")]})
    (reference,) = data["UserDataList"][0]["Contacts"]
    assert (reference["ContactId"], reference["AgentContactState"]) == (contact, "MISSED")
    assert data["UserDataList"][0]["Status"]["StatusName"] == "Available"
    emulator.advance(100)
    assert emulator.contact(contact).state == "QUEUED"

    # WHEN cy sets her status again
    emulator.set_user_status("cy", "Available")

    # THEN the block is cleared and the contact is offered again
    assert emulator.user("cy").missed_contact_id is None
    assert emulator.contact(contact).state == "ASSOCIATED"


def test_dismiss_user_contact_clears_the_missed_block() -> None:
    # GIVEN cy blocked by a missed chat, another Support chat waiting behind it
    emulator = _emulator(miss_share=1.0, offer_timeout=20)
    _busy_all_but(emulator, "cy")
    missed = emulator.add_contact(channel="CHAT", queue="Support").id
    emulator.advance(20)
    client = emulator.client(config=ONE_ATTEMPT)
    cy = _id(emulator, "cy")

    # WHEN another contact is dismissed, then the missed one
    other = emulator.add_contact(channel="CHAT", queue="Support").id
    code, status, _ = client_error(client.dismiss_user_contact, InstanceId=INSTANCE, UserId=cy, ContactId=other)
    client.dismiss_user_contact(InstanceId=INSTANCE, UserId=cy, ContactId=missed)

    # THEN only the missed contact can be dismissed, and cy is offered contacts again, her status unchanged
    assert (code, status) == ("InvalidRequestException", 400)
    assert emulator.user("cy").missed_contact_id is None
    assert emulator.user("cy").status == "Available"
    assert emulator.contact(missed).state == "ASSOCIATED"


def test_missed_blocks_agent_switch_off_offers_again_at_once() -> None:
    # GIVEN the switch off, only cy Available, every offer missed
    emulator = _emulator(miss_share=1.0, offer_timeout=20, missed_blocks_agent=False)
    _busy_all_but(emulator, "cy")
    contact = emulator.add_contact(channel="CHAT", queue="Support").id

    # WHEN the offer times out
    emulator.advance(20)

    # THEN it rings again at cy straight away
    assert emulator.contact(contact).state == "ASSOCIATED"
    assert [e.kind for e in emulator.routing_events] == ["offered", "missed", "offered"]


def test_missed_offers_are_deterministic_for_a_seed() -> None:
    # GIVEN half the offers missed, same seed twice
    def events(seed: int) -> list[tuple[str, str]]:
        emulator = _emulator(miss_share=0.5, seed=seed, missed_blocks_agent=False)
        for _ in range(6):
            emulator.add_contact(channel="CHAT", queue="Support")
        emulator.advance(60)
        return [(e.kind, e.user_id) for e in emulator.routing_events]

    # THEN the same events in the same order, some offers missed and some connected
    first = events(5)
    assert first == events(5)
    assert {"missed", "connected"} <= {kind for kind, _ in first}


def test_listeners_see_each_event_at_its_time_and_abandon_is_recorded() -> None:
    # GIVEN a listener that ends each connected contact 60 s later
    emulator = _emulator()
    seen: list[RoutingEvent] = []

    def on_event(event: RoutingEvent) -> None:
        seen.append(event)
        if event.kind == "connected":
            emulator.schedule(emulator.elapsed() + 60, contact=event.contact_id, disconnect=True)

    emulator.subscribe(on_event)
    _busy_all_but(emulator, "cy")
    emulator.set_busy("cy", "CHAT", 1)
    first = emulator.add_contact(channel="CHAT", queue="Support").id
    second = emulator.add_contact(channel="CHAT", queue="Support").id
    third = emulator.add_contact(channel="CHAT", queue="Support").id

    # WHEN the third customer hangs up while waiting, and time passes
    abandoned = emulator.abandon_contact(third)
    emulator.advance(61)

    # THEN the first was connected then ended; the second got the freed slot; the third is abandoned
    assert [e.contact_id for e in seen if e.kind == "connected"] == [first, second]
    assert emulator.contact(first).state == "DISCONNECTED"
    assert abandoned.abandoned
    assert abandoned.state == "DISCONNECTED"
    with pytest.raises(EmulatorStateError):
        emulator.abandon_contact(first)


# ------------------------------------------------------------------------------ TransferContact


def _transfer_world(**routing: Any) -> ConnectEmulator:
    emulator = _emulator(**routing)
    _busy_all_but(emulator)
    emulator.set_user_status("dee", "Lunch")
    return emulator


def test_transfer_to_an_agent_queue_reaches_only_that_agent() -> None:
    # GIVEN a waiting task in Billing, everyone away
    emulator = _transfer_world()
    client = emulator.client(config=ONE_ATTEMPT)
    task = emulator.add_contact(channel="TASK", queue="Billing").id

    # WHEN it is transferred to ben's own queue (UserId), then ben and cy become Available
    answer = client.transfer_contact(
        InstanceId=INSTANCE, ContactId=task, UserId=_id(emulator, "ben"), ContactFlowId="agent-transfer"
    )
    moved = answer["ContactId"]
    emulator.set_user_status("cy", "Available")
    assert emulator.contact(moved).state == "QUEUED"
    emulator.set_user_status("ben", "Available")

    # THEN a new TRANSFER contact follows the old one (ended) and is connected to ben only
    assert moved != task
    assert answer["ContactArn"].endswith(moved)
    described = client.describe_contact(InstanceId=INSTANCE, ContactId=moved)["Contact"]
    assert described["InitiationMethod"] == "TRANSFER"
    assert described["PreviousContactId"] == task
    assert described["AgentInfo"]["Id"] == _id(emulator, "ben")
    assert emulator.contact(task).state == "DISCONNECTED"
    assert not emulator.contact(task).abandoned


def test_transfer_without_a_new_contact_requeues_the_same_contact() -> None:
    # GIVEN the switch transfer_creates_contact off
    emulator = _transfer_world(transfer_creates_contact=False)
    task = emulator.add_contact(channel="TASK", queue="Billing").id
    client = emulator.client(config=ONE_ATTEMPT)

    # WHEN the task is transferred to Support
    answer = client.transfer_contact(
        InstanceId=INSTANCE, ContactId=task, QueueId=_queue(emulator, "Support"), ContactFlowId="f"
    )

    # THEN the same contact now waits in Support
    assert answer["ContactId"] == task
    seen = emulator.contact(task)
    assert (seen.state, seen.queue_id, seen.transfers) == ("QUEUED", _queue(emulator, "Support"), 1)


def _queue(emulator: ConnectEmulator, name: str) -> str:
    queue = emulator.world.queue(name)
    assert queue is not None
    return queue.id


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({"QueueId": "Q", "UserId": "U"}, "InvalidRequestException", 400),
        ({}, "InvalidRequestException", 400),
        ({"QueueId": "no-such-queue"}, "ResourceNotFoundException", 404),
        ({"UserId": "no-such-user"}, "ResourceNotFoundException", 404),
    ],
)
def test_transfer_target_is_one_queue_or_one_user(params: dict[str, str], code: str, status: int) -> None:
    # GIVEN a waiting task
    emulator = _transfer_world()
    task = emulator.add_contact(channel="TASK", queue="Billing").id

    # WHEN it is transferred with both, neither or an unknown target
    error = client_error(
        emulator.client(config=ONE_ATTEMPT).transfer_contact,
        InstanceId=INSTANCE,
        ContactId=task,
        ContactFlowId="f",
        **params,
    )

    # THEN the documented refusal
    assert error[:2] == (code, status)


def test_transfer_refuses_chat_voice_and_ended_contacts() -> None:
    # GIVEN a waiting chat and an ended task
    emulator = _transfer_world()
    client = emulator.client(config=ONE_ATTEMPT)
    chat = emulator.add_contact(channel="CHAT", queue="Support").id
    ended = emulator.add_contact(channel="TASK", queue="Billing").id
    emulator.abandon_contact(ended)
    support = _queue(emulator, "Support")

    # THEN both are refused with InvalidRequestException
    for contact, words in ((chat, "only TASK and EMAIL"), (ended, "not active")):
        code, status, message = client_error(
            client.transfer_contact, InstanceId=INSTANCE, ContactId=contact, QueueId=support, ContactFlowId="f"
        )
        assert (code, status) == ("InvalidRequestException", 400)
        assert words in message


def test_a_contact_cannot_be_transferred_more_than_11_times() -> None:
    # GIVEN an email transferred 11 times between two queues
    emulator = _transfer_world()
    client = emulator.client(config=ONE_ATTEMPT)
    contact = emulator.add_contact(channel="EMAIL", queue="Billing").id
    queues = [_queue(emulator, "Support"), _queue(emulator, "Billing")]
    for number in range(11):
        contact = client.transfer_contact(
            InstanceId=INSTANCE, ContactId=contact, QueueId=queues[number % 2], ContactFlowId="f"
        )["ContactId"]

    # WHEN it is transferred a twelfth time
    code, status, _ = client_error(
        client.transfer_contact, InstanceId=INSTANCE, ContactId=contact, QueueId=queues[0], ContactFlowId="f"
    )

    # THEN the quota refuses it
    assert (code, status) == ("ServiceQuotaExceededException", 402)
    assert emulator.contact(contact).transfers == 11


def test_transfer_client_token_is_idempotent() -> None:
    # GIVEN a task transferred with a ClientToken
    emulator = _transfer_world()
    client = emulator.client(config=ONE_ATTEMPT)
    task = emulator.add_contact(channel="TASK", queue="Billing").id
    support = _queue(emulator, "Support")
    first = client.transfer_contact(
        InstanceId=INSTANCE, ContactId=task, QueueId=support, ContactFlowId="f", ClientToken="t1"
    )

    # WHEN the same request is retried, and the token is reused for another target
    again = client.transfer_contact(
        InstanceId=INSTANCE, ContactId=task, QueueId=support, ContactFlowId="f", ClientToken="t1"
    )
    other = client_error(
        client.transfer_contact,
        InstanceId=INSTANCE,
        ContactId=task,
        UserId=_id(emulator, "ana"),
        ContactFlowId="f",
        ClientToken="t1",
    )

    # THEN the retry answers the same contact and transfers nothing more; the reuse is an IdempotencyException
    assert again["ContactId"] == first["ContactId"]
    assert emulator.contact(first["ContactId"]).transfers == 1
    assert other[:2] == ("IdempotencyException", 409)


def test_transfer_checks_the_flow_when_the_world_declares_flows() -> None:
    # GIVEN a world declaring an Inbound flow, a Transfer to agent flow and a Customer queue flow
    world = _world()
    world["contact_flows"] = [
        {"name": "Inbound", "id": "f-inbound"},
        {"name": "To agent", "id": "f-agent", "type": "AGENT_TRANSFER"},
        {"name": "Queue music", "id": "f-queue", "type": "CUSTOMER_QUEUE"},
    ]
    emulator = _emulator(world)
    _busy_all_but(emulator)
    client = emulator.client(config=ONE_ATTEMPT)
    task = emulator.add_contact(channel="TASK", queue="Billing").id
    ana = _id(emulator, "ana")

    # WHEN the task is transferred with an unknown flow, a Customer queue flow, then the agent flow's ARN
    unknown = client_error(client.transfer_contact, InstanceId=INSTANCE, ContactId=task, UserId=ana, ContactFlowId="x")
    wrong = client_error(
        client.transfer_contact, InstanceId=INSTANCE, ContactId=task, UserId=ana, ContactFlowId="f-queue"
    )
    arn = f"{emulator.instance_arn}/contact-flow/f-agent"
    moved = client.transfer_contact(InstanceId=INSTANCE, ContactId=task, UserId=ana, ContactFlowId=arn)

    # THEN unknown is 404, an unsupported flow type 400, a Transfer to agent flow is accepted
    assert unknown[:2] == ("ResourceNotFoundException", 404)
    assert wrong[:2] == ("InvalidRequestException", 400)
    assert "CUSTOMER_QUEUE" in wrong[2]
    assert emulator.contact(moved["ContactId"]).transfers == 1


def test_contact_flow_mistakes_are_named() -> None:
    world = _world()
    world["contact_flows"] = [{"name": "Inbound", "type": "SOMETHING"}]
    with pytest.raises(WorldError, match=r"contact_flows\[0\] \(Inbound\): type 'SOMETHING' is not one of"):
        World.from_dict(world)


def test_transfer_contact_is_emulated_with_routing_off_too() -> None:
    # GIVEN native routing off
    emulator = ConnectEmulator(World.from_dict(_world()), routing=False)
    task = emulator.add_contact(channel="TASK", queue="Billing").id

    # WHEN the task is transferred to ana's queue
    moved = emulator.client().transfer_contact(
        InstanceId=INSTANCE, ContactId=task, UserId=_id(emulator, "ana"), ContactFlowId="f"
    )["ContactId"]

    # THEN it waits there (the world's AGENT queue naming ana), nobody routes it
    seen = emulator.contact(moved)
    assert (seen.state, seen.queue_id) == ("QUEUED", _queue(emulator, "Ana's queue"))


# ------------------------------------------------------------------------------ the world file


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"routing": {"native": "yes"}}, "routing: native must be true or false"),
        ({"routing": {"agent_order": "round_robin"}}, "routing: agent_order 'round_robin' is not one of"),
        ({"routing": {"miss_share": 2}}, "routing: miss_share must be a probability"),
        ({"routing": {"offer_timeout": 0}}, "routing: offer_timeout must be a number of seconds > 0"),
        ({"routing": {"surprise": 1}}, "routing: unknown field 'surprise'"),
    ],
)
def test_routing_section_mistakes_are_named(change: dict[str, Any], message: str) -> None:
    # GIVEN a world with a mistake in its routing section
    world = {**_world(), **change}

    # THEN loading it names the field
    with pytest.raises(WorldError, match=message):
        World.from_dict(world)


def test_agent_queue_owner_and_cross_channel_mistakes_are_named() -> None:
    world = _world()
    world["queues"][0]["agent"] = "ana"
    with pytest.raises(WorldError, match=r"queues\[0\] \(Support\): agent is only for queues of type AGENT"):
        World.from_dict(world)
    world = _world()
    world["queues"][2]["agent"] = "zed"
    with pytest.raises(WorldError, match="agent 'zed' is not a defined user"):
        World.from_dict(world)
    world = _world()
    world["routing_profiles"][0]["cross_channel"] = "SOMETIMES"
    with pytest.raises(WorldError, match="cross_channel 'SOMETIMES' is not one of"):
        World.from_dict(world)


def test_criteria_given_with_a_new_contact_apply_before_it_is_first_routed() -> None:
    # GIVEN ana busy, ben and cy free (what a flow's "Set routing criteria" then "Transfer to queue" do)
    emulator = _emulator()
    emulator.set_busy("ana", "CHAT", 2)

    # WHEN a chat enters the queue with criteria preferring ana for 10 s
    steps = _criteria(([_id(emulator, "ana")], 10))
    contact = emulator.add_contact(channel="CHAT", queue="Support", routing_criteria=steps).id

    # THEN no free agent gets it while the step lasts; ana does once she frees a slot within it
    assert emulator.contact(contact).state == "QUEUED"
    emulator.advance(4)
    emulator.set_busy("ana", "CHAT", 1)
    assert emulator.contact(contact).agent_id == _id(emulator, "ana")


def test_criteria_given_with_a_new_contact_are_checked_like_update_contact_routing_data() -> None:
    emulator = _emulator()
    with pytest.raises(EmulatorStateError, match="at least one step"):
        emulator.add_contact(channel="CHAT", queue="Support", routing_criteria={"Steps": []})
    assert emulator.contacts() == []  # nothing added
