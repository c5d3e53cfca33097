"""The mutable state of one emulated instance: agents, contacts, associations; ARNs and lookups.

Not thread-safe by itself: `ConnectEmulator` holds one lock around every read and change.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connect_emulator.errors import EmulatorStateError
from connect_emulator.world import (
    ASSOCIATED,
    CHANNELS,
    CONNECTED,
    DISCONNECTED,
    MONITOR,
    OFFLINE,
    QUEUED,
    ContactSpec,
    HierarchyGroupSpec,
    QueueSpec,
    RoutingProfileSpec,
    RoutingSpec,
    World,
    stable_id,
)

LIVE_STATES = (ASSOCIATED, CONNECTED)
# How a contact reached its agent (Connection.via, ContactSnapshot.connected_via).
NATIVE, ASSOCIATION, DIRECT = "native", "association", "direct"
SILENT_MONITOR, BARGE = "SILENT_MONITOR", "BARGE"
# Routing step statuses (RoutingCriteriaStepStatus).
ACTIVE, INACTIVE, JOINED, EXPIRED = "ACTIVE", "INACTIVE", "JOINED", "EXPIRED"
# Seeded contacts get a plausible timeline ending before the emulator starts (seconds before "now").
_SEED_AGE = 300.0
_STEP = 10.0


@dataclass(frozen=True)
class Association:
    """One successful AssociateContactWithUser call."""

    contact_id: str
    user_id: str
    time: float


@dataclass(frozen=True)
class Connection:
    """A contact connected to an agent, and by what: native routing, an association, or directly."""

    contact_id: str
    user_id: str
    time: float
    via: str  # NATIVE, ASSOCIATION or DIRECT (connect_contact, a timeline entry)


@dataclass(frozen=True)
class MonitoringSession:
    """One monitoring session started by MonitorContact (a replayed ClientToken adds none)."""

    monitored_contact_id: str
    supervisor_id: str
    monitoring_contact_id: str
    capabilities: tuple[str, ...]
    client_token: str | None
    time: float


@dataclass(frozen=True)
class RoutingStep:
    """One step of a contact's routing criteria as requested: how long it lasts and whom it prefers."""

    duration: int | None  # seconds; None: the step never expires (only the last one may)
    expression: Mapping[str, Any]  # the model's Expression, member names as in the model
    agent_ids: tuple[str, ...]  # AgentsCriteria ids named by the expression


@dataclass
class RoutingCriteriaState:
    steps: tuple[RoutingStep, ...]
    activated_at: float
    index: int
    never_active: bool = False  # contacts in an AGENT queue: criteria set, never activated
    ended_at: float | None = None  # when the contact stopped waiting; statuses stop changing then
    joined: bool = False  # it stopped waiting because an agent took it


@dataclass(frozen=True)
class RoutingStepSnapshot:
    """A routing step as Connect reports it at one moment."""

    position: int  # 0-based
    status: str  # ACTIVE, INACTIVE, JOINED or EXPIRED
    duration: int | None
    expires_at: float | None  # known once the step has started
    agent_ids: tuple[str, ...]
    expression: Mapping[str, Any]


@dataclass(frozen=True)
class RoutingCriteriaSnapshot:
    """A contact's routing criteria with step statuses computed from the emulator clock."""

    steps: tuple[RoutingStepSnapshot, ...]
    activated_at: float
    index: int

    @property
    def active_step(self) -> RoutingStepSnapshot | None:
        return next((step for step in self.steps if step.status == ACTIVE), None)

    @property
    def preferred_agent_ids(self) -> tuple[str, ...]:
        """The agents the active step prefers; empty when no step is active (any agent of the queue)."""
        step = self.active_step
        return step.agent_ids if step is not None else ()

    @property
    def exhausted(self) -> bool:
        """Every step expired: Connect offers the contact to any agent of the queue."""
        return all(step.status == EXPIRED for step in self.steps)


@dataclass
class UserState:
    id: str
    username: str
    routing_profile_id: str
    status: str
    status_since: float
    busy: dict[str, int]
    first_name: str | None = None
    last_name: str | None = None
    hierarchy_group_id: str | None = None
    activity_at: float = 0.0  # last status change, offer, connection or end of a contact: the idle clock
    missed_contact_id: str | None = None  # the offer this agent missed, while it blocks routing to them
    missed_at: float | None = None
    next_status: str | None = None  # NextStatus (admin guide, "Set your Next status": no new contacts routed)

    @property
    def logged_in(self) -> bool:
        return self.status != OFFLINE


