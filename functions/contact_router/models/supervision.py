"""The supervision decision record: who was asked to monitor a connected contact, and why (not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contact_router.models.decision import CandidateVerdict, candidates_from_record, to_record


class SupervisionOutcome(StrEnum):
    MONITORING_STARTED = "MonitoringStarted"  # MonitorContact succeeded
    WOULD_MONITOR = "WouldMonitor"  # dry run
    ALREADY_MONITORED = "AlreadyMonitored"  # IdempotencyException: the same request was already made
    DUPLICATE = "Duplicate"  # redelivered event, decided before
    NO_SUPERVISOR_AVAILABLE = "NoSupervisorAvailable"
    NOT_SAMPLED = "NotSampled"  # the rule's sample_rate left this contact out
    NO_RULE_MATCHED = "NoRuleMatched"
    NOT_CONNECTED = "NotConnected"  # the contact is no longer (or not yet) connected to an agent
    IGNORED = "Ignored"  # not for supervision (event type, channel, monitoring legs)
    REJECTED = "Rejected"  # permanent failure: logged and dead-lettered
    FAILED = "Failed"  # transient failure: given back to SQS


@dataclass(frozen=True)
class SupervisionDecision:
    outcome: SupervisionOutcome
    contact_id: str | None = None
    channel: str | None = None
    event_type: str | None = None
    rule: str | None = None
    reason: str | None = None
    detail: str | None = None
    agent_id: str | None = None  # the agent handling the contact
    supervisor_id: str | None = None
    supervisor_username: str | None = None
    monitoring_contact_id: str | None = None
    capabilities: tuple[str, ...] = ()
    candidates: tuple[CandidateVerdict, ...] = field(default_factory=tuple)  # the supervisors, in rule order
    dry_run: bool = False
    replayed: bool = False

    def to_record(self) -> dict[str, Any]:
        return to_record(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SupervisionDecision:
        return cls(
            outcome=SupervisionOutcome(record["outcome"]),
            contact_id=record.get("contact_id"),
            channel=record.get("channel"),
            event_type=record.get("event_type"),
            rule=record.get("rule"),
            reason=record.get("reason"),
            detail=record.get("detail"),
            agent_id=record.get("agent_id"),
            supervisor_id=record.get("supervisor_id"),
            supervisor_username=record.get("supervisor_username"),
            monitoring_contact_id=record.get("monitoring_contact_id"),
            capabilities=tuple(record.get("capabilities", ())),
            candidates=candidates_from_record(record),
            dry_run=bool(record.get("dry_run", False)),
            replayed=bool(record.get("replayed", False)),
        )
