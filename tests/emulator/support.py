"""Shared constants and helpers for the Connect emulator tests (imported by the test modules)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

SAMPLE_WORLD = Path(__file__).resolve().parent / "world.yaml"  # frozen copy; see its header
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z

# Entries of tests/emulator/world.yaml the tests lean on.
INSTANCE_ID = "11111111-2222-4333-8444-555555555555"
SUPPORT_QUEUE = "22222222-0000-4000-8000-000000000001"
BILLING_QUEUE = "22222222-0000-4000-8000-000000000003"
GENERALISTS = "55555555-0000-4000-8000-000000000001"
BACK_OFFICE = "55555555-0000-4000-8000-000000000002"
DANA, SAM, TARIQ, LEE, MO, NINA, OMAR, LEAD_ONE, LEAD_TWO = (
    f"33333333-0000-4000-8000-00000000000{n}" for n in range(1, 10)
)
SUPERVISORS = "55555555-0000-4000-8000-000000000003"
NEW_HIRES = "66666666-0000-4000-8000-000000000001"
QUEUED_CHAT = "44444444-0000-4000-8000-000000000001"
QUEUED_EMAIL = "44444444-0000-4000-8000-000000000002"
CONNECTED_CHAT = "44444444-0000-4000-8000-000000000004"
DISCONNECTED_CHAT = "44444444-0000-4000-8000-000000000009"
HANDLED_CHAT = "44444444-0000-4000-8000-000000000010"
QUEUED_VOICE = "44444444-0000-4000-8000-000000000008"
FOLLOW_UP_TASK = "44444444-0000-4000-8000-000000000006"
QUEUED_TASK = "44444444-0000-4000-8000-000000000003"
QUEUED_VIP_CHAT = "44444444-0000-4000-8000-000000000005"
# Supervision: contacts connected to agents, and lead.two's two monitoring legs (the limit is 2).
VIP_VOICE = "44444444-0000-4000-8000-000000000021"  # sam
NINA_CHAT, NINA_OTHER_CHAT = "44444444-0000-4000-8000-000000000022", "44444444-0000-4000-8000-000000000023"
OMAR_VOICE, OMAR_CHAT = "44444444-0000-4000-8000-000000000024", "44444444-0000-4000-8000-000000000025"
LEG_ON_OMAR_VOICE, LEG_ON_OMAR_CHAT = "44444444-0000-4000-8000-000000000026", "44444444-0000-4000-8000-000000000027"

ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


class VirtualClock:
    """A clock for the emulator: `sleep` advances it instantly."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def client_error(call: Callable[..., Any], **params: Any) -> tuple[str, int, str]:
    """Call and expect a ClientError: (error code, HTTP status, message)."""
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def sample_world_dict() -> dict[str, Any]:
    """A fresh, editable copy of the emulator tests' world (tests/emulator/world.yaml) as plain data."""
    loaded: dict[str, Any] = yaml.safe_load(SAMPLE_WORLD.read_text(encoding="utf-8"))
    return loaded
