"""Sweep Lambda: on a schedule, re-inject contacts whose QUEUED event never reached the router."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.observability import logger, metrics, traced
from contact_router.sweep.settings import SweepSettings

if TYPE_CHECKING:
    from contact_router.sweep.schedule import ScheduledSweep


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, app: ScheduledSweep | None = None) -> dict[str, Any]:
    return (app or default_app()).run(event, context).to_record()


@functools.cache
def default_app() -> ScheduledSweep:
    """Built once per execution environment, from the environment variables (see sweep/settings.py)."""
    from contact_router.composition import build_sweep_app  # at the first invocation, not in the init phase

    return build_sweep_app(SweepSettings.from_env(os.environ))
