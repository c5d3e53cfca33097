"""What native routing costs the emulator: one seeded workload run with routing off and on, side by side.

`python -m connect_emulator.routing_cost [--contacts N] [--agents N] [--seed N]`: chats arrive about every
1.2 s (exponential), agents take 2 chats each, handle 60-240 s, 5% of offers missed (the agent is Available
again 5 s later); virtual clock. Prints wall time per setting and what routing did. A measurement for
people, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence

from connect_emulator.emulator import ConnectEmulator
from connect_emulator.routing import RoutingEvent
from connect_emulator.world import World

START = 1_767_225_600.0


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(native: bool, contacts: int, agents: int, seed: int) -> tuple[float, int, int, int]:
    """(wall seconds, contacts connected, offers missed, contacts still waiting) for one setting."""
    world = World.from_dict(
        {
            "instance": {"id": "routing-cost"},
            "routing": {"native": native, "miss_share": 0.05},
            "routing_profiles": [{"name": "Chat", "concurrency": {"CHAT": 2}}],
            "queues": [{"name": "Support"}],
            "users": [{"username": f"agent{n}", "routing_profile": "Chat"} for n in range(agents)],
        }
    )
    clock = _Clock()
    emulator = ConnectEmulator(world, clock=clock, sleep=clock.sleep, seed=seed)
    rng = random.Random(seed)

    def on_event(event: RoutingEvent) -> None:
        if event.kind == "connected":
            emulator.schedule(emulator.elapsed() + rng.uniform(60, 240), contact=event.contact_id, disconnect=True)
        elif event.kind == "missed":
            emulator.schedule(emulator.elapsed() + 5, user=event.user_id, status="Available")

    emulator.subscribe(on_event)
    started = time.perf_counter()
    for _ in range(contacts):
        emulator.advance(rng.expovariate(1 / 1.2))
        emulator.add_contact(channel="CHAT", queue="Support")
    emulator.advance(3600)
    took = time.perf_counter() - started
    missed = sum(1 for event in emulator.routing_events if event.kind == "missed")
    waiting = sum(1 for contact in emulator.contacts() if contact.state == "QUEUED")
    return took, len(emulator.connections), missed, waiting


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    results = {native: run(native, args.contacts, args.agents, args.seed) for native in (False, True)}
    for native, (took, connected, missed, waiting) in results.items():
        print(  # noqa: T201 - a command-line report
            f"routing {'on ' if native else 'off'}: {took:6.2f} s wall, {connected} connected, "
            f"{missed} offers missed, {waiting} still waiting"
        )
    print(f"ratio on/off: {results[True][0] / results[False][0]:.1f}x")  # noqa: T201


if __name__ == "__main__":
    main()
