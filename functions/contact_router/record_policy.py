"""The per-record failure policy every SQS-fed function shares: one SQS record -> one decision record.

Permanent failures are dead-lettered at once with their reason; transient ones (and bugs) are raised so the
batch processor gives the record back to SQS. ``failure`` is the one builder of a failed record's decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.adapters.dead_letter import DeadLetterQueue
from contact_router.adapters.idempotency import DynamoDBIdempotency
from contact_router.errors import ContactRouterError, PermanentError, TransientError
from contact_router.models.affinity import AffinityDecision, AffinityOutcome
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import Decision, Outcome
from contact_router.models.supervision import SupervisionDecision, SupervisionOutcome
from contact_router.observability import debug_payload, logger, record_decision
from contact_router.records import json_or_text, parse_record
from contact_router.routing.fallback import Recheck

# A record is only started with this much time left: three Connect calls with retries fit in it. Records
# not started go back to SQS untouched instead of being cut off by the function timeout mid-way.
DEADLINE_MARGIN_MS = 10_000

D = TypeVar("D", Decision, SupervisionDecision, AffinityDecision)

_OUTCOMES: dict[type[Any], type[StrEnum]] = {
    Decision: Outcome,
    SupervisionDecision: SupervisionOutcome,
    AffinityDecision: AffinityOutcome,
}


def failure(kind: type[D], contact_id: str | None, reason: str, message: str, *, permanent: bool) -> D:
    """The decision record of a failed record: Rejected when permanent, Failed when transient."""
    outcome = _OUTCOMES[kind]("Rejected" if permanent else "Failed")
    return kind(outcome=outcome, contact_id=contact_id, reason=reason, detail=message)  # type: ignore[arg-type]


@dataclass
class RecordPolicy(Generic[D]):
    """One SQS record -> one decision of type ``kind``, through ``decide`` (Router.route, Supervisor.supervise,
    AffinityRecorder.record), with the failure policy shared by every function."""

    decide: Callable[[ContactEventDetail, Recheck | None, Any], D]
    kind: type[D]
    dead_letters: DeadLetterQueue | None
    idempotency: DynamoDBIdempotency | None = None
    context: LambdaContext | None = None
    # Optional read-only first pass over a whole batch (the router shares one GetCurrentUserData).
    prefetch: Callable[[list[tuple[ContactEventDetail, Recheck | None]]], Any] | None = None
    prefetched: Any = None

    def start_batch(self, records: list[dict[str, Any]]) -> None:
        """Prefetch the batch before its records are decided one by one; a record that cannot be parsed here
        is simply left to the per-record path (which rejects it with its reason)."""
        self.prefetched = None
        if self.prefetch is None:
            return
        if self.context is not None and self.context.get_remaining_time_in_millis() < DEADLINE_MARGIN_MS:
            return  # no time to prefetch: each record meets the deadline check on its own path
        items = []
        for record in records:
            try:
                items.append(parse_record(str(record.get("body", ""))))
            except ContactRouterError:
                continue
        try:
            self.prefetched = self.prefetch(items)
        except Exception:  # noqa: BLE001 - prefetching is optional; the traceback is logged
            # Prefetching only saves calls: a bug in it must not fail the batch. Every record still takes its
            # own path, with the usual error policy.
            logger.exception("batch prefetch failed; deciding each record on its own")
            self.prefetched = None

    def end_batch(self) -> None:
        self.prefetched = None

    def register_lambda_context(self, context: LambdaContext | None) -> None:
        self.context = context
        if self.idempotency is not None and context is not None:
            self.idempotency.register_lambda_context(context)

    def handle_record(self, record: SQSRecord) -> D:
        """Decide one SQS record. Raises only for transient failures (the record goes back to SQS)."""
        logger.append_keys(message_id=record.message_id, receive_count=record.attributes.approximate_receive_count)
        contact_id: str | None = None
        try:
            self._check_deadline()
            debug_payload("sqs record", body=json_or_text(record.body))
            event, recheck = parse_record(record.body)
            contact_id = event.contact_id
            logger.append_keys(contact_id=contact_id)
            decision = self.decide(event, recheck, self.prefetched)
        except PermanentError as exc:
            rejected = failure(self.kind, contact_id, exc.reason, exc.message, permanent=True)
            record_decision(rejected)
            self._dead_letter(record, exc)
            return rejected
        except TransientError as exc:
            record_decision(failure(self.kind, contact_id, exc.reason, exc.message, permanent=False))
            raise
        except Exception as exc:
            # A bug, not a verdict on the record: log it with its traceback and give the record back; the
            # queue's redrive policy bounds the retries and dead-letters it if the bug persists.
            logger.exception("unexpected error while deciding a record")
            message = f"{type(exc).__name__}: {exc}"
            record_decision(failure(self.kind, contact_id, "unexpected_error", message, permanent=False))
            raise
        else:
            record_decision(decision)
            return decision
        finally:
            logger.remove_keys(["message_id", "receive_count", "contact_id"])

    def _check_deadline(self) -> None:
        if self.context is None:
            return
        left = self.context.get_remaining_time_in_millis()
        if left < DEADLINE_MARGIN_MS:
            raise TransientError("deadline", f"only {left} ms left in this invocation; record left for a retry")

    def _dead_letter(self, record: SQSRecord, exc: PermanentError) -> None:
        if self.dead_letters is None:
            # No dead-letter queue configured (local use): fail the record so SQS redrive keeps it.
            raise TransientError(exc.reason, f"{exc.message} (no DEAD_LETTER_QUEUE_URL to send it to)") from exc
        self.dead_letters.send(
            body=record.body,
            reason=exc.reason,
            message=exc.message,
            source_message_id=record.message_id,
            receive_count=record.attributes.approximate_receive_count,
        )


RouterApp = RecordPolicy[Decision]
SupervisionApp = RecordPolicy[SupervisionDecision]
AffinityApp = RecordPolicy[AffinityDecision]
