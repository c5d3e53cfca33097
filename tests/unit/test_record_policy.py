"""The per-record policy over the Router and in-memory fakes: what a batch costs in Connect calls."""

from __future__ import annotations

from contact_router.handlers.sqs import SqsFunction
from contact_router.models.contact import Contact
from contact_router.models.decision import Decision, Outcome
from contact_router.record_policy import RecordPolicy, RouterApp
from contact_router.routing.router import Router, RouterOptions
from tests.fakes import DANA, INSTANCE_ARN, FakeConnect, available
from tests.unit.test_time_budget import RULES, Queue, queued_event


def test_a_second_delivery_in_the_same_batch_is_settled_without_a_connect_call() -> None:
    # GIVEN a batch holding the same QUEUED event twice (EventBridge delivers at least once) and another chat
    connect = FakeConnect(
        contacts={
            c: Contact(id=c, channel="CHAT", queue_id="q-1", attributes={"preferredAgent": DANA}) for c in ("c1", "c2")
        },
        states={DANA: available(DANA, free=5)},
    )
    router = Router(
        RouterOptions(instance_arn=INSTANCE_ARN, allowed_agent_arn_pattern=f"{INSTANCE_ARN}/agent/*"),
        connect=connect,
        users=connect,
        rules=RULES,
    )
    decisions: list[Decision] = []
    app: RouterApp = RecordPolicy(decide=router.route, prefetch=router.prefetch_batch, kind=Decision, dead_letters=None)
    handle = app.handle_record
    app.handle_record = lambda record: decisions.append(handle(record)) or decisions[-1]  # type: ignore[method-assign]
    queue = Queue()
    for body in (queued_event("c1"), queued_event("c2"), queued_event("c1")):
        queue.send(body)

    # WHEN the batch is handled
    response = SqsFunction[RouterApp](lambda _settings: app).handle({"Records": queue.receive(10)}, None, app)  # type: ignore[arg-type]

    # THEN the copy is a Duplicate of the first decision, and each contact cost one DescribeContact
    assert response == {"batchItemFailures": []}
    assert [d.outcome for d in decisions] == [Outcome.ASSOCIATED, Outcome.ASSOCIATED, Outcome.DUPLICATE]
    assert decisions[2].replayed
    assert connect.count("DescribeContact") == 2
    assert connect.count("AssociateContactWithUser") == 2
