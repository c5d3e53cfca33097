"""Logger, tracer and metrics, configured once. One structured decision line and one metric per contact."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from contact_router.models.affinity import AffinityDecision
from contact_router.models.decision import Decision
from contact_router.models.supervision import SupervisionDecision

SERVICE = "contact-router"
NAMESPACE = "ContactRouter"

# Each function sets POWERTOOLS_SERVICE_NAME (template.yaml): contact-router, contact-router-supervision.
_service = os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE
logger = Logger(service=_service)
metrics = Metrics(namespace=NAMESPACE, service=_service)
# Tracing is a deployment choice: template.yaml's ActiveTracing sets POWERTOOLS_TRACE_DISABLED. When it is off
# no Tracer is made at all, because making one imports the X-Ray SDK: about 0.3 s more of every cold start
# (python -X importtime; the handler module alone imports in about 0.06 s).
_TRACING = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() not in {"true", "1"}
tracer: Tracer | None = Tracer(service=_service) if _TRACING else None

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def traced(handler: _Handler) -> _Handler:
    """``tracer.capture_lambda_handler(capture_response=False)`` when tracing is on (responses hold no
    customer data, but they are not worth a trace either); the handler unchanged when it is off."""
    if tracer is None:
        return handler
    return cast(_Handler, tracer.capture_lambda_handler(handler, capture_response=False))


# Anything that identifies a customer or may carry what a customer wrote, wherever it sits in an event or an
# API answer (DescribeContact, SearchContacts, the SQS record): erased before logging. PascalCase is the
# Connect API's spelling, camelCase the contact events', snake_case ours.
CUSTOMER_FIELDS = [
    # endpoints: phone numbers, email addresses and their display names
    "$..customerEndpoint",
    "$..CustomerEndpoint",
    "$..customer_endpoint",
    "$..SystemEndpoint",
    "$..systemEndpoint",
    "$..AdditionalEmailRecipients",
    "$..additionalEmailRecipients",
    "$..Address",
    "$..address",
    "$..DisplayName",
    "$..displayName",
    "$..CustomerId",
    "$..customerId",
    "$..customer_id",
    "$..Customer",  # the customer's device: platform, version, operating system
    # free-form maps a flow, an integration or Connect fills from the customer's words
    "$..Attributes",  # user-defined contact attributes: names, account numbers...
    "$..attributes",
    "$..Tags",  # contact tags set by flows and APIs
    "$..tags",
    "$..SegmentAttributes",  # e.g. connect:EmailSubject, connect:CustomerName...
    "$..segmentAttributes",
    "$..segment_attributes",
    # task and email names and descriptions are written by or about the customer
    "$..ContactDetails",
    "$..Name",
    "$..Description",
    "$..References",
]


def masked(data: Any) -> Any:
    """A copy of ``data`` with every customer-identifying field erased (Powertools data masking)."""
    from aws_lambda_powertools.utilities.data_masking import DataMasking

    masking = DataMasking()
    plain = json.loads(json.dumps(data, default=str))  # API answers carry datetimes
    for field in CUSTOMER_FIELDS:  # one at a time: erasing a parent removes its children
        if field.removeprefix("$..") in _keys(plain):
            plain = masking.erase(plain, fields=[field])
    return plain


def _keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {key for value in data.values() for key in _keys(value)}
    if isinstance(data, list):
        return {key for value in data for key in _keys(value)}
    return set()


def debug_payload(message: str, **payloads: Any) -> None:
    """DEBUG-level logging of raw payloads, masked; free when DEBUG is off."""
    if logger.log_level <= logging.DEBUG:
        logger.debug(message, **{name: masked(value) for name, value in payloads.items()})


# A decision line names at most this many candidates; the rest are counted by verdict (full list at DEBUG).
LOGGED_CANDIDATES = 10


def capped(record: dict[str, Any], limit: int = LOGGED_CANDIDATES) -> dict[str, Any]:
    """The decision record with its candidates beyond ``limit`` summarised (the chosen one always named):
    a rule over a 100-agent routing profile made a 12.8 KB log line. At DEBUG the full list is logged."""
    candidates = record.get("candidates") or []
    if len(candidates) <= limit:
        return record
    if logger.log_level <= logging.DEBUG:
        logger.debug("decision candidates in full", contact_id=record.get("contact_id"), candidates=candidates)
    kept = candidates[:limit]
    chosen = [c for c in candidates[limit:] if c.get("verdict") == "chosen"]
    rest = [c for c in candidates[limit:] if c.get("verdict") != "chosen"]
    by_verdict: dict[str, int] = {}
    for candidate in rest:
        by_verdict[candidate.get("verdict", "?")] = by_verdict.get(candidate.get("verdict", "?"), 0) + 1
    return {**record, "candidates": kept + chosen, "candidates_not_shown": {"count": len(rest), **by_verdict}}


def record_decision(decision: Decision | SupervisionDecision | AffinityDecision) -> None:
    """The decision record: the answer to "why did this contact go there?" (no customer data in it).

    Routing decisions log ``routing decision`` with a ``decision`` object, supervision decisions log
    ``supervision decision`` with a ``supervision`` object; each counts one metric named after its outcome
    (the two functions have their own ``service`` dimension).
    """
    if isinstance(decision, SupervisionDecision):
        logger.info("supervision decision", supervision=decision.to_record())
    elif isinstance(decision, AffinityDecision):
        logger.info("affinity decision", affinity=decision.to_record())
    else:
        logger.info("routing decision", decision=capped(decision.to_record()))
    metrics.add_metric(name=decision.outcome.value, unit=MetricUnit.Count, value=1)
