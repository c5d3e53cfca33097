"""Supervision over in-memory fakes: rule matching, sampling, supervisor choice, MonitorContact outcomes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from contact_router.errors import PermanentError, TransientError
from contact_router.models.agent import AgentState, UserRef
from contact_router.models.contact import Contact
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import Verdict
from contact_router.models.supervision import SupervisionOutcome
from contact_router.rules.loader import RulesError, check_deployment, parse_rules
from contact_router.supervision.policy import client_token, sample_bucket, validate_monitor_request
from contact_router.supervision.supervisor import Supervisor, SupervisorOptions
from tests.fakes import DANA, INSTANCE_ARN, SAM, FakeConnect, MemoryIdempotency, StaticRules

LEAD1 = "33333333-0000-4000-8000-000000000008"
LEAD2 = "33333333-0000-4000-8000-000000000009"
NEW_HIRES = "66666666-0000-4000-8000-000000000001"
NOW = datetime(2026, 11, 20, 9, 10, tzinfo=UTC)
RULES = StaticRules.of(
    f"""
version: 1
supervision:
  - name: vip-voice
    when: {{channel: [VOICE], tags: {{Segment: {{equals: vip}}}}}}
    supervisors: [{LEAD2}, {LEAD1}]
    capabilities: [SILENT_MONITOR, BARGE]
    max_active_contacts: 1
  - name: new-hire-chats
    when: {{channel: [CHAT], agent: {{hierarchy_groups: [{NEW_HIRES}]}}, sample_rate: 0.5}}
    supervisors: [{LEAD1}]
  - name: named-agent
    when: {{agent: {{users: [dana]}}}}
    supervisors: [{DANA}, {LEAD1}]
