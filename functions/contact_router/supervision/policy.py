"""Pure pieces of supervision: deterministic sampling, supervisor eligibility, the MonitorContact request."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from contact_router.errors import PermanentError
from contact_router.models.agent import AgentState
from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.rules.model import MONITOR_CAPABILITIES, SupervisionRule

MAX_CLIENT_TOKEN = 500
MAX_INSTANCE_ID = 100
MAX_ID = 256


def sample_bucket(rule_name: str, contact_id: str) -> float:
    """A number in [0, 1) that depends only on the rule and the contact: the same contact, same answer."""
    digest = hashlib.sha256(f"{rule_name}:{contact_id}".encode()).hexdigest()
    return int(digest[:15], 16) / 16**15


def sampled(rule: SupervisionRule, contact_id: str) -> bool:
    return sample_bucket(rule.name, contact_id) < rule.when.sample_rate


def judge_supervisors(
    candidates: Sequence[CandidateVerdict],
    states: Mapping[str, AgentState],
    rule: SupervisionRule,
    handling_agent_id: str | None,
) -> list[CandidateVerdict]:
    """Final verdict for each resolved supervisor: ELIGIBLE ones are tried in order, the rest say why not."""
    allowed = set(rule.allowed_statuses)
    judged = []
    for candidate in candidates:
        if candidate.verdict is not Verdict.ELIGIBLE or candidate.user_id is None:
            judged.append(candidate)
            continue
        state = states.get(candidate.user_id)
        if candidate.user_id == handling_agent_id:
            verdict, detail = Verdict.HANDLING_AGENT, "handles this contact"
        elif state is None:
            verdict, detail = Verdict.OFFLINE, "not logged in"
        elif state.status_name not in allowed:
            verdict, detail = Verdict.STATUS, f"status {state.status_name!r} not in {sorted(allowed)}"
        elif state.active_contacts > rule.max_active_contacts:
            verdict, detail = (
                Verdict.BUSY,
                f"{state.active_contacts} active contacts, rule allows {rule.max_active_contacts}",
            )
        else:
            verdict, detail = Verdict.ELIGIBLE, f"{state.active_contacts} active contacts"
        judged.append(
            CandidateVerdict(
                candidate.source, verdict, candidate.user_id, candidate.username, candidate.reference, detail
            )
        )
    return judged


def client_token(contact_id: str, supervisor_id: str, capabilities: Sequence[str]) -> str:
    """Deterministic MonitorContact ClientToken: a redelivered event or a retried call is the same request."""
    material = f"{contact_id}|{supervisor_id}|{','.join(sorted(capabilities))}"
    token = "contact-router-monitor-" + hashlib.sha256(material.encode()).hexdigest()
    assert len(token) <= MAX_CLIENT_TOKEN
    return token


def validate_monitor_request(instance_id: str, contact_id: str, user_id: str, capabilities: Sequence[str]) -> None:
    """What botocore does not check client-side: capability values, their number, id lengths."""
    problems = []
    unknown = [c for c in capabilities if c not in MONITOR_CAPABILITIES]
    if unknown:
        problems.append(f"unknown capability {unknown[0]!r} (allowed: {', '.join(MONITOR_CAPABILITIES)})")
    if len(capabilities) > len(MONITOR_CAPABILITIES):
        problems.append(f"at most {len(MONITOR_CAPABILITIES)} capabilities, got {len(capabilities)}")
    if len(set(capabilities)) != len(capabilities):
        problems.append("a capability is listed twice")
    for name, value, limit in (
        ("InstanceId", instance_id, MAX_INSTANCE_ID),
        ("ContactId", contact_id, MAX_ID),
        ("UserId", user_id, MAX_ID),
    ):
        if not 1 <= len(value) <= limit:
            problems.append(f"{name} must be 1-{limit} characters, got {len(value)}")
    if problems:
        raise PermanentError("invalid_request", "MonitorContact request not sent: " + "; ".join(problems))
