"""Fault injection: token-bucket quotas on a virtual clock, retries through the hook, errors, latency."""

from __future__ import annotations

import contextlib
import random
import threading
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest

from connect_emulator import ConnectEmulator, Faults, RateQuota, ServiceError, World, documented_quotas
from connect_emulator.faults import TokenBucket
from tests.emulator.support import DANA, INSTANCE_ID, QUEUED_CHAT, VirtualClock, client_error, sample_world_dict


def _describe(client: Any) -> Any:
    return client.describe_contact(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)


def test_token_bucket_allows_the_burst_then_refills_at_the_rate() -> None:
    # GIVEN a bucket of 2 requests/s with a burst of 5
    bucket = TokenBucket(RateQuota(2, 5), now=0.0)

    # WHEN six requests arrive at once, then one 0.4 s and one 0.5 s later
    immediate = [bucket.try_take(0.0) for _ in range(6)]

    # THEN five pass and the sixth is throttled; half a second buys one more token
    assert immediate == [True] * 5 + [False]
    assert bucket.try_take(0.4) is False
    assert bucket.try_take(0.5) is True


def test_sixth_immediate_call_is_throttled_with_429(emulator: ConnectEmulator, client: Any, clock: Any) -> None:
    # GIVEN DescribeContact limited to 2/s, burst 5, and a client making a single attempt
    emulator.faults.set_rate_quota("DescribeContact", 2, 5)

    # WHEN six calls are made at the same virtual instant
    for _ in range(5):
        _describe(client)
    code, status, message = client_error(client.describe_contact, InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)

    # THEN the sixth is throttled the way Connect throttles
    assert (code, status) == ("ThrottlingException", 429)
    assert message == "Rate exceeded"
    # AND after half a second of virtual time one more call passes
    clock.advance(0.5)
    _describe(client)
    assert [c.error_code for c in emulator.calls] == [None] * 5 + ["ThrottlingException", None]


def test_quotas_are_per_operation(emulator: ConnectEmulator, client: Any) -> None:
    # GIVEN every operation limited to a burst of 1 through the "*" quota
    emulator.faults.set_rate_quota("*", 1, 1)

    # WHEN two different operations are called once each
    _describe(client)
    client.describe_user(InstanceId=INSTANCE_ID, UserId=DANA)

    # THEN neither is throttled: each operation has its own bucket, as in Connect
    assert emulator.call_counts() == {"DescribeContact": 1, "DescribeUser": 1}


def test_botocore_retries_a_throttled_call_through_the_hook(
    emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the next call is throttled, and a client allowed three attempts (botocore's backoff recorded)
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=slept.append))
    emulator.faults.fail_next("DescribeContact", "ThrottlingException")
    client = emulator.client()

    # WHEN the contact is described once
    response = _describe(client)

    # THEN botocore retried by itself: two requests reached the emulator, the second succeeded
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert emulator.call_counts()["DescribeContact"] == 2
    assert [c.status for c in emulator.calls] == [429, 200]
    assert len(slept) == 1


def test_botocore_gives_up_after_its_attempts(emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a bucket that stays empty on the virtual clock, and a client allowed three attempts
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _: None))
    emulator.faults.set_rate_quota("DescribeContact", 1, 1)
    client = emulator.client()
    _describe(client)

    # WHEN the contact is described again
    code, status, _ = client_error(client.describe_contact, InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)

    # THEN three attempts were throttled before the client saw the error
    assert (code, status) == ("ThrottlingException", 429)
    assert emulator.call_counts()["DescribeContact"] == 4


def test_error_rates_are_reproducible_with_a_seed(sample_world: World) -> None:
    # GIVEN two emulators with the same seed and a 30% InternalServiceException rate
    def outcomes(seed: int) -> list[str | None]:
        emulator = ConnectEmulator(sample_world, clock=VirtualClock(), seed=seed)
        emulator.faults.set_error_rate("DescribeContact", "InternalServiceException", 0.3)
        client = emulator.client(config=botocore.config.Config(retries={"total_max_attempts": 1}))
        for _ in range(40):
            with contextlib.suppress(client.exceptions.InternalServiceException):
                _describe(client)
        return [c.error_code for c in emulator.calls]

    # WHEN both make the same calls
    first, second, other = outcomes(3), outcomes(3), outcomes(4)

    # THEN they fail on the same calls, at roughly the configured rate; another seed differs
    assert first == second
    assert first != other
    assert 4 <= first.count("InternalServiceException") <= 20
    assert set(first) == {None, "InternalServiceException"}


def test_injected_error_has_the_modeled_status(emulator: ConnectEmulator, client: Any) -> None:
    # GIVEN the next association fails with an internal error
    emulator.faults.fail_next("AssociateContactWithUser", "InternalServiceException")

    # WHEN a contact is associated
    code, status, _ = client_error(
        client.associate_contact_with_user, InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA
    )

    # THEN the client sees a 500 and nothing was associated
    assert (code, status) == ("InternalServiceException", 500)
    assert emulator.contact(QUEUED_CHAT).state == "QUEUED"


