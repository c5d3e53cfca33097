"""The sweep's pure parts: its window, which contact it re-injects and why not, the synthetic event, its
settings, and the use case over in-memory fakes (pages, pacing, deadline, failures)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from botocore.exceptions import ClientError

from contact_router.adapters.router_queue import RouterQueue
from contact_router.errors import ConfigurationError, PermanentError, TransientError
from contact_router.models.contact import Contact
from contact_router.records import parse_contact_event
from contact_router.routing.screening import screen_event
from contact_router.sweep.schedule import scheduled_time
from contact_router.sweep.selection import (
    SkipReason,
    SweepWindow,
    skip_reason,
    synthetic_queued_event,
)
from contact_router.sweep.settings import (
    DEFAULT_MIN_WAIT_SECONDS,
    MIN_WAIT_BOUNDS,
    SWEEP_INTERVAL_SECONDS,
    SweepSettings,
)
from contact_router.sweep.sweeper import DEADLINE_MARGIN_MS, Sweeper, SweepFailed, SweepOptions
from tests.support.cfn import load_template

INSTANCE_ARN = "arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555"
SUPPORT, VIP, OTHER = "q-support", "q-vip", "q-other"
T = 1_767_225_600.0  # the sweep's scheduled time: 2026-01-01T00:00:00Z
WINDOW = SweepWindow(T, min_wait_seconds=120, interval_seconds=300)
QUEUES = frozenset({SUPPORT, VIP})


def when(seconds_before_sweep: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(T - seconds_before_sweep, dt.UTC)


def waiting(contact_id: str = "c-1", enqueued_ago: float = 150, **fields: Any) -> Contact:
    values: dict[str, Any] = {
        "id": contact_id,
        "channel": "CHAT",
        "initiation_method": "API",
        "queue_id": SUPPORT,
        "enqueued_at": when(enqueued_ago),
    }
    values.update(fields)
    return Contact(**values)


# ------------------------------------------------------------------------------ the window


def test_window_covers_the_waits_that_crossed_the_threshold_since_the_last_sweep() -> None:
    # GIVEN a sweep at T with a 120 s threshold every 300 s
    # THEN it takes contacts enqueued in (T-420, T-120] and searches initiations from T-720 to T
    assert (WINDOW.enqueued_after, WINDOW.enqueued_by) == (T - 420, T - 120)
    assert (WINDOW.search_from, WINDOW.search_to) == (T - 720, T)


def test_consecutive_windows_tile_without_gap_or_overlap() -> None:
    # GIVEN two consecutive sweeps
    later = SweepWindow(T + 300, 120, 300)

    # THEN the later one starts exactly where the earlier one ended
    assert later.enqueued_after == WINDOW.enqueued_by

    # AND a contact enqueued on the boundary belongs to exactly one of them
    boundary = waiting(enqueued_ago=120)
    assert skip_reason(boundary, WINDOW, QUEUES) is None
    assert skip_reason(boundary, later, QUEUES) is SkipReason.CROSSED_BEFORE_LAST_SWEEP


# ------------------------------------------------------------------------------ selection


@pytest.mark.parametrize(
    ("contact", "reason"),
    [
        (waiting(enqueued_ago=150), None),
        (waiting(enqueued_ago=420 - 0.001), None),
        (waiting(enqueued_ago=119), SkipReason.UNDER_THRESHOLD),
        (waiting(enqueued_ago=420), SkipReason.CROSSED_BEFORE_LAST_SWEEP),
        (waiting(enqueued_ago=3600), SkipReason.CROSSED_BEFORE_LAST_SWEEP),
        (waiting(channel="VOICE"), SkipReason.CHANNEL_NOT_SWEPT),
        (waiting(initiation_method="MONITOR"), SkipReason.NOT_CUSTOMER_WORK),
        (waiting(initiation_method="AGENT_REPLY"), SkipReason.NOT_CUSTOMER_WORK),
        (waiting(disconnected_at=when(10)), SkipReason.DISCONNECTED),
        (waiting(agent_id="u-1", connected_to_agent_at=when(10)), SkipReason.CONNECTED_TO_AGENT),
        (waiting(agent_id="u-1"), SkipReason.ALREADY_ASSIGNED),
        (waiting(queue_id=None, enqueued_at=None), SkipReason.NOT_QUEUED),
        (waiting(queue_id=OTHER), SkipReason.OTHER_QUEUE),
        (waiting(enqueued_at=None), SkipReason.NO_ENQUEUE_TIME),
    ],
)
def test_skip_reason(contact: Contact, reason: SkipReason | None) -> None:
    # WHEN a search result is judged THEN only a contact still waiting in a swept queue whose wait crossed
    # the threshold since the last sweep is re-injected
    assert skip_reason(contact, WINDOW, QUEUES) is reason


# ------------------------------------------------------------------------------ the synthetic event


def test_synthetic_event_is_a_queued_event_the_router_accepts() -> None:
    # GIVEN a waiting transferred task
    contact = waiting("c-9", channel="TASK", initiation_method="TRANSFER", previous_contact_id="c-8")

    # WHEN its synthetic QUEUED event goes through the router's own parsing and screening
    event = synthetic_queued_event(contact, INSTANCE_ARN, T)
    parsed = parse_contact_event(json.dumps(event))

    # THEN it is a QUEUED event for the contact, in its queue, that the router does not screen out
    detail = parsed.detail
    assert (detail.event_type, detail.contact_id, detail.channel) == ("QUEUED", "c-9", "TASK")
    assert detail.instance_arn == INSTANCE_ARN
    assert detail.initiation_method == "TRANSFER"
    assert detail.previous_contact_id == "c-8"
    assert detail.queue_info is not None
    assert detail.queue_info.queue_id == SUPPORT
    assert detail.queue_info.queue_type == "STANDARD"
    assert detail.queue_info.enqueue_timestamp == when(150)
    assert screen_event(detail, route_voice=False) is None

    # AND it is recognisable as the sweep's, with the same id for the same queuing
    assert parsed.source == "contact-router.sweep"
    assert parsed.detail_type == "Amazon Connect Contact Event"
    assert event["detail"]["sweep"] is True
    assert event["id"] == f"sweep-c-9-{round((T - 150) * 1000)}"
    assert synthetic_queued_event(contact, INSTANCE_ARN, T + 300)["id"] == event["id"]
    assert (parsed.account, parsed.region) == ("123456789012", "eu-west-2")
    assert parsed.resources == [INSTANCE_ARN, f"{INSTANCE_ARN}/contact/c-9"]


# ------------------------------------------------------------------------------ settings


def test_settings_from_the_environment() -> None:
    settings = SweepSettings.from_env(
        {
            "CONNECT_INSTANCE_ARN": INSTANCE_ARN,
            "SWEEP_QUEUE_IDS": f" {SUPPORT}, {VIP},{SUPPORT}, ",
            "SWEEP_MIN_WAIT_SECONDS": "180",
            "ROUTER_QUEUE_URL": "https://sqs.eu-west-2.amazonaws.com/123456789012/router",
        }
    )
    assert settings.queue_ids == (SUPPORT, VIP)
    assert settings.min_wait_seconds == 180
    assert settings.interval_seconds == 300
    assert (settings.instance_id, settings.region, settings.account) == (
        "11111111-2222-4333-8444-555555555555",
        "eu-west-2",
        "123456789012",
    )


def test_min_wait_defaults_to_two_minutes() -> None:
    env = {"CONNECT_INSTANCE_ARN": INSTANCE_ARN, "SWEEP_QUEUE_IDS": SUPPORT, "ROUTER_QUEUE_URL": "u"}
    assert SweepSettings.from_env(env).min_wait_seconds == 120


def test_settings_report_every_problem_at_once() -> None:
    # GIVEN an environment wrong in every variable
    env = {
        "CONNECT_INSTANCE_ARN": "instance/abc",
        "SWEEP_QUEUE_IDS": f"{INSTANCE_ARN}/queue/q-1",
        "SWEEP_MIN_WAIT_SECONDS": "5",
    }

    # WHEN it is read
    with pytest.raises(ConfigurationError) as caught:
        SweepSettings.from_env(env)

    # THEN each problem is named
    problems = caught.value.problems
    assert len(problems) == 4
    assert any(p.startswith("CONNECT_INSTANCE_ARN") for p in problems)
    assert any("not ARNs" in p for p in problems)
    assert any("between 60 and 3600" in p for p in problems)
    assert any(p.startswith("ROUTER_QUEUE_URL") for p in problems)


@pytest.mark.parametrize(
    ("queue_ids", "wait", "problem"),
    [
        ("", "120", "at least one queue id"),
        (",".join(f"q-{n}" for n in range(101)), "120", "at most 100"),
        (SUPPORT, "two minutes", "whole number"),
    ],
)
def test_settings_problems(queue_ids: str, wait: str, problem: str) -> None:
    env = {
        "CONNECT_INSTANCE_ARN": INSTANCE_ARN,
        "SWEEP_QUEUE_IDS": queue_ids,
        "SWEEP_MIN_WAIT_SECONDS": wait,
        "ROUTER_QUEUE_URL": "u",
    }
    with pytest.raises(ConfigurationError, match=problem):
        SweepSettings.from_env(env)


# ------------------------------------------------------------------------------ the scheduled time


def test_scheduled_time_is_the_events_time_else_now() -> None:
    # An EventBridge scheduled event carries its scheduled time; a manual invocation may not
    assert scheduled_time({"time": "2026-01-01T00:00:00Z", "detail-type": "Scheduled Event"}, lambda: 0.0) == T
    assert scheduled_time({"time": "2026-01-01T00:00:00"}, lambda: 0.0) == T  # naive = UTC
    assert scheduled_time({}, lambda: 42.0) == 42.0


@pytest.mark.parametrize("bad", ["yesterday", 1_767_225_600])
def test_a_bad_scheduled_time_is_a_permanent_error(bad: object) -> None:
    with pytest.raises(PermanentError) as caught:
        scheduled_time({"time": bad}, lambda: 0.0)
    assert caught.value.reason == "malformed_event"


# ------------------------------------------------------------------------------ the use case over fakes


class FakeSearch:
    """Serves pages of search results and records each request."""

    def __init__(self, pages: Sequence[Sequence[Contact]], fail_on_page: int | None = None) -> None:
        self.pages = [list(p) for p in pages]
        self.fail_on_page = fail_on_page
        self.requests: list[dict[str, Any]] = []

    def search_contacts(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        queue_ids: Sequence[str],
        channels: Sequence[str],
        timestamp: str = "INITIATION_TIMESTAMP",
        next_token: str | None = None,
        max_results: int = 100,
    ) -> tuple[list[Contact], str | None]:
        index = int(next_token or 0)
        self.requests.append(
            {"start": start, "end": end, "queues": list(queue_ids), "channels": list(channels), "page": index}
        )
        if self.fail_on_page == index:
            raise TransientError("throttled", "SearchContacts failed: ThrottlingException (HTTP 429)")
        more = index + 1 < len(self.pages)
        return self.pages[index], (str(index + 1) if more else None)


class FakeSink:
    def __init__(self) -> None:
        self.sent: list[Mapping[str, Any]] = []

    def send(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.sent.extend(events)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def sweeper(search: FakeSearch, sink: FakeSink, clock: FakeTime | None = None, **options: Any) -> Sweeper:
    clock = clock or FakeTime()
    return Sweeper(
        SweepOptions(INSTANCE_ARN, (SUPPORT, VIP), min_wait_seconds=120, interval_seconds=300, **options),
        search,
        sink,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )


def test_sweep_reinjects_what_crossed_and_counts_the_rest() -> None:
    # GIVEN one page: two contacts to re-inject, one too recent, one swept before, one answered
    page = [
        waiting("lost-1"),
        waiting("lost-2", enqueued_ago=400, channel="EMAIL"),
        waiting("recent", enqueued_ago=30),
        waiting("old", enqueued_ago=900),
        waiting("answered", agent_id="u-1", connected_to_agent_at=when(5)),
    ]
    search, sink = FakeSearch([page]), FakeSink()

    # WHEN the sweep runs
    report = sweeper(search, sink).sweep(T)

    # THEN it asked once, for its window, queues and the routed channels
    assert search.requests == [
        {
            "start": when(720),
            "end": when(0),
            "queues": [SUPPORT, VIP],
            "channels": ["CHAT", "EMAIL", "TASK"],
            "page": 0,
        }
    ]
    # AND it sent the two lost contacts, and reports the others by reason
    assert [e["detail"]["contactId"] for e in sink.sent] == ["lost-1", "lost-2"]
    record = report.to_record()
    assert (record["found"], record["waiting"], record["reinjected"]) == (5, 4, 2)
    assert record["skipped"] == {
        "connected_to_agent": 1,
        "crossed_before_last_sweep": 1,
        "waiting_under_threshold": 1,
    }
    assert record["reinjected_contacts"] == ["lost-1", "lost-2"]
    assert record["completed"] is True
    assert record["search_calls"] == 1
    assert record["enqueued_after"] == "2025-12-31T23:53:00Z"
    assert record["enqueued_by"] == "2025-12-31T23:58:00Z"


def test_pages_are_paced_and_duplicates_sent_once() -> None:
    # GIVEN three pages, a contact listed on two of them
    search, sink, clock = (
        FakeSearch([[waiting("a")], [waiting("b"), waiting("a")], [waiting("c")]]),
        FakeSink(),
        FakeTime(),
    )

    # WHEN the sweep runs
    report = sweeper(search, sink, clock).sweep(T)

    # THEN it reads every page, two seconds apart at least (SearchContacts' quota), and sends each once
    assert [r["page"] for r in search.requests] == [0, 1, 2]
    assert clock.slept == [2.0, 2.0]
    assert [e["detail"]["contactId"] for e in sink.sent] == ["a", "b", "c"]
    assert report.skipped == {"duplicate": 1}
    assert report.search_calls == 3


def test_page_limit_bounds_a_sweep() -> None:
    # GIVEN more pages than a sweep reads
    search, sink = FakeSearch([[waiting(f"c-{n}")] for n in range(5)]), FakeSink()

    # WHEN the sweep runs with a limit of three pages
    report = sweeper(search, sink, max_pages=3).sweep(T)

    # THEN it stops there, sends what it read, and says it was truncated
    assert report.search_calls == 3
    assert len(sink.sent) == 3
    assert report.truncated is True
    assert report.completed is True


def test_no_page_is_started_too_close_to_the_deadline() -> None:
    # GIVEN two pages and an invocation with 40 s left, then 20 s (the margin is 30 s)
    search, sink = FakeSearch([[waiting("a")], [waiting("b")]]), FakeSink()
    left = iter([40_000, 20_000])

    # WHEN the sweep runs
    with pytest.raises(SweepFailed) as caught:
        sweeper(search, sink).sweep(T, remaining_ms=lambda: next(left))

    # THEN the first page was read and sent, the second never asked for, and the sweep fails (retried)
    assert [r["page"] for r in search.requests] == [0]
    assert [e["detail"]["contactId"] for e in sink.sent] == ["a"]
    assert caught.value.reason == "deadline"
    assert caught.value.transient is True
    assert caught.value.report.to_record()["reinjected"] == 1
    assert caught.value.report.completed is False


def test_throttled_search_fails_the_sweep_with_what_it_did() -> None:
    # GIVEN a second page that is throttled
    search, sink = FakeSearch([[waiting("a")], [waiting("b")]], fail_on_page=1), FakeSink()

    # WHEN the sweep runs
    with pytest.raises(SweepFailed) as caught:
        sweeper(search, sink).sweep(T)

    # THEN it fails with the throttling reason and a report of the page it did
    report = caught.value.report.to_record()
    assert caught.value.reason == "throttled"
    assert (report["search_calls"], report["reinjected"], report["error_reason"]) == (1, 1, "throttled")
    assert isinstance(caught.value.__cause__, TransientError)


# ------------------------------------------------------------------------------ the router's queue


class FakeSqs:
    def __init__(self, failed: list[dict[str, Any]] | None = None, error: Exception | None = None) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.failed = failed or []
        self.error = error

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if self.error:
            raise self.error
        self.batches.append(Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": self.failed}


def test_events_are_sent_ten_per_batch_as_json() -> None:
    sqs = FakeSqs()
    RouterQueue("url", sqs).send([{"n": n} for n in range(23)])
    assert [len(b) for b in sqs.batches] == [10, 10, 3]
    assert json.loads(sqs.batches[2][2]["MessageBody"]) == {"n": 22}


@pytest.mark.parametrize(
    "sqs",
    [
        FakeSqs(failed=[{"Id": "0", "Code": "InternalError", "Message": "try again"}]),
        FakeSqs(error=ClientError({"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue"}}, "SendMessageBatch")),
    ],
)
def test_a_refused_send_is_transient(sqs: FakeSqs) -> None:
    with pytest.raises(TransientError) as caught:
        RouterQueue("url", sqs).send([{"n": 1}])
    assert caught.value.reason == "router_queue_unavailable"


# ------------------------------------------------------------------------------ what template.yaml deploys


def test_the_deployed_schedule_environment_and_bounds_match_the_code() -> None:
    # GIVEN the sweep resources of template.yaml
    resources = load_template()["Resources"]
    parameters = load_template()["Parameters"]
    function = resources["SweepFunction"]["Properties"]

    # THEN the schedule's rate is the interval the windows are cut to (else contacts fall between sweeps)
    assert resources["SweepScheduleRule"]["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert SWEEP_INTERVAL_SECONDS == 300
    # AND the handler and the variables are the ones the code reads
    assert function["Handler"] == "contact_router.handlers.sweep.lambda_handler"
    variables = set(function["Environment"]["Variables"])
    assert {"CONNECT_INSTANCE_ARN", "SWEEP_QUEUE_IDS", "SWEEP_MIN_WAIT_SECONDS", "ROUTER_QUEUE_URL"} <= variables
    assert function["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "contact-router-sweep"
    # AND the parameter's bounds are the settings' bounds
    wait = parameters["SweepMinWaitSeconds"]
    assert (wait["MinValue"], wait["MaxValue"], wait["Default"]) == (*MIN_WAIT_BOUNDS, DEFAULT_MIN_WAIT_SECONDS)
    # AND the timeout leaves room for at least one page after the deadline margin
    assert function["Timeout"] * 1000 > DEADLINE_MARGIN_MS
