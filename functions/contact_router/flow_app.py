"""The contact-flow entry point's app: a ``ConnectContactFlowEvent`` -> the flat answer the flow reads.

It fails open: whatever happens (bad payload, Connect error, throttling, a slow call, a bug), the flow gets an
answer with no preferred agent and a ``reason``, and transfers the contact to its queue as if the router did
not exist. Every call is bounded twice: the clients' own short timeouts and single retry
(adapters/aws.FLOW_CONFIG), and a deadline on the whole decision taken from the Lambda's remaining time
(the template sets the function's timeout to the flow block's InvocationTimeLimitSeconds), so the answer
leaves before Connect stops waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import ConnectContactFlowEvent

from contact_router.errors import ContactRouterError
from contact_router.models.contact import Contact, flatten_segment_attributes
from contact_router.models.contact_event import queue_id_from_arn
from contact_router.models.decision import Decision, Outcome
from contact_router.observability import logger, record_decision
from contact_router.routing.preference import Preference, flow_answer
from contact_router.routing.router import Router

# Kept back from the Lambda's remaining time for serialising the answer and the decision record.
ANSWER_MARGIN_MS = 250
# Never wait longer than this for a decision, whatever the function timeout says.
MAX_BUDGET_MS = 7_000


class FlowEventError(ValueError):
    """The payload is not a contact flow event this function can read."""


def contact_from_flow(event: Mapping[str, Any]) -> tuple[Contact, str]:
    """A ``ConnectContactFlowEvent`` -> the contact as the rules see it, and the instance ARN it came from.

    The event carries what DescribeContact would say (attributes included), so no Connect call is needed.
    Channel and initiation method are read as strings: Powertools' enums know only VOICE and CHAT.
    """
    try:
        data = ConnectContactFlowEvent(dict(event)).contact_data
        raw: Mapping[str, Any] = data.raw_event
        contact_id = str(data.contact_id)
        instance_arn = str(data.instance_arn)
    except (KeyError, TypeError, AttributeError) as exc:
        raise FlowEventError(f"not a contact flow event: missing {exc}") from exc
    queue = raw.get("Queue") or {}
    endpoint = raw.get("CustomerEndpoint") or {}
    attributes = raw.get("Attributes") or {}
    if not isinstance(queue, Mapping) or not isinstance(attributes, Mapping) or not isinstance(endpoint, Mapping):
        raise FlowEventError("not a contact flow event: Queue, Attributes and CustomerEndpoint must be objects")
    contact = Contact(
        id=contact_id,
        channel=str(raw.get("Channel") or "").upper(),
        initiation_method=str(raw.get("InitiationMethod") or "").upper() or None,
        queue_id=queue_id_from_arn(str(queue["ARN"])) if queue.get("ARN") else None,
        initial_contact_id=raw.get("InitialContactId") or None,
        previous_contact_id=raw.get("PreviousContactId") or None,
        related_contact_id=raw.get("RelatedContactId") or None,
        attributes={str(k): str(v) for k, v in attributes.items() if v is not None},
        tags={str(k): str(v) for k, v in (raw.get("Tags") or {}).items()},
        segment_attributes=flatten_segment_attributes(raw.get("SegmentAttributes")),
        customer_endpoint=(str(endpoint.get("Type") or ""), str(endpoint["Address"]))
        if endpoint.get("Address")
        else None,
        customer_id=raw.get("CustomerId") or None,
    )
    return contact, instance_arn


@dataclass
class FlowApp:
    router: Router
    instance_arn: str

    def answer(self, event: Mapping[str, Any], remaining_ms: Callable[[], int]) -> dict[str, str]:
        """Decide within the deadline, record the decision, answer the flow. Never raises."""
        budget_s = max(0.0, min(remaining_ms() - ANSWER_MARGIN_MS, MAX_BUDGET_MS) / 1000)
        contact_id = None
        try:
            contact, instance_arn = contact_from_flow(event)
            contact_id = contact.id
            if instance_arn.lower() != self.instance_arn.lower():
                decision = _failed(
                    contact_id, "other_instance", f"flow of {instance_arn}; this deployment serves {self.instance_arn}"
                )
            else:
                decision = _within(budget_s, lambda: self.router.prefer(contact))
        except FlowEventError as exc:
            decision = _failed(contact_id, "malformed_event", str(exc))
        except FutureTimeout:
            decision = _failed(contact_id, "deadline", f"no decision within {budget_s:.2f} s: no preference")
        except ContactRouterError as exc:
            decision = _failed(contact_id, exc.reason, exc.message)
        except Exception as exc:  # noqa: BLE001 - the flow boundary: any failure must still answer "no preference"
            logger.exception("flow decision failed", contact_id=contact_id)
            decision = _failed(contact_id, "internal_error", type(exc).__name__)
        record_decision(decision)
        return flow_answer(
            _preference(decision), outcome=decision.outcome.value, reason=decision.reason or "", rule=decision.rule
        )


def _within(budget_s: float, decide: Callable[[], Decision]) -> Decision:
    """``decide()`` on its own thread, waited for at most ``budget_s`` seconds (its clients' timeouts end it
    soon after; its late answer is dropped). A daemon thread: nothing waits for it at shutdown."""
    future: Future[Decision] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(decide())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which classifies it
            future.set_exception(exc)

    threading.Thread(target=run, name="flow-decision", daemon=True).start()
    return future.result(timeout=budget_s)


def _failed(contact_id: str | None, reason: str, detail: str) -> Decision:
    return Decision(
        outcome=Outcome.FAILED,
        contact_id=contact_id,
        event_type="FLOW",
        reason=reason,
        detail=detail + " -> the flow proceeds to the queue",
    )


def _preference(decision: Decision) -> Preference | None:
    if decision.outcome is not Outcome.PREFERRED or not decision.routing_steps:
        return None
    return Preference(decision.routing_steps, decision.routing_step_seconds or 0, available=0)


def answer_without_app(exc: BaseException) -> dict[str, str]:
    """The answer when the app cannot even be built (settings, rules file): no preference, with the reason."""
    decision = _failed(None, "configuration", type(exc).__name__)
    record_decision(decision)
    return flow_answer(None, outcome=decision.outcome.value, reason="configuration")
