"""State over time: changes scheduled at a number of seconds after the emulator starts.

Entries come from the world file's `timeline:` section or from `ConnectEmulator.schedule`. They are
applied lazily, in time order, whenever the emulator is used (each request, each Python API call) and
its clock has passed their time; each change is made at its own due time (the state's clock is pinned
to it), so timestamps are those of the schedule, not of the moment the emulator noticed.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connect_emulator.errors import EmulatorStateError
from connect_emulator.state import InstanceState
from connect_emulator.world import TimelineEntry

logger = logging.getLogger(__name__)

# A Python action gets the emulator (typed loosely to keep this module free of the emulator import).
Action = Callable[[Any], object]


@dataclass(frozen=True)
class TimelineRecord:
    """One applied timeline entry: when it was due, what it did, and the error if it could not."""

    at: float  # seconds after the emulator's start
    time: float  # the epoch time it was applied at (its due time)
    description: str
    error: str | None = None


@dataclass(order=True)
class _Pending:
    due: float
    sequence: int
    at: float = field(compare=False)
    description: str = field(compare=False)
    entry: TimelineEntry | None = field(compare=False, default=None)
    action: Action | None = field(compare=False, default=None)


class Timeline:
    """Pending entries in due order; not thread-safe by itself (the emulator's lock guards it)."""

    def __init__(self, started_at: float) -> None:
        self.started_at = started_at
        self._pending: list[_Pending] = []
        self._sequence = itertools.count()
        self.records: list[TimelineRecord] = []

    def add_entry(self, entry: TimelineEntry, *, not_before: float | None = None) -> None:
        self._push(entry.at, entry.describe(), not_before, entry=entry)

    def add_action(self, at: float, action: Action, description: str, *, not_before: float | None = None) -> None:
        self._push(at, description, not_before, action=action)

    def _push(self, at: float, description: str, not_before: float | None, **what: Any) -> None:
        due = self.started_at + at
        if not_before is not None:
            due = max(due, not_before)  # scheduled late: happens now, not in the past
        heapq.heappush(self._pending, _Pending(due, next(self._sequence), at, description, **what))

    @property
    def pending(self) -> list[tuple[float, str]]:
        """(seconds after start, description) of every entry not applied yet, in due order."""
        return [(item.at, item.description) for item in sorted(self._pending)]

    def apply_due(self, now: float, state: InstanceState, emulator: Any) -> list[TimelineRecord]:
        """Apply every entry due at or before `now`, each at its own due time."""
        applied = []
        while self._pending and self._pending[0].due <= now:
            item = heapq.heappop(self._pending)
            error = None
            with state.pinned(item.due):
                try:
                    if item.entry is not None:
                        _apply(item.entry, state)
                    elif item.action is not None:
                        item.action(emulator)
                except EmulatorStateError as exc:
                    error = str(exc)
                    logger.warning("connect emulator timeline entry failed at=%s: %s", item.at, error)
            record = TimelineRecord(item.at, item.due, item.description, error)
            self.records.append(record)
            applied.append(record)
        return applied


def _apply(entry: TimelineEntry, state: InstanceState) -> None:
    if entry.user_id is not None:
        user = state.require_user(entry.user_id)
        if entry.status is not None:
            state.set_status(user, entry.status)
        for channel, slots in (entry.busy or {}).items():
            user.busy[channel] = slots
        return
    contact = state.require_contact(str(entry.contact_id))
    if entry.disconnect:
        state.disconnect(contact)
    else:
        state.connect(contact, state.require_user(str(entry.connect_to)))
