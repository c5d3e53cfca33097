"""The router Lambda handler in-process: emulated Connect, DynamoDB and SQS on moto, SQS batches from events/."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from contact_router.adapters.affinity_store import AffinityStore
from contact_router.adapters.aws import Clients
from contact_router.adapters.connect import ConnectGateway
from contact_router.composition import build_router_app
from contact_router.config import Settings
from contact_router.handlers import affinity as affinity_handler
from contact_router.handlers import router as router_handler
from contact_router_cli.local import VirtualTimeRechecks
from contact_router_cli.owners import OwnerResolver, import_owners
from tests.conftest import EVENTS_DIR, SAMPLES_DIR
from tests.integration.conftest import AFFINITY_TABLE, SECRET, Harness, LambdaContext, event

DANA = "33333333-0000-4000-8000-000000000001"
SAM = "33333333-0000-4000-8000-000000000002"
CHAT_BY_ATTRIBUTE = "queued-chat-attribute.json"
CATALOG: dict[str, dict[str, Any]] = yaml.safe_load((EVENTS_DIR / "catalog.yaml").read_text())


def decisions(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.decision for r in caplog.records if hasattr(r, "decision")]  # type: ignore[attr-defined]


def test_every_fixture_gets_the_outcome_the_catalog_promises(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN the sample world and rules, and every fixture in one shuffled set of batches
    names = sorted(CATALOG)
    random.Random(7).shuffle(names)
    usernames = {u.id: u.username for u in harness.emulator.world.users}
    rechecks = VirtualTimeRechecks(harness.emulator)
    app = build_router_app(
        Settings.from_env(harness.env),
        Clients(connect=harness.emulator.client(role="RouterFunction"), dynamodb=harness.dynamodb, sqs=harness.sqs),
        clock=harness.emulator.now,
        rechecks=rechecks,
    )
    caplog.set_level("INFO")
    # GIVEN the sample owners, and the connected contacts recorded by the affinity recorder (they happened earlier)
    resolver = OwnerResolver(
        ConnectGateway(harness.emulator.client(), harness.emulator.instance_id), harness.emulator.instance_arn
    )
    import_owners(
        SAMPLES_DIR / "owners.csv", AffinityStore(AFFINITY_TABLE, harness.dynamodb), SECRET.encode(), resolver
    )
    connected = [harness.record(event(n)) for n in names if event(n)["detail"].get("eventType") == "CONNECTED_TO_AGENT"]
    affinity_handler.lambda_handler({"Records": connected}, LambdaContext(), app=harness.affinity_app())
    # WHEN they are delivered in SQS batches of up to 10, then the delayed re-checks when they fall due
    for start in range(0, len(names), 10):
        response = harness.invoke([harness.record(event(n)) for n in names[start : start + 10]], app)
        assert response == {"batchItemFailures": []}
    while (recheck := rechecks.pop_due()) is not None:
        assert harness.invoke([harness.record(recheck)], app) == {"batchItemFailures": []}
    # THEN each decision is the one the catalog states
    by_contact = {(d.get("contact_id"), d.get("event_type")): d for d in decisions(caplog)}
    assert len(decisions(caplog)) == len(names) + 8, "8 re-checks: priya's 2 and mo's 6"
    for name in names:
        expected = CATALOG[name]
        detail = event(name)["detail"]
        key = (detail.get("contactId") or detail.get("ContactId"), detail.get("eventType") or detail.get("EventType"))
        got = by_contact[key if expected["outcome"] != "Rejected" else (None, None)]
        assert got["outcome"] == expected["outcome"], name
        if "agent" in expected:
            assert usernames[got["agent_id"]] == expected["agent"], name
        if "rule" in expected:
            assert got.get("rule") == expected["rule"], name
        if "reason" in expected:
            assert got["reason"] == expected["reason"], name
    # AND the associations in the emulator are exactly the Associated ones
    associated = {a.contact_id for a in harness.emulator.associations}
    assert associated == {
        (event(n)["detail"].get("contactId") or event(n)["detail"].get("ContactId"))
        for n in names
        if CATALOG[n]["outcome"] == "Associated"
    }


def test_same_event_three_times_shuffled_among_others_associates_once(harness: Harness) -> None:
    # GIVEN the chat delivered three times, shuffled among other events, across two batches
    bodies = [event(CHAT_BY_ATTRIBUTE)] * 3 + [
        event(n) for n in ("queued-chat-no-rule.json", "queued-chat-minimal.json", "queued-email-related-contact.json")
    ]
    random.Random(3).shuffle(bodies)
    app = harness.app()
    # WHEN processed
    harness.invoke([harness.record(b) for b in bodies[:3]], app)
    harness.invoke([harness.record(b) for b in bodies[3:]], app)
    # THEN exactly one AssociateContactWithUser for that contact
    contact_id = event(CHAT_BY_ATTRIBUTE)["detail"]["contactId"]
    assert [a.user_id for a in harness.emulator.associations if a.contact_id == contact_id] == [DANA]
    calls = [c for c in harness.emulator.calls if c.operation == "AssociateContactWithUser"]
    assert sum(1 for c in calls if c.params.get("ContactId") == contact_id) == 1
    # AND the copies were settled by the episode claim before any Connect call: the chat was read once
    reads = [c for c in harness.emulator.calls if c.operation == "DescribeContact"]
    assert sum(1 for c in reads if c.params.get("ContactId") == contact_id) == 1


def test_copies_in_one_batch_cost_one_claim_each_and_no_connect_call(harness: Harness) -> None:
    # GIVEN the same chat three times in one batch (EventBridge's at-least-once copies, as SQS delivers them)
    app = harness.app()
    records = [harness.record(event(CHAT_BY_ATTRIBUTE)) for _ in range(3)]
    # WHEN the batch is processed
    assert harness.invoke(records, app) == {"batchItemFailures": []}
    # THEN one read, one association, and the table holds the owner's claim (the copies wrote nothing)
    contact_id = event(CHAT_BY_ATTRIBUTE)["detail"]["contactId"]
    reads = [c for c in harness.emulator.calls if c.operation == "DescribeContact"]
    assert sum(1 for c in reads if c.params.get("ContactId") == contact_id) == 1
    assert [a.contact_id for a in harness.emulator.associations] == [contact_id]
    owners = {i["owner"]["S"] for i in harness.dynamodb.scan(TableName="idempotency")["Items"] if "owner" in i}
    assert owners == {records[0]["messageId"]}


def test_duplicate_delivered_to_a_fresh_execution_environment_is_still_deduplicated(harness: Harness) -> None:
    # GIVEN two execution environments (two app instances, as two concurrent Lambdas would be)
    first, second = harness.app(), harness.app()
    harness.invoke([harness.record(event(CHAT_BY_ATTRIBUTE))], first)
    harness.invoke([harness.record(event(CHAT_BY_ATTRIBUTE), receive_count=2)], second)
    assert len(harness.emulator.associations) == 1


def test_throttled_association_is_retried_by_sqs_and_associates_exactly_once(harness: Harness) -> None:
    # GIVEN AssociateContactWithUser throttles every attempt botocore makes (3)
    harness.emulator.faults.fail_next("AssociateContactWithUser", "ThrottlingException", times=3)
    app = harness.app()
    record = harness.record(event(CHAT_BY_ATTRIBUTE))
    # WHEN the record is processed  THEN it is reported as a batch item failure, nothing associated
    assert harness.invoke([record, harness.record(event("queued-chat-no-rule.json"))], app) == {
        "batchItemFailures": [{"itemIdentifier": record["messageId"]}]
    }
    assert harness.emulator.associations == []
    assert harness.emulator.call_counts()["AssociateContactWithUser"] == 3
    # WHEN SQS redelivers it  THEN it is associated exactly once
    retry = dict(record, attributes={**record["attributes"], "ApproximateReceiveCount": "2"})
    assert harness.invoke([retry], app) == {"batchItemFailures": []}
    assert [a.user_id for a in harness.emulator.associations] == [DANA]
    assert harness.dead_letters() == []


def _new_chat_for(harness: Harness, preferred: str) -> dict[str, Any]:
    contact = harness.emulator.add_contact(
        channel="CHAT", state="QUEUED", queue="Support", attributes={"preferredAgent": preferred}
    )
    body = event(CHAT_BY_ATTRIBUTE)
    body["detail"]["contactId"] = contact.id
    return body


THREE_CALLS = {"DescribeContact": 1, "GetCurrentUserData": 1, "AssociateContactWithUser": 1}


def test_attribute_rule_costs_three_connect_calls_and_one_cached_profile_read(harness: Harness, tmp_path: Path) -> None:
    # GIVEN an attribute rule and a chat whose attribute holds dana's user id, on a cold environment
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nrouting:\n  - name: named\n    candidates: [{attribute: preferredAgent}]\n", encoding="utf-8"
    )
    body = _new_chat_for(harness, DANA)
    harness.emulator.reset_calls()
    # WHEN routed
    app = harness.app(RULES_FILE=str(rules))
    harness.invoke([harness.record(body)], app)
    # THEN DescribeContact, GetCurrentUserData and AssociateContactWithUser, once each, and the queues of dana's
    # routing profile (cold: the environment caches them for USER_CACHE_SECONDS)
    assert dict(harness.emulator.call_counts()) == {**THREE_CALLS, "ListRoutingProfileQueues": 1}
    # AND the next contact in the same environment costs the three calls only
    harness.emulator.reset_calls()
    harness.invoke([harness.record(_new_chat_for(harness, DANA))], app)
    assert dict(harness.emulator.call_counts()) == THREE_CALLS


def test_usernames_cost_one_cached_lookup_per_environment(harness: Harness) -> None:
    # GIVEN the sample rules (exclude_users: [lee]) and a chat naming dana by username
    app = harness.app()
    harness.invoke([harness.record(_new_chat_for(harness, "dana"))], app)
    assert harness.emulator.call_counts()["SearchUsers"] == 2, "dana and lee, once each"
    # WHEN a second chat for dana is routed by the same (warm) environment  THEN three calls again
    harness.emulator.reset_calls()
    harness.invoke([harness.record(_new_chat_for(harness, "dana"))], app)
    assert dict(harness.emulator.call_counts()) == THREE_CALLS


@pytest.mark.parametrize(
    ("fault_op", "code", "reason"),
    [
        ("DescribeContact", "AccessDeniedException", "access_denied"),
        ("DescribeContact", "InvalidParameterException", "invalid_parameter"),
        ("AssociateContactWithUser", "AccessDeniedException", "access_denied"),
    ],
)
def test_permanent_errors_go_to_the_dead_letter_queue_with_a_reason(
    harness: Harness, fault_op: str, code: str, reason: str
) -> None:
    harness.emulator.faults.fail_next(fault_op, code, times=1)
    response = harness.invoke(
        [harness.record(event(CHAT_BY_ATTRIBUTE)), harness.record(event("queued-email-related-contact.json"))]
    )
    # THEN the batch succeeds (nothing retried forever), the other record still routed, one dead letter with reason
    assert response == {"batchItemFailures": []}
    assert [a.user_id for a in harness.emulator.associations] == [SAM]
    letters = harness.dead_letters()
    assert [(letter["reason"], json.loads(letter["body"])["detail"]["contactId"]) for letter in letters] == [
        (reason, event(CHAT_BY_ATTRIBUTE)["detail"]["contactId"])
    ]
    assert code in letters[0]["error"]


def test_malformed_and_unknown_contacts_are_dead_lettered_and_the_batch_goes_on(harness: Harness) -> None:
    unknown = event(CHAT_BY_ATTRIBUTE)
    unknown["detail"]["contactId"] = "55555555-9999-4000-8000-000000000000"
    records = [
        harness.record("{not json"),
        harness.record(event("malformed-missing-contact-id.json")),
        harness.record(unknown),
        harness.record(event(CHAT_BY_ATTRIBUTE)),
    ]
    assert harness.invoke(records) == {"batchItemFailures": []}
    assert len(harness.emulator.associations) == 1
    letters = harness.dead_letters()
    assert sorted(letter["reason"] for letter in letters) == ["malformed_event", "malformed_event", "unknown_contact"]
    assert {letter["source_message_id"] for letter in letters} == {r["messageId"] for r in records[:3]}
    assert all(letter["error"] for letter in letters)


def test_dead_letter_queue_unavailable_gives_the_record_back_to_sqs(harness: Harness) -> None:
    app = harness.app(DEAD_LETTER_QUEUE_URL="https://sqs.eu-west-2.amazonaws.com/123456789012/missing")
    record = harness.record("{not json")
    assert harness.invoke([record], app) == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}


def test_server_errors_and_timeouts_are_transient(harness: Harness) -> None:
    harness.emulator.faults.fail_next("DescribeContact", "InternalServiceException", times=3)
    record = harness.record(event(CHAT_BY_ATTRIBUTE))
    assert harness.invoke([record]) == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert harness.dead_letters() == []


def test_dry_run_decides_without_associating(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    harness.invoke([harness.record(event(CHAT_BY_ATTRIBUTE))], harness.app(DRY_RUN="true"))
    assert harness.emulator.associations == []
    assert harness.emulator.call_counts()["AssociateContactWithUser"] == 0
    (decision,) = decisions(caplog)
    assert (decision["outcome"], decision["agent_id"], decision["dry_run"]) == ("WouldAssociate", DANA, True)


def test_redelivery_of_a_still_waiting_contact_is_a_duplicate_from_the_idempotency_table(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN dry run (the contact stays waiting, so only the episode claim can recognise the duplicate)
    caplog.set_level("INFO")
    first, second = harness.app(DRY_RUN="true"), harness.app(DRY_RUN="true")
    harness.invoke([harness.record(event(CHAT_BY_ATTRIBUTE))], first)
    connect_calls = len(harness.emulator.calls)
    harness.invoke([harness.record(event(CHAT_BY_ATTRIBUTE))], second)
    # THEN the copy is settled by the claim, before any Connect call
    outcomes = [(d["outcome"], d.get("reason")) for d in decisions(caplog)]
    assert outcomes == [("WouldAssociate", "dry_run"), ("Duplicate", "already_claimed")]
    assert len(harness.emulator.calls) == connect_calls
    claims = harness.dynamodb.scan(TableName="idempotency")["Items"]
    assert {c["owner"]["S"] for c in claims} == {"m-1"}
    assert all(c["id"]["S"].count("#dry#") == 1 for c in claims)


def test_requeued_contact_is_routed_again(harness: Harness) -> None:
    app = harness.app()
    harness.invoke([harness.record(event(CHAT_BY_ATTRIBUTE))], app)
    contact_id = event(CHAT_BY_ATTRIBUTE)["detail"]["contactId"]
    # GIVEN the agent transferred it back to another queue: waiting again, new enqueue
    harness.emulator.connect_contact(contact_id)
    again = harness.emulator.queue_contact(contact_id, "VIP")
    # WHEN Connect publishes that queuing's QUEUED event (its own enqueue time: a new routing episode)
    body = event(CHAT_BY_ATTRIBUTE)
    assert again.enqueued_at is not None
    body["detail"]["queueInfo"]["enqueueTimestamp"] = datetime.fromtimestamp(again.enqueued_at, UTC).isoformat()
    harness.invoke([harness.record(body)], app)
    assert [a.contact_id for a in harness.emulator.associations] == [contact_id, contact_id]


def test_no_customer_address_in_any_log_line(harness: Harness, lambda_output: io.StringIO) -> None:
    # GIVEN every fixture processed (the world's contacts carry phone numbers and email addresses)
    harness.invoke([harness.record(event(n)) for n in sorted(CATALOG)[:10]])
    harness.invoke([harness.record(event(n)) for n in sorted(CATALOG)[10:]])
    out = lambda_output.getvalue()
    assert out.count('"message":"routing decision"') == len(CATALOG)
    addresses = [c.customer_endpoint["Address"] for c in harness.emulator.world.contacts if c.customer_endpoint]
    assert addresses, "the sample world must carry customer addresses for this test to mean anything"
    for address in addresses:
        assert address not in out


def test_records_not_started_before_the_deadline_go_back_to_sqs(harness: Harness) -> None:
    # GIVEN an invocation with less time left than one record may need
    class AlmostOutOfTime(LambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return 2_000

    records = [harness.record(event(CHAT_BY_ATTRIBUTE)), harness.record(event("queued-email-related-contact.json"))]
    response = router_handler.lambda_handler({"Records": records}, AlmostOutOfTime(), app=harness.app())
    # THEN nothing is started and every record is handed back
    assert response == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
    assert harness.emulator.calls == []


def test_debug_logs_show_payloads_with_customer_data_erased(harness: Harness, lambda_output: io.StringIO) -> None:
    # GIVEN DEBUG logging (samconfig's dry-run environment uses it) and contacts carrying phone numbers and emails
    from contact_router.observability import logger

    previous = logger.log_level
    logger.setLevel("DEBUG")
    try:
        names = ["queued-email-related-contact.json", "queued-chat-attribute.json", "queued-email-key-account.json"]
        harness.invoke([harness.record(event(n)) for n in names])
    finally:
        logger.setLevel(previous)
    out = lambda_output.getvalue()
    # THEN the raw record and the DescribeContact answer are logged, with endpoints and attributes erased
    assert out.count('"message":"described contact"') >= 3
    assert '"CustomerEndpoint":"*****"' in out
    assert '"Attributes":"*****"' in out
    for address in ("jo.bloggs@example.com", "+447700900123", "CFO@BigCorp.example", "dana"):
        if address == "dana":
            continue  # a username in a decision record is not customer data
        assert address not in out


def test_debug_logs_carry_no_name_email_or_phone_planted_in_tags_segment_attributes_attributes_or_endpoints(
    harness: Harness, lambda_output: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an email contact whose tags, segment attributes, attributes and endpoint all carry a customer's name,
    # email address and phone number, in Connect's answer and in the event itself
    from contact_router.observability import logger

    name, email, phone = "Josephine Planted-Bloggs", "josephine.planted@example.org", "+447700900987"
    everything = f"{name} <{email}> {phone}"
    contact = harness.emulator.add_contact(
        channel="EMAIL",
        state="QUEUED",
        queue="Support",
        attributes={"preferredAgent": "dana", "customerName": name, "callback": phone},
        tags={"CustomerEmail": email, "Note": everything},
        segment_attributes={"connect:Subtype": "connect:Email", "connect:EmailSubject": f"Re: order for {everything}"},
        customer_endpoint={"type": "EMAIL_ADDRESS", "address": email},
        customer_id=f"{name} {phone}",
    )
    body = event(CHAT_BY_ATTRIBUTE)
    body["detail"].update(
        contactId=contact.id,
        channel="EMAIL",
        tags={"CustomerEmail": email, "Note": everything},
        segmentAttributes={"connect:EmailSubject": {"ValueString": f"Re: order for {everything}"}},
        customerEndpoint={"type": "EMAIL_ADDRESS", "address": email},
    )
    previous = logger.log_level
    logger.setLevel("DEBUG")
    try:
        # WHEN the router handles it at DEBUG
        harness.invoke([harness.record(body)])
    finally:
        logger.setLevel(previous)
    out = lambda_output.getvalue() + capsys.readouterr().out
    # THEN the payload lines are there, their customer fields erased whole, and none of the planted data anywhere
    described = [json.loads(line) for line in out.splitlines() if '"message":"described contact"' in line]
    assert len(described) == 1
    for member in ("Tags", "SegmentAttributes", "Attributes", "CustomerEndpoint", "CustomerId"):
        assert described[0]["contact"][member] == "*****", member
    assert '"message":"sqs record"' in out
    for planted in (name, email, phone, "Planted", "planted", "7700900987"):
        assert planted not in out, planted


def _chats(harness: Harness, preferred: list[str]) -> list[dict[str, Any]]:
    records = []
    for agent in preferred:
        contact = harness.emulator.add_contact(
            channel="CHAT", state="QUEUED", queue="Support", attributes={"preferredAgent": agent}
        )
        body = event(CHAT_BY_ATTRIBUTE)
        body["detail"]["contactId"] = contact.id
        records.append(harness.record(body))
    return records


def test_a_batch_shares_one_get_current_user_data(harness: Harness, tmp_path: Path) -> None:
    # GIVEN 10 chats naming 5 agents by id, each agent with room for at least two more chats
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nrouting:\n  - name: named\n    candidates: [{attribute: preferredAgent}]\n")
    ids = [u.id for u in harness.emulator.world.users if u.username in ("dana", "sam", "omar", "priya", "lead.one")]
    for user_id in ids:
        harness.emulator.set_busy(user_id, "CHAT", 0)
    records = _chats(harness, ids * 2)
    harness.emulator.reset_calls()
    # WHEN they arrive in one SQS batch
    assert harness.invoke(records, harness.app(RULES_FILE=str(rules))) == {"batchItemFailures": []}
    # THEN 10 DescribeContact, 1 GetCurrentUserData, 10 AssociateContactWithUser, and one ListRoutingProfileQueues
    # per routing profile of the five agents (Digital generalists, Supervisors), not one per contact
    assert dict(harness.emulator.call_counts()) == {
        "DescribeContact": 10,
        "GetCurrentUserData": 1,
        "ListRoutingProfileQueues": 2,
        "AssociateContactWithUser": 10,
    }
    profiles = [
        c.params["RoutingProfileId"] for c in harness.emulator.calls if c.operation == "ListRoutingProfileQueues"
    ]
    assert sorted(profiles) == sorted({u.routing_profile_id for u in harness.emulator.world.users if u.id in ids})
    assert len(harness.emulator.associations) == 10


def test_two_contacts_of_a_batch_never_both_get_the_last_slot(
    harness: Harness, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nrouting:\n  - name: named\n    candidates: [{attribute: preferredAgent}]\n")
    harness.emulator.set_busy("dana", "CHAT", 2)  # one chat slot left
    caplog.set_level("INFO")
    records = _chats(harness, [DANA, DANA])
    assert harness.invoke(records, harness.app(RULES_FILE=str(rules))) == {"batchItemFailures": []}
    outcomes = [(d["outcome"], d.get("reason")) for d in decisions(caplog)]
    assert outcomes == [("Associated", "attribute:preferredAgent"), ("NoEligibleAgent", "no_capacity")]
    assert [a.user_id for a in harness.emulator.associations] == [DANA]


def test_a_batch_with_bad_and_failing_records_still_shares_and_reports_each(harness: Harness) -> None:
    # GIVEN a malformed record and a DescribeContact throttled during the first pass, among good ones
    harness.emulator.faults.fail_next("DescribeContact", "ThrottlingException", times=3)
    records = [harness.record("{not json"), *_chats(harness, [DANA, SAM])]
    response = harness.invoke(records)
    # THEN the malformed record is dead-lettered, the throttled one goes back to SQS (not retried within the
    # same invocation), and the other chat is associated from the shared GetCurrentUserData
    assert response == {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}]}
    assert [a.user_id for a in harness.emulator.associations] == [SAM]
    assert [letter["reason"] for letter in harness.dead_letters()] == ["malformed_event"]
    assert harness.emulator.call_counts()["DescribeContact"] == 4, "3 throttled attempts + 1, never repeated"
