"""Supervision Lambda: SQS batch of CONNECTED_TO_AGENT events -> monitoring decisions."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.app import SupervisionApp, build_supervision_app
from contact_router.handlers._sqs import SqsFunction
from contact_router.observability import logger, metrics

function = SqsFunction[SupervisionApp](build_supervision_app)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, app: SupervisionApp | None = None) -> dict[str, Any]:
    return function.handle(event, context, app)
