"""Logger and metrics, configured once. One structured decision line and one metric per contact."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
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
        logger.info("routing decision", decision=decision.to_record())
    metrics.add_metric(name=decision.outcome.value, unit=MetricUnit.Count, value=1)
