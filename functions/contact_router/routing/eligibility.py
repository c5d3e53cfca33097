"""Which candidates can take the contact now, from one GetCurrentUserData answer (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from contact_router.models.agent import AgentState
from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.rules.model import RoutingRule


def judge(
    candidates: Sequence[CandidateVerdict],
    states: Mapping[str, AgentState],
    rule: RoutingRule,
    channel: str,
) -> list[CandidateVerdict]:
    """Give each resolved candidate (verdict ELIGIBLE so far) its final verdict; the first eligible is CHOSEN.

    Candidates that were already skipped while resolving keep their verdict.
    """
    allowed = set(rule.allowed_statuses)
    judged: list[CandidateVerdict] = []
    chosen = False
    for candidate in candidates:
        if candidate.verdict is not Verdict.ELIGIBLE or candidate.user_id is None:
            judged.append(candidate)
            continue
        verdict, detail = _check(states.get(candidate.user_id), allowed, rule.ignore_capacity, channel)
        if verdict is Verdict.ELIGIBLE and not chosen:
            verdict, chosen = Verdict.CHOSEN, True
        judged.append(_with(candidate, verdict, detail))
    return judged


def _check(
    state: AgentState | None, allowed: set[str], ignore_capacity: bool, channel: str
) -> tuple[Verdict, str | None]:
    if state is None:
        return Verdict.OFFLINE, "not logged in"
    if state.status_name not in allowed:
        return Verdict.STATUS, f"status {state.status_name!r} not in {sorted(allowed)}"
    free = state.available_slots.get(channel, 0)
    if free <= 0 and not ignore_capacity:
        maximum = state.max_slots.get(channel, 0)
        return Verdict.NO_CAPACITY, f"{channel} slots: 0 free of {maximum}"
    return Verdict.ELIGIBLE, f"{channel} slots: {free} free" if not ignore_capacity else "capacity ignored"


def _with(candidate: CandidateVerdict, verdict: Verdict, detail: str | None) -> CandidateVerdict:
    return CandidateVerdict(
        source=candidate.source,
        verdict=verdict,
        user_id=candidate.user_id,
        username=candidate.username,
        reference=candidate.reference,
        detail=detail,
    )
