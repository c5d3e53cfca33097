"""boto3 clients with explicit timeouts and retry configuration, created once per execution environment."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# Explicit, because botocore's default retry mode changed between versions (legacy 5 / standard 3).
# Throttles that survive these attempts give the SQS record back; SQS redelivers after the visibility
# timeout instead of the function sleeping.
CONNECT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    user_agent_appid="contact-router",
)
DEFAULT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    user_agent_appid="contact-router",
)


def client(service: str, region: str | None = None, config: Config | None = None) -> Any:
    """A boto3 client; honours AWS_ENDPOINT_URL_<SERVICE> (e.g. the local Connect emulator)."""
    return boto3.client(service, region_name=region, config=config or DEFAULT_CONFIG)
