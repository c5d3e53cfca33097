"""The sweep handler in-process against the Connect emulator and moto SQS, then the real router handler on
what it sends: a lost QUEUED event is made good, and nothing is associated twice."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from contact_router.adapters.aws import Clients
from contact_router.composition import build_sweep_app
from contact_router.errors import TransientError
from contact_router.handlers import sweep as sweep_handler
from contact_router.sweep.schedule import ScheduledSweep
from contact_router.sweep.settings import SweepSettings
from contact_router.sweep.sweeper import SweepFailed
from tests.conftest import SAMPLES_DIR
from tests.integration.conftest import Harness, LambdaContext

SUPPORT = "22222222-0000-4000-8000-000000000001"
VIP = "22222222-0000-4000-8000-000000000002"
DANA = "33333333-0000-4000-8000-000000000001"
TARIQ = "33333333-0000-4000-8000-000000000003"


@pytest.fixture
def world_path(tmp_path: Path) -> Path:
    """The sample world without its seeded contacts: each test adds the contacts it is about."""
    world = yaml.safe_load((SAMPLES_DIR / "world.yaml").read_text())
    world.pop("contacts", None)
    world.pop("timeline", None)
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(world))
    return path


class Sweep:
    """The sweep function wired to the harness: emulated Connect, the router's queue on moto."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.queue_url = harness.sqs.create_queue(QueueName="contact-router-events")["QueueUrl"]
        self.slept: list[float] = []
        settings = SweepSettings.from_env(
            {
                "CONNECT_INSTANCE_ARN": harness.emulator.instance_arn,
                "SWEEP_QUEUE_IDS": f"{SUPPORT},{VIP}",
                "SWEEP_MIN_WAIT_SECONDS": "120",
                "ROUTER_QUEUE_URL": self.queue_url,
            }
        )
        self.app: ScheduledSweep = build_sweep_app(
            settings,
            Clients(connect=harness.emulator.client(role="SweepFunction"), sqs=harness.sqs),
            clock=harness.emulator.now,
            sleep=self.slept.append,
        )
        self.t = harness.emulator.now()  # the first sweep's scheduled time

    def add(self, contact_id: str, enqueued_ago: float, **fields: Any) -> str:
        """A contact enqueued ``enqueued_ago`` seconds before the first sweep (initiated 20 s before that)."""
        self.harness.emulator.add_contact(
            contact_id,
            channel=fields.pop("channel", "CHAT"),
            queue=fields.pop("queue", "Support"),
            initiated_at=_iso(self.t - enqueued_ago - 20),
            enqueued_at=_iso(self.t - enqueued_ago),
            **fields,
        )
        return contact_id

    def run(self, after: float = 0, context: Any = None) -> dict[str, Any]:
        """The scheduled sweep ``after`` seconds after the first one, as EventBridge invokes it."""
        scheduled = {
            "version": "0",
            "id": "e1b3b6a4-0000-4000-8000-000000000001",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "time": _iso(self.t + after),
            "region": "eu-west-2",
            "resources": ["arn:aws:events:eu-west-2:123456789012:rule/contact-router-sweep"],
            "detail": {},
        }
        summary: dict[str, Any] = sweep_handler.lambda_handler(scheduled, context or LambdaContext(), app=self.app)
        return summary

    def sent(self) -> list[dict[str, Any]]:
        """Drain the router's queue: the bodies the sweep sent."""
        bodies: list[dict[str, Any]] = []
        while messages := self.harness.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300
        ).get("Messages", []):
            bodies.extend(json.loads(m["Body"]) for m in messages)
        return bodies

    def route(self, bodies: list[dict[str, Any]]) -> dict[str, Any]:
        """What the router's SQS trigger would do with them: the real router handler."""
        return self.harness.invoke([self.harness.record(body) for body in bodies])


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def routing_decisions(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.decision for r in caplog.records if hasattr(r, "decision")]  # type: ignore[attr-defined]


