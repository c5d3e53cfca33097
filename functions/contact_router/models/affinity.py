"""The affinity decision record: which customer keys got a new last agent from a connected contact."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class LastAgent:
    agent_id: str
    contact_id: str
    channel: str
    connected_at: float  # epoch seconds
    queue_id: str | None = None


@dataclass(frozen=True)
class Owner:
    owner_id: str
    kind: str


class AffinityOutcome(StrEnum):
    RECORDED = "Recorded"  # at least one key now points at this agent
    STALE = "Stale"  # every key already has a newer (or this same) connection: late or duplicated event
    NO_CUSTOMER_KEY = "NoCustomerKey"  # no usable phone number, email, CustomerId or profile id
    NOT_CONNECTED = "NotConnected"  # no agent connection on the contact
    IGNORED = "Ignored"  # not for the recorder (event type, monitoring legs)
    REJECTED = "Rejected"  # permanent failure: dead-lettered
    FAILED = "Failed"  # transient failure: retried


@dataclass(frozen=True)
class KeyWrite:
    kind: str
    key: str  # first 12 hex characters of the keyed hash: correlates records, reveals nothing
    written: bool


@dataclass(frozen=True)
class AffinityDecision:
    outcome: AffinityOutcome
    contact_id: str | None = None
    channel: str | None = None
    event_type: str | None = None
    agent_id: str | None = None
    reason: str | None = None
    detail: str | None = None
    keys: tuple[KeyWrite, ...] = field(default_factory=tuple)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> AffinityDecision:
        return cls(
            outcome=AffinityOutcome(record["outcome"]),
            contact_id=record.get("contact_id"),
            channel=record.get("channel"),
            event_type=record.get("event_type"),
            agent_id=record.get("agent_id"),
            reason=record.get("reason"),
            detail=record.get("detail"),
            keys=tuple(KeyWrite(k["kind"], k["key"], bool(k["written"])) for k in record.get("keys", [])),
        )

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["outcome"] = self.outcome.value
        record["keys"] = [asdict(k) for k in self.keys]
        return {k: v for k, v in record.items() if v not in (None, (), [])}
