"""AppConfig validator Lambda: runs the project's own rules validation on a document before AppConfig stores or
deploys it. Raising refuses the version (AppConfig shows the one-line message); returning accepts it."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.config import ValidatorSettings
from contact_router.observability import logger, metrics, traced
from contact_router.rules.validator import RulesRejected, ValidationRequest, validate


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    settings = ValidatorSettings.from_env(os.environ)
    try:
        request = ValidationRequest.from_event(event)
        version = validate(request, allow_barge=settings.allow_barge)
    except RulesRejected as exc:
        logger.error("rules rejected", problems=exc.problems)
        metrics.add_metric(name="RulesRejected", unit=MetricUnit.Count, value=1)
        raise
    logger.info("rules accepted", rules_source=request.source, rules_version=version, uri=request.uri)
    metrics.add_metric(name="RulesAccepted", unit=MetricUnit.Count, value=1)
    return {"rules_version": version}
