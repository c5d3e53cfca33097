"""Figures of a simulation run: throughput against the quota, latency against the ideal, calls per contact."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from contact_router_cli.simulate.pipeline import SimulationResult


@dataclass(frozen=True)
class Throughput:
    associations: int
    seconds: float  # from the first event to the last association
    per_second: float
    quota: float | None
    efficiency: float | None  # per_second / quota


@dataclass(frozen=True)
class Latency:
    samples: int
    p50: float
    p99: float
    ideal: float


def throughput(result: SimulationResult) -> Throughput:
    times = sorted(a.time for a in result.associations)
    if not times:
        return Throughput(0, 0.0, 0.0, result.quota, 0.0 if result.quota else None)
    seconds = max(times[-1] - result.first_event_at, 1e-9)
    rate = len(times) / seconds
    return Throughput(len(times), seconds, rate, result.quota, rate / result.quota if result.quota else None)


def latency(result: SimulationResult) -> Latency:
    """From a contact's first QUEUED event reaching the queue to its association."""
    sent = result.first_sent
    samples = sorted(a.time - sent[a.contact_id] for a in result.associations if a.contact_id in sent)
    return Latency(len(samples), percentile(samples, 50), percentile(samples, 99), result.ideal_seconds)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def calls_by_operation(result: SimulationResult) -> dict[str, Counter[str]]:
    """Per operation: requests by result (ok, throttled, 5xx, 4xx)."""
    table: dict[str, Counter[str]] = {}
    for call in result.calls:
        counts = table.setdefault(call.operation, Counter())
        counts["requests"] += 1
        if call.status == 200:
            counts["ok"] += 1
        elif call.error_code == "ThrottlingException":
            counts["throttled"] += 1
        elif call.status >= 500:
            counts["5xx"] += 1
        else:
            counts["4xx"] += 1
    return table


def successful_calls_per_association(result: SimulationResult) -> dict[str, float]:
    """Successful requests per associated contact, by operation (what a contact costs of each quota)."""
    associated = len(result.associations) or 1
    counts = Counter(call.operation for call in result.calls if call.status == 200)
    return {operation: count / associated for operation, count in sorted(counts.items())}


def cumulative(times: Sequence[float], start: float, step: float, end: float) -> list[tuple[float, int]]:
    """(seconds since start, how many of ``times`` happened by then), every ``step`` seconds."""
    ordered = sorted(times)
    out: list[tuple[float, int]] = []
    index = 0
    t = 0.0
    while t <= end - start + step:
        while index < len(ordered) and ordered[index] - start <= t:
            index += 1
        out.append((t, index))
        t += step
    return out
