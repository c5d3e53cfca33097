"""Fixtures for the Connect emulator tests: the sample world, a virtual clock, an emulator and a client."""

from __future__ import annotations

from typing import Any

import pytest

from connect_emulator import ConnectEmulator, World
from tests.emulator.support import ONE_ATTEMPT, SAMPLE_WORLD, VirtualClock


@pytest.fixture(scope="session")
def sample_world() -> World:
    return World.from_file(SAMPLE_WORLD)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def emulator(sample_world: World, clock: VirtualClock) -> ConnectEmulator:
    return ConnectEmulator(sample_world, clock=clock, sleep=clock.sleep, seed=7)


@pytest.fixture
def client(emulator: ConnectEmulator) -> Any:
    """A real boto3 client answered in process by the emulator; one attempt, so errors surface as is."""
    return emulator.client(config=ONE_ATTEMPT)