def emf_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The EMF metric documents the function printed (pytest captures stdout itself)."""
    printed = (json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{"))
    return [doc for doc in printed if "_aws" in doc]


def connect_calls(harness: Harness) -> dict[str, int]:
    return dict(harness.emulator.call_counts())


@pytest.fixture
def sweep(harness: Harness) -> Sweep:
    return Sweep(harness)


def test_a_lost_queued_event_is_reinjected_and_routed(
    sweep: Sweep, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a chat for dana queued 150 s ago whose QUEUED event never reached the router
    caplog.set_level("INFO")
    lost = sweep.add("lost-chat", 150, attributes={"preferredAgent": "dana"})

    # WHEN the scheduled sweep runs
    summary = sweep.run()

    # THEN it found the contact with one SearchContacts call and sent one synthetic QUEUED event
    assert connect_calls(harness) == {"SearchContacts": 1}
    assert (summary["found"], summary["waiting"], summary["reinjected"]) == (1, 1, 1)
    (body,) = sweep.sent()
    assert body["id"].startswith("sweep-lost-chat-")
    assert body["source"] == "contact-router.sweep"
    assert body["detail"]["sweep"] is True
    assert body["detail"]["queueInfo"]["queueArn"].endswith(f"/queue/{SUPPORT}")

    # AND the router, receiving it from its queue, routes the contact to dana as it would have
    assert sweep.route([body]) == {"batchItemFailures": []}
    (decision,) = routing_decisions(caplog)
    assert (decision["outcome"], decision["agent_id"]) == ("Associated", DANA)
    assert [(a.contact_id, a.user_id) for a in harness.emulator.associations] == [(lost, DANA)]
    # AND the whole recovery cost one search plus the router's usual calls (the candidate dana and the rule's
    # exclusion lee are usernames: SearchUsers, cached per environment after this cold start; so is dana's
    # routing profile's queue list)
    assert connect_calls(harness) == {
        "SearchContacts": 1,
        "DescribeContact": 1,
        "SearchUsers": 2,
        "GetCurrentUserData": 1,
        "ListRoutingProfileQueues": 1,
        "AssociateContactWithUser": 1,
    }


def test_a_contact_already_routed_is_not_associated_twice(
    sweep: Sweep, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a chat whose QUEUED event did arrive and was routed to dana, and a task the router left with its
    # queue (tariq, its preferred agent, had no free task slot) that still waits
    caplog.set_level("INFO")
    routed = sweep.add("routed-chat", 150, attributes={"preferredAgent": "dana"})
    left = sweep.add("left-task", 200, channel="TASK", attributes={"preferredAgent": TARIQ})
    for contact_id, channel in ((routed, "CHAT"), (left, "TASK")):
        sweep.route([_queued_event(harness, contact_id, channel)])
    assert [d["outcome"] for d in routing_decisions(caplog)] == ["Associated", "NoEligibleAgent"]

    # WHEN the sweep runs, and its invocation is retried (same scheduled time), and the router gets it all
    first, retried = sweep.run(), sweep.run()
    bodies = sweep.sent()
    sweep.route(bodies)

    # THEN the associated chat is not even sent, the waiting task is sent by both attempts
    assert first["skipped"] == {"already_assigned": 1}
    assert retried["reinjected_contacts"] == [left]
    assert [b["detail"]["contactId"] for b in bodies] == [left, left]
    # AND the router answers from its idempotency record: decided once, nothing associated again
    assert [d["outcome"] for d in routing_decisions(caplog)[2:]] == ["Duplicate", "Duplicate"]
    assert [a.contact_id for a in harness.emulator.associations] == [routed]


def test_a_retried_sweep_never_associates_twice(
    sweep: Sweep, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a lost chat, and a sweep invocation that EventBridge delivers twice
    caplog.set_level("INFO")
    lost = sweep.add("lost-chat", 150, attributes={"preferredAgent": "dana"})
    sweep.run()
    sweep.run()

    # WHEN the router gets both synthetic events
    bodies = sweep.sent()
    sweep.route(bodies)

    # THEN the first associates, the second is settled by the episode claim before any Connect call
    assert len(bodies) == 2
    assert [d["outcome"] for d in routing_decisions(caplog)] == ["Associated", "Duplicate"]
    assert [a.contact_id for a in harness.emulator.associations] == [lost]


def test_a_contact_waiting_less_than_the_threshold_is_left_alone(sweep: Sweep, harness: Harness) -> None:
    # GIVEN a chat queued 60 s ago (the threshold is 120 s)
    sweep.add("recent-chat", 60, attributes={"preferredAgent": "dana"})

    # WHEN the sweep runs
    summary = sweep.run()

    # THEN it is counted as waiting but nothing is sent
    assert (summary["found"], summary["waiting"], summary["reinjected"]) == (1, 1, 0)
    assert summary["skipped"] == {"waiting_under_threshold": 1}
    assert sweep.sent() == []

    # AND the next sweep, when its wait has crossed the threshold, sends it
    assert sweep.run(after=300)["reinjected_contacts"] == ["recent-chat"]


def test_a_second_sweep_does_not_reinject_the_same_contact(sweep: Sweep, harness: Harness) -> None:
    # GIVEN a lost task nobody can take, re-injected by a first sweep
    sweep.add("long-wait", 150, channel="TASK", attributes={"preferredAgent": TARIQ})
    assert sweep.run()["reinjected"] == 1
    assert len(sweep.sent()) == 1

    # WHEN the next sweeps run, five and ten minutes later, while it still waits
    second, third = sweep.run(after=300), sweep.run(after=600)

    # THEN the next one sees it waiting but sends nothing: its wait crossed the threshold before
    assert (second["waiting"], second["reinjected"]) == (1, 0)
    assert second["skipped"] == {"crossed_before_last_sweep": 1}
    # AND the one after no longer even finds it: it was initiated before that sweep's look-back
    assert (third["found"], third["reinjected"]) == (0, 0)
    assert sweep.sent() == []
    assert connect_calls(harness) == {"SearchContacts": 3}


def test_only_the_swept_queues_and_waiting_contacts_are_sent(sweep: Sweep, harness: Harness) -> None:
    # GIVEN lost contacts in a swept queue and in another one, an answered chat, an ended one and a call
    sweep.add("support-email", 150, channel="EMAIL")
    sweep.add("vip-chat", 150, queue="VIP")
    sweep.add("billing-email", 150, channel="EMAIL", queue="Billing email")
    sweep.add("answered", 150, state="CONNECTED", agent="sam", connected_at=_iso(sweep.t - 100))
    sweep.add("ended", 150, state="DISCONNECTED", disconnected_at=_iso(sweep.t - 100))
    sweep.add("queued-call", 150, channel="VOICE")

    # WHEN the sweep runs
    summary = sweep.run()

    # THEN the search asked only for the swept queues and channels, and only the waiting ones are sent
    (search,) = [c.params for c in harness.emulator.calls if c.operation == "SearchContacts"]
    assert search["SearchCriteria"] == {"QueueIds": [SUPPORT, VIP], "Channels": ["CHAT", "EMAIL", "TASK"]}
    assert search["TimeRange"]["Type"] == "INITIATION_TIMESTAMP"
    assert sorted(b["detail"]["contactId"] for b in sweep.sent()) == ["support-email", "vip-chat"]
    assert summary["skipped"] == {"connected_to_agent": 1, "disconnected": 1}


def test_cost_is_one_search_per_hundred_results_and_the_routers_usual_calls(
    sweep: Sweep, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN 150 lost chats no rule routes (enqueued 150-299 s ago), and 100 answered ones in the same window
    caplog.set_level("INFO")
    for n in range(150):
        sweep.add(f"lost-{n:03}", 150 + n)
    for n in range(100):
        sweep.add(f"answered-{n:03}", 150, state="CONNECTED", agent="sam", connected_at=_iso(sweep.t - 100))

    # WHEN the sweep runs
    summary = sweep.run()

    # THEN it costs three SearchContacts pages (250 results, 100 a page) and nothing else on Connect, paced
    assert connect_calls(harness) == {"SearchContacts": 3}
    assert (summary["found"], summary["reinjected"]) == (250, 150)
    assert len(sweep.slept) == 2
    # AND the summary names the first 50 of them (in initiation order, oldest first)
    assert summary["reinjected_contacts"] == [f"lost-{n:03}" for n in range(149, 99, -1)]

    # WHEN the router gets the 150 synthetic events
    harness.emulator.reset_calls()
    bodies = sweep.sent()
    for start in range(0, len(bodies), 10):
        assert sweep.route(bodies[start : start + 10]) == {"batchItemFailures": []}

    # THEN each costs what a delivered QUEUED event costs: here one DescribeContact (no rule routes them)
    assert connect_calls(harness) == {"DescribeContact": 150}
    assert {d["outcome"] for d in routing_decisions(caplog)} == {"NoRuleMatched"}


def test_throttled_search_fails_the_invocation_with_a_summary(
    sweep: Sweep, harness: Harness, lambda_output: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN SearchContacts throttled for every attempt botocore makes
    sweep.add("lost-chat", 150)
    harness.emulator.faults.fail_next("SearchContacts", "ThrottlingException", times=3)

    # WHEN the scheduled sweep runs
    with pytest.raises(SweepFailed) as caught:
        sweep.run()

    # THEN the invocation fails (the schedule retries it; its dead-letter queue keeps it otherwise)
    assert caught.value.reason == "throttled"
    assert isinstance(caught.value.__cause__, TransientError)
    assert sweep.sent() == []
    # AND one summary line says so, with the failure counted
    lines = [json.loads(line) for line in lambda_output.getvalue().splitlines() if line.startswith("{")]
    (summary,) = [line for line in lines if line.get("message") == "sweep summary"]
    assert summary["level"] == "ERROR"
    assert (summary["sweep"]["completed"], summary["sweep"]["error_reason"]) == (False, "throttled")
    (emf,) = emf_lines(capsys)
    assert emf["SweepFailed"] == [1.0]


def test_summary_line_and_metrics(sweep: Sweep, lambda_output: io.StringIO, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN one lost chat and one recent one
    sweep.add("lost-chat", 150)
    sweep.add("recent-chat", 30)

    # WHEN the sweep runs
    sweep.run()

    # THEN one structured summary line and the sweep's metrics are written
    lines = [json.loads(line) for line in lambda_output.getvalue().splitlines() if line.startswith("{")]
    (summary,) = [line for line in lines if line.get("message") == "sweep summary"]
    assert summary["level"] == "INFO"
    assert summary["sweep"]["found"] == 2
    assert summary["sweep"]["waiting"] == 2
    assert summary["sweep"]["reinjected"] == 1
    assert summary["sweep"]["skipped"] == {"waiting_under_threshold": 1}
    (emf,) = emf_lines(capsys)
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ContactRouter"
    counted = {name: emf[name] for name in ("SweepFound", "SweepWaiting", "SweepReinjected", "SweepSearchCalls")}
    assert counted == {"SweepFound": [2.0], "SweepWaiting": [2.0], "SweepReinjected": [1.0], "SweepSearchCalls": [1.0]}
    assert (emf["SweepFailed"], emf["SweepTruncated"]) == ([0.0], [0.0])


def test_no_page_is_started_close_to_the_deadline(sweep: Sweep, harness: Harness) -> None:
    # GIVEN an invocation with 10 s left
    class AlmostOutOfTime(LambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return 10_000

    sweep.add("lost-chat", 150)

    # WHEN the sweep runs THEN it stops before calling Connect and fails, to be retried
    with pytest.raises(SweepFailed) as caught:
        sweep.run(context=AlmostOutOfTime())
    assert caught.value.reason == "deadline"
    assert harness.emulator.calls == []


def _queued_event(harness: Harness, contact_id: str, channel: str) -> dict[str, Any]:
    """The QUEUED event Connect sends when delivery works (a minimal real one)."""
    arn = harness.emulator.instance_arn
    return {
        "version": "0",
        "id": f"connect-{contact_id}",
        "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect",
        "account": "123456789012",
        "time": _iso(harness.emulator.now()),
        "region": "eu-west-2",
        "resources": [arn],
        "detail": {
            "contactId": contact_id,
            "channel": channel,
            "instanceArn": arn,
            "initiationMethod": "API",
            "eventType": "QUEUED",
            "queueInfo": {"queueType": "STANDARD", "queueArn": f"{arn}/queue/{SUPPORT}"},
        },
    }


def test_cold_start_builds_the_sweep_from_its_environment(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the variables template.yaml gives the sweep function
    monkeypatch.setenv("CONNECT_INSTANCE_ARN", harness.emulator.instance_arn)
    monkeypatch.setenv("SWEEP_QUEUE_IDS", f"{SUPPORT},{VIP}")
    monkeypatch.setenv("SWEEP_MIN_WAIT_SECONDS", "180")
    monkeypatch.setenv("ROUTER_QUEUE_URL", "https://sqs.eu-west-2.amazonaws.com/123456789012/contact-router-events")
    sweep_handler.default_app.cache_clear()
    try:
        # WHEN the execution environment builds its app
        app = sweep_handler.default_app()

        # THEN it is built once, with those settings
        assert sweep_handler.default_app() is app
        assert app.sweeper.options.queue_ids == (SUPPORT, VIP)
        assert app.sweeper.options.min_wait_seconds == 180
    finally:
        sweep_handler.default_app.cache_clear()
