"""Router Lambda: SQS batch of EventBridge contact events (and its own re-checks) -> routing decisions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.config import Settings
from contact_router.handlers.sqs import SqsFunction
from contact_router.observability import logger, metrics, traced

if TYPE_CHECKING:  # built at the first invocation: the init phase imports none of it
    from contact_router.record_policy import RouterApp


def _build(settings: Settings) -> RouterApp:
    from contact_router.composition import build_router_app  # at the first invocation, not in the init phase

    return build_router_app(settings)


function = SqsFunction["RouterApp"](_build)


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, app: RouterApp | None = None) -> dict[str, Any]:
    return function.handle(event, context, app)


def default_app() -> RouterApp:
    """The execution environment's app (what a cold start builds)."""
    return function.app()
