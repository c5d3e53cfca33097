"""Time-budgeted batches: a slow Connect slows the router down, never stops it (issue 13, item 1).

Not timed: the clock is fake, and every Connect call spends the invocation's remaining time as the
LambdaContext reports it. A queue with SQS's receive counting and the template's redrive policy
(maxReceiveCount 5) runs invocations until every record is done.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from contact_router.handlers.sqs import SqsFunction
from contact_router.models.agent import AgentState
from contact_router.models.contact import Contact
from contact_router.models.decision import Decision
from contact_router.record_policy import RecordPolicy, RouterApp
from contact_router.routing.router import Router, RouterOptions
from tests.fakes import DANA, INSTANCE_ARN, Clock, FakeConnect, MemoryEpisodes, StaticRules, available

EVENTS = Path(__file__).resolve().parents[2] / "events"
TIMEOUT_S = 30.0  # template.yaml's function timeout
MAX_RECEIVE_COUNT = 5  # template.yaml's redrive policy
RULES = StaticRules.of(
    """
version: 1
routing:
  - name: named
    when: {attributes: {preferredAgent: {present: true}}}
    candidates: [{attribute: preferredAgent}]
"""
)


class Killed(BaseException):
    """Lambda ended the invocation at its timeout (nothing in the handler may catch it)."""


@dataclass
class Context:
    """The LambdaContext of one invocation, its remaining time read from the fake clock."""

    clock: Clock
    deadline: float
    aws_request_id: str = "budget"
    function_name: str = "router"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-2:123456789012:function:router"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


@dataclass
class SlowConnect(FakeConnect):
    """Every call takes ``share`` of the time left, or ``seconds``; a call past the deadline is killed."""

    clock: Clock = field(default_factory=Clock)
    context: Context | None = None
    share: float = 0.0
    seconds: float = 0.0

    def _spend(self) -> None:
        assert self.context is not None
        left = self.context.get_remaining_time_in_millis() / 1000
        took = self.share * left if self.share else self.seconds
        if took > left:
            raise Killed
        self.clock.advance(took)

    def describe_contact(self, contact_id: str) -> Contact:
        self._spend()
        return super().describe_contact(contact_id)

    def current_user_data(self, user_ids: Sequence[str]) -> Mapping[str, AgentState]:
        self._spend()
        return super().current_user_data(user_ids)

    def associate(self, contact_id: str, user_id: str) -> None:
        self._spend()
        super().associate(contact_id, user_id)


@dataclass
class Queue:
    """SQS as the router sees it: each receive counts; a message received MAX_RECEIVE_COUNT times and not
    deleted goes to the dead-letter queue."""

    messages: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (body, receive count)
    dead: list[str] = field(default_factory=list)
    sent: int = 0

    def send(self, body: str, source_message_id: str = "") -> None:
        self.sent += 1
        self.messages[f"m-{self.sent}"] = (body, 0)

    def receive(self, limit: int) -> list[dict[str, Any]]:
        records = []
        for message_id in list(self.messages)[:limit]:
            body, count = self.messages[message_id]
            if count >= MAX_RECEIVE_COUNT:
                self.dead.append(self.messages.pop(message_id)[0])
                continue
            self.messages[message_id] = (body, count + 1)
            records.append(
                {
                    "messageId": message_id,
                    "receiptHandle": message_id,
                    "body": body,
                    "attributes": {"ApproximateReceiveCount": str(count + 1), "SentTimestamp": "1763629200000"},
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-west-2:123456789012:contact-router-events",
                    "awsRegion": "eu-west-2",
                }
            )
        return records


def queued_event(contact_id: str) -> str:
    event = json.loads((EVENTS / "queued-chat-attribute.json").read_text(encoding="utf-8"))
    event["detail"]["contactId"] = contact_id
    return json.dumps(event)


@pytest.mark.parametrize("claims", [False, True], ids=["no episode store", "episode claims"])
@pytest.mark.parametrize(
    ("share", "seconds"),
    [(0.8, 0.0), (0.0, 4.5)],
    ids=["every call takes 80% of the time left", "every call takes 4.5 s (read timeout 5 s)"],
)
def test_a_slow_connect_finishes_a_record_per_invocation_and_loses_none(
    share: float, seconds: float, claims: bool
) -> None:
    # GIVEN ten queued chats, each naming an available agent, and a Connect whose every call takes most of
    # the invocation's remaining time (or nearly the client's read timeout)
    ids = [f"c{n}" for n in range(10)]
    connect = SlowConnect(
        contacts={c: Contact(id=c, channel="CHAT", queue_id="q-1", attributes={"preferredAgent": DANA}) for c in ids},
        states={DANA: available(DANA, free=10)},
        share=share,
        seconds=seconds,
    )
    router = Router(
        RouterOptions(instance_arn=INSTANCE_ARN, allowed_agent_arn_pattern=f"{INSTANCE_ARN}/agent/*"),
        connect=connect,
        users=connect,
        rules=RULES,
        # with claims, a record sent back unstarted gives its prefetched claim back (router.abandon), so its
        # new message is not taken for a copy of itself
        episodes=MemoryEpisodes(connect.clock) if claims else None,
    )
    queue = Queue()
    app: RouterApp = RecordPolicy(
        decide=router.route,
        prefetch=router.prefetch_batch,
        abandon=router.abandon,
        kind=Decision,
        dead_letters=None,
        requeue=queue.send,
    )
    function = SqsFunction[RouterApp](lambda _settings: app)
    for contact_id in ids:
        queue.send(queued_event(contact_id))

    # WHEN the event source mapping invokes the function with batches of ten until the queue is empty
    finished_per_invocation: list[int] = []
    while queue.messages and len(finished_per_invocation) < 50:
        records = queue.receive(10)
        if not records:
            continue
        connect.context = Context(connect.clock, connect.clock() + TIMEOUT_S)
        before = connect.count("AssociateContactWithUser")
        try:
            response = function.handle({"Records": records}, connect.context, app)  # type: ignore[arg-type]
        except Killed:
            response = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for record in records:
            if record["messageId"] not in failed:
                del queue.messages[record["messageId"]]
        finished_per_invocation.append(connect.count("AssociateContactWithUser") - before)
        connect.clock.advance(1)

    # THEN every invocation associated at least one contact, each contact exactly once, and none was lost
    assert finished_per_invocation
    assert min(finished_per_invocation) >= 1, finished_per_invocation
    associated = [args[0] for op, args in connect.calls if op == "AssociateContactWithUser"]
    assert sorted(associated) == sorted(ids)
    assert queue.dead == []
    assert queue.messages == {}
