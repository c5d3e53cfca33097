"""The simulator's virtual clock: actors run one at a time, in virtual-time order."""

from __future__ import annotations

import pytest

from contact_router_cli.simulate.clock import DeadlineExceeded, VirtualClock


def test_actors_interleave_in_virtual_time_order() -> None:
    # Given two actors sleeping different amounts and a timer in between
    clock = VirtualClock(1000.0)
    log: list[tuple[float, str]] = []

    def actor(name: str, pause: float) -> None:
        for _ in range(3):
            clock.sleep(pause)
            log.append((clock.now(), name))

    clock.spawn("a", lambda: actor("a", 1.0))
    clock.spawn("b", lambda: actor("b", 1.5))
    clock.call_at(1002.2, lambda: log.append((clock.now(), "timer")))

    # When the driver runs them
    clock.run()
    clock.close()

    # Then everything happened in virtual-time order, without sleeping for real
    assert log == [
        (1001.0, "a"),
        (1001.5, "b"),
        (1002.0, "a"),
        (1002.2, "timer"),
        (1003.0, "b"),  # both due at 1003: b asked first (at 1001.5), so it runs first
        (1003.0, "a"),
        (1004.5, "b"),
    ]
    assert clock.elapsed() == 4.5


def test_sleeping_past_the_deadline_ends_at_the_deadline() -> None:
    # Given an actor with a deadline 10 s away that sleeps 30 s (a Lambda invocation past its timeout)
    clock = VirtualClock(0.0)
    seen: list[tuple[str, float]] = []

    def body() -> None:
        actor = clock.current()
        assert actor is not None
        actor.deadline = 10.0
        try:
            clock.sleep(30.0)
        except DeadlineExceeded:
            seen.append(("killed", clock.now()))

    clock.spawn("worker", body)
    clock.run()
    clock.close()

    # Then it is woken at its deadline with DeadlineExceeded
    assert seen == [("killed", 10.0)]


def test_parked_actors_wake_when_notified_and_close_unwinds_the_rest() -> None:
    # Given an actor parked on a channel and a timer that notifies it at t=5
    clock = VirtualClock(0.0)
    woke: list[float] = []

    def poller() -> None:
        clock.park("queue")
        woke.append(clock.now())
        clock.park("queue")  # never notified again
        woke.append(-1.0)

    clock.spawn("poller", poller)
    clock.call_at(5.0, lambda: clock.notify("queue"))

    # When the driver runs until nothing is due
    clock.run()

    # Then it woke once, at 5, and close() unwinds it without running the rest of its body
    assert woke == [5.0]
    assert clock.parked("queue") == 1
    clock.close()
    assert woke == [5.0]


def test_an_actor_error_reaches_the_driver() -> None:
    clock = VirtualClock(0.0)

    def broken() -> None:
        clock.sleep(1)
        raise ValueError("bug in an actor")

    clock.spawn("broken", broken)
    with pytest.raises(ValueError, match="bug in an actor"):
        clock.run()
    clock.close()


def test_only_actors_sleep() -> None:
    with pytest.raises(RuntimeError, match="only a simulated actor"):
        VirtualClock(0.0).sleep(1)
