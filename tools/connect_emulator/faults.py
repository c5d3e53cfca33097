"""Fault injection: per-operation rate quotas (token buckets), error rates, forced errors and latency.

Connect throttles each API separately per account and Region with a token bucket (steady rate, burst).
The emulator keeps one bucket per operation. Time comes from an injectable clock and delays go through
an injectable sleep, so simulations can run on a virtual clock; randomness comes from a seeded
`random.Random`, so a run with the same seed injects the same faults.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from connect_emulator.errors import ServiceError

ANY_OPERATION = "*"
THROTTLING = "ThrottlingException"


@dataclass(frozen=True)
class RateQuota:
    """A token bucket: `rate` requests per second in the steady state, up to `burst` at once."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"a rate quota needs rate > 0 and burst >= 1, got rate={self.rate} burst={self.burst}")

    def scaled(self, factor: float) -> RateQuota:
        return RateQuota(self.rate * factor, max(1, round(self.burst * factor)))


@dataclass(frozen=True)
class Latency:
    """Added latency in seconds: fixed (`low == high`) or uniform between `low` and `high`."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if self.low < 0 or self.high < self.low:
            raise ValueError(f"latency needs 0 <= low <= high, got low={self.low} high={self.high}")


# Defaults from docs/emulator.md and the project's Connect reference: historic default 2/s burst 5 for
# most operations; DescribeContact 10/s burst 15 (secondary sources). Bursts marked "guess" are not
# published anywhere we could check.
DOCUMENTED_QUOTAS: Mapping[str, RateQuota] = {
    ANY_OPERATION: RateQuota(2, 5),
    "DescribeContact": RateQuota(10, 15),
    "GetContactAttributes": RateQuota(10, 15),  # rate reported; burst a guess
    "UpdateContactRoutingData": RateQuota(20, 25),  # rate reported; burst a guess
    "GetCurrentUserData": RateQuota(2, 5),  # reported 2-5/s: the lower bound
    "MonitorContact": RateQuota(2, 5),
    "SearchUsers": RateQuota(2, 5),
    "AssociateContactWithUser": RateQuota(2, 5),  # not published: assumed like most operations
}


def documented_quotas(scale: float = 1.0) -> dict[str, RateQuota]:
    """The documented default quotas (`"*"` = every other operation), scaled by `scale`."""
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return {operation: quota.scaled(scale) for operation, quota in DOCUMENTED_QUOTAS.items()}


@dataclass(frozen=True)
class FaultsSpec:
    """Fault settings as read from the world file's `faults:` section."""

    documented_quotas: float | None = None
    rate_quotas: Mapping[str, RateQuota] | None = None
    error_rates: Mapping[str, Mapping[str, float]] | None = None
    latency: Mapping[str, Latency] | None = None


