"""At most one AssociateContactWithUser per contact per routing episode (contact id + enqueue time),
whatever the number of re-check chains, duplicates or redeliveries: the claim is keyed by the episode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from contact_router.adapters.idempotency import DynamoDBClaims
from contact_router.errors import TransientError
from contact_router.models.contact import Contact
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import Outcome
from contact_router.routing.fallback import Recheck
from contact_router.routing.router import Router, RouterOptions
from tests.fakes import DANA, INSTANCE_ARN, FakeConnect, MemoryClaims, MemoryIdempotency, StaticRules, available

RULES = StaticRules.of(
    "version: 1\nrouting:\n  - name: named\n    candidates: [{attribute: preferredAgent}]\n"
    "    fallback: [{wait: {interval_seconds: 30, max_seconds: 600}}]\n"
)
ENQUEUED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def queued(enqueued_at: datetime = ENQUEUED) -> Contact:
    return Contact(
        id="c1", channel="CHAT", queue_id="q-1", enqueued_at=enqueued_at, attributes={"preferredAgent": DANA}
    )


def recheck(step: int, attempt: int) -> Recheck:
    return Recheck("c1", INSTANCE_ARN, "CHAT", "named", step, ENQUEUED.timestamp(), attempt, 0.0)


def router(connect: FakeConnect, claims: MemoryClaims) -> Router:
    return Router(
        RouterOptions(instance_arn=INSTANCE_ARN, allowed_agent_arn_pattern=f"{INSTANCE_ARN}/agent/*"),
        connect=connect,
        users=connect,
        rules=RULES,
        idempotency=MemoryIdempotency(),
        claims=claims,
    )


def event() -> ContactEventDetail:
    return ContactEventDetail.model_validate(
        {"contactId": "c1", "eventType": "QUEUED", "channel": "CHAT", "instanceArn": INSTANCE_ARN}
    )


def test_two_interleaved_recheck_chains_make_one_association_attempt() -> None:
    # GIVEN two re-check chains of the same contact (different steps and attempts, so different
    # idempotency keys), interleaved: both read the contact as still waiting before either associates
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    claims = MemoryClaims()
    chain_a, chain_b = router(connect, claims), router(connect, claims)
    read_by_a = connect.describe_contact("c1")
    read_by_b = connect.describe_contact("c1")
    # WHEN each decides from what it read
    first = chain_a.decide(read_by_a, recheck=recheck(0, 3))
    second = chain_b.decide(read_by_b, recheck=recheck(0, 4))
    # THEN only the first chain asks Connect; the second says why it did not
    assert connect.count("AssociateContactWithUser") == 1
    assert first.outcome is Outcome.ASSOCIATED
    assert (second.outcome, second.reason) == (Outcome.DUPLICATE, "association_claimed")


def test_an_event_and_a_recheck_of_one_episode_share_the_claim() -> None:
    # GIVEN a QUEUED event and a stale re-check for the same episode, Connect answering "still waiting"
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    claims = MemoryClaims()
    r = router(connect, claims)
    # WHEN both are routed
    r.route(event())
    r.route(event(), recheck(0, 1))
    # THEN one attempt
    assert connect.count("AssociateContactWithUser") == 1


def test_a_queue_transfer_starts_a_new_episode() -> None:
    # GIVEN a contact associated once, then enqueued again (a transfer: new enqueue timestamp)
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    claims = MemoryClaims()
    r = router(connect, claims)
    r.route(event())
    connect.contacts["c1"] = queued(ENQUEUED + timedelta(minutes=5))
    # WHEN it is routed again THEN it may be associated again
    assert r.route(event()).outcome is Outcome.ASSOCIATED
    assert connect.count("AssociateContactWithUser") == 2


def test_a_refused_attempt_gives_the_claim_back_for_the_retry() -> None:
    # GIVEN Connect throttles the first attempt
    connect = FakeConnect(contacts={"c1": queued()}, states={DANA: available(DANA)})
    connect.associate_error = TransientError("throttled", "slow down")
    claims = MemoryClaims()
    r = router(connect, claims)
    with pytest.raises(TransientError):
        r.route(event())
    # WHEN SQS delivers the record again and Connect accepts
    connect.associate_error = None
    # THEN the retry may associate (the refused attempt did not keep the episode)
    assert r.route(event()).outcome is Outcome.ASSOCIATED
    assert len(claims.released) == 1
    assert connect.count("AssociateContactWithUser") == 2


@mock_aws
def test_dynamodb_claims_first_writer_wins_until_released_or_expired() -> None:
    # GIVEN the idempotency table's shape (key id, TTL attribute expiration)
    client = boto3.client("dynamodb", region_name="eu-west-2")
    client.create_table(
        TableName="idem",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    now = [1_800_000_000.0]
    claims = DynamoDBClaims("idem", 3600, client, lambda: now[0])
    # THEN the first claim wins, the second loses, a release frees it, and an expired claim is free again
    assert claims.claim("c1#t") is True
    assert claims.claim("c1#t") is False
    claims.release("c1#t")
    assert claims.claim("c1#t") is True
    now[0] += 3601
    assert claims.claim("c1#t") is True
    assert claims.claim("c2#t") is True
