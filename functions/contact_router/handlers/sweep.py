"""Sweep Lambda: on a schedule, re-inject contacts whose QUEUED event never reached the router."""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.observability import logger, metrics
from contact_router.sweep.app import SweepApp, build_sweep
from contact_router.sweep.settings import SweepSettings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, app: SweepApp | None = None) -> dict[str, Any]:
    return (app or default_app()).run(event, context).to_record()


@functools.cache
def default_app() -> SweepApp:
    """Built once per execution environment, from the environment variables (see sweep/settings.py)."""
    return build_sweep(SweepSettings.from_env(os.environ))
