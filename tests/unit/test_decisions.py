"""Pure decision pieces: screening, references, eligibility, settings."""

from __future__ import annotations

from typing import Any

import pytest

from contact_router.config import RulesSourceKind, Settings
from contact_router.errors import ConfigurationError
from contact_router.models.agent import AgentState
from contact_router.models.contact import Contact, NotWaitingReason
from contact_router.models.decision import CandidateVerdict, Decision, Outcome, Verdict, evolve
from contact_router.routing.eligibility import judge
from contact_router.routing.references import ReferenceKind, arn_allowed, classify
from contact_router.routing.screening import screen_contact
from tests.fakes import DANA, INSTANCE_ARN, SAM, TARIQ, StaticRules

RULE = StaticRules.of("version: 1\nrouting:\n  - {name: r, candidates: [{users: [x]}]}\n").rules.routing[0]


def test_screening_of_channels_monitor_legs_agent_replies_and_agent_queues() -> None:
    def reason(**kw: object) -> str | None:
        c = Contact(**{"id": "c", "channel": "CHAT", "queue_id": "q", **kw})  # type: ignore[arg-type]
        skip = screen_contact(c, route_voice=False)
        return skip.reason if skip else None

    assert reason() is None
    assert reason(channel="VOICE") == "channel_not_routed"
    assert screen_contact(Contact(id="c", channel="VOICE", queue_id="q"), route_voice=True) is None
    assert reason(initiation_method="MONITOR") == "monitor_leg"
    assert reason(initiation_method="AGENT_REPLY") == "agent_reply"
    assert reason(queue_id="agent/33333333-0000-4000-8000-000000000001") == "agent_queue"


def test_not_waiting_reasons() -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    assert Contact(id="c", channel="CHAT", queue_id="q").not_waiting_reason() is None
    assert Contact(id="c", channel="CHAT", queue_id="q", disconnected_at=now).not_waiting_reason() is (
        NotWaitingReason.DISCONNECTED
    )
    assert Contact(
        id="c", channel="CHAT", queue_id="q", agent_id="a", connected_to_agent_at=now
    ).not_waiting_reason() is (NotWaitingReason.CONNECTED_TO_AGENT)
    assert Contact(id="c", channel="CHAT", queue_id="q", agent_id="a").not_waiting_reason() is (
        NotWaitingReason.ALREADY_ASSIGNED
    )
    assert Contact(id="c", channel="CHAT").not_waiting_reason() is NotWaitingReason.NOT_QUEUED


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        (DANA.upper(), ReferenceKind.ID, DANA),
        (f"{INSTANCE_ARN}/agent/{DANA}", ReferenceKind.ARN, DANA),
        ("dana.smith@example.com", ReferenceKind.USERNAME, "dana.smith@example.com"),
        (
            "arn:aws:connect:eu-west-2:1:instance/x/queue/q",
            ReferenceKind.INVALID,
            "an ARN that is not a Connect user ARN",
        ),
        ("+44 7700 900123", ReferenceKind.INVALID, "not a user id, user ARN or username (15 characters)"),
    ],
)
def test_reference_classification_never_echoes_invalid_values(raw: str, kind: ReferenceKind, value: str) -> None:
    ref = classify(raw)
    assert (ref.kind, ref.value) == (kind, value)


def test_allowed_arn_pattern() -> None:
    assert arn_allowed(f"{INSTANCE_ARN}/agent/{DANA}", f"{INSTANCE_ARN}/agent/*")
    assert not arn_allowed("arn:aws:connect:eu-west-2:123456789012:instance/other/agent/x", f"{INSTANCE_ARN}/agent/*")


def test_eligibility_first_eligible_is_chosen_and_every_skip_has_a_reason() -> None:
    candidates = [CandidateVerdict("users", Verdict.ELIGIBLE, user_id=u) for u in ("lee", TARIQ, "mo", SAM, DANA)]
    states = {
        TARIQ: AgentState(TARIQ, "Available", {"TASK": 0}, {"TASK": 1}),
        "mo": AgentState("mo", "Training", {"TASK": 2}),
        SAM: AgentState(SAM, "Available", {"TASK": 1}),
        DANA: AgentState(DANA, "Available", {"TASK": 2}),
    }
    judged = judge(candidates, states, RULE, "TASK")
    assert [c.verdict for c in judged] == [
        Verdict.OFFLINE,
        Verdict.NO_CAPACITY,
        Verdict.STATUS,
        Verdict.CHOSEN,
        Verdict.ELIGIBLE,
    ]
    assert judged[1].detail == "TASK slots: 0 free of 1"
    assert judged[2].detail == "status 'Training' not in ['Available']"


def test_ignore_capacity_and_custom_statuses() -> None:
    rule = RULE.model_copy(update={"ignore_capacity": True, "allowed_statuses": ["Available", "Training"]})
    judged = judge(
        [CandidateVerdict("users", Verdict.ELIGIBLE, user_id="mo")],
        {"mo": AgentState("mo", "Training", {"CHAT": 0})},
        rule,
        "CHAT",
    )
    assert judged[0].verdict is Verdict.CHOSEN


