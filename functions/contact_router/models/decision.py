"""The decision record: one per contact, answering "why did this contact go there?".

It is logged as one structured line and counted as one metric per outcome; the local runner, ``explain``
and the tests read the same record.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    ASSOCIATED = "Associated"  # AssociateContactWithUser succeeded
    WOULD_ASSOCIATE = "WouldAssociate"  # dry run: everything but the association
    NO_RULE_MATCHED = "NoRuleMatched"  # left with its queue
    NO_ELIGIBLE_AGENT = "NoEligibleAgent"  # a rule matched, no candidate could take it: left with its queue
    WAITING = "Waiting"  # fallback wait: a delayed re-check is scheduled
    ROUTING_CRITERIA_SET = "RoutingCriteriaSet"  # fallback: Connect's own engine prefers the candidates
    PARKED = "Parked"  # fallback park: TransferContact to the preferred agent's own queue (TASK, EMAIL)
    PREFERRED = "Preferred"  # flow entry point: the flow was told which agents to prefer (handlers/flow.py)
    NOT_WAITING = "NotWaiting"  # agent connected/assigned, customer gone: nothing to do
    IGNORED = "Ignored"  # not for the router (event type, channel, monitor leg, agent queue...)
    DUPLICATE = "Duplicate"  # a redelivered event for a contact already decided
    REJECTED = "Rejected"  # permanent failure: logged and dead-lettered
    FAILED = "Failed"  # transient failure: given back to SQS for another try


class Verdict(StrEnum):
    """What happened to one candidate."""

    CHOSEN = "chosen"
    ELIGIBLE = "eligible"  # could have taken it, but an earlier candidate was chosen
    SOURCE_EMPTY = "source_empty"  # the source gave no user (attribute missing, no related contact...)
    NO_AGENT = "no_agent"  # the related/previous contact had no agent
    INVALID_REFERENCE = "invalid_reference"  # not a user id, user ARN or username
    UNKNOWN_USER = "unknown_user"  # no such user in the instance
    NOT_ALLOWED = "not_allowed"  # outside the allowed agent ARN pattern (or another instance)
    EXCLUDED = "excluded"  # listed in the rule's exclude_users
    DUPLICATE = "duplicate"  # already a candidate from an earlier source
    OFFLINE = "offline"  # not logged in
    STATUS = "status"  # logged in, status not allowed by the rule
    NO_CAPACITY = "no_capacity"  # no free slot for this channel
    NOT_IN_QUEUE = "not_in_queue"  # the agent's routing profile lacks the contact's queue for its channel
    LEAVING = "leaving"  # logged in with a NextStatus: Connect routes no new contacts to them
    BLOCKED = "blocked"  # a contact MISSED / REJECTED / ERROR blocks the agent until cleared
    TOO_OLD = "too_old"  # last_agent: the last contact is older than the rule's max_age
    BUSY = "busy"  # supervisor: more active contacts than the rule allows
    HANDLING_AGENT = "handling_agent"  # supervisor: is the agent handling the contact
    QUOTA_EXCEEDED = "quota_exceeded"  # supervisor: MonitorContact answered ServiceQuotaExceeded (402)


@dataclass(frozen=True)
class CandidateVerdict:
    source: str
    verdict: Verdict
    user_id: str | None = None
    username: str | None = None
    reference: str | None = None
    detail: str | None = None
    in_queue: bool | None = None  # the routing profile serves the queue for the channel (None: not checked)

    @property
    def label(self) -> str:
        return self.username or self.user_id or self.reference or "-"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    contact_id: str | None = None
    channel: str | None = None
    event_type: str | None = None
    queue_id: str | None = None
    rule: str | None = None
    reason: str | None = None
    detail: str | None = None
    agent_id: str | None = None
    agent_username: str | None = None
    candidates: tuple[CandidateVerdict, ...] = field(default_factory=tuple)
    dry_run: bool = False
    replayed: bool = False
    fallback: str | None = None  # the fallback step taken: wait, routing_criteria, queue
    attempt: int | None = None  # re-checks so far in the current wait
    waited_seconds: float | None = None  # time waited so far in the current wait
    routing_steps: tuple[tuple[str, ...], ...] = ()  # agent ids of each routing-criteria step
    routing_step_seconds: int | None = None
    rules_source: str | None = None  # where the rules in force came from (file, SSM parameter, AppConfig)
    rules_version: str | None = None  # sha256 of that rules document, first 12 hex digits

    def to_record(self) -> dict[str, Any]:
        """JSON-ready dict for the log line and the idempotency store (no customer data in it)."""
        return to_record(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Decision:
        candidates = candidates_from_record(record)
        return cls(
            outcome=Outcome(record["outcome"]),
            contact_id=record.get("contact_id"),
            channel=record.get("channel"),
            event_type=record.get("event_type"),
            queue_id=record.get("queue_id"),
            rule=record.get("rule"),
            reason=record.get("reason"),
            detail=record.get("detail"),
            agent_id=record.get("agent_id"),
            agent_username=record.get("agent_username"),
            candidates=candidates,
            dry_run=bool(record.get("dry_run", False)),
            replayed=bool(record.get("replayed", False)),
            fallback=record.get("fallback"),
            attempt=record.get("attempt"),
            waited_seconds=record.get("waited_seconds"),
            routing_steps=tuple(tuple(step) for step in record.get("routing_steps", ())),
            routing_step_seconds=record.get("routing_step_seconds"),
            rules_source=record.get("rules_source"),
            rules_version=record.get("rules_version"),
        )


def to_record(decision: Any) -> dict[str, Any]:
    """A decision dataclass as a JSON-ready dict without empty fields (a shallow walk of the fields:
    ``dataclasses.asdict`` deep-copies and was a third of the router's own cost per contact)."""
    record: dict[str, Any] = {}
    for f in fields(decision):
        value = getattr(decision, f.name)
        if value is None or value in ((), []):
            continue
        if f.name == "candidates":
            value = [_candidate(c) for c in value]
        elif isinstance(value, StrEnum):
            value = value.value
        record[f.name] = _plain(value)
    return record


def _candidate(candidate: CandidateVerdict) -> dict[str, Any]:
    out: dict[str, Any] = {"source": candidate.source, "verdict": candidate.verdict.value}
    for name in ("user_id", "username", "reference", "detail", "in_queue"):
        value = getattr(candidate, name)
        if value is not None:
            out[name] = value
    return out


def _plain(value: Any) -> Any:
    """Tuples (of tuples) as lists: what JSON and the idempotency store give back."""
    return [_plain(v) for v in value] if isinstance(value, (tuple, list)) else value


def candidates_from_record(record: dict[str, Any]) -> tuple[CandidateVerdict, ...]:
    return tuple(
        CandidateVerdict(
            source=c["source"],
            verdict=Verdict(c["verdict"]),
            user_id=c.get("user_id"),
            username=c.get("username"),
            reference=c.get("reference"),
            detail=c.get("detail"),
            in_queue=c.get("in_queue"),
        )
        for c in record.get("candidates", [])
    )


_DECISION_FIELDS = frozenset(f.name for f in fields(Decision))


def evolve(decision: Decision, /, **changes: Any) -> Decision:
    """``dataclasses.replace`` for the routing path: the frozen decision copied with ``changes``, without running
    ``__init__`` again over its twenty fields (eight replace() calls per contact were a third of the router's
    own cost after the log line). Unknown fields are refused as replace() refuses them."""
    unknown = changes.keys() - _DECISION_FIELDS
    if unknown:
        raise TypeError(f"Decision has no field(s) {sorted(unknown)}")
    copied = object.__new__(Decision)
    copied.__dict__.update(decision.__dict__)
    copied.__dict__.update(changes)
    return copied
