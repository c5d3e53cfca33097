"""What to do when no candidate is eligible (pure): wait and re-check, hand Connect routing criteria, or
leave the contact to its queue -- following the rule's ordered ``fallback`` and the attempt state that a
re-check message carries."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.rules.model import SQS_MAX_DELAY, ParkFallback, RoutingCriteriaFallback, RoutingRule

RECHECK_KEY = "contact-router-recheck"
# Candidates Connect's engine can be asked to prefer: real users of this instance, whatever their state now
# (leaving or blocked agents included: Connect offers when they are routable again). Routing criteria also need
# the queue in the agent's routing profile: the router leaves non-members out (verdict not_in_queue).
PREFERABLE = frozenset(
    {
        Verdict.OFFLINE,
        Verdict.STATUS,
        Verdict.NO_CAPACITY,
        Verdict.LEAVING,
        Verdict.BLOCKED,
        Verdict.ELIGIBLE,
        Verdict.CHOSEN,
    }
)


@dataclass(frozen=True)
class Recheck:
    """Attempt state carried by a delayed re-check message (the only memory of a wait)."""

    contact_id: str
    instance_arn: str
    channel: str
    rule: str
    step: int  # index in the rule's fallback
    step_started_at: float  # when this wait step began (epoch seconds)
    attempt: int  # re-checks so far in this step
    not_before: float  # a hop of a delay longer than SQS allows arrives early: re-schedule until then
    # The routing episode the chain belongs to (routing/episodes.py): its owner (the SQS message id that
    # claimed it) and the queuing's enqueue time (epoch seconds); empty in messages from before episodes.
    owner: str = ""
    enqueued_at: float = 0.0
    episode: str = ""  # the claimed episode's key, as the owner claimed it (routing/episodes.episode_key)
    # The candidates that could become free (offline, busy, full...): a re-check asks GetCurrentUserData about
    # them first, and reads the contact (DescribeContact) only once one of them can take it.
    candidates: tuple[str, ...] = ()

    def to_message(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items()}
        state["candidates"] = list(self.candidates)
        return {RECHECK_KEY: state}

    @classmethod
    def from_message(cls, raw: dict[str, Any]) -> Recheck:
        state = raw[RECHECK_KEY]
        return cls(
            contact_id=str(state["contact_id"]),
            instance_arn=str(state["instance_arn"]),
            channel=str(state["channel"]),
            rule=str(state["rule"]),
            step=int(state["step"]),
            step_started_at=float(state["step_started_at"]),
            attempt=int(state["attempt"]),
            not_before=float(state["not_before"]),
            owner=str(state.get("owner", "")),
            enqueued_at=float(state.get("enqueued_at", 0.0)),
            episode=str(state.get("episode", "")),
            candidates=tuple(str(c) for c in state.get("candidates", ())),
        )


# Verdicts of candidates who may become able to take the contact while it waits (a re-check asks about them).
MAY_FREE_UP = frozenset({Verdict.OFFLINE, Verdict.STATUS, Verdict.NO_CAPACITY, Verdict.LEAVING, Verdict.BLOCKED})


def waiting_for(judged: Sequence[CandidateVerdict], limit: int) -> tuple[str, ...]:
    """The user ids a wait waits for (the re-check's cheap first question), at most ``limit``."""
    return tuple(dict.fromkeys(c.user_id for c in judged if c.verdict in MAY_FREE_UP and c.user_id))[:limit]


@dataclass(frozen=True)
class WaitAgain:
    recheck: Recheck
    delay_seconds: int
    waited_seconds: float


@dataclass(frozen=True)
class SetRoutingCriteria:
    step: int
    spec: RoutingCriteriaFallback
    waited_seconds: float


@dataclass(frozen=True)
class Park:
    """TransferContact to the preferred agent's own queue (TASK and EMAIL)."""

    step: int
    spec: ParkFallback
    waited_seconds: float


# "Transfer is only supported for TASK and EMAIL contacts" (TransferContact, API reference).
PARK_CHANNELS = frozenset({"TASK", "EMAIL"})


@dataclass(frozen=True)
class LeaveToQueue:
    waited_seconds: float
    after_wait: bool


FallbackAction = WaitAgain | Park | SetRoutingCriteria | LeaveToQueue


def choose_fallback(
    rule: RoutingRule,
    contact_id: str,
    instance_arn: str,
    channel: str,
    recheck: Recheck | None,
    now: float,
    *,
    has_owner: bool = False,
) -> FallbackAction:
    """The next fallback action for a contact nobody can take right now. ``has_owner``: a candidate is a real
    user of the instance (whatever their state), whose own queue a ``park`` step may transfer the contact to."""
    current = recheck if recheck is not None and recheck.rule == rule.name else None
    index = current.step if current else 0
    waited = 0.0
    while index < len(rule.fallback):
        step = rule.fallback[index]
        if step.wait is not None:
            started = current.step_started_at if current and current.step == index else now
            waited = now - started
            remaining = step.wait.max_seconds - waited
            if remaining >= 1:
                delay = min(step.wait.interval_seconds, math.ceil(remaining))
                attempt = (current.attempt if current and current.step == index else 0) + 1
                state = Recheck(contact_id, instance_arn, channel, rule.name, index, started, attempt, now + delay)
                return WaitAgain(state, min(delay, SQS_MAX_DELAY), waited)
            index += 1
            continue
        if step.park is not None:
            if channel in PARK_CHANNELS and has_owner:
                return Park(index, step.park, waited)
            index += 1  # not for this channel, or nobody to park it with: the next step decides
            continue
        if step.routing_criteria is not None:
            return SetRoutingCriteria(index, step.routing_criteria, waited)
        break
    return LeaveToQueue(waited, after_wait=waited > 0)


def seconds_until_due(recheck: Recheck, now: float) -> int | None:
    """Seconds still to wait when a re-check arrives before ``not_before`` (a chained hop), else None."""
    remaining = recheck.not_before - now
    return min(math.ceil(remaining), SQS_MAX_DELAY) if remaining >= 1 else None


def park_owner(candidates: Sequence[CandidateVerdict]) -> str | None:
    """The agent a parked contact belongs to: the first candidate who is a user of the instance, in rule order."""
    return next((c.user_id for c in candidates if c.user_id and c.verdict in PREFERABLE), None)


def park_token(contact_id: str, user_id: str, contact_flow_id: str) -> str:
    """TransferContact's ClientToken: the same for every retry of the same park (and under 500 characters)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"contact-router/park/{contact_id}/{user_id}/{contact_flow_id}"))


def step_agents(spec: RoutingCriteriaFallback, candidates: Sequence[CandidateVerdict]) -> list[tuple[str, ...]]:
    """The agents of each routing-criteria step: every candidate in one step, or one step each."""
    ids = tuple(dict.fromkeys(c.user_id for c in candidates if c.user_id and c.verdict in PREFERABLE))
    if not ids:
        return []
    return [(agent,) for agent in ids] if spec.one_step_per_candidate else [ids]


def routing_steps(groups: Sequence[Sequence[str]], expiry_seconds: int) -> list[dict[str, Any]]:
    """UpdateContactRoutingData RoutingCriteria steps preferring these agents (AgentsCriteria)."""
    return [
        {
            "Expiry": {"DurationInSeconds": expiry_seconds},
            "Expression": {
                "AttributeCondition": {
                    "ComparisonOperator": "Match",
                    "MatchCriteria": {"AgentsCriteria": {"AgentIds": list(group)}},
                }
            },
        }
        for group in groups
    ]
