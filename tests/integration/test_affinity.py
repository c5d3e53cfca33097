"""Returning customers end to end: the affinity recorder handler, last_agent / owner routing, owners CSV."""

from __future__ import annotations

import io
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from contact_router.adapters.affinity_store import AffinityStore
from contact_router.adapters.aws import Clients
from contact_router.adapters.connect import ConnectGateway
from contact_router.composition import build_router_app
from contact_router.config import Settings
from contact_router.handlers import affinity as affinity_handler
from contact_router.handlers import router as router_handler
from contact_router_cli.local import run_pipeline
from contact_router_cli.main import main
from contact_router_cli.owners import OwnerResolver, import_owners
from tests.conftest import EVENTS_DIR, SAMPLES_DIR
from tests.integration.conftest import AFFINITY_TABLE, SECRET, Harness, LambdaContext, event

DANA = "33333333-0000-4000-8000-000000000001"
SAM = "33333333-0000-4000-8000-000000000002"
PHONE = "+44 7700 900777"


def connected_event(contact_id: str, channel: str = "VOICE") -> dict[str, Any]:
    body = event("connected-to-agent-vip-voice.json")
    body["detail"].update(contactId=contact_id, channel=channel)
    return body


def record(harness: Harness, contact_id: str) -> dict[str, Any]:
    return affinity_handler.lambda_handler(
        {"Records": [harness.record(connected_event(contact_id))]}, LambdaContext(), app=harness.affinity_app()
    )


