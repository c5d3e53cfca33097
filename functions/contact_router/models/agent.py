"""Users (agents) as the routing core sees them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
