"""Fuzzing the real entry point: 10,000 generated SQS records (contact events, re-checks, garbage) in batches
of 10 through ``handlers.router.lambda_handler`` (its Powertools decorators, the batch processor, the batch
prefetch, the per-record policy), the router built by ``build_router_app`` on the Connect emulator.

For every batch: the handler never raises and no record meets an unexpected error; every good record (a
valid QUEUED event or re-check for a contact of the emulated instance) is decided, never rejected nor given
back, whatever garbage shares its batch; every rejected record is in the dead-letter queue with its reason;
every record given back to SQS was logged as failed with a reason. Derandomized: the same records every run.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connect_emulator import ConnectEmulator, World
from contact_router.adapters.aws import Clients
from contact_router.composition import build_router_app
from contact_router.config import Settings
from contact_router.handlers.router import lambda_handler
from contact_router.models.decision import Outcome
from contact_router.observability import logger as powertools_logger
from contact_router.record_policy import RouterApp
from contact_router.routing.fallback import RECHECK_KEY
from contact_router_cli.local import lambda_output_to
from contact_router_cli.simulate import workload
from contact_router_cli.simulate.clock import VirtualClock
from contact_router_cli.simulate.pipeline import SimulatedLambdaContext
from contact_router_cli.simulate.queue import SimulatedQueue, SimulatedSqsClient
from tests.property.strategies import VALID_EVENT, sqs_records

BATCH = 10
BATCHES = 1_000  # 10,000 records
MAX_RECEIVE_COUNT = 5
FUZZ = settings(
    max_examples=BATCHES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class _Errors(logging.Handler):
    """Counts ERROR lines of the Lambda's logger (an unexpected error is logged with its traceback)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class Harness:
    def __init__(self) -> None:
        plan = workload.build(workload.WorkloadSpec(contacts=60, agents=10, seed=3), 0.0, 600.0)
        self.emulator = ConnectEmulator(World.from_dict(plan.world))
        for contact in plan.contacts:
            self.emulator.add_contact(contact.id, **contact.fields)
        self.contact_ids = [c.id for c in plan.contacts]
        self.clock = VirtualClock(self.emulator.now())
        self.dlq = SimulatedQueue("dlq", self.clock)
        self.queue = SimulatedQueue("events", self.clock)
        self._rules = tempfile.TemporaryDirectory()
        rules = Path(self._rules.name) / "rules.yaml"
        rules.write_text(plan.rules_text, encoding="utf-8")
        env = {
            "CONNECT_INSTANCE_ARN": workload.INSTANCE_ARN,
            "RULES_SOURCE": "file",
            "RULES_FILE": str(rules),
            "DEAD_LETTER_QUEUE_URL": self.dlq.url,
            "ROUTER_QUEUE_URL": self.queue.url,
            "MAX_RECEIVE_COUNT": str(MAX_RECEIVE_COUNT),
        }
        self.app: RouterApp = build_router_app(
            Settings.from_env(env),
            Clients(connect=self.emulator.client(), sqs=SimulatedSqsClient(self.queue, self.dlq)),
        )
        self.records = 0
        self.good = 0
        self.rejected = 0

    def context(self) -> Any:
        return SimulatedLambdaContext(self.clock, self.clock.now() + 30, "fuzz")


@functools.cache
def harness() -> Harness:
    return Harness()


def _good_event(contact_id: str) -> str:
    event = json.loads(json.dumps(VALID_EVENT))
    event["detail"]["contactId"] = contact_id
    event["detail"]["instanceArn"] = workload.INSTANCE_ARN
    return json.dumps(event)


def _good_recheck(contact_id: str) -> str:
    state = {
        "contact_id": contact_id,
        "instance_arn": workload.INSTANCE_ARN,
        "channel": "CHAT",
        "rule": "any",
        "step": 0,
        "step_started_at": 0.0,
        "attempt": 1,
        "not_before": 0.0,
    }
    return json.dumps({RECHECK_KEY: state})


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[dict[str, Any], bool]]:
    """(record, good) pairs: good records mixed with anything the other strategies make."""
    out = []
    for index in range(BATCH):
        record = draw(sqs_records())
        good = draw(st.integers(0, 3)) == 0
        if good:
            contact_id = draw(st.sampled_from(harness().contact_ids))
            record["body"] = draw(st.sampled_from([_good_event, _good_recheck]))(contact_id)
            record["attributes"]["ApproximateReceiveCount"] = "1"
        record["messageId"] = f"m-{index}"
        out.append((record, good))
    return out


def one_batch(batch: list[tuple[dict[str, Any], bool]]) -> None:
    h = harness()
    records = [record for record, _ in batch]
    dead_before = len(h.dlq.archive)
    errors = _Errors()
    logging.getLogger(powertools_logger.name).addHandler(errors)
    try:
        # When the batch reaches the real handler
        with lambda_output_to(io.StringIO()) as collected:
            response = lambda_handler({"Records": records}, h.context(), h.app)
    finally:
        logging.getLogger(powertools_logger.name).removeHandler(errors)
    h.records += len(records)
    # Then no record met an unexpected error
    assert not [m for m in errors.messages if "unexpected" in m], errors.messages
    decisions = dict(collected.records)
    assert all(d.reason != "unexpected_error" for d in decisions.values())
    given_back = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    letters = {m.attributes["source_message_id"]: m for m in h.dlq.archive[dead_before:]}
    for record, good in batch:
        message_id = record["messageId"]
        decision = decisions.get(message_id)
        # every record is decided with a reason (given back ones as Failed)
        assert decision is not None, record["body"][:200]
        assert decision.reason, (record["body"][:200], decision)
        if good:
            h.good += 1
            assert decision.outcome not in (Outcome.REJECTED, Outcome.FAILED), (record["body"][:200], decision)
            assert message_id not in given_back
            assert message_id not in letters
        if decision.outcome is Outcome.REJECTED:
            h.rejected += 1
            letter = letters[message_id]
            assert letter.attributes["reason"] == decision.reason
            assert letter.attributes["error"].strip()
        elif decision.outcome is Outcome.FAILED:
            assert message_id in given_back
        else:
            assert message_id not in given_back
            assert message_id not in letters


def test_ten_thousand_records_through_the_handler_lose_nothing() -> None:
    # Given 1,000 generated batches of 10 records, When each goes through the handler, Then one_batch's
    # assertions hold for every one of them
    h = harness()
    FUZZ(given(batches())(one_batch))()
    # And the run really drove 10,000 records, with enough good and rejected ones to mean something
    assert h.records >= BATCH * BATCHES, h.records
    assert h.good > 1_000, h.good
    assert h.rejected > 1_000, h.rejected