def test_latency_goes_through_the_injected_sleep(emulator: ConnectEmulator, client: Any, clock: Any) -> None:
    # GIVEN 0.25 s of latency on DescribeContact and a jittered range on every other operation
    emulator.faults.set_latency("DescribeContact", 0.25)
    emulator.faults.set_latency("*", (0.1, 0.2))

    # WHEN each is called
    _describe(client)
    client.describe_user(InstanceId=INSTANCE_ID, UserId=DANA)

    # THEN the virtual clock slept those delays
    assert clock.slept[0] == 0.25
    assert 0.1 <= clock.slept[1] <= 0.2


def test_documented_quotas_and_scale() -> None:
    # GIVEN the documented defaults
    quotas = documented_quotas()
    half = documented_quotas(scale=0.5)

    # THEN most operations get 2/s burst 5 and DescribeContact 10/s burst 15; a scale applies to both
    assert quotas["*"] == RateQuota(2, 5)
    assert quotas["DescribeContact"] == RateQuota(10, 15)
    assert half["DescribeContact"] == RateQuota(5, 8)


def test_documented_quotas_throttle_through_the_emulator(emulator: ConnectEmulator, client: Any) -> None:
    # GIVEN the documented defaults switched on at runtime
    emulator.faults.use_documented_quotas()

    # WHEN 16 DescribeContact and 6 DescribeUser calls arrive at once
    for _ in range(15):
        _describe(client)
    describe_code, _, _ = client_error(client.describe_contact, InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)
    for _ in range(5):
        client.describe_user(InstanceId=INSTANCE_ID, UserId=DANA)
    user_code, _, _ = client_error(client.describe_user, InstanceId=INSTANCE_ID, UserId=DANA)

    # THEN each is throttled right after its burst
    assert describe_code == user_code == "ThrottlingException"


def test_world_file_faults_section_is_applied() -> None:
    # GIVEN a world whose faults section sets a quota, an error rate and latency
    data = sample_world_dict()
    data["faults"] = {
        "rate_quotas": {"DescribeContact": {"rate": 1, "burst": 2}},
        "error_rates": {"SearchUsers": {"ThrottlingException": 1.0}},
        "latency": {"SearchUsers": 0.5},
    }
    clock = VirtualClock()
    emulator = ConnectEmulator(World.from_dict(data), clock=clock, sleep=clock.sleep)
    client = emulator.client(config=botocore.config.Config(retries={"total_max_attempts": 1}))

    # WHEN calls are made
    _describe(client)
    _describe(client)
    throttled, _, _ = client_error(client.describe_contact, InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)
    failed, _, _ = client_error(client.search_users, InstanceId=INSTANCE_ID)

    # THEN each fault shows
    assert throttled == failed == "ThrottlingException"
    assert clock.slept == [0.5]
    assert emulator.faults.rate_quota("DescribeContact") == RateQuota(1, 2)


def test_faults_reject_unknown_operations_and_codes(emulator: ConnectEmulator) -> None:
    with pytest.raises(ValueError, match="DescribeContacts"):
        emulator.faults.set_rate_quota("DescribeContacts", 1, 1)
    with pytest.raises(ValueError, match="Throttled"):
        emulator.faults.set_error_rate("DescribeContact", "Throttled", 0.1)
    emulator.faults.set_error_rate("DescribeContact", "ThrottlingException", 0.6)
    with pytest.raises(ValueError, match="more than 1"):
        emulator.faults.set_error_rate("DescribeContact", "InternalServiceException", 0.6)


def test_clear_removes_every_fault(emulator: ConnectEmulator, client: Any) -> None:
    # GIVEN a quota that is exhausted
    emulator.faults.set_rate_quota("DescribeContact", 1, 1)
    _describe(client)

    # WHEN the faults are cleared
    emulator.faults.clear()

    # THEN calls pass again
    _describe(client)
    assert emulator.faults.tokens("DescribeContact") is None


def test_concurrent_callers_share_one_bucket(sample_world: World) -> None:
    # GIVEN a frozen virtual clock, a burst of 20 and 8 threads calling 10 times each
    clock = VirtualClock()
    emulator = ConnectEmulator(sample_world, clock=clock, sleep=clock.sleep)
    emulator.faults.set_rate_quota("DescribeContact", 1, 20)
    clients = [emulator.client(config=botocore.config.Config(retries={"total_max_attempts": 1})) for _ in range(8)]

    def worker(client: Any) -> None:
        for _ in range(10):
            with contextlib.suppress(client.exceptions.ThrottlingException):
                _describe(client)

    # WHEN they all run at once
    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN exactly the burst got through and every call was recorded
    statuses = [c.status for c in emulator.calls]
    assert len(statuses) == 80
    assert statuses.count(200) == 20


def test_faults_object_works_without_an_emulator() -> None:
    # GIVEN a standalone Faults on a virtual clock
    clock = VirtualClock()
    faults = Faults(clock=clock, sleep=clock.sleep, rng=random.Random(1))
    faults.set_rate_quota("X", 1, 1)

    # WHEN called twice at once
    faults.before_call("X")

    # THEN the second is throttled with a ServiceError carrying the code
    with pytest.raises(ServiceError) as caught:
        faults.before_call("X")
    assert caught.value.code == "ThrottlingException"