def test_settings_from_environment_and_all_problems_at_once() -> None:
    settings = Settings.from_env({"CONNECT_INSTANCE_ARN": INSTANCE_ARN, "DRY_RUN": "TRUE"})
    assert settings.instance_id == "11111111-2222-4333-8444-555555555555"
    assert settings.region == "eu-west-2"
    assert settings.dry_run is True
    assert settings.rules.kind is RulesSourceKind.BUNDLED
    assert settings.allowed_agent_arn_pattern == f"{INSTANCE_ARN}/agent/*"
    with pytest.raises(ConfigurationError) as err:
        Settings.from_env({"CONNECT_INSTANCE_ARN": "nope", "DRY_RUN": "maybe", "RULES_SOURCE": "ssm"})
    assert len(err.value.problems) == 3
    assert any("RULES_SSM_PARAMETER is required" in p for p in err.value.problems)


def test_masking_erases_customer_fields_at_any_depth_and_leaves_the_rest() -> None:
    from datetime import UTC, datetime

    from contact_router.observability import masked

    data = {
        "Contact": {
            "Id": "c-1",
            "CustomerEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": "+447700900123"},
            "Attributes": {"name": "Jo Bloggs"},
            "InitiationTimestamp": datetime(2026, 1, 1, tzinfo=UTC),
        },
        "detail": {"customerEndpoint": {"address": "jo@example.com"}},
    }
    out = masked(data)
    assert out["Contact"]["Id"] == "c-1"
    assert out["Contact"]["CustomerEndpoint"] == "*****"
    assert out["Contact"]["Attributes"] == "*****"
    assert out["detail"]["customerEndpoint"] == "*****"
    assert "+447700900123" not in str(out)
    assert masked({"Id": "x"}) == {"Id": "x"}


def test_a_decision_line_names_at_most_ten_candidates_and_counts_the_rest() -> None:
    # GIVEN a decision over 100 candidates, the chosen one last
    from contact_router.models.decision import CandidateVerdict, Decision, Outcome, Verdict
    from contact_router.observability import capped

    unknown = [CandidateVerdict(source="users", verdict=Verdict.UNKNOWN_USER, reference=f"u{n}") for n in range(99)]
    candidates = (*unknown, CandidateVerdict(source="users", verdict=Verdict.CHOSEN, user_id="dana"))
    record = Decision(outcome=Outcome.ASSOCIATED, contact_id="c1", candidates=candidates).to_record()
    # WHEN it is capped for the log line
    line = capped(record)
    # THEN ten candidates and the chosen one are named, the other 89 counted by verdict
    assert len(line["candidates"]) == 11
    assert line["candidates"][-1]["verdict"] == "chosen"
    assert line["candidates_not_shown"] == {"count": 89, "unknown_user": 89}
    assert len(record["candidates"]) == 100  # the stored record (idempotency) keeps them all


# Contact members (botocore model) that can carry who the customer is or what they wrote.
CUSTOMER_MEMBERS = {
    "Name",
    "Description",
    "CustomerId",
    "CustomerEndpoint",
    "SystemEndpoint",
    "AdditionalEmailRecipients",
    "Tags",
    "SegmentAttributes",
    "Attributes",
    "Customer",
    "ContactDetails",
}


def _example(shape: Any, planted: str, depth: int = 0) -> Any:
    """A value of every member of a botocore shape, every free string and map key holding ``planted``."""
    kind = shape.type_name
    if depth > 8:
        return None
    if kind == "structure":
        return {name: _example(member, planted, depth + 1) for name, member in shape.members.items()}
    if kind == "list":
        return [_example(shape.member, planted, depth + 1)]
    if kind == "map":
        return {f"key {planted}": _example(shape.value, planted, depth + 1)}
    if kind == "string":
        return shape.enum[0] if shape.enum else planted
    return {"timestamp": "2026-01-01T00:00:00Z", "boolean": True}.get(kind, 1)


def test_a_described_contact_logs_no_customer_member_in_clear() -> None:
    # GIVEN a DescribeContact answer with every member of the botocore Contact shape filled, a customer's name,
    # email address and phone number planted in every string and map key
    import botocore.session

    from contact_router.observability import masked

    contact_shape = botocore.session.get_session().get_service_model("connect").shape_for("Contact")
    planted = "Jo Bloggs jo.bloggs@example.com +447700900123"
    assert set(contact_shape.members) >= CUSTOMER_MEMBERS
    contact = _example(contact_shape, planted)
    # WHEN it is masked for the DEBUG line
    out = masked({"contact": contact})["contact"]
    # THEN each member that can carry customer data is erased whole, and the routing facts stay readable
    for member in CUSTOMER_MEMBERS:
        assert out[member] == "*****", member
    assert (out["Id"], out["Channel"], out["QueueInfo"]["Id"]) == (planted, contact["Channel"], planted)


def test_evolve_is_dataclasses_replace_without_init() -> None:
    import dataclasses

    base = Decision(outcome=Outcome.IGNORED, contact_id="c1", channel="CHAT")
    changed = evolve(base, outcome=Outcome.ASSOCIATED, agent_id="a1")
    assert changed == dataclasses.replace(base, outcome=Outcome.ASSOCIATED, agent_id="a1")
    assert (base.outcome, base.agent_id) == (Outcome.IGNORED, None)  # the original is untouched
    with pytest.raises(TypeError, match="agnet_id"):
        evolve(base, agnet_id="a1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.agent_id = "a2"  # type: ignore[misc]
