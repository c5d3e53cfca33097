"""Logger and metrics, configured once. One structured decision line and one metric per contact."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from contact_router.models.decision import Decision

SERVICE = "contact-router"
NAMESPACE = "ContactRouter"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def record_decision(decision: Decision) -> None:
    """The decision record: the answer to "why did this contact go there?" (no customer data in it)."""
    logger.info("routing decision", decision=decision.to_record())
    metrics.add_metric(name=decision.outcome.value, unit=MetricUnit.Count, value=1)
