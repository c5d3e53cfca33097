"""What the routing core needs from the outside world. ``contact_router.adapters`` implements these with
boto3; tests use the Connect emulator or small in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from contact_router.customers.history import CustomerHistory
from contact_router.models.agent import AgentState, QueueMembership, UserRef
from contact_router.models.contact import Contact
from contact_router.routing.episodes import Claim, Guard
from contact_router.rules.model import RulesFile


class ConnectPort(Protocol):
    def describe_contact(self, contact_id: str) -> Contact:
        """Raises PermanentError(reason="unknown_contact") when the contact does not exist."""
        ...

    def current_user_data(self, user_ids: Sequence[str]) -> Mapping[str, AgentState]:
        """Real-time state of the logged-in agents among ``user_ids`` (one call per 100 ids)."""
        ...

    def contact_attributes(self, initial_contact_id: str) -> Mapping[str, str]:
        """GetContactAttributes of the contact chain started by ``initial_contact_id``."""
        ...

    def associate(self, contact_id: str, user_id: str) -> None: ...

    def update_routing_criteria(self, contact_id: str, steps: Sequence[Mapping[str, Any]]) -> None:
        """UpdateContactRoutingData with these RoutingCriteria steps."""
        ...

    def routing_profile_queues(self, routing_profile_id: str) -> QueueMembership:
        """The (queue, channel) pairs the routing profile serves (ListRoutingProfileQueues, cached per profile)."""
        ...

    def routing_profile_of(self, user_id: str) -> str | None:
        """The user's routing profile id (DescribeUser, cached): for agents GetCurrentUserData does not list."""
        ...

    def transfer_to_agent(self, contact_id: str, user_id: str, contact_flow_id: str, client_token: str) -> None:
        """TransferContact to the agent's own queue (UserId), through ``contact_flow_id``."""
        ...


class HistoryPort(Protocol):
    def for_contact(self, contact: Contact) -> CustomerHistory:
        """Last agents and owners of the contact's customer keys (one DynamoDB read)."""
        ...


class RecheckPort(Protocol):
    def schedule(self, message: Mapping[str, Any], delay_seconds: int) -> None:
        """Deliver ``message`` to the router again after ``delay_seconds`` (<= 900, SQS's maximum)."""
        ...


class UserDirectoryPort(Protocol):
    def find_by_username(self, username: str) -> UserRef | None: ...


class RulesProviderPort(Protocol):
    def current(self) -> RulesFile: ...

    @property
    def source(self) -> str: ...

    @property
    def version(self) -> str | None:
        """sha256 (first 12 hex digits) of the rules document in force."""
        ...


class IdempotencyPort(Protocol):
    def run(self, key: Mapping[str, Any], work: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        """Run ``work`` once per ``key``; return (result, replayed) where replayed means a stored result."""
        ...


class EpisodePort(Protocol):
    """One owner per routing episode (routing/episodes.py): claimed before any Connect call."""

    def claim(self, episode: str, owner: str, lease_until: float) -> Claim:
        """FRESH (created), RESUMED (this owner's own expired lease), TAKEN or IN_PROGRESS."""
        ...

    def release(self, episode: str, owner: str) -> None:
        """Give the claim back (a transient failure, a record not started): the next delivery starts afresh."""
        ...

    def guard_association(self, episode: str, owner: str | None, token: str) -> Guard:
        """The episode's one association attempt, for paths that are not a FRESH claim: WON for the first."""
        ...

    def release_association(self, episode: str, token: str) -> None:
        """Connect refused the attempt: the guard goes back, so a later re-check may try."""
        ...