def test_newest_first_and_duplicated_events_keep_the_newest_agent(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN two calls of the same customer: sam first, dana 60 s later
    emulator = harness.emulator
    endpoint = {"type": "TELEPHONE_NUMBER", "address": PHONE}
    older = emulator.add_contact(channel="VOICE", state="QUEUED", queue="Support", customer_endpoint=endpoint)
    emulator.connect_contact(older.id, "sam")
    emulator.advance(60)
    newer = emulator.add_contact(channel="VOICE", state="QUEUED", queue="Support", customer_endpoint=endpoint)
    emulator.connect_contact(newer.id, "dana")
    caplog.set_level("INFO")
    # WHEN their CONNECTED_TO_AGENT events arrive newest first, duplicated
    for contact_id in (newer.id, newer.id, older.id, newer.id, older.id):
        assert record(harness, contact_id) == {"batchItemFailures": []}
    # THEN the stored last agent is dana, and every late or repeated event was a no-op
    items = harness.dynamodb.scan(TableName=AFFINITY_TABLE)["Items"]
    assert [(i["agent_id"]["S"], i["contact_id"]["S"]) for i in items] == [(DANA, newer.id)]
    outcomes = [r.affinity["outcome"] for r in caplog.records if hasattr(r, "affinity")]  # type: ignore[attr-defined]
    assert outcomes == ["Recorded", "Stale", "Stale", "Stale", "Stale"]
    assert int(items[0]["expires_at"]["N"]) - int(items[0]["connected_at"]["N"]) // 1000 == 90 * 86_400


def test_affinity_older_than_the_rule_allows_is_ignored_and_said(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = harness.emulator
    endpoint = {"type": "TELEPHONE_NUMBER", "address": PHONE}
    call = emulator.add_contact(channel="VOICE", state="QUEUED", queue="Support", customer_endpoint=endpoint)
    emulator.connect_contact(call.id, "dana")
    record(harness, call.id)
    # WHEN the same customer sends an SMS 25 hours later (the sample rule allows 24 h)
    emulator.advance(25 * 3600)
    sms = emulator.add_contact(
        channel="CHAT",
        state="QUEUED",
        queue="Support",
        customer_endpoint=endpoint,
        segment_attributes={"connect:Subtype": "connect:SMS"},
    )
    body = event("queued-chat-returning-customer-sms.json")
    body["detail"]["contactId"] = sms.id
    app = build_router_app(
        Settings.from_env(harness.env),
        Clients(
            connect=emulator.client(role="RouterFunction"),
            dynamodb=harness.dynamodb,
            sqs=harness.sqs,
            secretsmanager=harness.secrets,
        ),
        clock=emulator.now,
    )
    caplog.set_level("INFO")
    router_handler.lambda_handler({"Records": [harness.record(body)]}, LambdaContext(), app=app)
    (decision,) = [r.decision for r in caplog.records if hasattr(r, "decision")]  # type: ignore[attr-defined]
    assert (decision["outcome"], decision["rule"]) == ("NoEligibleAgent", "returning-customer-sms")
    (candidate,) = decision["candidates"]
    assert candidate["verdict"] == "too_old"
    assert candidate["user_id"] == DANA
    assert candidate["source"].startswith("last_agent:phone, 1.0 d ago on VOICE")
    assert candidate["detail"] == "older than the rule's max_age 1.0 d"
    assert emulator.associations == []


def owners_csv(path: Path, good: int, bad_lines: dict[int, list[str]]) -> None:
    rng = random.Random(11)
    rows = [["key_type", "key", "owner"]]
    for n in range(good):
        kind = ("phone", "email", "customer_id")[n % 3]
        key = {
            "phone": f"+44 7700 {900000 + n:06d}",
            "email": f"Buyer{n}@Client{n % 7}.example",
            "customer_id": f"C-{n:05d}",
        }[kind]
        rows.append(
            [
                kind,
                key,
                rng.choice(
                    [
                        "dana",
                        "sam",
                        DANA,
                        f"arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555/agent/{SAM}",
                    ]
                ),
            ]
        )
    for line, row in sorted(bad_lines.items()):
        rows.insert(line - 1, row)
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")


BAD = {
    101: ["phone", "07700 900999", "dana"],  # national number: not E.164
    502: ["email", "vip@client.example", "nobody.here"],  # unknown owner
    903: ["fax", "+44 20 0000 0000", "sam"],  # unknown key type
}


def test_owners_csv_with_three_bad_rows_among_1000(harness: Harness, tmp_path: Path) -> None:
    path = tmp_path / "owners.csv"
    owners_csv(path, good=997, bad_lines=BAD)
    store = AffinityStore(AFFINITY_TABLE, harness.dynamodb)
    resolver = OwnerResolver(
        ConnectGateway(harness.emulator.client(), harness.emulator.instance_id), harness.emulator.instance_arn
    )
    # WHEN a file with three bad lines is imported  THEN each is reported with its number and nothing is written
    report = import_owners(path, store, SECRET.encode(), resolver)
    assert (report.rows, report.stored, report.unchanged) == (1000, 0, 0)
    assert [line for line, _ in report.bad] == [101, 502, 903]
    assert report.bad[0][1] == (
        "phone number without a country code: write it in E.164 (e.g. +447700900123) or pass --phone-region"
    )
    assert report.bad[1][1] == "owner 'nobody.here' is not a user of this instance"
    assert report.bad[2][1].startswith("unknown key_type 'fax'")
    assert harness.dynamodb.scan(TableName=AFFINITY_TABLE, Select="COUNT")["Count"] == 0
    # one lookup per distinct owner, not per row: usernames dana, sam, nobody.here; ids dana, sam (by ARN)
    counts = harness.emulator.call_counts()
    assert (counts["SearchUsers"], counts["DescribeUser"]) == (3, 2)
    # WHEN the bad lines are fixed (dropped) and the file imported  THEN every row is stored
    owners_csv(path, good=997, bad_lines={})
    started = time.perf_counter()
    report = import_owners(path, store, SECRET.encode(), resolver)
    first_run = time.perf_counter() - started
    assert (report.rows, report.stored, report.unchanged, report.bad) == (997, 997, 0, [])
    # WHEN imported again  THEN nothing changes
    again = import_owners(path, store, SECRET.encode(), resolver)
    assert (again.stored, again.unchanged, len(again.bad)) == (0, 997, 0)
    assert harness.dynamodb.scan(TableName=AFFINITY_TABLE, Select="COUNT")["Count"] == 997
    assert first_run < 60  # not a timing assertion: a guard against an accidental per-row Connect call storm


def test_owners_commands_against_aws_endpoints(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN Connect reached through AWS_ENDPOINT_URL_CONNECT (the HTTP emulator); DynamoDB and Secrets on moto
    path = tmp_path / "owners.csv"
    path.write_text("key_type,key,owner\nemail,CFO@BigCorp.example,omar\nphone,12345,sam\n", encoding="utf-8")
    secret_arn = harness.env["CUSTOMER_KEY_SECRET_ARN"]
    args = ["--table", AFFINITY_TABLE, "--secret-arn", secret_arn, "--region", "eu-west-2"]
    with harness.emulator.serve() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CONNECT", url)
        instance = ["--instance-arn", harness.emulator.instance_arn]
        refused = CliRunner().invoke(main, ["owners", "import", *args, *instance, str(path)])
        # THEN a bad line makes the command fail before anything is written
        assert refused.exit_code == 2
        assert f"error: {path}:3: phone number without a country code" in refused.output
        assert f"{path}: 1 bad line(s) among 2 row(s); nothing was written" in refused.output
        assert harness.dynamodb.scan(TableName=AFFINITY_TABLE, Select="COUNT")["Count"] == 0
        # WHEN the line is fixed  THEN the file is imported
        path.write_text("key_type,key,owner\nemail,CFO@BigCorp.example,omar\n", encoding="utf-8")
        imported = CliRunner().invoke(main, ["owners", "import", *args, *instance, str(path)])
    assert imported.exit_code == 0, imported.output
    assert f"{path}: 1 row(s): 1 stored, 0 unchanged" in imported.output
    exported = CliRunner().invoke(main, ["owners", "export", "--table", AFFINITY_TABLE, "--region", "eu-west-2"])
    assert exported.output.splitlines()[0] == "key_hash,key_type,owner_id"
    assert exported.output.splitlines()[1].endswith(",email,33333333-0000-4000-8000-000000000007")
    assert "bigcorp" not in exported.output.lower()
    deleted = CliRunner().invoke(main, ["owners", "delete", *args, str(path)])
    assert deleted.exit_code == 0, deleted.output
    assert f"{path}: 1 deleted, 0 not found" in deleted.output
    again = CliRunner().invoke(main, ["owners", "delete", *args, str(path)])
    assert f"{path}: 0 deleted, 1 not found" in again.output


def test_no_customer_address_in_clear_in_dynamodb_or_logs() -> None:
    # GIVEN the whole local run (owners import, recorder, router, supervision) on the sample data
    log = io.StringIO()
    result = run_pipeline(
        SAMPLES_DIR / "world.yaml",
        SAMPLES_DIR / "rules.yaml",
        sorted(EVENTS_DIR.glob("*.json")),
        log_stream=log,
        owners_path=SAMPLES_DIR / "owners.csv",
    )
    addresses = [c.customer_endpoint["Address"] for c in result.emulator.world.contacts if c.customer_endpoint]
    owners = [line.split(",")[1] for line in (SAMPLES_DIR / "owners.csv").read_text().splitlines()[1:]]
    spellings = {
        variant for value in addresses + owners for variant in (value, value.replace(" ", ""), value.casefold())
    }
    assert any("@" in s for s in spellings)
    assert any(s.startswith("+44") for s in spellings)
    stored = json.dumps(result.affinity_items)
    assert result.affinity_items, "the run stored last agents and owners"
    for text in (stored, log.getvalue()):
        for spelling in spellings:
            assert spelling not in text, spelling
