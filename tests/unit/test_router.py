"""The routing use case over in-memory fakes: every outcome, and the calls it costs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from contact_router.errors import PermanentError, TransientError
from contact_router.models.agent import UserRef
from contact_router.models.contact import Contact
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import Outcome, Verdict
from contact_router.routing.episodes import Delivery
from contact_router.routing.router import Router, RouterOptions
from tests.fakes import DANA, INSTANCE_ARN, SAM, TARIQ, FakeConnect, MemoryEpisodes, StaticRules, available

RULES = StaticRules.of(
    """
version: 1
routing:
  - name: vip
    when: {tags: {Segment: {equals: vip}}}
    candidates: [{users: [dana, sam]}]
    exclude_users: [33333333-0000-4000-8000-000000000003]
  - name: named
    when: {attributes: {preferredAgent: {present: true}}}
    candidates: [{attribute: preferredAgent}, {agent_of: related}]
  - name: email
    when: {channel: [EMAIL]}
    candidates: [{agent_of: related}]
"""
)
ENQUEUED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def detail(contact_id: str = "c1", **kw: object) -> ContactEventDetail:
    raw: dict[str, object] = {
        "contactId": contact_id,
        "eventType": "QUEUED",
        "channel": "CHAT",
        "instanceArn": INSTANCE_ARN,
        "queueInfo": {"queueArn": f"{INSTANCE_ARN}/queue/q-1", "queueType": "STANDARD"},
    }
    raw.update(kw)
    return ContactEventDetail.model_validate(raw)


def queued(contact_id: str = "c1", **kw: object) -> Contact:
    base: dict[str, object] = {"id": contact_id, "channel": "CHAT", "queue_id": "q-1", "enqueued_at": ENQUEUED}
    base.update(kw)
    return Contact(**base)  # type: ignore[arg-type]


def make(connect: FakeConnect, dry_run: bool = False, episodes: MemoryEpisodes | None = None) -> Router:
    return Router(
        RouterOptions(instance_arn=INSTANCE_ARN, dry_run=dry_run, allowed_agent_arn_pattern=f"{INSTANCE_ARN}/agent/*"),
        connect=connect,
        users=connect,
        rules=RULES,
        episodes=episodes,
    )


def test_attribute_with_user_id_costs_three_calls_and_associates() -> None:
    # GIVEN a chat naming dana by user id, dana available with a free chat slot
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": DANA})}, states={DANA: available(DANA)})
    # WHEN it is routed
    decision = make(connect).route(detail())
    # THEN it is associated to dana with exactly DescribeContact, GetCurrentUserData, AssociateContactWithUser
    assert (decision.outcome, decision.agent_id, decision.rule) == (Outcome.ASSOCIATED, DANA, "named")
    assert [op for op, _ in connect.calls] == ["DescribeContact", "GetCurrentUserData", "AssociateContactWithUser"]


def test_username_resolution_and_fallback_to_the_next_source() -> None:
    # GIVEN a preferred agent who is busy and a related contact handled by sam
    connect = FakeConnect(
        contacts={
            "c1": queued(attributes={"preferredAgent": "Dana"}, related_contact_id="c0"),
            "c0": Contact(id="c0", channel="CHAT", agent_id=SAM),
        },
        states={DANA: available(DANA, free=0), SAM: available(SAM)},
        usernames={"dana": UserRef(DANA, f"{INSTANCE_ARN}/agent/{DANA}", "dana")},
    )
    decision = make(connect).route(detail())
    assert (decision.outcome, decision.agent_id) == (Outcome.ASSOCIATED, SAM)
    assert [(c.label, c.verdict) for c in decision.candidates] == [("dana", Verdict.NO_CAPACITY), (SAM, Verdict.CHOSEN)]
    assert connect.count("GetCurrentUserData") == 1, "all candidates are checked in one call"


def test_no_eligible_agent_leaves_the_contact_with_its_queue_and_says_why() -> None:
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": TARIQ})}, states={})
    decision = make(connect).route(detail())
    assert decision.outcome is Outcome.NO_ELIGIBLE_AGENT
    assert decision.reason == "offline"
    assert connect.count("AssociateContactWithUser") == 0


def test_unknown_username_excluded_user_and_duplicates_are_skipped_with_reasons() -> None:
    connect = FakeConnect(
        contacts={"c1": queued(tags={"Segment": "vip"})},
        usernames={"sam": UserRef(SAM, f"{INSTANCE_ARN}/agent/{SAM}", "sam")},
        states={SAM: available(SAM)},
    )
    rules = StaticRules.of(
        "version: 1\nrouting:\n  - name: vip\n    candidates: [{users: [ghost, sam, " + TARIQ + ", sam]}]\n"
        "    exclude_users: [" + TARIQ + "]\n"
    )
    router = make(connect)
    router.rules = rules
    decision = router.route(detail())
    assert [c.verdict for c in decision.candidates] == [
        Verdict.UNKNOWN_USER,
        Verdict.CHOSEN,
        Verdict.EXCLUDED,
        Verdict.DUPLICATE,
    ]
    assert decision.agent_id == SAM


def test_user_of_another_instance_is_not_allowed() -> None:
    other = f"arn:aws:connect:eu-west-2:123456789012:instance/99999999-2222-4333-8444-555555555555/agent/{DANA}"
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": other})}, states={DANA: available(DANA)})
    decision = make(connect).route(detail())
    assert decision.candidates[0].verdict is Verdict.NOT_ALLOWED
    assert decision.outcome is Outcome.NO_ELIGIBLE_AGENT


def test_dry_run_decides_but_never_associates() -> None:
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": DANA})}, states={DANA: available(DANA)})
    decision = make(connect, dry_run=True).route(detail())
    assert (decision.outcome, decision.agent_id, decision.dry_run) == (Outcome.WOULD_ASSOCIATE, DANA, True)
    assert connect.count("AssociateContactWithUser") == 0


@pytest.mark.parametrize(
    ("contact", "reason"),
    [
        (queued(agent_id=SAM, connected_to_agent_at=ENQUEUED), "connected_to_agent"),
        (queued(disconnected_at=ENQUEUED), "disconnected"),
        (queued(agent_id=SAM), "already_assigned"),
    ],
)
def test_contact_no_longer_waiting_is_left_alone(contact: Contact, reason: str) -> None:
    connect = FakeConnect(contacts={"c1": contact})
    decision = make(connect).route(detail())
    assert (decision.outcome, decision.reason) == (Outcome.NOT_WAITING, reason)
    assert [op for op, _ in connect.calls] == ["DescribeContact"]


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"eventType": "CONNECTED_TO_AGENT"}, "not_queued"),
        ({"channel": "VOICE"}, "channel_not_routed"),
        ({"initiationMethod": "MONITOR"}, "monitor_leg"),
        ({"queueInfo": {"queueType": "AGENT", "queueArn": f"{INSTANCE_ARN}/queue/agent/{DANA}"}}, "agent_queue"),
    ],
)
def test_events_that_are_not_routed_cost_no_call(kw: dict[str, object], reason: str) -> None:
    connect = FakeConnect()
    decision = make(connect).route(detail(**kw))
    assert (decision.outcome, decision.reason) == (Outcome.IGNORED, reason)
    assert connect.calls == []


def test_minimal_event_is_screened_again_with_what_describe_contact_says() -> None:
    connect = FakeConnect(contacts={"c1": queued(initiation_method="AGENT_REPLY", channel="EMAIL")})
    decision = make(connect).route(detail(channel="EMAIL", queueInfo=None))
    assert (decision.outcome, decision.reason) == (Outcome.IGNORED, "agent_reply")


def test_event_for_another_instance_is_rejected() -> None:
    with pytest.raises(PermanentError) as err:
        make(FakeConnect()).route(detail(instanceArn=INSTANCE_ARN.replace("1111", "9999")))
    assert err.value.reason == "other_instance"


def test_unknown_contact_is_permanent() -> None:
    with pytest.raises(PermanentError) as err:
        make(FakeConnect()).route(detail())
    assert err.value.reason == "unknown_contact"


def test_duplicated_event_is_decided_once() -> None:
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": DANA})}, states={DANA: available(DANA)})
    router = make(connect, episodes=MemoryEpisodes())
    first = router.route(detail(), delivery=Delivery("m-1"))
    second = router.route(detail(), delivery=Delivery("m-2"))
    assert first.outcome is Outcome.ASSOCIATED
    assert (second.outcome, second.replayed, second.reason) == (Outcome.DUPLICATE, True, "already_claimed")
    assert connect.count("AssociateContactWithUser") == 1


def test_requeue_to_another_queue_is_routed_again() -> None:
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": DANA})}, states={DANA: available(DANA)})
    router = make(connect, episodes=MemoryEpisodes())
    router.route(detail(), delivery=Delivery("m-1"))
    # a transfer to another queue is a new queuing: a new enqueue time
    later = ENQUEUED.replace(minute=5)
    connect.contacts["c1"] = queued(attributes={"preferredAgent": DANA}, queue_id="q-2", enqueued_at=later)
    assert router.route(detail(), delivery=Delivery("m-2")).outcome is Outcome.ASSOCIATED
    assert connect.count("AssociateContactWithUser") == 2


def test_contact_taken_between_check_and_association_is_not_waiting() -> None:
    # GIVEN an agent takes the chat just as we associate (the API answers InvalidRequest)
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": DANA})}, states={DANA: available(DANA)})

    def taken(contact_id: str, user_id: str) -> None:
        connect.contacts[contact_id] = queued(agent_id=SAM, connected_to_agent_at=ENQUEUED)

    connect.on_associate = taken
    connect.associate_error = PermanentError("invalid_request", "contact is not waiting")
    decision = make(connect).route(detail())
    assert (decision.outcome, decision.reason) == (Outcome.NOT_WAITING, "connected_to_agent")


def test_invalid_request_on_a_still_waiting_contact_stays_permanent() -> None:
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": DANA})}, states={DANA: available(DANA)})
    connect.associate_error = PermanentError("invalid_request", "bad")
    with pytest.raises(PermanentError):
        make(connect).route(detail())


def test_transient_errors_propagate_for_sqs_to_retry() -> None:
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": DANA})}, states={DANA: available(DANA)})
    connect.associate_error = TransientError("throttled", "slow down")
    with pytest.raises(TransientError):
        make(connect).route(detail())


def test_related_contact_without_agent_or_missing() -> None:
    connect = FakeConnect(
        contacts={"c1": queued(channel="EMAIL", related_contact_id="c0"), "c0": Contact(id="c0", channel="CHAT")}
    )
    decision = make(connect).route(detail(channel="EMAIL"))
    assert (decision.outcome, decision.reason) == (Outcome.NO_ELIGIBLE_AGENT, "no_agent")
    connect.contacts["c1"] = queued(channel="EMAIL", related_contact_id="gone")
    assert make(connect).route(detail(channel="EMAIL")).reason == "source_empty"


def test_no_rule_matched() -> None:
    connect = FakeConnect(contacts={"c1": queued()})
    decision = make(connect).route(detail())
    assert (decision.outcome, decision.reason) == (Outcome.NO_RULE_MATCHED, "no_rule_matched")


@pytest.mark.parametrize(
    ("reason", "gone", "expected"),
    [
        # the customer left: Connect no longer knows a queued contact to associate
        ("not_found", {"disconnected_at": ENQUEUED}, "disconnected"),
        ("invalid_parameter", {"agent_id": SAM}, "already_assigned"),
        ("conflict", {"agent_id": SAM, "connected_to_agent_at": ENQUEUED}, "connected_to_agent"),
        ("connect_error", {"queue_id": None}, "not_queued"),
    ],
)
def test_any_refused_association_re_reads_and_a_contact_that_moved_on_is_not_waiting(
    reason: str, gone: dict[str, Any], expected: str
) -> None:
    # GIVEN the contact moves on just as we associate, and Connect refuses with some client error
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": DANA})}, states={DANA: available(DANA)})

    def moved_on(contact_id: str, user_id: str) -> None:
        connect.contacts[contact_id] = queued(**gone)

    connect.on_associate = moved_on
    connect.associate_error = PermanentError(reason, "refused")
    # WHEN it is routed
    decision = make(connect).route(detail())
    # THEN one re-read explains it: not waiting, with the reason, not a dead letter
    assert (decision.outcome, decision.reason) == (Outcome.NOT_WAITING, expected)
    assert reason in (decision.detail or "")
    assert connect.count("DescribeContact") == 2


@pytest.mark.parametrize("reason", ["not_found", "invalid_parameter", "conflict", "invalid_request"])
def test_a_refusal_on_a_contact_still_waiting_is_dead_lettered_with_the_refusal(reason: str) -> None:
    # GIVEN Connect refuses the association of a contact that is still waiting
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": DANA})}, states={DANA: available(DANA)})
    refusal = PermanentError(reason, "refused")
    connect.associate_error = refusal
    # WHEN it is routed THEN the refusal itself is raised (dead-letter with its reason) after one re-read
    with pytest.raises(PermanentError) as raised:
        make(connect).route(detail())
    assert raised.value is refusal
    assert connect.count("DescribeContact") == 2


def test_access_denied_is_never_explained_away_by_a_re_read() -> None:
    # GIVEN the role may not associate (a deployment fault), and the contact has meanwhile ended
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": DANA})}, states={DANA: available(DANA)})
    connect.on_associate = lambda cid, uid: connect.contacts.update({cid: queued(disconnected_at=ENQUEUED)})
    connect.associate_error = PermanentError("access_denied", "denied")
    # WHEN it is routed THEN access_denied reaches the dead-letter queue, without a re-read
    with pytest.raises(PermanentError, match="denied"):
        make(connect).route(detail())
    assert connect.count("DescribeContact") == 1


def test_a_failed_re_read_keeps_the_refusal_as_the_reason() -> None:
    # GIVEN the association is refused and the contact can no longer be read either
    connect = FakeConnect(contacts={"c1": queued(attributes={"preferredAgent": DANA})}, states={DANA: available(DANA)})

    def ended_and_purged(contact_id: str, user_id: str) -> None:
        del connect.contacts[contact_id]

    connect.on_associate = ended_and_purged
    connect.associate_error = PermanentError("not_found", "no such contact")
    # WHEN it is routed THEN the association's refusal is what is dead-lettered
    with pytest.raises(PermanentError) as raised:
        make(connect).route(detail())
    assert raised.value.reason == "not_found"


# ------------------------------------------------------------------ attributes absent from DescribeContact


def test_attributes_absent_from_describe_contact_are_read_once_with_the_initial_contact_id() -> None:
    # GIVEN DescribeContact answers without an Attributes key; the chain's attributes name dana
    connect = FakeConnect(
        contacts={"c1": queued(attributes_missing=True, initial_contact_id="c0")},
        states={DANA: available(DANA)},
        attributes={"c0": {"preferredAgent": DANA}},
    )
    # WHEN it is routed
    decision = make(connect).route(detail())
    # THEN GetContactAttributes (initial contact id) fills them in, and the attribute rule associates dana
    assert (decision.outcome, decision.agent_id, decision.rule) == (Outcome.ASSOCIATED, DANA, "named")
    assert ("GetContactAttributes", "c0") in connect.calls
    assert [op for op, _ in connect.calls] == [
        "DescribeContact",
        "GetContactAttributes",
        "GetCurrentUserData",
        "AssociateContactWithUser",
    ]


def test_attributes_present_cost_no_extra_call_on_the_happy_path() -> None:
    # GIVEN DescribeContact carries the Attributes key (the happy path)
    connect = FakeConnect(
        contacts={"c1": queued(attributes={"preferredAgent": DANA})},
        states={DANA: available(DANA)},
        attributes={"c1": {"preferredAgent": SAM}},
    )
    # WHEN it is routed THEN no GetContactAttributes: three calls, as before
    decision = make(connect).route(detail())
    assert decision.agent_id == DANA
    assert connect.count("GetContactAttributes") == 0
    assert [op for op, _ in connect.calls] == ["DescribeContact", "GetCurrentUserData", "AssociateContactWithUser"]


def test_an_empty_attributes_map_is_an_answer_not_an_absence() -> None:
    # GIVEN DescribeContact says Attributes: {} (none set)
    connect = FakeConnect(contacts={"c1": queued()}, attributes={"c1": {"preferredAgent": DANA}})
    # WHEN it is routed THEN the attribute rule does not match and nothing else is read
    decision = make(connect).route(detail())
    assert decision.outcome is Outcome.NO_RULE_MATCHED
    assert connect.count("GetContactAttributes") == 0


def test_absent_attributes_are_not_read_when_an_earlier_rule_decides_without_them() -> None:
    # GIVEN a vip chat (the first rule tests tags only) whose DescribeContact has no Attributes key
    connect = FakeConnect(
        contacts={"c1": queued(attributes_missing=True, tags={"Segment": "vip"})},
        states={DANA: available(DANA)},
        usernames={"dana": UserRef(DANA, f"{INSTANCE_ARN}/agent/{DANA}", "dana")},
    )
    # WHEN it is routed THEN the vip rule decides and GetContactAttributes is never called
    decision = make(connect).route(detail())
    assert decision.rule == "vip"
    assert connect.count("GetContactAttributes") == 0


def test_absent_attributes_are_read_in_the_batch_prefetch_too() -> None:
    # GIVEN two chats of one batch without Attributes keys, the chain of one names dana
    connect = FakeConnect(
        contacts={"c1": queued(attributes_missing=True), "c2": queued("c2", attributes_missing=True)},
        states={DANA: available(DANA)},
        attributes={"c1": {"preferredAgent": DANA}},
    )
    router = make(connect)
    items = [(detail("c1"), None, None), (detail("c2"), None, None)]
    batch = router.prefetch_batch(items)
    # WHEN each is routed from the prefetch THEN c1 is associated to dana, c2 matched no rule
    outcomes = [router.route(event, prefetched=batch) for event, _, _ in items]
    assert [(d.outcome, d.agent_id) for d in outcomes] == [(Outcome.ASSOCIATED, DANA), (Outcome.NO_RULE_MATCHED, None)]
    assert connect.count("GetContactAttributes") == 2
    assert connect.count("DescribeContact") == 2


# ------------------------------------------------------------------------------------------ voice callbacks


def voice_router(connect: FakeConnect, route_voice: bool) -> Router:
    options = RouterOptions(
        instance_arn=INSTANCE_ARN, route_voice=route_voice, allowed_agent_arn_pattern=f"{INSTANCE_ARN}/agent/*"
    )
    return Router(options, connect=connect, users=connect, rules=RULES)


@pytest.mark.parametrize("method", ["CALLBACK_CUSTOMER_FIRST_QUEUED", "CALLBACK_CUSTOMER_FIRST_DIALED"])
def test_a_customer_first_callback_event_is_ignored_before_any_call(method: str) -> None:
    # GIVEN voice routing on and a queued voice callback the event says is customer-first
    connect = FakeConnect(contacts={"c1": queued(channel="VOICE", initiation_method=method)})
    # WHEN it is routed THEN it is ignored with its reason, without a Connect call
    decision = voice_router(connect, route_voice=True).route(detail(channel="VOICE", initiationMethod=method))
    assert (decision.outcome, decision.reason) == (Outcome.IGNORED, "customer_first_callback")
    assert connect.calls == []


@pytest.mark.parametrize("method", ["CALLBACK", "CALLBACK_CUSTOMER_FIRST_QUEUED"])
def test_a_voice_callback_described_by_describe_contact_is_never_associated(method: str) -> None:
    # GIVEN voice routing on, a minimal event (no initiation method) and DescribeContact saying it is a callback
    # whose preferred agent is available for voice
    connect = FakeConnect(
        contacts={"c1": queued(channel="VOICE", initiation_method=method, attributes={"preferredAgent": DANA})},
        states={DANA: available(DANA, channel="VOICE")},
    )
    # WHEN it is routed
    decision = voice_router(connect, route_voice=True).route(detail(channel="VOICE"))
    # THEN it is ignored with a reason naming the callback, and never associated
    expected = "callback_mode_unknown" if method == "CALLBACK" else "customer_first_callback"
    assert (decision.outcome, decision.reason) == (Outcome.IGNORED, expected)
    assert connect.count("AssociateContactWithUser") == 0
    assert [op for op, _ in connect.calls] == ["DescribeContact"]


@pytest.mark.parametrize("route_voice", [True, False])
def test_voice_routing_setting_decides_inbound_voice_and_callbacks_are_never_associated(route_voice: bool) -> None:
    # GIVEN an inbound call and a callback, both naming dana (free for voice)
    connect = FakeConnect(
        contacts={
            "c1": queued(channel="VOICE", initiation_method="INBOUND", attributes={"preferredAgent": DANA}),
            "c2": queued("c2", channel="VOICE", initiation_method="CALLBACK", attributes={"preferredAgent": DANA}),
        },
        states={DANA: available(DANA, channel="VOICE")},
    )
    router = voice_router(connect, route_voice)
    # WHEN both are routed
    inbound = router.route(detail("c1", channel="VOICE", initiationMethod="INBOUND"))
    callback = router.route(detail("c2", channel="VOICE", initiationMethod="CALLBACK"))
    # THEN the inbound call is associated only with voice routing on; the callback never is
    assert inbound.outcome is (Outcome.ASSOCIATED if route_voice else Outcome.IGNORED)
    assert (callback.outcome, callback.reason) == (
        Outcome.IGNORED,
        "callback_mode_unknown" if route_voice else "channel_not_routed",
    )
    assert [args for op, args in connect.calls if op == "AssociateContactWithUser"] == (
        [("c1", DANA)] if route_voice else []
    )
