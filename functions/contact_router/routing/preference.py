"""Which agents a contact flow should ask Connect to prefer, in order, and for how long (pure).

The flow entry point (handlers/flow.py) asks before the contact is queued, so nothing is associated: the
flow sets routing criteria from the answer and Connect's own engine offers the contact to those agents while
a step lasts, then to anyone in the queue. The same candidates and the same eligibility as the router decide
who is worth preferring:

- candidates who can take the contact now (the router would associate the first of them) come first;
- logged-in candidates who are busy or in another status come next, but only when the rule is willing to
  wait for its candidates (a ``wait`` or ``routing_criteria`` fallback); with ``[queue]`` alone the router
  would not wait for them either;
- candidates who are not logged in, or were never real users (unknown, excluded, not allowed), are left out:
  a step for an agent who cannot take the contact only delays it.

Step durations follow the rule: ``routing_criteria.expiry_seconds`` (one step each, or every agent in one
step), else the ``wait`` step's ``max_seconds`` (how long the rule waits for its candidates), else
``OFFER_STEP_SECONDS`` for agents who are free now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.rules.model import RoutingRule

# A free agent's step when the rule names no duration: long enough for one offer to be accepted or missed
# (Connect's offer timeout is not published; the emulator's default is 20 s), short enough that a missed
# offer costs little before the whole queue is offered the contact.
OFFER_STEP_SECONDS = 30
# Agent ids the flat answer carries (agent1..agentN); the deployed flow uses the first three.
MAX_PREFERRED = 10

AVAILABLE = frozenset({Verdict.CHOSEN, Verdict.ELIGIBLE})
BUSY = frozenset({Verdict.STATUS, Verdict.NO_CAPACITY})


@dataclass(frozen=True)
class Preference:
    """Routing-criteria steps for the flow: each step's agent ids and its duration."""

    steps: tuple[tuple[str, ...], ...]
    step_seconds: int
    available: int  # how many of the preferred agents could take the contact when asked

    @property
    def agent_ids(self) -> tuple[str, ...]:
        return tuple(agent for step in self.steps for agent in step)


def preference(rule: RoutingRule, judged: Sequence[CandidateVerdict]) -> Preference:
    """The agents to prefer for a contact matched by ``rule``, from its judged candidates (eligibility.judge)."""
    # The rule's own routing-criteria steps when it has them (what the router would hand Connect), else its wait.
    waits = next((s for s in rule.fallback if s.routing_criteria), None) or next(
        (s for s in rule.fallback if s.wait), None
    )
    free = [c.user_id for c in judged if c.verdict in AVAILABLE and c.user_id]
    busy = [c.user_id for c in judged if c.verdict in BUSY and c.user_id] if waits else []
    agents = tuple(dict.fromkeys(free + busy))[:MAX_PREFERRED]
    if waits is None:
        seconds, one_each = OFFER_STEP_SECONDS, True
    elif waits.routing_criteria is not None:
        seconds, one_each = waits.routing_criteria.expiry_seconds, waits.routing_criteria.one_step_per_candidate
    else:
        seconds, one_each = waits.wait.max_seconds if waits.wait else OFFER_STEP_SECONDS, True
    if not agents:
        return Preference((), seconds, 0)
    steps = tuple((agent,) for agent in agents) if one_each else (agents,)
    return Preference(steps, seconds, available=len([a for a in agents if a in free]))


def flow_answer(preferred: Preference | None, *, outcome: str, reason: str, rule: str | None = None) -> dict[str, str]:
    """The flat map of strings the "Invoke AWS Lambda function" block accepts (ResponseType STRING_MAP).

    ``preferredAgentIds`` (comma-joined, in order), ``agentCount``, ``agent1``..``agentN`` (one per agent, for
    flows that set one routing-criteria step per agent), ``stepSeconds`` (each step's duration, comma-joined),
    ``stepCount``, ``oneStepPerAgent``, ``rule``, ``outcome`` and ``reason``. An empty preference (no rule,
    nobody to prefer, or any failure) has ``agentCount`` 0: the flow transfers to the queue unchanged.
    """
    agents = preferred.agent_ids if preferred else ()
    steps = preferred.steps if preferred else ()
    answer = {
        "preferredAgentIds": ",".join(agents),
        "agentCount": str(len(agents)),
        "stepCount": str(len(steps)),
        "stepSeconds": ",".join(str(preferred.step_seconds) for _ in steps) if preferred else "",
        "oneStepPerAgent": "true" if steps and all(len(s) == 1 for s in steps) else "false",
        "rule": rule or "",
        "outcome": outcome,
        "reason": reason,
    }
    answer.update({f"agent{i}": agent for i, agent in enumerate(agents, start=1)})
    return answer
