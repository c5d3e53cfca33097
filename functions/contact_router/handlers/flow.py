"""Contact-flow Lambda: the "Invoke AWS Lambda function" block's ConnectContactFlowEvent -> a flat map of
strings (preferred agent ids in order, step durations, rule, reason). Fails open: see flow_app.py."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.config import Settings
from contact_router.observability import logger, metrics, traced

if TYPE_CHECKING:  # built at the first invocation: the init phase imports none of it
    from contact_router.flow_app import FlowApp

_app: FlowApp | None = None


def default_app() -> FlowApp:
    """The execution environment's app (what a cold start builds), from the environment (config.py)."""
    global _app  # noqa: PLW0603 - one app per execution environment
    if _app is None:
        from contact_router.composition import build_flow_app

        _app = build_flow_app(Settings.from_env(os.environ))
    return _app


def reset() -> None:
    """Forget the app (tests that change the environment)."""
    global _app  # noqa: PLW0603
    _app = None


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, app: FlowApp | None = None) -> dict[str, str]:
    from contact_router.flow_app import answer_without_app

    try:
        app = app or default_app()
    except Exception as exc:  # noqa: BLE001 - a broken deployment still lets the flow proceed to the queue
        logger.exception("flow entry point could not start")
        return answer_without_app(exc)
    return app.answer(event, context.get_remaining_time_in_millis)
