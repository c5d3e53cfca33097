"""Supervision Lambda: SQS batch of CONNECTED_TO_AGENT events -> monitoring decisions, partial batch failures."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.app import SupervisionApp, build_supervision_app
from contact_router.config import Settings
from contact_router.observability import logger, metrics

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_app: SupervisionApp | None = None


def default_app() -> SupervisionApp:
    """Built once per execution environment, from the environment variables (see config.py)."""
    global _app  # noqa: PLW0603 - one composition per execution environment
    if _app is None:
        _app = build_supervision_app(Settings.from_env(os.environ))
    return _app


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, app: SupervisionApp | None = None) -> dict[str, Any]:
    app = app or default_app()
    app.register_lambda_context(context)
    return dict(
        process_partial_response(event=event, record_handler=app.handle_record, processor=processor, context=context)
    )
