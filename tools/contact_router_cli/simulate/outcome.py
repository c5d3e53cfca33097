"""What the customer and the preferred agent got, measured on the emulated instance's ground truth (its
contacts, its routing events), for one run in one mode. docs/simulation.md, "Outcome against native routing".

- **preferred hit rate**: of the contacts naming a preferred agent, the share connected to that agent.
- **... when available**: the same over the contacts whose preferred agent *had a free slot* within the rule's
  wait window while the contact waited: at the moment the contact queued (before it was routed), or at a
  moment the agent finished a contact and was left with a free slot (no other contact offered to them at that
  instant). A slot freed and taken at once by an older contact is not a free slot: no routing could have given
  it to this contact without taking it from the older one.
- **wait**: queued to connected, over every connected contact; **abandon rate**: customers who hung up while
  waiting, over every contact; **Connect calls per contact**: every request the instance answered (the
  router's, and the flow Lambda's), over every contact.
- **occupancy**: slot-seconds agents spent offered or connected, over the slot-seconds of the arrival window
  after a warm-up of ``WARM_UP`` seconds (the instance starts empty).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass

from connect_emulator.state import ContactSnapshot
from contact_router_cli.simulate.pipeline import SimulationResult

WARM_UP = 600.0
FIGURES = (
    "preferred_hit_rate",
    "preferred_hit_rate_when_available",
    "wait_p50_s",
    "wait_p90_s",
    "abandon_rate",
    "connect_calls_per_contact",
)


@dataclass(frozen=True)
class Outcome:
    contacts: int
    preferred: int  # contacts naming a preferred agent
    preferred_available: int  # ... whose agent had a free slot within the window
    preferred_hit_rate: float
    preferred_hit_rate_when_available: float
    wait_p50_s: float
    wait_p90_s: float
    preferred_wait_p90_s: float
    abandon_rate: float
    connect_calls_per_contact: float
    occupancy: float

    def as_dict(self) -> dict[str, float | int]:
        return {name: round(value, 4) if isinstance(value, float) else value for name, value in asdict(self).items()}


@dataclass(frozen=True)
class Busy:
    start: float
    end: float
    contact_id: str


def measure(result: SimulationResult) -> Outcome:
    """The outcome of a run with native routing (``SimulationConfig.mode`` set)."""
    emulator = result.emulator
    spec = result.workload.spec
    start = emulator.started_at
    plans = [p for p in result.workload.contacts if p.kind == "valid"]
    contacts = {c.id: c for c in emulator.contacts()}
    busy = _busy_intervals(result, contacts)
    slots = {user_id: emulator.user(user_id).max_slots.get("CHAT", 0) for user_id in busy}
    offered_at = _last_offer(result)
    waits, preferred_waits, hits, available_hits, available, abandoned = [], [], 0, 0, 0, 0
    for plan in plans:
        contact = contacts[plan.id]
        abandoned += contact.abandoned
        wait = _wait(contact)
        if wait is not None:
            waits.append(wait)
        if plan.preferred is None:
            continue
        if wait is not None:
            preferred_waits.append(wait)
        hit = contact.connected_at is not None and contact.agent_id == plan.preferred
        hits += hit
        left = offered_at.get(plan.id) or contact.disconnected_at or math.inf
        agent = plan.preferred
        free = slots.get(agent, spec.chat_slots)
        if had_free_slot(busy.get(agent, []), free, plan.id, contact.enqueued_at, left, spec.preferred_window):
            available += 1
            available_hits += hit
    preferred = sum(1 for p in plans if p.preferred is not None)
    window_start, window_end = start + WARM_UP, start + spec.arrival_seconds
    return Outcome(
        contacts=len(plans),
        preferred=preferred,
        preferred_available=available,
        preferred_hit_rate=_share(hits, preferred),
        preferred_hit_rate_when_available=_share(available_hits, available),
        wait_p50_s=percentile(waits, 50),
        wait_p90_s=percentile(waits, 90),
        preferred_wait_p90_s=percentile(preferred_waits, 90),
        abandon_rate=_share(abandoned, len(plans)),
        connect_calls_per_contact=_share(len(result.calls), len(plans)),
        occupancy=_occupancy(busy, spec.agents * spec.chat_slots, window_start, window_end),
    )


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _share(part: int | float, whole: int | float) -> float:
    return part / whole if whole else 0.0


def _wait(contact: ContactSnapshot) -> float | None:
    if contact.connected_at is None or contact.enqueued_at is None:
        return None
    return contact.connected_at - contact.enqueued_at


def _last_offer(result: SimulationResult) -> dict[str, float]:
    """When each contact was last offered (it left the queue then, unless the offer was missed)."""
    offered: dict[str, float] = {}
    for event in result.emulator.routing_events:
        if event.kind == "offered":
            offered[event.contact_id] = event.time
    return offered


def _busy_intervals(result: SimulationResult, contacts: dict[str, ContactSnapshot]) -> dict[str, list[Busy]]:
    """Per agent: from each offer to the end of the contact (or to the missed offer's return to the queue)."""
    open_offers: dict[str, tuple[str, float]] = {}
    busy: dict[str, list[Busy]] = defaultdict(list)
    for event in result.emulator.routing_events:
        if event.kind == "offered":
            open_offers[event.contact_id] = (event.user_id, event.time)
        elif event.kind == "missed" and event.contact_id in open_offers:
            user_id, at = open_offers.pop(event.contact_id)
            busy[user_id].append(Busy(at, event.time, event.contact_id))
    for contact_id, (user_id, at) in open_offers.items():
        end = contacts[contact_id].disconnected_at if contact_id in contacts else None
        busy[user_id].append(Busy(at, end if end is not None else math.inf, contact_id))
    return busy


def had_free_slot(
    busy: list[Busy], slots: int, contact_id: str, enqueued: float | None, left: float, window: float
) -> bool:
    """Whether the agent had a free slot at the contact's enqueue or when they finished a contact within the
    wait window while the contact still waited (see the module's docstring)."""
    if enqueued is None:
        return False
    until = min(enqueued + window, left)
    moments = [enqueued] + [b.end for b in busy if enqueued < b.end <= until]
    others = [b for b in busy if b.contact_id != contact_id]
    return any(sum(1 for b in others if b.start <= t < b.end) < slots for t in moments)


def _occupancy(busy: dict[str, list[Busy]], slots: int, start: float, end: float) -> float:
    if end <= start or slots <= 0:
        return 0.0
    used = sum(max(0.0, min(b.end, end) - max(b.start, start)) for intervals in busy.values() for b in intervals)
    return used / (slots * (end - start))
