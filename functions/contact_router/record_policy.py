"""The per-record failure policy every SQS-fed function shares: one SQS record -> one decision record.

Permanent failures are dead-lettered at once with their reason; transient ones (and bugs) are raised so the
batch processor gives the record back to SQS. ``failure`` is the one builder of a failed record's decision.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.adapters.dead_letter import DeadLetterQueue
from contact_router.errors import ContactRouterError, PermanentError, TransientError
from contact_router.models.affinity import AffinityDecision, AffinityOutcome
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import Decision, Outcome
from contact_router.models.supervision import SupervisionDecision, SupervisionOutcome
from contact_router.observability import debug_payload, logger, metrics, record_decision
from contact_router.records import parse_record
from contact_router.routing.episodes import Delivery
from contact_router.routing.fallback import Recheck

if TYPE_CHECKING:  # Powertools idempotency is the supervision function's alone: not imported by the router
    from contact_router.adapters.idempotency import DynamoDBIdempotency

# A record is only started with this much time left (or 1.5x the slowest record of this invocation, if more):
# three Connect calls with a retry fit in it. The first record of an invocation is the exception (see
# ``_may_start``): it always starts, so a slow Connect slows the function down but never stops it.
DEADLINE_MARGIN_MS = 10_000
SLOWEST_RECORD_FACTOR = 1.5

# Records that are not this deployment's Connect contact events at all (records.py, the instance checks).
FOREIGN_EVENT_REASONS = frozenset({"not_a_contact_event", "other_instance"})

D = TypeVar("D", Decision, SupervisionDecision, AffinityDecision)
T = TypeVar("T")

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

    decide: Callable[[ContactEventDetail, Recheck | None, Any, Delivery], D]
    kind: type[D]
    dead_letters: DeadLetterQueue | None
    idempotency: DynamoDBIdempotency | None = None
    context: LambdaContext | None = None
    # Optional read-only first pass over a whole batch (the router shares one GetCurrentUserData).
    prefetch: Callable[[Iterator[tuple[ContactEventDetail, Recheck | None, Delivery | None]]], Any] | None = None
    prefetched: Any = None
    # A record not started in this invocation gives back what the prefetch took for it (its episode claim).
    abandon: Callable[[Delivery, Any], None] | None = None
    # Sends a record not started in this invocation back to its queue as a new message (see ``_defer``);
    # None: it is handed back as a batch item failure instead.
    requeue: Callable[[str, str], None] | None = None
    # What this invocation has spent (time budget): set by start_batch.
    _budget: _Budget = field(default_factory=lambda: _Budget(None))
    _parsed: dict[str, tuple[ContactEventDetail, Recheck | None]] = field(default_factory=dict)
    # The source queue's redrive maxReceiveCount (MAX_RECEIVE_COUNT): on a record's last receive a failure
    # is dead-lettered here with its reason, instead of SQS moving the message on with none.
    max_receive_count: int | None = None

    def start_batch(self, records: list[dict[str, Any]]) -> None:
        """Parse each record once and prefetch what the time budget allows before the records are decided
        one by one; a record that cannot be parsed here is left to the per-record path (which rejects it
        with its reason)."""
        self.prefetched = None
        self._budget = _Budget(self.context)
        self._parsed = {}
        items: list[tuple[ContactEventDetail, Recheck | None, Delivery | None]] = []
        for record in records:
            try:
                event, recheck = parse_record(str(record.get("body", "")))
            except ContactRouterError:
                continue
            message_id = str(record.get("messageId", ""))
            self._parsed[message_id] = (event, recheck)
            items.append((event, recheck, self._delivery(message_id)))
        if self.prefetch is None or not self._budget.may_start_prefetch():
            return  # no time to prefetch: each record meets the deadline check on its own path
        try:
            self.prefetched = self.prefetch(self._budget.prefetching(items))
        except Exception:  # noqa: BLE001 - prefetching is optional; the traceback is logged
            # Prefetching only saves calls: a bug in it must not fail the batch. Every record still takes its
            # own path, with the usual error policy.
            logger.exception("batch prefetch failed; deciding each record on its own")
            self.prefetched = None

    def end_batch(self) -> None:
        self.prefetched = None
        self._parsed = {}

    def register_lambda_context(self, context: LambdaContext | None) -> None:
        self.context = context
        if self.idempotency is not None and context is not None:
            self.idempotency.register_lambda_context(context)

    def handle_record(self, record: SQSRecord) -> D:
        """Decide one SQS record. Raises only for transient failures (the record goes back to SQS)."""
        logger.thread_safe_append_keys(
            message_id=record.message_id, receive_count=record.attributes.approximate_receive_count
        )
        contact_id: str | None = None
        parsed = self._parsed.pop(record.message_id, None)
        delivery = self._delivery(record.message_id)
        if not self._budget.may_start():
            return self._defer(record, parsed, delivery)
        started = time.monotonic()
        try:
            event, recheck = parsed or parse_record(record.body)
            # The record as understood (known fields only, customer fields masked): a body that is not one
            # can carry anything anywhere, so it is not logged (the dead-letter queue keeps it).
            if logger.log_level <= logging.DEBUG:  # model_dump costs tens of microseconds a record: only when logged
                debug_payload(
                    "sqs record", event=event.model_dump(mode="json"), recheck=recheck and recheck.to_message()
                )
            contact_id = event.contact_id
            logger.thread_safe_append_keys(contact_id=contact_id)
            decision = self.decide(event, recheck, self.prefetched, delivery)
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
            self._budget.finished((time.monotonic() - started) * 1000)
            logger.thread_safe_remove_keys(["message_id", "receive_count", "contact_id"])

    def _delivery(self, message_id: str) -> Delivery:
        return Delivery(message_id=message_id, remaining_ms=self._budget.remaining_ms())

    def _defer(
        self, record: SQSRecord, parsed: tuple[ContactEventDetail, Recheck | None] | None, delivery: Delivery
    ) -> D:
        """A record this invocation has no time to start, given back to SQS without being worked on.

        SQS counts every receive: a message handed back as a batch item failure (or made visible again with
        ChangeMessageVisibility 0) keeps the receive count its delivery already added, so a record left
        unstarted five times would be dead-lettered by the redrive policy without ever being tried. When the
        function knows its queue (``requeue``), the record is sent again as a new message (receive count 0,
        same body) and this delivery is deleted; otherwise, or if that send fails, it is a batch item failure.
        """
        contact_id = parsed[0].contact_id if parsed else None
        left = self._budget.remaining_ms()
        if self.abandon is not None:
            try:
                self.abandon(delivery, self.prefetched)
            except ContactRouterError as exc:  # the claim then ends with this invocation's lease
                logger.warning("prefetched claim not given back", reason=exc.reason)
        message = f"only {left} ms left in this invocation; record not started"
        try:
            if self.requeue is None:
                raise TransientError("deadline", f"{message}; left for a retry")
            self.requeue(record.body, record.message_id)
        except TransientError as exc:
            try:
                if self._last_receive(record):
                    return self._reject(record, contact_id, self._exhausted(record, exc.reason, exc.message, exc))
                record_decision(failure(self.kind, contact_id, "deadline", exc.message, permanent=False))
                raise
            finally:
                logger.thread_safe_remove_keys(["message_id", "receive_count", "contact_id"])
        logger.thread_safe_remove_keys(["message_id", "receive_count", "contact_id"])
        logger.info("record deferred", message_id=record.message_id, contact_id=contact_id, left_ms=left)
        metrics.add_metric(name="Deferred", unit=MetricUnit.Count, value=1)
        return failure(self.kind, contact_id, "deferred", f"{message}; sent to the queue again", permanent=False)

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


@dataclass
class _Budget:
    """One invocation's time: whether to prefetch another record, whether to start the next one.

    The first record of an invocation always starts (when the invocation itself began with at least
    ``DEADLINE_MARGIN_MS``: Lambda starts every invocation with the whole function timeout), so every
    invocation finishes a record whenever Connect answers within the client's timeouts. Prefetching stops
    while there is still time to act on what was prefetched: each DescribeContact it makes must leave time for
    one AssociateContactWithUser per contact prefetched so far plus the shared GetCurrentUserData, at the
    pace Connect answered so far.
    """

    context: LambdaContext | None
    began_ms: int | None = None
    started: int = 0
    slowest_ms: float = 0.0

    def __post_init__(self) -> None:
        self.began_ms = self.remaining_ms()

    def remaining_ms(self) -> int | None:
        return None if self.context is None else self.context.get_remaining_time_in_millis()

    def may_start_prefetch(self) -> bool:
        left = self.remaining_ms()
        return left is None or left >= DEADLINE_MARGIN_MS

    def prefetching(self, items: list[T]) -> Iterator[T]:
        for done, item in enumerate(items):
            left, began = self.remaining_ms(), self.began_ms
            if done and left is not None and began is not None:
                per_call = (began - left) / done
                # this DescribeContact, then an association for each contact prefetched and the shared read
                if left - per_call < max(DEADLINE_MARGIN_MS, (done + 2) * per_call):
                    logger.debug("prefetch stopped by the time budget", prefetched=done, left_ms=left)
                    return
            yield item

    def may_start(self) -> bool:
        left = self.remaining_ms()
        if left is None or (self.started == 0 and (self.began_ms or 0) >= DEADLINE_MARGIN_MS):
            self.started += 1
            return True
        if left < max(DEADLINE_MARGIN_MS, SLOWEST_RECORD_FACTOR * self.slowest_ms):
            return False
        self.started += 1
        return True

    def finished(self, elapsed_ms: float) -> None:
        self.slowest_ms = max(self.slowest_ms, elapsed_ms)


RouterApp = RecordPolicy[Decision]
SupervisionApp = RecordPolicy[SupervisionDecision]
AffinityApp = RecordPolicy[AffinityDecision]
