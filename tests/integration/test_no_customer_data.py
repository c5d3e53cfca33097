"""No customer data anywhere the router writes, at DEBUG: a name, an e-mail address and a phone number planted
in a contact's tags, segment attributes, attributes, endpoint and customer id, and in its events, appear in
none of the log lines (decision records and EMF metrics included), dead-letter attributes, idempotency table
items (decisions and association claims) or affinity table items -- through the router (associated, retried
to its last receive and dead-lettered, malformed) and the affinity recorder.

The dead-letter message's body is the SQS body unchanged, on purpose (a redrive sends it back as is); what the
router adds to it (reason, error) is checked here."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from contact_router.handlers import affinity as affinity_handler
from contact_router.observability import logger
from tests.integration.conftest import AFFINITY_TABLE, TABLE, Harness, LambdaContext, event

NAME, EMAIL, PHONE = "Josephine Planted-Bloggs", "josephine.planted@example.org", "+447700900987"
# INFO on this branch: its DEBUG payload lines ("described contact") still show tags and segment attributes;
# branch hardening masks them (6add3e0), with which this test passes at DEBUG too (checked by hand).
LEVEL = "DEBUG"
PLANTED = (NAME, EMAIL, PHONE, "Planted", "planted", "7700900987", "Josephine")


def _planted_contact(harness: Harness, channel: str = "EMAIL") -> Any:
    everything = f"{NAME} <{EMAIL}> {PHONE}"
    return harness.emulator.add_contact(
        channel=channel,
        state="QUEUED",
        queue="Support",
        attributes={"preferredAgent": "dana", "customerName": NAME, "callback": PHONE},
        tags={"CustomerEmail": EMAIL, "Note": everything},
        segment_attributes={"connect:EmailSubject": f"Re: order for {everything}"},
        customer_endpoint={"type": "EMAIL_ADDRESS", "address": EMAIL},
        customer_id=f"{NAME} {PHONE}",
    )


def _planted_event(name: str, contact_id: str, channel: str) -> dict[str, Any]:
    body = event(name)
    body["detail"].update(
        contactId=contact_id,
        channel=channel,
        tags={"CustomerEmail": EMAIL, "Note": NAME},
        segmentAttributes={"connect:EmailSubject": {"ValueString": f"Re: {NAME} {PHONE}"}},
        customerEndpoint={"type": "EMAIL_ADDRESS", "address": EMAIL},
    )
    return body


def _table_text(harness: Harness, table: str) -> str:
    return json.dumps(harness.dynamodb.scan(TableName=table)["Items"])


def test_nothing_planted_reaches_logs_metrics_dead_letters_or_tables(
    harness: Harness, lambda_output: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN contacts carrying a customer's name, e-mail address and phone number everywhere Connect allows
    routed = _planted_contact(harness)
    exhausted = _planted_contact(harness)
    good = _planted_event("queued-chat-attribute.json", routed.id, "EMAIL")
    retried = _planted_event("queued-chat-attribute.json", exhausted.id, "EMAIL")
    malformed = _planted_event("queued-chat-attribute.json", routed.id, "EMAIL")
    malformed["detail"]["contactId"] = {"name": NAME, "email": EMAIL, "phone": PHONE}
    app = harness.app(MAX_RECEIVE_COUNT="5")
    previous = logger.log_level
    logger.setLevel(LEVEL)
    try:
        # WHEN the router routes one, fails another on its last receive (throttled), and rejects a malformed one
        harness.invoke([harness.record(good)], app)
        harness.emulator.faults.set_error_rate("DescribeContact", "ThrottlingException", 1.0)
        harness.invoke([harness.record(retried, receive_count=5), harness.record(malformed)], app)
        harness.emulator.faults.clear()
        # AND the affinity recorder records who answered the first one
        harness.emulator.connect_contact(routed.id, "dana")
        connected = _planted_event("connected-to-agent-chat.json", routed.id, "EMAIL")
        affinity_handler.lambda_handler(
            {"Records": [harness.record(connected)]}, LambdaContext(), app=harness.affinity_app()
        )
    finally:
        logger.setLevel(previous)
    out = lambda_output.getvalue() + capsys.readouterr().out
    letters = harness.dead_letters()
    # THEN the pipeline did what it should (so the checks below look at real output)
    assert '"outcome":"Associated"' in out.replace(" ", "")
    assert '"_aws"' in out, "EMF metrics were written"
    assert sorted(letter["reason"] for letter in letters) == ["malformed_event", "throttled"]
    assert f"contact-router#episode#{routed.id}#" in _table_text(harness, TABLE)
    assert json.loads(_table_text(harness, AFFINITY_TABLE))
    # AND none of the planted data is in any of it, but for the dead-letter bodies (the SQS bodies as sent)
    written = {
        "logs and metrics": out,
        "dead-letter attributes": json.dumps([{k: v for k, v in m.items() if k != "body"} for m in letters]),
        "idempotency table": _table_text(harness, TABLE),
        "affinity table": _table_text(harness, AFFINITY_TABLE),
    }
    for where, text in written.items():
        for planted in PLANTED:
            assert planted not in text, (where, planted)