"""
)


def connected(contact_id: str = "c1", **kw: object) -> Contact:
    base: dict[str, object] = {
        "id": contact_id,
        "channel": "VOICE",
        "agent_id": SAM,
        "connected_to_agent_at": NOW,
        "tags": {"Segment": "vip"},
        "initiation_method": "INBOUND",
    }
    base.update(kw)
    return Contact(**base)  # type: ignore[arg-type]


def detail(contact_id: str = "c1", **kw: object) -> ContactEventDetail:
    raw: dict[str, object] = {
        "contactId": contact_id,
        "eventType": "CONNECTED_TO_AGENT",
        "channel": "VOICE",
        "instanceArn": INSTANCE_ARN,
    }
    raw.update(kw)
    return ContactEventDetail.model_validate(raw)


def free(user_id: str, contacts: int = 0, status: str = "Available") -> AgentState:
    return AgentState(user_id=user_id, status_name=status, active_contacts=contacts)


def make(connect: FakeConnect, dry_run: bool = False, idempotency: MemoryIdempotency | None = None) -> Supervisor:
    return Supervisor(
        SupervisorOptions(
            instance_arn=INSTANCE_ARN, dry_run=dry_run, allowed_agent_arn_pattern=f"{INSTANCE_ARN}/agent/*"
        ),
        connect=connect,
        rules=RULES,
        idempotency=idempotency,
    )


def test_first_eligible_supervisor_monitors_with_a_deterministic_token() -> None:
    connect = FakeConnect(contacts={"c1": connected()}, states={LEAD2: free(LEAD2), LEAD1: free(LEAD1)})
    decision = make(connect).supervise(detail())
    assert (decision.outcome, decision.supervisor_id, decision.rule) == (
        SupervisionOutcome.MONITORING_STARTED,
        LEAD2,
        "vip-voice",
    )
    assert decision.monitoring_contact_id == f"monitor-c1-{LEAD2}"
    ((_, (contact, user, caps, token)),) = [c for c in connect.calls if c[0] == "MonitorContact"]
    assert (contact, user, caps) == ("c1", LEAD2, ("SILENT_MONITOR", "BARGE"))
    assert token == client_token("c1", LEAD2, ["BARGE", "SILENT_MONITOR"]), "order of capabilities does not matter"
    assert len(token) <= 500


def test_quota_exceeded_moves_on_to_the_next_supervisor_and_says_why() -> None:
    connect = FakeConnect(
        contacts={"c1": connected()},
        states={LEAD2: free(LEAD2, contacts=1), LEAD1: free(LEAD1)},
        monitor_errors={
            LEAD2: PermanentError("quota_exceeded", "MonitorContact failed: ServiceQuotaExceededException")
        },
    )
    decision = make(connect).supervise(detail())
    assert (decision.outcome, decision.supervisor_id) == (SupervisionOutcome.MONITORING_STARTED, LEAD1)
    assert [(c.user_id, c.verdict) for c in decision.candidates] == [
        (LEAD2, Verdict.QUOTA_EXCEEDED),
        (LEAD1, Verdict.CHOSEN),
    ]


def test_idempotency_exception_means_already_monitored() -> None:
    connect = FakeConnect(
        contacts={"c1": connected()},
        states={LEAD2: free(LEAD2)},
        monitor_errors={LEAD2: PermanentError("idempotency_conflict", "IdempotencyException")},
    )
    decision = make(connect).supervise(detail())
    assert (decision.outcome, decision.supervisor_id) == (SupervisionOutcome.ALREADY_MONITORED, LEAD2)


@pytest.mark.parametrize(
    "error",
    [
        PermanentError("access_denied", "denied"),
        PermanentError("invalid_request", "bad"),
        TransientError("throttled", "slow"),
    ],
)
def test_other_monitor_errors_propagate(error: Exception) -> None:
    connect = FakeConnect(contacts={"c1": connected()}, states={LEAD2: free(LEAD2)}, monitor_errors={LEAD2: error})
    with pytest.raises(type(error)):
        make(connect).supervise(detail())


def test_every_skipped_supervisor_has_a_reason() -> None:
    # GIVEN dana handles the contact and is also a listed supervisor; lead.one is busy
    connect = FakeConnect(
        contacts={"c1": connected(agent_id=DANA, channel="CHAT", tags={})},
        states={DANA: free(DANA), LEAD1: free(LEAD1, contacts=1)},
        usernames={"dana": UserRef(DANA, f"{INSTANCE_ARN}/agent/{DANA}", "dana")},
    )
    decision = make(connect).supervise(detail(channel="CHAT"))
    assert decision.outcome is SupervisionOutcome.NO_SUPERVISOR_AVAILABLE
    assert [c.verdict for c in decision.candidates] == [Verdict.HANDLING_AGENT, Verdict.BUSY]
    assert decision.candidates[1].detail == "1 active contacts, rule allows 0"
    assert connect.count("MonitorContact") == 0


def test_offline_and_status_are_reasons_too() -> None:
    connect = FakeConnect(contacts={"c1": connected()}, states={LEAD1: free(LEAD1, status="Lunch")})
    decision = make(connect).supervise(detail())
    assert [c.verdict for c in decision.candidates] == [Verdict.OFFLINE, Verdict.STATUS]


def test_hierarchy_group_and_deterministic_sampling() -> None:
    # GIVEN two chats of a new hire: the 50% sample takes one and leaves the other, every time
    nina = "33333333-0000-4000-8000-000000000006"
    inside, outside = "44444444-0000-4000-8000-000000000023", "44444444-0000-4000-8000-000000000022"
    assert sample_bucket("new-hire-chats", inside) < 0.5 <= sample_bucket("new-hire-chats", outside)
    connect = FakeConnect(
        contacts={cid: connected(cid, channel="CHAT", agent_id=nina, tags={}) for cid in (inside, outside)},
        states={LEAD1: free(LEAD1)},
        groups={nina: NEW_HIRES},
    )
    supervisor = make(connect)
    assert supervisor.supervise(detail(inside, channel="CHAT")).outcome is SupervisionOutcome.MONITORING_STARTED
    skipped = supervisor.supervise(detail(outside, channel="CHAT"))
    assert (skipped.outcome, skipped.rule) == (SupervisionOutcome.NOT_SAMPLED, "new-hire-chats")
    assert connect.count("MonitorContact") == 1


def test_no_rule_matched_says_why_for_each_rule() -> None:
    connect = FakeConnect(contacts={"c1": connected(channel="CHAT", tags={})})
    decision = make(connect).supervise(detail(channel="CHAT"))
    assert decision.outcome is SupervisionOutcome.NO_RULE_MATCHED
    assert "vip-voice: channel CHAT not in ['VOICE']" in (decision.detail or "")


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"initiationMethod": "MONITOR"}, "monitor_leg"),
        ({"channel": "TASK"}, "channel_not_supervised"),
        ({"eventType": "QUEUED"}, "not_connected_event"),
    ],
)
def test_monitor_legs_and_other_events_cost_no_call(kw: dict[str, object], reason: str) -> None:
    connect = FakeConnect()
    decision = make(connect).supervise(detail(**kw))
    assert (decision.outcome, decision.reason) == (SupervisionOutcome.IGNORED, reason)
    assert connect.calls == []


def test_contact_that_ended_is_not_monitored() -> None:
    connect = FakeConnect(contacts={"c1": connected(disconnected_at=NOW)})
    assert make(connect).supervise(detail()).outcome is SupervisionOutcome.NOT_CONNECTED


def test_dry_run_chooses_without_calling_monitor_contact() -> None:
    connect = FakeConnect(contacts={"c1": connected()}, states={LEAD2: free(LEAD2)})
    decision = make(connect, dry_run=True).supervise(detail())
    assert (decision.outcome, decision.supervisor_id) == (SupervisionOutcome.WOULD_MONITOR, LEAD2)
    assert connect.count("MonitorContact") == 0


def test_redelivered_event_is_decided_once() -> None:
    connect = FakeConnect(contacts={"c1": connected()}, states={LEAD2: free(LEAD2)})
    supervisor = make(connect, idempotency=MemoryIdempotency())
    assert supervisor.supervise(detail()).outcome is SupervisionOutcome.MONITORING_STARTED
    assert supervisor.supervise(detail()).outcome is SupervisionOutcome.DUPLICATE
    assert connect.count("MonitorContact") == 1


@pytest.mark.parametrize(
    ("capabilities", "fragment"),
    [
        (["SILENT_MONITOR", "BARGE", "BARGE"], "at most 2 capabilities, got 3"),
        (["WHISPER"], "unknown capability 'WHISPER'"),
    ],
)
def test_monitor_request_is_validated_before_the_call(capabilities: list[str], fragment: str) -> None:
    with pytest.raises(PermanentError) as err:
        validate_monitor_request("i", "c", "u", capabilities)
    assert fragment in err.value.message
    with pytest.raises(PermanentError, match="ContactId must be 1-256 characters, got 257"):
        validate_monitor_request("i", "c" * 257, "u", ["SILENT_MONITOR"])


def test_barge_rule_is_rejected_when_the_deployment_forbids_it_naming_the_rule() -> None:
    rules = parse_rules(
        "version: 1\nsupervision:\n  - {name: escalation, supervisors: [a], capabilities: [SILENT_MONITOR, BARGE]}\n"
    )
    with pytest.raises(RulesError) as err:
        check_deployment(rules, "rules.yaml", allow_barge=False)
    assert err.value.problems == [
        "rules.yaml: rule 'escalation' (supervision[0]): capabilities: BARGE is not allowed by this deployment "
        "(AllowBarge=false / ALLOW_BARGE=false)"
    ]
    assert check_deployment(rules, "rules.yaml", allow_barge=True) is rules


@pytest.mark.parametrize(
    ("capabilities", "fragment"),
    [
        ("[BARGE]", "SILENT_MONITOR is required"),
        ("[SILENT_MONITOR, SILENT_MONITOR]", "listed twice"),
        ("[SPY]", "unknown capability 'SPY'"),
    ],
)
def test_supervision_rule_capabilities_are_validated(capabilities: str, fragment: str) -> None:
    with pytest.raises(RulesError) as err:
        parse_rules(f"version: 1\nsupervision:\n  - {{name: s, supervisors: [a], capabilities: {capabilities}}}\n")
    assert "rule 's' (supervision[0]): capabilities" in err.value.problems[0]
    assert fragment in err.value.problems[0]


@pytest.mark.parametrize(
    ("reason", "ended", "expected"),
    [
        ("not_found", {"disconnected_at": NOW}, "disconnected"),
        ("invalid_request", {"disconnected_at": NOW}, "disconnected"),
        ("invalid_parameter", {"connected_to_agent_at": None, "agent_id": None}, "not_connected"),
        ("conflict", {"disconnected_at": NOW}, "disconnected"),
    ],
)
def test_a_refused_monitor_re_reads_and_a_call_that_ended_is_not_connected(
    reason: str, ended: dict[str, Any], expected: str
) -> None:
    # GIVEN the call ends just as MonitorContact is sent, and Connect refuses it with some client error
    connect = FakeConnect(
        contacts={"c1": connected()}, states={LEAD2: free(LEAD2)}, monitor_errors={LEAD2: PermanentError(reason, "x")}
    )
    connect.on_monitor = lambda cid, uid: connect.contacts.update({cid: connected(**ended)})
    # WHEN it is supervised
    decision = make(connect).supervise(detail())
    # THEN one re-read explains it: not connected, with the reason, not a dead letter
    assert (decision.outcome, decision.reason) == (SupervisionOutcome.NOT_CONNECTED, expected)
    assert connect.count("DescribeContact") == 2


def test_a_refused_monitor_on_a_call_still_connected_is_dead_lettered() -> None:
    refusal = PermanentError("not_found", "User not found")
    connect = FakeConnect(contacts={"c1": connected()}, states={LEAD2: free(LEAD2)}, monitor_errors={LEAD2: refusal})
    with pytest.raises(PermanentError) as raised:
        make(connect).supervise(detail())
    assert raised.value is refusal
    assert connect.count("DescribeContact") == 2