@dataclass
class ContactState:
    id: str
    channel: str
    initiation_method: str
    state: str
    initiated_at: float
    last_update: float
    callback_mode: str | None = None  # VOICE CALLBACK contacts: agent_first or customer_first
    queue_id: str | None = None
    enqueued_at: float | None = None
    agent_id: str | None = None
    agent_since: float | None = None  # association or connection time: AgentContactState start
    connected_at: float | None = None
    disconnected_at: float | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    segment_attributes: dict[str, Any] = field(default_factory=dict)
    related_contact_id: str | None = None
    previous_contact_id: str | None = None
    initial_contact_id: str | None = None
    customer_endpoint: dict[str, str] | None = None
    customer_id: str | None = None
    routing: RoutingCriteriaState | None = None
    routing_updates: int = 0  # routing criteria set so far (the next one's Index)
    queue_priority: int | None = None
    queue_time_adjustment: int | None = None
    connected_via: str | None = None  # NATIVE, ASSOCIATION or DIRECT once connected
    abandoned: bool = False  # the customer left while the contact waited in the queue
    transfers: int = 0  # TransferContact calls on this contact and the contacts it was transferred from
    flow_id: str | None = None  # the ContactFlowId of the transfer that queued it

    @property
    def monitoring_leg(self) -> bool:
        return self.initiation_method == MONITOR

    @property
    def waiting(self) -> bool:
        """Queued, not associated with or connected to an agent, not disconnected."""
        return self.state == QUEUED


@dataclass(frozen=True)
class ContactSnapshot:
    """A copy of an emulated contact, safe to keep while the emulator moves on."""

    id: str
    state: str
    channel: str
    initiation_method: str
    queue_id: str | None
    agent_id: str | None
    initiated_at: float
    enqueued_at: float | None
    connected_at: float | None
    disconnected_at: float | None
    attributes: Mapping[str, str]
    tags: Mapping[str, str]
    related_contact_id: str | None = None
    queue_priority: int | None = None
    queue_time_adjustment: int | None = None
    connected_via: str | None = None
    abandoned: bool = False
    previous_contact_id: str | None = None
    transfers: int = 0


@dataclass(frozen=True)
class UserSnapshot:
    """A copy of an emulated agent with its slot counts and live contacts."""

    id: str
    username: str
    arn: str
    routing_profile_id: str
    status: str
    logged_in: bool
    max_slots: Mapping[str, int]
    active_slots: Mapping[str, int]
    available_slots: Mapping[str, int]
    contact_ids: tuple[str, ...]  # ASSOCIATED and CONNECTED contacts, monitoring legs included
    hierarchy_group_id: str | None = None
    missed_contact_id: str | None = None  # a missed offer that blocks routing to the agent


