"""Virtual time: the simulated pipeline's actors run as threads, one at a time, in virtual-time order.

The router's code is synchronous (boto3 calls, Powertools), so a simulated Lambda worker is a real thread.
Only one thread ever runs: an actor gives the baton back to the driver when it sleeps (the emulator's API
latency, botocore's retry back-off, a batching window) or parks (an idle poller waiting for messages). The
driver then runs whatever is due next: a timer (an arrival, an agent hanging up) or another actor. Time
moves only between steps, so two workers really interleave between their API calls (the races a real
deployment has), a run is reproducible, and 20 minutes of a burst take seconds.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


class Shutdown(BaseException):
    """Raised in a parked or sleeping actor when the simulation stops (unwinds its thread)."""


class DeadlineExceeded(BaseException):
    """An actor slept past its deadline (a Lambda invocation killed by its timeout).

    A ``BaseException``, like the SIGKILL it stands for: nothing in the router or in Powertools catches it,
    so no cleanup runs (an idempotency record stays in progress, the batch is not acknowledged).
    """


@dataclass(eq=False)
class Actor:
    """One simulated thread of work (a Lambda worker). ``deadline``: epoch seconds, or None."""

    name: str
    body: Callable[[], None]
    deadline: float | None = None
    done: bool = False
    started: bool = False
    _go: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0), repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)


_TIMER, _RESUME = 0, 1


class VirtualClock:
    """A discrete-event scheduler with a virtual clock (epoch seconds) and cooperative actors."""

    def __init__(self, start: float) -> None:
        self._now = float(start)
        self.start = float(start)
        self._heap: list[tuple[float, int, int, object]] = []
        self._sequence = itertools.count()
        self._back = threading.Semaphore(0)
        self._local = threading.local()
        self._parked: dict[str, list[Actor]] = {}
        self._actors: list[Actor] = []
        self._failure: BaseException | None = None
        self._stopping = False
        self.steps = 0

    # ------------------------------------------------------------------------------------- time
    def now(self) -> float:
        return self._now

    def elapsed(self) -> float:
        return self._now - self.start

    # ----------------------------------------------------------------------------------- timers
    def call_at(self, when: float, action: Callable[[], None]) -> None:
        """Run ``action`` in the driver at virtual time ``when`` (now if it is past)."""
        heapq.heappush(self._heap, (max(when, self._now), next(self._sequence), _TIMER, action))

    def call_later(self, delay: float, action: Callable[[], None]) -> None:
        self.call_at(self._now + max(0.0, delay), action)

    # ----------------------------------------------------------------------------------- actors
    def spawn(self, name: str, body: Callable[[], None], at: float | None = None) -> Actor:
        actor = Actor(name, body)
        self._actors.append(actor)
        self._push_resume(actor, self._now if at is None else at)
        return actor

    def current(self) -> Actor | None:
        """The actor running on this thread (None in the driver)."""
        actor: Actor | None = getattr(self._local, "actor", None)
        return actor

    def sleep(self, seconds: float) -> None:
        """Sleep in virtual time; only actors sleep. Past the actor's deadline: DeadlineExceeded at it."""
        actor = self._require_actor()
        wake = self._now + max(0.0, float(seconds))
        if actor.deadline is not None and wake > actor.deadline:
            self._push_resume(actor, max(actor.deadline, self._now))
            self._yield(actor)
            raise DeadlineExceeded(f"{actor.name}: deadline passed while sleeping {seconds:.3f} s")
        self._push_resume(actor, wake)
        self._yield(actor)

    def park(self, channel: str) -> None:
        """Wait (without a deadline) until someone calls ``notify(channel)``."""
        actor = self._require_actor()
        self._parked.setdefault(channel, []).append(actor)
        self._yield(actor)

    def notify(self, channel: str) -> None:
        """Wake every actor parked on ``channel`` (they run now, in the order they parked)."""
        for actor in self._parked.pop(channel, []):
            self._push_resume(actor, self._now)

    def parked(self, channel: str) -> int:
        return len(self._parked.get(channel, []))

    # ----------------------------------------------------------------------------------- driver
    def run(self, *, stop: Callable[[], bool] | None = None, on_step: Callable[[], None] | None = None) -> None:
        """Run timers and actors in time order until nothing is due or ``stop()`` says so."""
        if self.current() is not None:
            raise RuntimeError("run() is for the driver thread, not an actor")
        while self._heap:
            when, _, kind, target = heapq.heappop(self._heap)
            self._now = max(self._now, when)
            self.steps += 1
            if kind == _TIMER:
                action: Callable[[], None] = target  # type: ignore[assignment]
                action()
            else:
                self._resume(target)  # type: ignore[arg-type]
            if on_step is not None:
                on_step()
            if stop is not None and stop():
                break

    def close(self) -> None:
        """Unwind every actor thread still parked or sleeping (their next wake-up raises Shutdown)."""
        self._stopping = True
        for actor in self._actors:
            if actor.started and not actor.done:
                actor._go.release()
                self._back.acquire()
        for actor in self._actors:
            if actor._thread is not None:
                actor._thread.join(timeout=5)

    # --------------------------------------------------------------------------------- internals
    def _push_resume(self, actor: Actor, when: float) -> None:
        heapq.heappush(self._heap, (max(when, self._now), next(self._sequence), _RESUME, actor))

    def _require_actor(self) -> Actor:
        actor = self.current()
        if actor is None:
            raise RuntimeError("only a simulated actor can sleep or park in virtual time (this is the driver)")
        return actor

    def _resume(self, actor: Actor) -> None:
        if actor.done:
            return
        if not actor.started:
            actor.started = True
            actor._thread = threading.Thread(target=self._main, args=(actor,), name=actor.name, daemon=True)
            actor._thread.start()
        actor._go.release()
        self._back.acquire()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _yield(self, actor: Actor) -> None:
        self._back.release()
        actor._go.acquire()
        if self._stopping:
            raise Shutdown(actor.name)

    def _main(self, actor: Actor) -> None:
        self._local.actor = actor
        actor._go.acquire()
        try:
            if not self._stopping:
                actor.body()
        except Shutdown:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the driver, which re-raises it
            self._failure = exc
        finally:
            actor.done = True
            self._back.release()
