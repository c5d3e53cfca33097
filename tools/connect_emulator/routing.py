"""Native routing: the emulated instance offers queued contacts to agents by itself, as Connect does.

Modelled from Connect's documents (docs/emulator.md, "Native routing", lists each rule with its source and
every behaviour they leave open as a named switch of the world file's `routing:` section):

- a contact waiting in a STANDARD queue is offered to an agent whose routing profile has the queue, whose
  status is routable (`Available`), who has a free slot for the channel and whom the routing profile's
  cross-channel behaviour lets take that channel now; a contact in an AGENT queue only to its agent;
- free agents are served in `agent_order` (fewest contacts then idle longest, idle longest, or random),
  each offered the first contact eligible for them by their profile's priority for its queue, then
  QueuePriority (lower first, 5 by default), then routing age (enqueue time minus
  QueueTimeAdjustmentSeconds); a contact younger than the profile's delay for its queue waits;
- routing criteria: while a step is ACTIVE only its agents (who must also serve the queue) are eligible;
  when every step has EXPIRED, any agent of the queue;
- an offer rings (the contact is CONNECTING, the slot taken); the agent accepts it after `accept_after`
  seconds, or misses it (a seeded share of offers) after `offer_timeout`: the contact waits again in its
  queue and the agent is blocked until their status changes (switch);
- AssociateContactWithUser offers the contact to the named agent the same way (accepted or missed).

Time: the engine keeps its own due events (offer outcomes, step expiries). The emulator applies them in
time order together with the timeline, each at its own due time, and lets the engine route again after
every change (`settle`), so routing follows the emulator's clock, virtual or real, deterministically for a
seed.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connect_emulator.state import ASSOCIATION, NATIVE, ContactState, InstanceState, UserState
from connect_emulator.world import (
    ASSOCIATED,
    CHANNELS,
    CONNECTED,
    DEFAULT_PROFILE_PRIORITY,
    DISCONNECTED,
    MONITOR,
    OFFLINE,
    QUEUED,
    ROUTABLE_STATUS,
    RoutingSpec,
)

DEFAULT_QUEUE_PRIORITY = 5  # UpdateContactRoutingData: "The default priority for new contacts is 5"
ROUTE_CURRENT_CHANNEL_ONLY = "ROUTE_CURRENT_CHANNEL_ONLY"
# RoutingEvent kinds
OFFERED, CONNECTED_EVENT, MISSED = "offered", "connected", "missed"
_ACCEPT, _MISS, _WAKE = "accept", "miss", "wake"


@dataclass(frozen=True)
class RoutingEvent:
    """Something native routing did: offered a contact to an agent, connected it, or the agent missed it.

    `via` says what the offer came from: "native" (the engine chose the agent) or "association"
    (AssociateContactWithUser named the agent).
    """

    time: float
    kind: str  # "offered", "connected" or "missed"
    contact_id: str
    user_id: str
    via: str


@dataclass
class _Offer:
    user_id: str
    via: str
    token: int


@dataclass(order=True)
class _Due:
    due: float
    sequence: int
    kind: str = field(compare=False)
    contact_id: str = field(compare=False, default="")
    token: int = field(compare=False, default=0)


Listener = Callable[[RoutingEvent], object]


class RoutingEngine:
    """Not thread-safe by itself: the emulator calls it under its state lock."""

    def __init__(self, state: InstanceState, settings: RoutingSpec, rng: random.Random) -> None:
        self.state = state
        self.settings = settings
        self.rng = rng
        self.events: list[RoutingEvent] = []
        self.listeners: list[Listener] = []
        self._due: list[_Due] = []
        self._sequence = itertools.count()
        self._tokens = itertools.count(1)
        self._offers: dict[str, _Offer] = {}
        self._seen_associations = len(state.associations)
        self._wakes: set[tuple[str, float]] = set()
        self._user_order = {user_id: index for index, user_id in enumerate(state.users)}
        # Contacts not yet disconnected, kept up to date cheaply: the state only ever adds contacts.
        self._open: list[ContactState] = []
        self._known = 0
        self._settled_version = 0

    @property
    def enabled(self) -> bool:
        return self.settings.native

    # ------------------------------------------------------------------ time

    def next_due(self) -> float | None:
        if not self.enabled or not self._due:
            return None
        return self._due[0].due

    def run_next(self) -> None:
        """Apply the earliest due event (the caller pins the state's clock to its time), then route."""
        item = heapq.heappop(self._due)
        if item.kind == _WAKE:
            self._wakes.discard((item.contact_id, item.due))
            self.state.touch()  # time made a contact eligible (a step expired, a profile delay passed)
        else:
            self._resolve(item)
        self.settle()

    def settle(self) -> None:
        """Route after a change: take up new associations, offer waiting contacts, watch step expiries.
        Nothing changed since the last time (`InstanceState.version`): nothing to do."""
        if not self.enabled or self.state.version == self._settled_version:
            return
        self._take_associations()
        self._dispatch()
        self._settled_version = self.state.version

    # ------------------------------------------------------------------ offers

    def _take_associations(self) -> None:
        associations = self.state.associations
        for association in associations[self._seen_associations :]:
            contact = self.state.contacts.get(association.contact_id)
            if contact is not None and contact.state == ASSOCIATED and contact.agent_id == association.user_id:
                self._ring(contact, association.user_id, ASSOCIATION)
        self._seen_associations = len(associations)

    def _offer(self, contact: ContactState, user: UserState) -> None:
        self.state.offer(contact, user)
        self._ring(contact, user.id, NATIVE)

    def _ring(self, contact: ContactState, user_id: str, via: str) -> None:
        """The offer rings: accepted after `accept_after`, or missed at `offer_timeout`."""
        token = next(self._tokens)
        self._offers[contact.id] = _Offer(user_id, via, token)
        now = self.state.clock()
        self._emit(OFFERED, contact.id, user_id, via)
        settings = self.settings
        offline = self.state.users[user_id].status == OFFLINE  # no CCP to accept with (an association)
        missed = (
            offline
            or settings.accept_after >= settings.offer_timeout
            or (settings.miss_share > 0 and self.rng.random() < settings.miss_share)
        )
        delay, kind = (settings.offer_timeout, _MISS) if missed else (settings.accept_after, _ACCEPT)
        heapq.heappush(self._due, _Due(now + delay, next(self._sequence), kind, contact.id, token))

    def _resolve(self, item: _Due) -> None:
        offer = self._offers.get(item.contact_id)
        contact = self.state.contacts.get(item.contact_id)
        if offer is None or offer.token != item.token or contact is None:
            return
        del self._offers[item.contact_id]
        if contact.state != ASSOCIATED or contact.agent_id != offer.user_id:
            return  # the offer ended otherwise (connected directly, transferred, the customer left)
        user = self.state.users[offer.user_id]
        if item.kind == _ACCEPT:
            self.state.connect(contact, user, via=offer.via)
            self._emit(CONNECTED_EVENT, contact.id, user.id, offer.via)
            return
        self.state.return_to_queue(contact)
        if self.settings.missed_blocks_agent:
            user.missed_contact_id, user.missed_at = contact.id, self.state.clock()
        self._emit(MISSED, contact.id, user.id, offer.via)

    def _emit(self, kind: str, contact_id: str, user_id: str, via: str) -> None:
        event = RoutingEvent(self.state.clock(), kind, contact_id, user_id, via)
        self.events.append(event)
        for listener in list(self.listeners):
            listener(event)

    # ------------------------------------------------------------------ matching

    def _dispatch(self) -> None:
        """Offer waiting contacts to free agents until no free agent has an eligible contact.

        Agent by agent, in `agent_order`: each free agent is offered the first waiting contact eligible for
        them, ordered by their routing profile's priority for its queue, then the contact's QueuePriority,
        then its routing age; a contact younger than the profile's delay for its queue is not yet eligible.
        """
        state = self.state
        routable = [user for user in state.users.values() if self._routable_status(user)]
        if not routable:
            return
        waiting: list[ContactState] = []
        active: dict[str, Counter[str]] = {user.id: Counter(user.busy) for user in routable}
        for contact in self._open_contacts():
            if contact.state == QUEUED:
                if contact.queue_id is not None:
                    waiting.append(contact)
            elif contact.agent_id in active and contact.state in (ASSOCIATED, CONNECTED):
                active[contact.agent_id][contact.channel] += 1
        free = [user for user in routable if self._has_free_slot(user, active[user.id])]
        if not waiting or not free:
            return
        waiting.sort(key=self._queue_order)
        allowed = {contact.id: self._allowed_agents(contact) for contact in waiting}
        while free and waiting:
            offered = False
            for user in self._in_agent_order(free, active):
                best = self._best_contact(user, waiting, allowed, active[user.id])
                if best is None:
                    continue
                active[user.id][best.channel] += 1
                waiting.remove(best)
                self._offer(best, user)
                if not self._has_free_slot(user, active[user.id]):
                    free.remove(user)
                offered = True
                break  # the agents' order changed (contacts, idle clock): choose again
            if not offered:
                return

    def _best_contact(
        self,
        user: UserState,
        waiting: list[ContactState],
        allowed: Mapping[str, frozenset[str] | None],
        active: Counter[str],
    ) -> ContactState | None:
        profile = self.state.routing_profiles[user.routing_profile_id]
        now = self.state.clock()
        floor = min((priority for priority, _ in profile.queue_configs.values()), default=DEFAULT_PROFILE_PRIORITY)
        best: tuple[int, int] | None = None
        chosen = None
        for position, contact in enumerate(waiting):  # already in QueuePriority, routing age order
            agents = allowed[contact.id]
            if agents is not None and user.id not in agents:
                continue
            if not self._eligible(contact, user, active):
                continue
            priority, delay = profile.queue_config(contact.queue_id or "")
            ready_at = (contact.enqueued_at or contact.initiated_at) + delay
            if ready_at > now:
                self._wake_at(contact.id, ready_at)
                continue
            if best is None or (priority, position) < best:
                best, chosen = (priority, position), contact
                if priority <= floor:
                    break  # nothing later can beat it: the rest is lower in the same order
        return chosen

    def _in_agent_order(self, free: list[UserState], active: Mapping[str, Counter[str]]) -> list[UserState]:
        order = self.settings.agent_order
        if order == "random":
            return self.rng.sample(free, len(free))
        if order == "longest_idle":
            return sorted(free, key=lambda user: (user.activity_at, self._user_order.get(user.id, 0)))
        return sorted(  # fewest_contacts: fewest contacts across channels, then idle longest
            free,
            key=lambda user: (sum(active[user.id].values()), user.activity_at, self._user_order.get(user.id, 0)),
        )

    def _wake_at(self, contact_id: str, due: float) -> None:
        if (contact_id, due) not in self._wakes:
            self._wakes.add((contact_id, due))
            heapq.heappush(self._due, _Due(due, next(self._sequence), _WAKE, contact_id))

    def _open_contacts(self) -> list[ContactState]:
        """Contacts not disconnected, monitoring legs excepted (they are never queued and take no slot)."""
        contacts = self.state.contacts
        if len(contacts) != self._known:
            self._open.extend(itertools.islice(contacts.values(), self._known, None))
            self._known = len(contacts)
        self._open = [c for c in self._open if c.state != DISCONNECTED and c.initiation_method != MONITOR]
        return self._open

    def _has_free_slot(self, user: UserState, active: Counter[str]) -> bool:
        concurrency = self.state.routing_profiles[user.routing_profile_id].concurrency
        return any(active[channel] < slots for channel, slots in concurrency.items())

    def _routable_status(self, user: UserState) -> bool:
        return (
            user.status == ROUTABLE_STATUS
            and user.next_status is None
            and not (self.settings.missed_blocks_agent and user.missed_contact_id is not None)
        )

    @staticmethod
    def _queue_order(contact: ContactState) -> tuple[int, float, str]:
        priority = contact.queue_priority if contact.queue_priority is not None else DEFAULT_QUEUE_PRIORITY
        age_from = (contact.enqueued_at or contact.initiated_at) - (contact.queue_time_adjustment or 0)
        return priority, age_from, contact.id

    def _allowed_agents(self, contact: ContactState) -> frozenset[str] | None:
        """The agents the contact's routing criteria allow now; None: any agent of the queue."""
        queue = self.state.queues.get(contact.queue_id or "")
        if contact.routing is None or queue is None or queue.type == "AGENT":
            return None  # criteria never apply in an agent queue (RoutingCriteria.ActivationTimestamp)
        snapshot = self.state.routing_snapshot(contact)
        step = snapshot.active_step if snapshot is not None else None
        if step is None:
            return None  # every step expired: any agent of the queue
        if step.expires_at is not None:
            self._wake_at(contact.id, step.expires_at)
        return agents_of(step.expression)

    def _eligible(self, contact: ContactState, user: UserState, active: Counter[str]) -> bool:
        queue = self.state.queues.get(contact.queue_id or "")
        if queue is None:
            return False
        if queue.type == "AGENT":
            if queue.owner_id != user.id:
                return False
        elif not self.state.routing_profiles[user.routing_profile_id].serves(queue.id):
            return False
        profile = self.state.routing_profiles[user.routing_profile_id]
        if active[contact.channel] >= profile.concurrency.get(contact.channel, 0):
            return False
        return all(
            active[channel] == 0
            or channel == contact.channel
            or profile.cross_channel_behavior(channel) != ROUTE_CURRENT_CHANNEL_ONLY
            for channel in CHANNELS
        )


def agents_of(expression: Mapping[str, Any]) -> frozenset[str]:
    """The agent ids an expression of AgentsCriteria conditions allows: AND intersects, OR unites."""
    condition = expression.get("AttributeCondition")
    if condition is not None:
        ids = condition.get("MatchCriteria", {}).get("AgentsCriteria", {}).get("AgentIds", ())
        return frozenset(ids)
    if expression.get("AndExpression"):
        parts = [agents_of(part) for part in expression["AndExpression"]]
        return frozenset.intersection(*parts)
    if expression.get("OrExpression"):
        return frozenset().union(*(agents_of(part) for part in expression["OrExpression"]))
    return frozenset()
