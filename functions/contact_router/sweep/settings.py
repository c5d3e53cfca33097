"""The sweep's settings: one validated object read from the environment at the entry point.

The sweep function has its own environment (template.yaml wires it): CONNECT_INSTANCE_ARN, SWEEP_QUEUE_IDS,
SWEEP_MIN_WAIT_SECONDS and ROUTER_QUEUE_URL. Nothing else in the sweep reads ``os.environ``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from contact_router.config import parse_instance_arn
from contact_router.errors import ConfigurationError

# The schedule's period (template.yaml: rate(5 minutes)). Each sweep covers the contacts whose wait crossed
# the threshold during the last period, so this must equal the schedule's rate.
SWEEP_INTERVAL_SECONDS = 300
DEFAULT_MIN_WAIT_SECONDS = 120
MIN_WAIT_BOUNDS = (60, 3600)  # as template.yaml's SweepMinWaitSeconds allows
MAX_QUEUE_IDS = 100  # SearchContacts SearchCriteria.QueueIds: at most 100
QUEUE_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,100}$")


@dataclass(frozen=True)
class SweepSettings:
    instance_arn: str
    instance_id: str
    region: str
    account: str
    queue_ids: tuple[str, ...]
    router_queue_url: str
    min_wait_seconds: int = DEFAULT_MIN_WAIT_SECONDS
    interval_seconds: int = SWEEP_INTERVAL_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SweepSettings:
        """Read and validate the sweep's variables; report every problem at once."""
        problems: list[str] = []

        instance = parse_instance_arn(env, problems)

        queue_ids = tuple(dict.fromkeys(q.strip() for q in env.get("SWEEP_QUEUE_IDS", "").split(",") if q.strip()))
        if not queue_ids:
            problems.append("SWEEP_QUEUE_IDS must list at least one queue id (comma-separated)")
        elif len(queue_ids) > MAX_QUEUE_IDS:
            problems.append(f"SWEEP_QUEUE_IDS lists {len(queue_ids)} queues; SearchContacts takes at most 100")
        malformed = [q for q in queue_ids if not QUEUE_ID_RE.match(q)]
        if malformed:
            problems.append(f"SWEEP_QUEUE_IDS must hold queue ids (not ARNs or names), got {malformed}")

        min_wait = DEFAULT_MIN_WAIT_SECONDS
        raw_wait = env.get("SWEEP_MIN_WAIT_SECONDS", "").strip()
        if raw_wait:
            try:
                min_wait = int(raw_wait)
            except ValueError:
                problems.append(f"SWEEP_MIN_WAIT_SECONDS must be a whole number, got {raw_wait!r}")
            else:
                low, high = MIN_WAIT_BOUNDS
                if not low <= min_wait <= high:
                    problems.append(f"SWEEP_MIN_WAIT_SECONDS must be between {low} and {high}, got {min_wait}")

        router_queue_url = env.get("ROUTER_QUEUE_URL", "").strip()
        if not router_queue_url:
            problems.append("ROUTER_QUEUE_URL is required: the sweep sends what it finds to the router's queue")

        if problems or instance is None:
            raise ConfigurationError(problems)
        return cls(
            instance_arn=instance.arn,
            instance_id=instance.instance_id,
            region=instance.region,
            account=instance.account,
            queue_ids=queue_ids,
            router_queue_url=router_queue_url,
            min_wait_seconds=min_wait,
        )
