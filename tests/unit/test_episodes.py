"""One owner per routing episode (contact id + enqueue time), claimed before any Connect call: duplicates are
settled without reading the contact, a resumed message never associates a second time, and however many
re-check chains run, one association attempt per episode (routing/episodes.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from moto import mock_aws

from contact_router.adapters.episodes import DynamoDBEpisodes
from contact_router.errors import PermanentError, TransientError
from contact_router.models.contact import Contact
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import Decision, Outcome
from contact_router.record_policy import RecordPolicy
from contact_router.records import parse_record
from contact_router.routing.episodes import Delivery, Guard, Hold, episode_key
from contact_router.routing.fallback import Recheck
from contact_router.routing.ports import EpisodePort
from contact_router.routing.router import Router, RouterOptions
from tests.fakes import DANA, INSTANCE_ARN, Clock, FakeConnect, FakeRechecks, MemoryEpisodes, StaticRules, available

RULES = StaticRules.of(
    "version: 1\nrouting:\n  - name: named\n    candidates: [{attribute: preferredAgent}]\n"
    "    fallback: [{wait: {interval_seconds: 30, max_seconds: 600}}]\n"
)
ENQUEUED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = ENQUEUED.timestamp() + 5


def queued(enqueued_at: datetime = ENQUEUED) -> Contact:
    return Contact(
        id="c1", channel="CHAT", queue_id="q-1", enqueued_at=enqueued_at, attributes={"preferredAgent": DANA}
    )


def recheck(step: int, attempt: int, owner: str = "m-1") -> Recheck:
    return Recheck(
        "c1", INSTANCE_ARN, "CHAT", "named", step, ENQUEUED.timestamp(), attempt, 0.0, owner, ENQUEUED.timestamp()
    )


def event(enqueued_at: datetime | None = ENQUEUED) -> ContactEventDetail:
    detail: dict[str, Any] = {"contactId": "c1", "eventType": "QUEUED", "channel": "CHAT", "instanceArn": INSTANCE_ARN}
    if enqueued_at is not None:
        detail["queueInfo"] = {"queueArn": f"{INSTANCE_ARN}/queue/q-1", "enqueueTimestamp": enqueued_at.isoformat()}
    return ContactEventDetail.model_validate(detail)


def delivery(message_id: str = "m-1", remaining_ms: int = 30_000) -> Delivery:
    return Delivery(message_id, remaining_ms)


def router(
    connect: FakeConnect, episodes: EpisodePort | None, clock: Clock, rechecks: FakeRechecks | None = None
) -> Router:
    return Router(
        RouterOptions(instance_arn=INSTANCE_ARN, allowed_agent_arn_pattern=f"{INSTANCE_ARN}/agent/*"),
        connect=connect,
        users=connect,
        rules=RULES,
        episodes=episodes,
        clock=clock,
        rechecks=rechecks,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


# ------------------------------------------------------------------------------------------ the router
def test_a_fresh_claim_associates_with_one_write_and_a_duplicate_reads_nothing(clock: Clock) -> None:
    # GIVEN a waiting contact whose agent is free
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    episodes = MemoryEpisodes(clock)
    r = router(connect, episodes, clock)
    # WHEN the event arrives twice, as two SQS messages (EventBridge delivers at least once)
    first = r.route(event(), delivery=delivery("m-1"))
    second = r.route(event(), delivery=delivery("m-2"))
    # THEN one DescribeContact, one association, one DynamoDB write for the routed contact (plus the duplicate's)
    assert first.outcome is Outcome.ASSOCIATED
    assert (second.outcome, second.reason, second.replayed) == (Outcome.DUPLICATE, "already_claimed", True)
    assert connect.count("DescribeContact") == 1
    assert connect.count("AssociateContactWithUser") == 1
    assert episodes.writes == 2


def test_the_same_message_while_its_invocation_still_runs_is_retried_later(clock: Clock) -> None:
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    episodes = MemoryEpisodes(clock)
    episodes.claim(episode_key("c1", ENQUEUED), "m-1", NOW + 30)
    with pytest.raises(TransientError) as raised:
        router(connect, episodes, clock).route(event(), delivery=delivery("m-1"))
    assert raised.value.reason == "in_progress"
    assert connect.calls == []


def test_a_message_resumed_after_its_invocation_died_never_associates(clock: Clock) -> None:
    # GIVEN an invocation that claimed the episode, may have associated, and died (its lease has passed)
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    episodes = MemoryEpisodes(clock)
    episodes.claim(episode_key("c1", ENQUEUED), "m-1", NOW - 10)
    # WHEN SQS delivers the same message again and the contact still looks waiting
    decision = router(connect, episodes, clock).route(event(), delivery=delivery("m-1"))
    # THEN it is left with its queue, said why, and Connect is not asked a second time
    assert (decision.outcome, decision.reason) == (Outcome.NO_ELIGIBLE_AGENT, "resumed_after_failure")
    assert connect.count("AssociateContactWithUser") == 0


def test_two_interleaved_recheck_chains_make_one_association_attempt(clock: Clock) -> None:
    # GIVEN two re-check chains of the same episode, interleaved: both read the contact as still waiting
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    episodes = MemoryEpisodes(clock)
    episodes.claim(episode_key("c1", ENQUEUED), "m-1", NOW - 10)
    chain_a, chain_b = router(connect, episodes, clock), router(connect, episodes, clock)
    read_by_a = connect.describe_contact("c1")
    read_by_b = connect.describe_contact("c1")
    # WHEN each decides from what it read
    first = chain_a.decide(read_by_a, recheck=recheck(0, 3), claim=chain_a.claim("c1", ENQUEUED, recheck(0, 3), None))
    second = chain_b.decide(read_by_b, recheck=recheck(0, 4), claim=chain_b.claim("c1", ENQUEUED, recheck(0, 4), None))
    # THEN only the first chain asks Connect; the second says why it did not
    assert connect.count("AssociateContactWithUser") == 1
    assert first.outcome is Outcome.ASSOCIATED
    assert (second.outcome, second.reason) == (Outcome.DUPLICATE, "association_claimed")


def test_a_chain_whose_episode_was_taken_over_does_not_associate(clock: Clock) -> None:
    # GIVEN the owner gave its claim back (a transient failure) and a duplicate owns the episode now
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    episodes = MemoryEpisodes(clock)
    episodes.claim(episode_key("c1", ENQUEUED), "m-2", NOW + 30)
    # WHEN the first owner's re-check arrives THEN it leaves the association to the episode's owner
    decision = router(connect, episodes, clock).route(event(None), recheck(0, 1, owner="m-1"), delivery=delivery("r-1"))
    assert decision.outcome is Outcome.DUPLICATE
    assert connect.count("AssociateContactWithUser") == 0


def test_a_wait_carries_the_episode_to_its_rechecks(clock: Clock) -> None:
    # GIVEN the agent is busy
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA, free=0)})
    rechecks = FakeRechecks()
    decision = router(connect, MemoryEpisodes(clock), clock, rechecks).route(event(), delivery=delivery("m-7"))
    # THEN the re-check names its owner and queuing
    assert decision.outcome is Outcome.WAITING
    state = rechecks.sent[0][0]["contact-router-recheck"]
    assert (state["owner"], state["enqueued_at"]) == ("m-7", ENQUEUED.timestamp())


def test_a_late_event_of_an_earlier_queuing_and_the_new_queuings_event_act_once(clock: Clock) -> None:
    # GIVEN the contact was transferred and queued again since the first event was published
    later = ENQUEUED + timedelta(minutes=5)
    connect = FakeConnect(contacts={"c1": queued(later)}, states={DANA: available(DANA)})
    episodes = MemoryEpisodes(clock)
    r = router(connect, episodes, clock)
    # WHEN the late event and the new queuing's own event both arrive
    late = r.route(event(ENQUEUED), delivery=delivery("m-1"))
    own = r.route(event(later), delivery=delivery("m-2"))
    # THEN the queuing the contact is in was claimed by the first of them: one association
    assert late.outcome is Outcome.ASSOCIATED
    assert (own.outcome, own.reason) == (Outcome.DUPLICATE, "already_claimed")
    assert connect.count("AssociateContactWithUser") == 1


def test_a_recheck_of_an_earlier_queuing_stops(clock: Clock) -> None:
    connect = FakeConnect(contacts={"c1": queued(ENQUEUED + timedelta(minutes=5))}, states={DANA: available(DANA)})
    decision = router(connect, MemoryEpisodes(clock), clock).route(event(None), recheck(0, 1), delivery=delivery("r-1"))
    assert (decision.outcome, decision.reason) == (Outcome.NOT_WAITING, "queued_again")
    assert connect.count("AssociateContactWithUser") == 0


def test_a_queue_transfer_starts_a_new_episode(clock: Clock) -> None:
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    r = router(connect, MemoryEpisodes(clock), clock)
    r.route(event(), delivery=delivery("m-1"))
    later = ENQUEUED + timedelta(minutes=5)
    connect.contacts["c1"] = queued(later)
    assert r.route(event(later), delivery=delivery("m-2")).outcome is Outcome.ASSOCIATED
    assert connect.count("AssociateContactWithUser") == 2


def test_an_event_without_an_enqueue_time_is_claimed_after_describe(clock: Clock) -> None:
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    episodes = MemoryEpisodes(clock)
    r = router(connect, episodes, clock)
    assert r.route(event(None), delivery=delivery("m-1")).outcome is Outcome.ASSOCIATED
    assert r.route(event(None), delivery=delivery("m-2")).outcome is Outcome.DUPLICATE
    assert list(episodes.items) == [episode_key("c1", ENQUEUED)]


def test_a_throttled_attempt_gives_the_claim_back_for_the_retry(clock: Clock) -> None:
    # GIVEN Connect throttles the association (not applied)
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    connect.associate_error = TransientError("throttled", "slow down")
    episodes = MemoryEpisodes(clock)
    r = router(connect, episodes, clock)
    with pytest.raises(TransientError):
        r.route(event(), delivery=delivery("m-1"))
    # WHEN SQS delivers the record again and Connect accepts THEN the retry associates
    connect.associate_error = None
    assert r.route(event(), delivery=delivery("m-1")).outcome is Outcome.ASSOCIATED
    assert len(episodes.released) == 1


def test_an_attempt_that_may_have_reached_connect_keeps_the_claim(clock: Clock) -> None:
    # GIVEN the association times out: Connect may have applied it
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    connect.associate_error = TransientError("timeout", "read timeout")
    episodes = MemoryEpisodes(clock)
    r = router(connect, episodes, clock)
    with pytest.raises(TransientError):
        r.route(event(), delivery=delivery("m-1", remaining_ms=1_000))
    # WHEN the retry comes after the invocation's end THEN it resumes and does not try again
    connect.associate_error = None
    clock.now += 60
    decision = r.route(event(), delivery=delivery("m-1"))
    assert decision.reason == "resumed_after_failure"
    assert connect.count("AssociateContactWithUser") == 1
    assert episodes.released == []


def test_a_refused_chain_attempt_gives_its_guard_back(clock: Clock) -> None:
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    connect.associate_error = PermanentError("invalid_request", "not routable now")
    episodes = MemoryEpisodes(clock)
    r = router(connect, episodes, clock)
    with pytest.raises(PermanentError):  # still waiting after the refusal: dead-lettered with its reason
        r.route(event(None), recheck(0, 1), delivery=delivery("r-1"))
    connect.associate_error = None
    assert r.route(event(None), recheck(0, 2), delivery=delivery("r-2")).outcome is Outcome.ASSOCIATED


def test_a_dry_run_claims_its_own_episodes(clock: Clock) -> None:
    assert episode_key("c1", ENQUEUED, dry_run=True) != episode_key("c1", ENQUEUED)


# ------------------------------------------------------------------- the adapter, same contract as the fake
@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest, clock: Clock) -> Iterator[EpisodePort]:
    if request.param == "memory":
        yield MemoryEpisodes(clock)
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-2")
        client.create_table(
            TableName="idem",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoDBEpisodes("idem", 86_400, client, clock)


def test_store_first_writer_owns_the_episode(store: EpisodePort) -> None:
    assert store.claim("c1#1", "m-1", NOW + 30).hold is Hold.FRESH
    taken = store.claim("c1#1", "m-2", NOW + 30)
    assert (taken.hold, taken.holder, taken.claimed_at) == (Hold.TAKEN, "m-1", int(NOW))
    assert store.claim("c1#1", "m-1", NOW + 30).hold is Hold.IN_PROGRESS


def test_store_same_message_after_its_lease_resumes(store: EpisodePort, clock: Clock) -> None:
    store.claim("c1#1", "m-1", NOW + 30)
    clock.now += 60
    assert store.claim("c1#1", "m-1", clock.now + 30).hold is Hold.RESUMED
    assert store.claim("c1#1", "m-2", clock.now + 30).hold is Hold.TAKEN


def test_store_release_frees_the_episode_for_anyone(store: EpisodePort) -> None:
    store.claim("c1#1", "m-1", NOW + 30)
    store.release("c1#1", "m-2")  # not the owner: nothing given back
    assert store.claim("c1#1", "m-3", NOW + 30).hold is Hold.TAKEN
    store.release("c1#1", "m-1")
    assert store.claim("c1#1", "m-2", NOW + 30).hold is Hold.FRESH


def test_store_one_association_guard_per_episode(store: EpisodePort) -> None:
    store.claim("c1#1", "m-1", NOW + 30)
    assert store.guard_association("c1#1", "m-9", "t0") is Guard.TAKEN  # not the episode's owner
    assert store.guard_association("c1#1", "m-1", "t1") is Guard.WON
    assert store.guard_association("c1#1", "m-1", "t2") is Guard.TAKEN
    assert store.guard_association("c1#1", "m-1", "t1") is Guard.AGAIN  # the same attempt, again
    store.release_association("c1#1", "t2")  # not the holder's token: kept
    assert store.guard_association("c1#1", None, "t3") is Guard.TAKEN
    store.release_association("c1#1", "t1")
    assert store.guard_association("c1#1", "m-1", "t4") is Guard.WON
    assert store.guard_association("c9#1", None, "t5") is Guard.WON  # no claim (expired): the guard alone


def test_a_throttled_chain_attempt_gives_its_guard_back(clock: Clock) -> None:
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    connect.associate_error = TransientError("throttled", "slow down")
    episodes = MemoryEpisodes(clock)
    episodes.claim(episode_key("c1", ENQUEUED), "m-1", NOW - 10)
    r = router(connect, episodes, clock)
    with pytest.raises(TransientError):
        r.route(event(None), recheck(0, 1), delivery=delivery("r-1"))
    connect.associate_error = None
    assert r.route(event(None), recheck(0, 1), delivery=delivery("r-1")).outcome is Outcome.ASSOCIATED


def test_store_a_guard_given_back_without_a_claim_can_be_taken_again(store: EpisodePort) -> None:
    assert store.guard_association("c1#1", "m-1", "t1") is Guard.WON
    store.release_association("c1#1", "t1")
    assert store.guard_association("c1#1", "m-1", "t2") is Guard.WON


def test_a_chain_guards_the_episode_its_owner_claimed(clock: Clock) -> None:
    # GIVEN the event's enqueue time and DescribeContact's differ by a few milliseconds (same queuing)
    connect = FakeConnect(
        contacts={"c1": queued(ENQUEUED + timedelta(milliseconds=7))}, states={DANA: available(DANA, free=0)}
    )
    episodes, rechecks = MemoryEpisodes(clock), FakeRechecks()
    r = router(connect, episodes, clock, rechecks)
    r.route(event(ENQUEUED), delivery=delivery("m-1"))
    state = rechecks.sent[0][0]["contact-router-recheck"]
    # THEN the re-check names the episode as claimed, and its association guard lands on that claim
    assert state["episode"] == episode_key("c1", ENQUEUED)
    connect.states[DANA] = available(DANA)
    clock.now += rechecks.sent[0][1]
    message = json.dumps(rechecks.sent[0][0])
    again_event, again = parse_record(message)
    assert r.route(again_event, again, delivery=delivery("r-1")).outcome is Outcome.ASSOCIATED
    assert episodes.items[episode_key("c1", ENQUEUED)]["association"].startswith("m-1#")


def test_a_chain_attempt_whose_answer_was_lost_is_not_tried_again_but_ends(clock: Clock) -> None:
    # GIVEN a re-check whose association ended in a 5xx (Connect may have applied it)
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    connect.associate_error = TransientError("connect_unavailable", "500")
    episodes = MemoryEpisodes(clock)
    r = router(connect, episodes, clock)
    with pytest.raises(TransientError):
        r.route(event(None), recheck(0, 1), delivery=delivery("r-1"))
    connect.associate_error = None
    # WHEN SQS delivers it again THEN it ends the wait with a reason, without a second attempt
    decision = r.route(event(None), recheck(0, 1), delivery=delivery("r-1"))
    assert (decision.outcome, decision.reason) == (Outcome.NO_ELIGIBLE_AGENT, "resumed_after_failure")
    assert connect.count("AssociateContactWithUser") == 1


def test_a_prefetched_record_sent_back_unstarted_gives_its_claim_back(clock: Clock) -> None:
    # GIVEN a batch's first pass claimed the episode for message m-1
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    episodes = MemoryEpisodes(clock)
    r = router(connect, episodes, clock)
    batch = r.prefetch_batch([(event(), None, delivery("m-1"))])
    assert batch.claims["m-1"].hold is Hold.FRESH
    # WHEN the time budget sends it back to SQS as a new message (record_policy._defer -> abandon)
    r.abandon(delivery("m-1"), batch)
    # THEN the new message owns the episode and routes the contact (not a copy of itself)
    assert r.route(event(), delivery=delivery("m-1-again")).outcome is Outcome.ASSOCIATED
    assert episodes.released == [episode_key("c1", ENQUEUED)]


def test_record_policy_gives_the_claim_back_of_a_record_it_has_no_time_for() -> None:
    given_back: list[str] = []
    requeued: list[str] = []

    class Late:
        def get_remaining_time_in_millis(self) -> int:
            return 1_000  # an invocation that began below the deadline margin starts no record

    policy: RecordPolicy[Decision] = RecordPolicy(
        decide=lambda *_: pytest.fail("a record without time must not be decided"),
        kind=Decision,
        dead_letters=None,
        abandon=lambda d, _prefetched: given_back.append(d.message_id),
        requeue=lambda _body, message_id: requeued.append(message_id),
    )
    policy.register_lambda_context(Late())  # type: ignore[arg-type]
    policy.start_batch([])
    record = SQSRecord({"messageId": "m-9", "body": "{}", "attributes": {"ApproximateReceiveCount": "1"}})
    decision = policy.handle_record(record)
    assert (decision.reason, given_back, requeued) == ("deferred", ["m-9"], ["m-9"])


@mock_aws
def test_the_adapter_makes_only_the_calls_the_router_role_allows(clock: Clock) -> None:
    # template.yaml's EpisodeClaims statement (tests/template/test_template.py): PutItem, UpdateItem, DeleteItem
    client = boto3.client("dynamodb", region_name="eu-west-2")
    client.create_table(
        TableName="idem",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    made: set[str] = set()
    client.meta.events.register("before-call.dynamodb", lambda model, **_: made.add(model.name))
    store = DynamoDBEpisodes("idem", 86_400, client, clock)
    store.claim("c1#1", "m-1", NOW + 30)
    store.claim("c1#1", "m-2", NOW + 30)
    store.guard_association("c1#1", "m-1", "t1")
    store.guard_association("c1#1", "m-1", "t2")
    store.release_association("c1#1", "t1")
    store.release("c1#1", "m-1")
    assert made == {"PutItem", "UpdateItem", "DeleteItem"}
