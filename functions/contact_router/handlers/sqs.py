"""What every SQS-fed function shares (public: the local runner and the simulator drive it too): one app per
execution environment, built at the first invocation (not at import: the init phase stays small), and
partial batch responses from the app's per-record policy (record_policy.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.config import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor

    from contact_router.record_policy import RecordPolicy

A = TypeVar("A", bound="RecordPolicy[Any]")


class SqsFunction(Generic[A]):
    def __init__(self, build: Callable[[Settings], A]) -> None:
        self._build = build
        self._app: A | None = None
        self._processor: BatchProcessor | None = None

    def app(self) -> A:
        """Built once per execution environment, from the environment variables (see config.py)."""
        if self._app is None:
            self._app = self._build(Settings.from_env(os.environ))
        return self._app

    def reset(self) -> None:
        """Forget the app (tests that change the environment)."""
        self._app = None

    @property
    def processor(self) -> BatchProcessor:
        if self._processor is None:
            from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

            # A batch where every record failed is reported like any other (the failed ids), not raised:
            # the per-record error policy already decided what to retry.
            self._processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        return self._processor

    def handle(self, event: dict[str, Any], context: LambdaContext, app: A | None = None) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.batch import process_partial_response

        app = app or self.app()
        app.register_lambda_context(context)
        app.start_batch(event.get("Records", []))
        try:
            return dict(
                process_partial_response(
                    event=event, record_handler=app.handle_record, processor=self.processor, context=context
                )
            )
        finally:
            app.end_batch()
