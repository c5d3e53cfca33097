"""Client-side pacing of Connect calls: quota / concurrency, evenly spaced, on any clock."""

from __future__ import annotations

import pytest

from contact_router.adapters.pacing import Pacer
from contact_router.config import Settings, parse_quotas
from contact_router.errors import ConfigurationError
from tests.fakes import INSTANCE_ARN, Clock


def test_quotas_and_each_executions_share() -> None:
    settings = Settings.from_env(
        {
            "CONNECT_INSTANCE_ARN": INSTANCE_ARN,
            "CONNECT_API_QUOTAS": "AssociateContactWithUser=2, GetCurrentUserData=2",
            "MAX_CONCURRENCY": "4",
        }
    )
    assert settings.pacing_rates == {"AssociateContactWithUser": 0.5, "GetCurrentUserData": 0.5}
    assert Settings.from_env({"CONNECT_INSTANCE_ARN": INSTANCE_ARN}).pacing_rates == {}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Associate=2", "expected Operation=rate"),
        ("DescribeContact=fast", "must be a number"),
        ("SearchUsers=0", "above 0"),
    ],
)
def test_bad_quota_strings_are_configuration_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_quotas(text)
    with pytest.raises(ConfigurationError) as err:
        Settings.from_env({"CONNECT_INSTANCE_ARN": INSTANCE_ARN, "CONNECT_API_QUOTAS": text})
    assert err.value.problems[0].startswith("CONNECT_API_QUOTAS: ")


def test_calls_are_spaced_at_the_rate_and_idle_time_is_not_banked() -> None:
    clock = Clock(0.0)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    pacer = Pacer({"AssociateContactWithUser": 1.0}, clock=clock, sleep=sleep)  # 2/s shared by 2 executions
    for _ in range(5):
        pacer.acquire("AssociateContactWithUser")
    # its share of the burst (2.5 calls) at once, then one call per second
    assert slept == [0.5, 1.0, 1.0], slept
    clock.advance(60)  # a quiet minute refills the share of the burst, never more
    for _ in range(4):
        pacer.acquire("AssociateContactWithUser")
    assert slept[-2:] == [0.5, 1.0]
    pacer.acquire("DescribeContact")  # not paced
    assert len(slept) == 5
    assert pacer.waited == 4.0
