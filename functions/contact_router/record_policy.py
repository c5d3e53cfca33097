"""The per-record failure policy every SQS-fed function shares: one SQS record -> one decision record.

Permanent failures are dead-lettered at once with their reason; transient ones (and bugs) are raised so the
batch processor gives the record back to SQS. ``failure`` is the one builder of a failed record's decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.adapters.dead_letter import DeadLetterQueue
from contact_router.adapters.idempotency import DynamoDBIdempotency
from contact_router.errors import ContactRouterError, PermanentError, TransientError
from contact_router.models.affinity import AffinityDecision, AffinityOutcome
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import Decision, Outcome
from contact_router.models.supervision import SupervisionDecision, SupervisionOutcome
from contact_router.observability import debug_payload, logger, metrics, record_decision
from contact_router.records import parse_record
from contact_router.routing.fallback import Recheck

# A record is only started with this much time left: three Connect calls with retries fit in it. Records
# not started go back to SQS untouched instead of being cut off by the function timeout mid-way.
DEADLINE_MARGIN_MS = 10_000

# Records that are not this deployment's Connect contact events at all (records.py, the instance checks).
FOREIGN_EVENT_REASONS = frozenset({"not_a_contact_event", "other_instance"})

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
    # The source queue's redrive maxReceiveCount (MAX_RECEIVE_COUNT): on a record's last receive a failure
    # is dead-lettered here with its reason, instead of SQS moving the message on with none.
    max_receive_count: int | None = None

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
            event, recheck = parse_record(record.body)
            # The record as understood (known fields only, customer fields masked): a body that is not one
            # can carry anything anywhere, so it is not logged (the dead-letter queue keeps it).
            debug_payload("sqs record", event=event.model_dump(mode="json"), recheck=recheck and recheck.to_message())
            contact_id = event.contact_id
            logger.append_keys(contact_id=contact_id)
            decision = self.decide(event, recheck, self.prefetched)
        except PermanentError as exc:
            return self._reject(record, contact_id, exc)
        except TransientError as exc:
            if self._last_receive(record):
                return self._reject(record, contact_id, self._exhausted(record, exc.reason, exc.message, exc))
            record_decision(failure(self.kind, contact_id, exc.reason, exc.message, permanent=False))
            raise
        except Exception as exc:
            # A bug, not a verdict on the record: log it with its traceback and give the record back, up to
            # the queue's maxReceiveCount; on the last receive it is dead-lettered here with its reason.
            logger.exception("unexpected error while deciding a record")
            message = f"{type(exc).__name__}: {exc}"
            if self._last_receive(record):
                return self._reject(record, contact_id, self._exhausted(record, "unexpected_error", message, exc))
            record_decision(failure(self.kind, contact_id, "unexpected_error", message, permanent=False))
            raise
        else:
            record_decision(decision)
            return decision
        finally:
            logger.remove_keys(["message_id", "receive_count", "contact_id"])

    def _reject(self, record: SQSRecord, contact_id: str | None, exc: PermanentError) -> D:
        rejected = failure(self.kind, contact_id, exc.reason, exc.message, permanent=True)
        record_decision(rejected)
        if exc.reason in FOREIGN_EVENT_REASONS:
            metrics.add_metric(name="ForeignEventRejected", unit=MetricUnit.Count, value=1)
        self._dead_letter(record, exc)
        return rejected

    def _last_receive(self, record: SQSRecord) -> bool:
        if self.max_receive_count is None or self.dead_letters is None:
            return False
        try:
            received = int(record.attributes.approximate_receive_count or "1")
        except ValueError:
            return False
        return received >= self.max_receive_count

    def _exhausted(self, record: SQSRecord, reason: str, message: str, cause: Exception) -> PermanentError:
        """The last failure of a record SQS would now redrive without a reason: dead-letter it with this one."""
        received = record.attributes.approximate_receive_count
        metrics.add_metric(name="RetriesExhausted", unit=MetricUnit.Count, value=1)
        error = PermanentError(
            reason, f"retries exhausted ({received} of {self.max_receive_count} receives): {message}"
        )
        error.__cause__ = cause
        return error

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
