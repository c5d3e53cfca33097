"""In-memory fakes of the routing ports: they record calls, so tests assert on behaviour, not mocks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contact_router.customers.history import CustomerHistory
from contact_router.errors import PermanentError
from contact_router.models.agent import AgentState, QueueMembership, UserRef
from contact_router.models.contact import Contact
from contact_router.routing.candidates import Lookup
from contact_router.routing.episodes import Claim, Guard, Hold
from contact_router.rules.loader import parse_rules
from contact_router.rules.model import CandidateSource, RulesFile

INSTANCE_ARN = "arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555"
DANA = "33333333-0000-4000-8000-000000000001"
SAM = "33333333-0000-4000-8000-000000000002"
TARIQ = "33333333-0000-4000-8000-000000000003"


@dataclass
class FakeConnect:
    contacts: dict[str, Contact] = field(default_factory=dict)
    states: dict[str, AgentState] = field(default_factory=dict)
    usernames: dict[str, UserRef] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    associate_error: Exception | None = None
    on_associate: Callable[[str, str], None] | None = None
    groups: dict[str, str] = field(default_factory=dict)
    monitor_errors: dict[str, Exception] = field(default_factory=dict)  # supervisor id -> error
    instance_id: str = "11111111-2222-4333-8444-555555555555"
    routing_error: Exception | None = None
    # Routing profile -> its (queue, channel) pairs; a profile not listed serves every queue on every channel.
    profile_queues: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)  # user id -> routing profile id (DescribeUser)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # initial contact id -> attributes
    on_monitor: Callable[[str, str], None] | None = None  # (contact id, supervisor id), before any monitor error
    transfer_error: Exception | None = None

    def describe_contact(self, contact_id: str) -> Contact:
        self.calls.append(("DescribeContact", contact_id))
        if contact_id not in self.contacts:
            raise PermanentError("unknown_contact", f"no contact {contact_id}")
        return self.contacts[contact_id]

    def current_user_data(self, user_ids: Sequence[str]) -> Mapping[str, AgentState]:
        self.calls.append(("GetCurrentUserData", tuple(user_ids)))
        return {u: self.states[u] for u in user_ids if u in self.states}

    def contact_attributes(self, initial_contact_id: str) -> Mapping[str, str]:
        self.calls.append(("GetContactAttributes", initial_contact_id))
        return dict(self.attributes.get(initial_contact_id, {}))

    def associate(self, contact_id: str, user_id: str) -> None:
        self.calls.append(("AssociateContactWithUser", (contact_id, user_id)))
        if self.on_associate:
            self.on_associate(contact_id, user_id)
        if self.associate_error:
            raise self.associate_error

    def find_by_username(self, username: str) -> UserRef | None:
        self.calls.append(("SearchUsers", username))
        return self.usernames.get(username.lower())

    def hierarchy_group_of(self, user_id: str) -> str | None:
        self.calls.append(("DescribeUser", user_id))
        return self.groups.get(user_id)

    def monitor_contact(self, contact_id: str, user_id: str, capabilities: Sequence[str], client_token: str) -> str:
        self.calls.append(("MonitorContact", (contact_id, user_id, tuple(capabilities), client_token)))
        if self.on_monitor:
            self.on_monitor(contact_id, user_id)
        if user_id in self.monitor_errors:
            raise self.monitor_errors[user_id]
        return f"monitor-{contact_id}-{user_id}"

    def update_routing_criteria(self, contact_id: str, steps: Sequence[Mapping[str, Any]]) -> None:
        self.calls.append(("UpdateContactRoutingData", (contact_id, [dict(s) for s in steps])))
        if self.routing_error:
            raise self.routing_error

    def routing_profile_queues(self, routing_profile_id: str) -> QueueMembership:
        self.calls.append(("ListRoutingProfileQueues", routing_profile_id))
        if routing_profile_id not in self.profile_queues:
            return _EveryQueue(routing_profile_id, frozenset())
        return QueueMembership(routing_profile_id, self.profile_queues[routing_profile_id])

    def routing_profile_of(self, user_id: str) -> str | None:
        self.calls.append(("DescribeUser", user_id))
        return self.profiles.get(user_id, "profile-serving-everything")

    def transfer_to_agent(self, contact_id: str, user_id: str, contact_flow_id: str, client_token: str) -> None:
        self.calls.append(("TransferContact", (contact_id, user_id, contact_flow_id, client_token)))
        if self.transfer_error:
            raise self.transfer_error

    def count(self, operation: str) -> int:
        return sum(1 for op, _ in self.calls if op == operation)


@dataclass(frozen=True)
class _EveryQueue(QueueMembership):
    """A fake routing profile that serves every queue on every channel (the fake's default)."""

    def serves(self, queue_id: str, channel: str) -> bool:
        return True


@dataclass
class StaticRules:
    rules: RulesFile
    source: str = "test"
    version: str | None = None

    def current(self) -> RulesFile:
        return self.rules

    @classmethod
    def of(cls, text: str) -> StaticRules:
        return cls(parse_rules(text, "test rules"))


@dataclass
class MemoryIdempotency:
    """Same contract as the DynamoDB one: a stored result is returned and marked replayed."""

    store: dict[str, dict[str, Any]] = field(default_factory=dict)

    def run(self, key: Mapping[str, Any], work: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        k = repr(sorted(key.items()))
        if k in self.store:
            return dict(self.store[k]), True
        result = work()
        self.store[k] = dict(result)
        return result, False


@dataclass
class MemoryEpisodes:
    """Same contract as DynamoDBEpisodes (tests/unit/test_episodes.py runs both): owner, lease, association."""

    clock: Callable[[], float] = lambda: 1_800_000_000.0
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)
    writes: int = 0

    def claim(self, episode: str, owner: str, lease_until: float) -> Claim:
        self.writes += 1
        now, held = self.clock(), self.items.get(episode)
        if held is not None and not (held["owner"] == owner and held["lease_until"] < now):
            hold = Hold.IN_PROGRESS if held["owner"] == owner else Hold.TAKEN
            return Claim(hold, episode, owner, holder=held["owner"], claimed_at=held["claimed_at"])
        self.items[episode] = {"owner": owner, "lease_until": int(lease_until) + 1, "claimed_at": int(now)}
        return Claim(Hold.RESUMED if held is not None else Hold.FRESH, episode, owner)

    def release(self, episode: str, owner: str) -> None:
        self.writes += 1
        if self.items.get(episode, {}).get("owner") == owner:
            del self.items[episode]
            self.released.append(episode)

    def guard_association(self, episode: str, owner: str | None, token: str) -> Guard:
        self.writes += 1
        held = self.items.get(episode)
        if held is not None and ("association" in held or (owner and held["owner"] not in ("", owner))):
            return Guard.AGAIN if held.get("association") == token else Guard.TAKEN
        self.items.setdefault(episode, {"owner": owner or "", "lease_until": 0, "claimed_at": 0})["association"] = token
        return Guard.WON

    def release_association(self, episode: str, token: str) -> None:
        self.writes += 1
        if self.items.get(episode, {}).get("association") == token:
            del self.items[episode]["association"]
            self.released.append(episode)


def available(user_id: str, channel: str = "CHAT", free: int = 1, status: str = "Available") -> AgentState:
    return AgentState(user_id=user_id, status_name=status, available_slots={channel: free}, max_slots={channel: 3})


@dataclass
class FakeRechecks:
    """Records scheduled re-checks: (message, delay)."""

    sent: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def schedule(self, message: Mapping[str, Any], delay_seconds: int) -> None:
        self.sent.append((dict(message), delay_seconds))


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeHistory:
    """The customer-history port: one fixed answer, and how many times it was asked."""

    answer: CustomerHistory = field(default_factory=CustomerHistory)
    reads: int = 0

    def for_contact(self, contact: Contact) -> CustomerHistory:
        self.reads += 1
        return self.answer


@dataclass
class FakeProfiles:
    """A Customer Profiles domain in memory: each profile's search keys and Attributes; records every search."""

    profiles: list[tuple[Mapping[str, Sequence[str]], Mapping[str, str]]] = field(default_factory=list)
    searches: list[tuple[str, str]] = field(default_factory=list)
    error: Exception | None = None

    def add(self, attributes: Mapping[str, str], **keys: str) -> None:
        """A profile with these Attributes, found by ``_profileId``, ``_email``, ``_phone`` ... (``profileId=``...)."""
        self.profiles.append(({f"_{name}": [value] for name, value in keys.items()}, attributes))

    def search(self, key_name: str, value: str) -> Sequence[Mapping[str, str]]:
        self.searches.append((key_name, value))
        if self.error is not None:
            raise self.error
        return [dict(attrs) for keys, attrs in self.profiles if value in keys.get(key_name, ())][:2]


def lookup(
    connect: FakeConnect | None = None,
    history: FakeHistory | None = None,
    now: float = 1_800_000_000.0,
    ports: Mapping[str, Any] | None = None,
) -> Lookup:
    """What candidate resolvers consult, over fakes; only this instance's agents are allowed."""
    connect = connect or FakeConnect()
    return Lookup(
        connect=connect,
        users=connect,
        instance_arn=INSTANCE_ARN,
        allowed_agent_arn_pattern=f"{INSTANCE_ARN}/agent/*",
        clock=lambda: now,
        history=history,
        ports=dict(ports or {}),
    )


def source(**entry: Any) -> CandidateSource:
    return CandidateSource.model_validate(entry)
