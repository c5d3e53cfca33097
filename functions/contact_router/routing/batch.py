"""Sharing one GetCurrentUserData across an SQS batch.

Connect's API quotas are the real ceiling, and GetCurrentUserData answers for up to 100 agents at once. A
read-only first pass over the batch reads each contact, matches its rule and collects its candidates; one
GetCurrentUserData then covers every candidate of the batch. Each record is then decided as usual, from
that shared state; an association takes the slot it used out of the shared state, so two contacts of the
batch never both get an agent's last slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from contact_router.errors import ContactRouterError
from contact_router.models.agent import AgentState
from contact_router.models.contact import Contact
from contact_router.models.decision import CandidateVerdict
from contact_router.routing.episodes import Claim
from contact_router.rules.model import RoutingRule


@dataclass
class SharedAgentStates:
    """Agent states fetched once for a batch; updated as the batch associates contacts."""

    states: dict[str, AgentState] = field(default_factory=dict)
    covered: set[str] = field(default_factory=set)  # ids asked for (absent from states = not logged in)
    error: ContactRouterError | None = None  # the batch call failed: records needing agents fail alike

    def covers(self, user_ids: Iterable[str]) -> bool:
        return all(user_id in self.covered for user_id in user_ids)

    def view(self, user_ids: Sequence[str]) -> Mapping[str, AgentState]:
        return {user_id: self.states[user_id] for user_id in user_ids if user_id in self.states}

    def take_slot(self, user_id: str, channel: str) -> None:
        state = self.states.get(user_id)
        if state is None:
            return
        slots = dict(state.available_slots)
        slots[channel] = max(0, slots.get(channel, 0) - 1)
        self.states[user_id] = replace(state, available_slots=slots, active_contacts=state.active_contacts + 1)


@dataclass(frozen=True)
class Prepared:
    """A record's read-only first pass: the contact as read, its rule and its candidates (None = no rule)."""

    contact: Contact
    rule: RoutingRule | None
    candidates: tuple[CandidateVerdict, ...] = ()


@dataclass
class BatchPrefetch:
    prepared: dict[str, Prepared] = field(default_factory=dict)  # contact id -> first pass, used once
    failed: dict[str, ContactRouterError] = field(default_factory=dict)  # contact id -> error met prefetching
    agents: SharedAgentStates = field(default_factory=SharedAgentStates)
    claims: dict[str, Claim] = field(default_factory=dict)  # SQS message id -> its episode claim, used once
    awaited: list[str] = field(default_factory=list)  # the agents the batch's re-checks wait for

    def take(self, contact_id: str) -> Prepared | None:
        """The first pass of this contact, once: a duplicate in the same batch reads the contact afresh.
        An error met while prefetching is raised here, on the record's own path (not retried at once)."""
        error = self.failed.pop(contact_id, None)
        if error is not None:
            raise error
        return self.prepared.pop(contact_id, None)
