"""SQS semantics of the simulated queue, in virtual time."""

from __future__ import annotations

import random

from contact_router_cli.simulate.clock import VirtualClock
from contact_router_cli.simulate.queue import SimulatedQueue, SimulatedSqsClient


def queues(clock: VirtualClock, max_receive_count: int = 3) -> tuple[SimulatedQueue, SimulatedQueue]:
    dlq = SimulatedQueue("dlq", clock)
    queue = SimulatedQueue(
        "events",
        clock,
        visibility_timeout=30,
        max_receive_count=max_receive_count,
        dead_letter=dlq,
        rng=random.Random(1),
        reorder_seconds=0.0,
    )
    return queue, dlq


def at(clock: VirtualClock, when: float) -> None:
    """Move the clock (a timer at ``when`` and nothing after it)."""
    clock.call_at(when, lambda: None)
    clock.run(stop=lambda: clock.now() >= when)


def test_delayed_message_is_invisible_until_its_delay() -> None:
    clock = VirtualClock(0.0)
    queue, _ = queues(clock)
    queue.send("later", delay=10)
    queue.send("now")
    assert [m.body for m in queue.receive(10)] == ["now"]
    at(clock, 10)
    assert [m.body for m in queue.receive(10)] == ["later"]


def test_unacknowledged_message_comes_back_after_the_visibility_timeout() -> None:
    # Given a message received and not deleted
    clock = VirtualClock(0.0)
    queue, _ = queues(clock)
    queue.send("body")
    (first,) = queue.receive(10)
    assert first.receive_count == 1
    old_receipt = first.receipt
    # Then it is invisible until the visibility timeout, then delivered again with a new receipt
    at(clock, 29)
    assert queue.receive(10) == []
    at(clock, 30)
    (again,) = queue.receive(10)
    assert again.receive_count == 2
    # and the old receipt no longer deletes it; the new one does
    assert not queue.delete(old_receipt)
    assert queue.delete(again.receipt)
    assert len(queue) == 0


def test_message_received_max_receive_count_times_moves_to_the_dead_letter_queue() -> None:
    # Given maxReceiveCount 3
    clock = VirtualClock(0.0)
    queue, dlq = queues(clock, max_receive_count=3)
    queue.send("poison", attributes={"k": "v"})
    for n in range(3):
        at(clock, n * 30)
        (message,) = queue.receive(10)
        assert message.receive_count == n + 1
    # When it is not deleted a third time, the next receive moves it (redrive policy)
    at(clock, 90)
    assert queue.receive(10) == []
    (moved,) = dlq.archive
    assert (moved.body, moved.redriven, moved.receive_count) == ("poison", True, 3)
    assert moved.attributes == {"k": "v"}
    assert queue.stats.redriven == 1


def test_change_visibility_brings_a_message_back_early() -> None:
    clock = VirtualClock(0.0)
    queue, _ = queues(clock)
    queue.send("throttled")
    (message,) = queue.receive(10)
    assert queue.change_visibility(message.receipt, 5)
    at(clock, 5)
    assert [m.body for m in queue.receive(10)] == ["throttled"]


def test_client_sends_with_attributes_and_delay_by_url_or_arn() -> None:
    # Given the boto3-shaped client the router's adapters use
    clock = VirtualClock(0.0)
    queue, dlq = queues(clock)
    client = SimulatedSqsClient(queue, dlq)
    client.send_message(
        QueueUrl=dlq.url,
        MessageBody="x",
        MessageAttributes={"reason": {"DataType": "String", "StringValue": "malformed_event"}},
    )
    client.send_message(QueueUrl=queue.arn, MessageBody="re-check", DelaySeconds=60)
    assert dlq.archive[0].attributes == {"reason": "malformed_event"}
    assert queue.receive(10) == []
    assert queue.next_visible_at() == 60


def test_receive_wakes_parked_pollers_when_a_message_becomes_visible() -> None:
    clock = VirtualClock(0.0)
    queue, _ = queues(clock)
    got: list[tuple[float, str]] = []

    def poller() -> None:
        while not got:
            messages = queue.receive(10)
            if not messages:
                clock.park(queue.channel)
                continue
            got.extend((clock.now(), m.body) for m in messages)

    clock.spawn("poller", poller)
    clock.call_at(3.0, lambda: queue.send("hello", delay=4))
    clock.run()
    clock.close()
    assert got == [(7.0, "hello")]
