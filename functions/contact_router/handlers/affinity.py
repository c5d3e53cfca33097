"""Affinity recorder Lambda: CONNECTED_TO_AGENT events of every channel -> last agent per customer key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.config import Settings
from contact_router.handlers.sqs import SqsFunction
from contact_router.observability import logger, metrics, traced

if TYPE_CHECKING:  # built at the first invocation: the init phase imports none of it
    from contact_router.record_policy import AffinityApp


def _build(settings: Settings) -> AffinityApp:
    from contact_router.composition import build_affinity_app  # at the first invocation, not in the init phase

    return build_affinity_app(settings)


function = SqsFunction["AffinityApp"](_build)


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, app: AffinityApp | None = None) -> dict[str, Any]:
    return function.handle(event, context, app)
