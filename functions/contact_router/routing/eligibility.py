"""Which candidates can take the contact now, from one GetCurrentUserData answer and the queues of their routing
profiles (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from contact_router.models.agent import AgentState, QueueMembership
from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.rules.model import RoutingRule


def profiles_to_check(
    candidates: Sequence[CandidateVerdict], states: Mapping[str, AgentState], rule: RoutingRule
) -> list[str]:
    """The routing profiles whose queues the verdicts need: those of the logged-in candidates, when the rule
    requires membership for association or may hand Connect routing criteria (which always requires it)."""
    if not (rule.require_queue_membership or rule.uses_routing_criteria):
        return []
    profiles = (
        states[c.user_id].routing_profile_id
        for c in candidates
        if c.verdict is Verdict.ELIGIBLE and c.user_id is not None and c.user_id in states
    )
    return list(dict.fromkeys(p for p in profiles if p))


def judge(
    candidates: Sequence[CandidateVerdict],
    states: Mapping[str, AgentState],
    rule: RoutingRule,
    channel: str,
    queue_id: str | None = None,
    memberships: Mapping[str, QueueMembership] | None = None,
) -> list[CandidateVerdict]:
    """Give each resolved candidate (verdict ELIGIBLE so far) its final verdict; the first eligible is CHOSEN.

    Candidates that were already skipped while resolving keep their verdict. ``memberships`` (routing profile id
    -> its queues) gives each logged-in candidate ``in_queue``; a candidate whose profile lacks the queue for the
    channel is NOT_IN_QUEUE when the rule requires membership, and is never put in routing criteria either way.
    """
    allowed = set(rule.allowed_statuses)
    judged: list[CandidateVerdict] = []
    chosen = False
    for candidate in candidates:
        if candidate.verdict is not Verdict.ELIGIBLE or candidate.user_id is None:
            judged.append(candidate)
            continue
        state = states.get(candidate.user_id)
        in_queue = _in_queue(state, queue_id, channel, memberships or {})
        verdict, detail = _check(state, in_queue, rule, allowed, channel, queue_id)
        if verdict is Verdict.ELIGIBLE and not chosen:
            verdict, chosen = Verdict.CHOSEN, True
        judged.append(replace(candidate, verdict=verdict, detail=detail, in_queue=in_queue))
    return judged


def not_in_queue(candidate: CandidateVerdict, queue_id: str, channel: str, profile: str | None) -> CandidateVerdict:
    """The verdict of a candidate found (after judging) not to serve the queue: Connect would never offer them
    the contact through routing criteria."""
    return replace(
        candidate,
        verdict=Verdict.NOT_IN_QUEUE,
        in_queue=False,
        detail=_not_in_queue_detail(queue_id, channel, profile),
    )


def _in_queue(
    state: AgentState | None, queue_id: str | None, channel: str, memberships: Mapping[str, QueueMembership]
) -> bool | None:
    if state is None or queue_id is None or state.routing_profile_id is None:
        return None
    membership = memberships.get(state.routing_profile_id)
    return membership.serves(queue_id, channel) if membership is not None else None


def _check(
    state: AgentState | None,
    in_queue: bool | None,
    rule: RoutingRule,
    allowed: set[str],
    channel: str,
    queue_id: str | None,
) -> tuple[Verdict, str | None]:
    if state is None:
        return Verdict.OFFLINE, "not logged in"
    if in_queue is False and rule.require_queue_membership:
        return Verdict.NOT_IN_QUEUE, _not_in_queue_detail(queue_id or "-", channel, state.routing_profile_id)
    if state.next_status:
        return Verdict.LEAVING, f"next status {state.next_status!r}: Connect routes no new contacts to them"
    if state.blocking:
        contact_id, contact_state = state.blocking[0]
        return Verdict.BLOCKED, f"contact {contact_id} {contact_state}: blocked until the agent clears it"
    if state.status_name not in allowed:
        return Verdict.STATUS, f"status {state.status_name!r} not in {sorted(allowed)}"
    free = state.available_slots.get(channel, 0)
    if free <= 0 and not rule.ignore_capacity:
        maximum = state.max_slots.get(channel, 0)
        return Verdict.NO_CAPACITY, f"{channel} slots: 0 free of {maximum}"
    detail = f"{channel} slots: {free} free" if not rule.ignore_capacity else "capacity ignored"
    if in_queue is False:
        detail += "; not in the queue (association allowed by require_queue_membership: false)"
    return Verdict.ELIGIBLE, detail


def _not_in_queue_detail(queue_id: str, channel: str, profile: str | None) -> str:
    return f"routing profile {profile or '?'} does not serve queue {queue_id} for {channel}"
