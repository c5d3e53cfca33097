"""Users (agents) as the routing core sees them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# GetCurrentUserData Contacts[].AgentContactState values (botocore model enum ContactState) that keep Connect from
# routing to the agent until the contact is cleared: DismissUserContact ("returns the agent to an available state,
# which allows the agent to receive a new routed contact") takes contacts in MISSED, ERROR, ENDED or REJECTED
# state; ENDED is after-contact work, which the agent's slots already account for.
BLOCKING_CONTACT_STATES = frozenset({"MISSED", "REJECTED", "ERROR"})

# GetCurrentUserData Filters.Agents: at most 100 agents per call. Rules hold at most this many static users.
MAX_AGENTS_PER_CALL = 100


@dataclass(frozen=True)
class UserRef:
    """A resolved Connect user. ``username`` is known when the reference was a username or was looked up."""

    id: str
    arn: str
    username: str | None = None

    @property
    def label(self) -> str:
        return self.username or self.id


@dataclass(frozen=True)
class AgentState:
    """One agent's real-time state from GetCurrentUserData (only logged-in agents have one)."""

    user_id: str
    status_name: str
    available_slots: Mapping[str, int] = field(default_factory=dict)
    max_slots: Mapping[str, int] = field(default_factory=dict)
    active_contacts: int = 0  # contacts of any channel, monitoring sessions included
    routing_profile_id: str | None = None  # None: not reported (membership cannot be checked)
    next_status: str | None = None  # NextStatus: the agent is leaving (no new contacts until then)
    blocking: tuple[tuple[str, str], ...] = ()  # (contact id, AgentContactState) of BLOCKING_CONTACT_STATES


@dataclass(frozen=True)
class QueueMembership:
    """The (queue id, channel) pairs of one routing profile (ListRoutingProfileQueues): an agent is offered a
    queue's contacts of a channel only when their routing profile lists that queue for that channel."""

    routing_profile_id: str
    queues: frozenset[tuple[str, str]]

    def serves(self, queue_id: str, channel: str) -> bool:
        return (queue_id, channel) in self.queues