class InstanceState:
    def __init__(self, world: World, clock: Callable[[], float], seed: int = 0) -> None:
        self.world = world
        self.instance = world.instance
        self._clock = clock
        self._pinned: float | None = None
        now = clock()
        self.started_at = now
        self.queues: dict[str, QueueSpec] = {q.id: q for q in world.queues}
        self.hierarchy_groups: dict[str, HierarchyGroupSpec] = {g.id: g for g in world.hierarchy_groups}
        self.routing_profiles: dict[str, RoutingProfileSpec] = {p.id: p for p in world.routing_profiles}
        self.users: dict[str, UserState] = {
            u.id: UserState(
                u.id,
                u.username,
                u.routing_profile_id,
                u.status,
                now,
                dict(u.busy),
                u.first_name,
                u.last_name,
                u.hierarchy_group_id,
                activity_at=now,
                next_status=u.next_status,
            )
            for u in world.users
        }
        self.contacts: dict[str, ContactState] = {}
        self.associations: list[Association] = []
        self.connections: list[Connection] = []
        self.routing_spec: RoutingSpec = world.routing
        self.version = 1  # bumped by every change native routing must react to (see `touch`)
        # TransferContact ClientToken -> (the request's meaning, its answer: the contact id)
        self.transfer_tokens: dict[str, tuple[tuple[str, str | None, str | None, str], str]] = {}
        self.monitoring_sessions: list[MonitoringSession] = []
        # MonitorContact ClientToken -> (the request's meaning, the session it started)
        self.monitor_tokens: dict[str, tuple[tuple[str, str, frozenset[str]], MonitoringSession]] = {}
        self._contact_ids = random.Random(f"contact-ids-{seed}")
        for spec in world.contacts:
            self.add_contact(spec, base=now - _SEED_AGE)

    # ------------------------------------------------------------------ time

    def clock(self) -> float:
        """Now, or the time a scheduled change is being applied at (see `pinned`)."""
        return self._pinned if self._pinned is not None else self._clock()

    @contextlib.contextmanager
    def pinned(self, moment: float) -> Iterator[None]:
        """Make every change inside the block happen at `moment` (timeline entries due in the past)."""
        previous, self._pinned = self._pinned, moment
        try:
            yield
        finally:
            self._pinned = previous

    def new_contact_id(self) -> str:
        """A random UUID from the seeded generator: the same seed gives the same ids."""
        return str(uuid.UUID(int=self._contact_ids.getrandbits(128), version=4))

    def touch(self) -> None:
        """Note a change that can make a contact routable (native routing skips work when nothing changed)."""
        self.version += 1

    # ------------------------------------------------------------------ ARNs

    @property
    def instance_arn(self) -> str:
        return self.instance.arn

    def arn(self, kind: str, resource_id: str) -> str:
        return f"{self.instance.arn}/{kind}/{resource_id}"

    def user_arn(self, user_id: str) -> str:
        return self.arn("agent", user_id)

    def hierarchy_group_arn(self, group_id: str) -> str:
        return self.arn("agent-group", group_id)

    def status_arn(self, status: str) -> str:
        return self.arn("agent-state", stable_id("agent-state", status))

    # ------------------------------------------------------------------ lookups

    def is_instance(self, ref: str, *, allow_arn: bool = False) -> bool:
        return ref == self.instance.id or (allow_arn and ref == self.instance.arn)

    def _strip_arn(self, ref: str, kind: str) -> str | None:
        """`ref` itself, or the id inside an ARN of `kind` in this instance (None: another instance's ARN)."""
        if not ref.startswith("arn:"):
            return ref
        prefix = f"{self.instance.arn}/{kind}/"
        return ref[len(prefix) :] if ref.startswith(prefix) else None

    def find_user(self, ref: str, *, allow_arn: bool = False, allow_username: bool = False) -> UserState | None:
        resource_id = self._strip_arn(ref, "agent") if allow_arn else ref
        if resource_id is None:
            return None
        user = self.users.get(resource_id)
        if user is None and allow_username:
            wanted = ref.lower()
            user = next((u for u in self.users.values() if u.username.lower() == wanted), None)
        return user

    def require_user(self, ref: str) -> UserState:
        """For the Python API: id, username or ARN."""
        user = self.find_user(ref, allow_arn=True, allow_username=True)
        if user is None:
            raise EmulatorStateError(f"no user {ref!r} in the world")
        return user

    def find_queue_id(self, ref: str, *, allow_name: bool = False) -> str | None:
        resource_id = self._strip_arn(ref, "queue")
        if resource_id in self.queues:
            return resource_id
        if allow_name:
            return next((q.id for q in self.queues.values() if q.name == ref), None)
        return None

    def find_hierarchy_group_id(self, ref: str) -> str | None:
        resource_id = self._strip_arn(ref, "agent-group")
        return resource_id if resource_id in self.hierarchy_groups else None

    def find_routing_profile_id(self, ref: str) -> str | None:
        resource_id = self._strip_arn(ref, "routing-profile")
        return resource_id if resource_id in self.routing_profiles else None

    def require_contact(self, contact_id: str) -> ContactState:
        contact = self.contacts.get(contact_id)
        if contact is None:
            raise EmulatorStateError(f"no contact {contact_id!r} in the emulator")
        return contact

    # ------------------------------------------------------------------ slots

    def live_contacts(self, user_id: str) -> Iterator[ContactState]:
        """The agent's ASSOCIATED and CONNECTED contacts, monitoring legs included."""
        return (c for c in self.contacts.values() if c.agent_id == user_id and c.state in LIVE_STATES)

    def monitoring_legs(
        self, *, supervisor_id: str | None = None, monitored_id: str | None = None
    ) -> list[ContactState]:
        """CONNECTED monitoring legs, of one supervisor and/or of one monitored contact."""
        return [
            c
            for c in self.contacts.values()
            if c.monitoring_leg
            and c.state == CONNECTED
            and (supervisor_id is None or c.agent_id == supervisor_id)
            and (monitored_id is None or c.related_contact_id == monitored_id)
        ]

    def max_slots(self, user: UserState) -> dict[str, int]:
        concurrency = self.routing_profiles[user.routing_profile_id].concurrency
        return {channel: concurrency.get(channel, 0) for channel in CHANNELS}

    def active_slots(self, user: UserState) -> dict[str, int]:
        """`busy` plus live contacts; monitoring legs take no routing slot (see docs/emulator.md)."""
        active = {channel: user.busy.get(channel, 0) for channel in CHANNELS}
        for contact in self.live_contacts(user.id):
            if not contact.monitoring_leg:
                active[contact.channel] += 1
        return active

    def available_slots(self, user: UserState) -> dict[str, int]:
        """max - active, never negative, whatever the agent's status (see docs/emulator.md)."""
        maximum, active = self.max_slots(user), self.active_slots(user)
        return {channel: max(0, maximum[channel] - active[channel]) for channel in CHANNELS}

    # ------------------------------------------------------------------ changes

    def add_contact(self, spec: ContactSpec, *, base: float | None = None) -> ContactState:
        """Add a contact. Timestamps missing from `spec` are now, or, for contacts seeded from the world
        file (`base` given), a timeline starting at `base` with ten seconds between steps."""
        self.touch()
        if spec.id in self.contacts:
            raise EmulatorStateError(f"contact {spec.id!r} already exists")
        step = _STEP if base is not None else 0.0
        initiated = _given(spec.initiated_at, base if base is not None else self.clock())
        contact = ContactState(
            id=spec.id,
            channel=spec.channel,
            initiation_method=spec.initiation_method,
            state=spec.state,
            callback_mode=spec.callback_mode,
            initiated_at=initiated,
            last_update=initiated,
            queue_id=spec.queue_id,
            enqueued_at=_given(spec.enqueued_at, initiated + step) if spec.queue_id else None,
            agent_id=spec.agent_id,
            attributes=dict(spec.attributes),
            tags=dict(spec.tags),
            segment_attributes=dict(spec.segment_attributes),
            related_contact_id=spec.related_contact_id,
            previous_contact_id=spec.previous_contact_id,
            initial_contact_id=spec.initial_contact_id or self._initial_of(spec.previous_contact_id),
            customer_endpoint=dict(spec.customer_endpoint) if spec.customer_endpoint else None,
            customer_id=spec.customer_id,
        )
        _seed_timeline(contact, spec, step)
        self.contacts[contact.id] = contact
        return contact

    def _initial_of(self, previous_id: str | None) -> str | None:
        if previous_id is None:
            return None
        previous = self.contacts.get(previous_id)
        if previous is None:
            return previous_id
        return previous.initial_contact_id or previous.id

    def associate(self, contact: ContactState, user: UserState) -> Association:
        """AssociateContactWithUser: the same ringing state as a native offer, recorded as an association."""
        self.offer(contact, user)
        association = Association(contact.id, user.id, contact.agent_since or self.clock())
        self.associations.append(association)
        return association

    def offer(self, contact: ContactState, user: UserState) -> None:
        """Native routing offers a waiting contact to an agent: it rings (CONNECTING), taking a slot."""
        self.touch()
        now = self.clock()
        self._stop_waiting(contact, now, joined=True)
        contact.state = ASSOCIATED
        contact.agent_id = user.id
        contact.agent_since = now
        contact.last_update = now
        user.activity_at = now

    def return_to_queue(self, contact: ContactState) -> None:
        """A missed offer: the contact waits again in its queue, keeping its place and routing criteria."""
        self.touch()
        now = self.clock()
        contact.state = QUEUED
        contact.agent_id = None
        contact.agent_since = None
        contact.last_update = now
        if contact.routing is not None:
            contact.routing.ended_at = None
            contact.routing.joined = False

    def connect(self, contact: ContactState, user: UserState, via: str = DIRECT) -> None:
        self.touch()
        if contact.state not in (QUEUED, ASSOCIATED):
            raise EmulatorStateError(f"contact {contact.id} is {contact.state}: only a waiting contact can connect")
        now = self.clock()
        self._stop_waiting(contact, now, joined=True)
        contact.state = CONNECTED
        contact.agent_id = user.id
        contact.agent_since = now
        contact.connected_at = now
        contact.last_update = now
        contact.connected_via = via
        user.activity_at = now
        self.connections.append(Connection(contact.id, user.id, now, via))

    def disconnect(self, contact: ContactState) -> None:
        """End a contact; its monitoring legs end with it."""
        self.touch()
        if contact.state == DISCONNECTED:
            raise EmulatorStateError(f"contact {contact.id} is already disconnected")
        now = self.clock()
        self._stop_waiting(contact, now, joined=False)
        if contact.state == QUEUED and contact.queue_id is not None:
            contact.abandoned = True
        agent = self.users.get(contact.agent_id or "")
        if agent is not None and contact.state in LIVE_STATES:
            agent.activity_at = now
        contact.state = DISCONNECTED
        contact.disconnected_at = now
        contact.last_update = now
        for leg in self.monitoring_legs(monitored_id=contact.id):
            self.disconnect(leg)

    @staticmethod
    def _stop_waiting(contact: ContactState, now: float, *, joined: bool) -> None:
        """Freeze the routing criteria of a contact that leaves the queue (JOINED if an agent took it)."""
        routing = contact.routing
        if contact.state == QUEUED and routing is not None and routing.ended_at is None:
            routing.ended_at = now
            routing.joined = joined

    def enqueue(self, contact: ContactState, queue_id: str) -> None:
        self.touch()
        if contact.state == DISCONNECTED:
            raise EmulatorStateError(f"contact {contact.id} is disconnected: it cannot be queued again")
        now = self.clock()
        contact.state = QUEUED
        contact.queue_id = queue_id
        contact.enqueued_at = now
        contact.agent_id = None
        contact.agent_since = None
        contact.connected_at = None
        contact.last_update = now
        contact.routing = None  # a transfer starts over with the new queue's routing
        contact.queue_priority = contact.queue_time_adjustment = None

    def transfer(self, contact: ContactState, queue_id: str, flow_id: str) -> ContactState:
        """TransferContact: the contact goes to `queue_id` as a new TRANSFER contact (the old one ends), or,
        with `transfer_creates_contact` off, is requeued under its own id. Either way any agent is released."""
        self.touch()
        count = contact.transfers + 1
        if not self.routing_spec.transfer_creates_contact:
            self.enqueue(contact, queue_id)
            contact.transfers, contact.flow_id = count, flow_id
            return contact
        now = self.clock()
        moved = ContactState(
            id=self.new_contact_id(),
            channel=contact.channel,
            initiation_method="TRANSFER",
            state=QUEUED,
            initiated_at=now,
            last_update=now,
            queue_id=queue_id,
            enqueued_at=now,
            attributes=dict(contact.attributes),
            tags=dict(contact.tags),
            segment_attributes=dict(contact.segment_attributes),
            related_contact_id=contact.related_contact_id,
            previous_contact_id=contact.id,
            initial_contact_id=contact.initial_contact_id or contact.id,
            customer_endpoint=dict(contact.customer_endpoint) if contact.customer_endpoint else None,
            customer_id=contact.customer_id,
            transfers=count,
            flow_id=flow_id,
        )
        self._stop_waiting(contact, now, joined=False)
        agent = self.users.get(contact.agent_id or "")
        if agent is not None and contact.state in LIVE_STATES:
            agent.activity_at = now
        contact.state = DISCONNECTED
        contact.disconnected_at = contact.last_update = now
        self.contacts[moved.id] = moved
        return moved

    def set_status(self, user: UserState, status: str) -> None:
        self.touch()
        user.status = OFFLINE if status.lower() == OFFLINE.lower() else status
        user.status_since = user.activity_at = self.clock()
        user.missed_contact_id = user.missed_at = (
            None  # changing status clears a missed contact (rtm-change-agent-activity-state)
        )

    def agent_queue_id(self, user: UserState) -> str:
        """The agent's own queue: the world's AGENT queue naming them, else one made up on first use."""
        for queue in self.queues.values():
            if queue.type == "AGENT" and queue.owner_id == user.id:
                return queue.id
        queue = QueueSpec(stable_id("agent-queue", user.id), f"agent/{user.username}", "AGENT", user.id)
        self.queues[queue.id] = queue
        return queue.id

    # ------------------------------------------------------------------ monitoring

    def start_monitoring(
        self, contact: ContactState, supervisor: UserState, capabilities: Sequence[str], token: str | None
    ) -> MonitoringSession:
        """The supervisor's monitoring leg: a contact of its own, CONNECTED to the supervisor, never queued."""
        now = self.clock()
        leg = ContactState(
            id=self.new_contact_id(),
            channel=contact.channel,
            initiation_method=MONITOR,
            state=CONNECTED,
            initiated_at=now,
            last_update=now,
            agent_id=supervisor.id,
            agent_since=now,
            connected_at=now,
            related_contact_id=contact.id,
        )
        self.contacts[leg.id] = leg
        session = MonitoringSession(contact.id, supervisor.id, leg.id, tuple(capabilities), token, now)
        self.monitoring_sessions.append(session)
        return session

    # ------------------------------------------------------------------ routing criteria

    def set_routing_criteria(self, contact: ContactState, steps: Sequence[RoutingStep]) -> None:
        self.touch()
        queue = self.queues.get(contact.queue_id or "")
        contact.routing = RoutingCriteriaState(
            steps=tuple(steps),
            activated_at=self.clock(),
            index=contact.routing_updates,
            never_active=queue is not None and queue.type == "AGENT",
        )
        contact.routing_updates += 1
        contact.last_update = self.clock()

    def routing_snapshot(self, contact: ContactState) -> RoutingCriteriaSnapshot | None:
        """Step statuses now: each step ACTIVE from the end of the previous one until its own expiry, then
        EXPIRED; later steps INACTIVE. Once the contact leaves the queue the statuses stop changing, and the
        step active then is JOINED if an agent took the contact."""
        routing = contact.routing
        if routing is None:
            return None
        now = self.clock() if routing.ended_at is None else min(self.clock(), routing.ended_at)
        start: float | None = routing.activated_at
        steps = []
        for position, step in enumerate(routing.steps):
            end = start + step.duration if start is not None and step.duration is not None else None
            if routing.never_active or start is None or start > now:
                status, expires = INACTIVE, None
            elif end is not None and end <= now:
                status, expires = EXPIRED, end
            else:
                status, expires = (JOINED if routing.joined else ACTIVE), end
            steps.append(RoutingStepSnapshot(position, status, step.duration, expires, step.agent_ids, step.expression))
            start = end if end is not None else None
        return RoutingCriteriaSnapshot(tuple(steps), routing.activated_at, routing.index)

    # ------------------------------------------------------------------ snapshots

    def contact_snapshot(self, contact: ContactState) -> ContactSnapshot:
        return ContactSnapshot(
            id=contact.id,
            state=contact.state,
            channel=contact.channel,
            initiation_method=contact.initiation_method,
            queue_id=contact.queue_id,
            agent_id=contact.agent_id,
            initiated_at=contact.initiated_at,
            enqueued_at=contact.enqueued_at,
            connected_at=contact.connected_at,
            disconnected_at=contact.disconnected_at,
            attributes=dict(contact.attributes),
            tags=dict(contact.tags),
            related_contact_id=contact.related_contact_id,
            queue_priority=contact.queue_priority,
            queue_time_adjustment=contact.queue_time_adjustment,
            connected_via=contact.connected_via,
            abandoned=contact.abandoned,
            previous_contact_id=contact.previous_contact_id,
            transfers=contact.transfers,
        )

    def user_snapshot(self, user: UserState) -> UserSnapshot:
        return UserSnapshot(
            id=user.id,
            username=user.username,
            arn=self.user_arn(user.id),
            routing_profile_id=user.routing_profile_id,
            status=user.status,
            logged_in=user.logged_in,
            max_slots=self.max_slots(user),
            active_slots=self.active_slots(user),
            available_slots=self.available_slots(user),
            contact_ids=tuple(c.id for c in self.live_contacts(user.id)),
            hierarchy_group_id=user.hierarchy_group_id,
            missed_contact_id=user.missed_contact_id,
        )


def _given(value: float | None, default: float) -> float:
    return value if value is not None else default


def _seed_timeline(contact: ContactState, spec: ContactSpec, step: float) -> None:
    """Connection and disconnection times of a contact added in a state past QUEUED."""
    last = contact.enqueued_at if contact.enqueued_at is not None else contact.initiated_at
    if spec.agent_id is not None and spec.state != ASSOCIATED:
        contact.connected_at = last = _given(spec.connected_at, last + step)
        contact.agent_since = contact.connected_at
    elif spec.agent_id is not None:
        contact.agent_since = last = last + step
    if spec.state == DISCONNECTED:
        contact.disconnected_at = last = _given(spec.disconnected_at, last + 2 * step)
    contact.last_update = last
