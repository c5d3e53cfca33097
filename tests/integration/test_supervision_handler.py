"""The supervision Lambda handler in-process: emulated Connect (MonitorContact), idempotency on moto."""

from __future__ import annotations

from typing import Any

import pytest

from contact_router.handlers import supervision as supervision_handler
from contact_router.rules.loader import RulesError
from tests.integration.conftest import Harness, LambdaContext, event

VIP_VOICE = "connected-to-agent-vip-voice.json"
NEW_HIRE = "connected-to-agent-new-hire-chat.json"
LEAD1 = "33333333-0000-4000-8000-000000000008"
LEAD2 = "33333333-0000-4000-8000-000000000009"


def supervise(harness: Harness, records: list[dict[str, Any]], **env: str) -> dict[str, Any]:
    return supervision_handler.lambda_handler({"Records": records}, LambdaContext(), app=harness.supervision_app(**env))


def decisions(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.supervision for r in caplog.records if hasattr(r, "supervision")]  # type: ignore[attr-defined]


def test_event_delivered_three_times_opens_exactly_one_session(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    contact_id = event(NEW_HIRE)["detail"]["contactId"]
    # GIVEN the same CONNECTED_TO_AGENT event three times: twice in one batch, once in a later one
    app = harness.supervision_app()
    body = event(NEW_HIRE)
    supervision_handler.lambda_handler(
        {"Records": [harness.record(body), harness.record(body)]}, LambdaContext(), app=app
    )
    supervision_handler.lambda_handler({"Records": [harness.record(body, receive_count=2)]}, LambdaContext(), app=app)
    # THEN one monitoring session in the emulator
    sessions = [s for s in harness.emulator.monitoring_sessions if s.monitored_contact_id == contact_id]
    assert len(sessions) == 1
    assert [d["outcome"] for d in decisions(caplog)] == ["MonitoringStarted", "Duplicate", "Duplicate"]


def test_retry_after_a_lost_answer_is_the_same_request(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN MonitorContact succeeded but the function never recorded it (a crash): no idempotency table
    caplog.set_level("INFO")
    contact_id = event(NEW_HIRE)["detail"]["contactId"]
    for _ in range(2):
        supervise(harness, [harness.record(event(NEW_HIRE))], IDEMPOTENCY_TABLE="")
    # THEN the retry called MonitorContact again with the same ClientToken: Connect answered with the same
    # session, and no second one was opened
    calls = [c for c in harness.emulator.calls if c.operation == "MonitorContact"]
    assert len(calls) == 2
    assert calls[0].params["ClientToken"] == calls[1].params["ClientToken"]
    assert len([s for s in harness.emulator.monitoring_sessions if s.monitored_contact_id == contact_id]) == 1
    first, second = decisions(caplog)
    assert first["monitoring_contact_id"] == second["monitoring_contact_id"]


def test_quota_exceeded_on_the_first_supervisor_uses_the_second(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    assert supervise(harness, [harness.record(event(VIP_VOICE))]) == {"batchItemFailures": []}
    (decision,) = decisions(caplog)
    assert (decision["outcome"], decision["supervisor_id"]) == ("MonitoringStarted", LEAD1)
    verdicts = [(c["user_id"], c["verdict"]) for c in decision["candidates"]]
    assert verdicts == [(LEAD2, "quota_exceeded"), (LEAD1, "chosen")]
    assert "ServiceQuotaExceededException" in decision["candidates"][0]["detail"]
    assert decision["capabilities"] == ["SILENT_MONITOR", "BARGE"]
    calls = [c for c in harness.emulator.calls if c.operation == "MonitorContact"]
    # the supervisors are named by ARN (what connect:PreferredUserArn-style IAM keys and the reference expect)
    arn = harness.emulator.user_arn
    assert [(c.params["UserId"], c.status) for c in calls] == [(arn(LEAD2), 402), (arn(LEAD1), 200)]


def test_barge_rules_refused_at_start_when_the_deployment_forbids_barge(harness: Harness) -> None:
    with pytest.raises(RulesError) as err:
        harness.supervision_app(ALLOW_BARGE="false")
    assert "rule 'vip-voice-escalation' (supervision[0]): capabilities: BARGE is not allowed" in err.value.problems[0]


@pytest.mark.parametrize(
    ("code", "reason"), [("AccessDeniedException", "access_denied"), ("InvalidRequestException", "invalid_request")]
)
def test_permanent_monitor_errors_are_dead_lettered(harness: Harness, code: str, reason: str) -> None:
    harness.emulator.faults.fail_next("MonitorContact", code, times=1)
    assert supervise(harness, [harness.record(event(NEW_HIRE))]) == {"batchItemFailures": []}
    assert [letter["reason"] for letter in harness.dead_letters()] == [reason]
    assert harness.emulator.monitoring_sessions == [] or all(
        s.monitored_contact_id != event(NEW_HIRE)["detail"]["contactId"] for s in harness.emulator.monitoring_sessions
    )


def test_throttling_goes_back_to_sqs_and_the_retry_monitors_once(harness: Harness) -> None:
    harness.emulator.faults.fail_next("MonitorContact", "ThrottlingException", times=3)
    app = harness.supervision_app()
    record = harness.record(event(NEW_HIRE))
    response = supervision_handler.lambda_handler({"Records": [record]}, LambdaContext(), app=app)
    assert response == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    supervision_handler.lambda_handler(
        {"Records": [harness.record(event(NEW_HIRE), receive_count=2)]}, LambdaContext(), app=app
    )
    contact_id = event(NEW_HIRE)["detail"]["contactId"]
    assert len([s for s in harness.emulator.monitoring_sessions if s.monitored_contact_id == contact_id]) == 1
    assert harness.dead_letters() == []