class TokenBucket:
    def __init__(self, quota: RateQuota, now: float) -> None:
        self.quota = quota
        self.tokens = float(quota.burst)
        self.updated = now

    def try_take(self, now: float) -> bool:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.quota.burst), self.tokens + elapsed * self.quota.rate)
        self.updated = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class Faults:
    """The fault settings of one emulator; every setter can be called at runtime, from any thread.

    Operation names are Connect operation names, or `"*"` for every operation without its own setting.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        rng: random.Random,
        operations: Collection[str] = (),
        error_codes: Collection[str] = (),
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._operations = frozenset(operations)
        self._error_codes = frozenset(error_codes)
        self._lock = threading.RLock()
        self._quotas: dict[str, RateQuota] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._error_rates: dict[str, dict[str, float]] = {}
        self._forced: dict[str, deque[str]] = {}
        self._latency: dict[str, Latency] = {}

    # ------------------------------------------------------------ settings

    def set_rate_quota(self, operation: str, rate: float | None, burst: int | None = None) -> None:
        """Throttle `operation` with a token bucket (full at first); `rate=None` removes the quota."""
        self._check_operation(operation)
        with self._lock:
            self._drop_buckets(operation)
            if rate is None:
                self._quotas.pop(operation, None)
                return
            self._quotas[operation] = RateQuota(rate, burst if burst is not None else max(1, round(rate)))

    def use_documented_quotas(self, scale: float = 1.0) -> None:
        """Replace every rate quota by the documented defaults, scaled (0.5 = half the real rates)."""
        with self._lock:
            self._quotas = documented_quotas(scale)
            self._buckets.clear()

    def set_error_rate(self, operation: str, error_code: str, rate: float) -> None:
        """Fail a fraction `rate` (0-1) of `operation`'s calls with `error_code`; 0 removes it."""
        self._check_operation(operation)
        self._check_error_code(error_code)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"error rate must be between 0 and 1, got {rate}")
        with self._lock:
            rates = {**self._error_rates.get(operation, {}), error_code: rate}
            if rate == 0:
                del rates[error_code]
            if sum(rates.values()) > 1.0:
                raise ValueError(f"error rates of {operation} add up to more than 1: {rates}")
            self._error_rates[operation] = rates

    def fail_next(self, operation: str, error_code: str, times: int = 1) -> None:
        """Fail the next `times` calls of `operation` (after throttling) with `error_code`."""
        self._check_operation(operation)
        self._check_error_code(error_code)
        with self._lock:
            self._forced.setdefault(operation, deque()).extend([error_code] * times)

    def set_latency(self, operation: str, seconds: float | tuple[float, float]) -> None:
        """Add latency to every call of `operation`: fixed seconds or a (low, high) uniform range."""
        self._check_operation(operation)
        low, high = seconds if isinstance(seconds, tuple) else (seconds, seconds)
        with self._lock:
            if high == 0:
                self._latency.pop(operation, None)
            else:
                self._latency[operation] = Latency(low, high)

    def clear(self) -> None:
        """Remove every fault: no quotas, no errors, no latency."""
        with self._lock:
            self._quotas.clear()
            self._buckets.clear()
            self._error_rates.clear()
            self._forced.clear()
            self._latency.clear()

    def apply(self, spec: FaultsSpec) -> None:
        """Apply the world file's `faults:` section on top of the current settings."""
        if spec.documented_quotas is not None:
            self.use_documented_quotas(spec.documented_quotas)
        for operation, quota in (spec.rate_quotas or {}).items():
            self.set_rate_quota(operation, quota.rate, quota.burst)
        for operation, rates in (spec.error_rates or {}).items():
            for code, rate in rates.items():
                self.set_error_rate(operation, code, rate)
        for operation, latency in (spec.latency or {}).items():
            self.set_latency(operation, (latency.low, latency.high))

    # ------------------------------------------------------------ queries

    def rate_quota(self, operation: str) -> RateQuota | None:
        with self._lock:
            return self._quotas.get(operation, self._quotas.get(ANY_OPERATION))

    def tokens(self, operation: str) -> float | None:
        """Tokens left in `operation`'s bucket now (None when it has no quota)."""
        with self._lock:
            bucket = self._bucket(operation)
            if bucket is None:
                return None
            elapsed = max(0.0, self._clock() - bucket.updated)
            return min(float(bucket.quota.burst), bucket.tokens + elapsed * bucket.quota.rate)

    # ------------------------------------------------------------ the pipeline step

    def before_call(self, operation: str) -> None:
        """Sleep the added latency, then raise ThrottlingException or an injected error if due."""
        delay = self._draw_latency(operation)
        if delay > 0:
            self._sleep(delay)
        with self._lock:
            bucket = self._bucket(operation)
            if bucket is not None and not bucket.try_take(self._clock()):
                raise ServiceError(THROTTLING, "Rate exceeded")
            code = self._draw_error(operation)
        if code is not None:
            raise ServiceError(code, f"Fault injected by connect_emulator for {operation}")

    def _bucket(self, operation: str) -> TokenBucket | None:
        bucket = self._buckets.get(operation)
        if bucket is None:
            quota = self._quotas.get(operation, self._quotas.get(ANY_OPERATION))
            if quota is None:
                return None
            bucket = self._buckets[operation] = TokenBucket(quota, self._clock())
        return bucket

    def _drop_buckets(self, operation: str) -> None:
        if operation == ANY_OPERATION:
            self._buckets.clear()
        else:
            self._buckets.pop(operation, None)

    def _draw_latency(self, operation: str) -> float:
        with self._lock:
            latency = self._latency.get(operation, self._latency.get(ANY_OPERATION))
            if latency is None:
                return 0.0
            if latency.low == latency.high:
                return latency.low
            return self._rng.uniform(latency.low, latency.high)

    def _draw_error(self, operation: str) -> str | None:
        forced = self._forced.get(operation) or self._forced.get(ANY_OPERATION)
        if forced:
            return forced.popleft()
        rates = self._error_rates.get(operation, self._error_rates.get(ANY_OPERATION))
        if not rates:
            return None
        draw = self._rng.random()
        for code, rate in rates.items():
            if draw < rate:
                return code
            draw -= rate
        return None

    def _check_operation(self, operation: str) -> None:
        if self._operations and operation != ANY_OPERATION and operation not in self._operations:
            raise ValueError(f"unknown Connect operation {operation!r}")

    def _check_error_code(self, error_code: str) -> None:
        if self._error_codes and error_code not in self._error_codes:
            raise ValueError(f"unknown Connect error code {error_code!r}")
