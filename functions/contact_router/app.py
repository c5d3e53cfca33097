"""Composition root and the per-record policy of the router.

``build_router_app`` wires adapters to the routing core from ``Settings``; clients can be injected (tests,
the local runner) and default to real boto3 clients. ``RouterApp.handle_record`` turns one SQS record into
one decision record and applies the error policy: permanent failures are dead-lettered at once with their
reason, transient ones are raised so the batch processor gives the record back to SQS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from contact_router.adapters import aws
from contact_router.adapters.connect import ConnectGateway
from contact_router.adapters.dead_letter import DeadLetterQueue
from contact_router.adapters.idempotency import DynamoDBIdempotency
from contact_router.adapters.rules_store import RulesProvider, remote_fetcher
from contact_router.config import Settings
from contact_router.errors import PermanentError, TransientError
from contact_router.models.contact_event import ContactEvent
from contact_router.models.decision import Decision, Outcome
from contact_router.observability import logger, record_decision
from contact_router.routing.router import Router, RouterOptions

# A record is only started with this much time left: three Connect calls with retries fit in it. Records
# not started go back to SQS untouched instead of being cut off by the function timeout mid-way.
DEADLINE_MARGIN_MS = 10_000


@dataclass
class RouterApp:
    router: Router
    dead_letters: DeadLetterQueue | None
    idempotency: DynamoDBIdempotency | None = None
    context: LambdaContext | None = None

    def register_lambda_context(self, context: LambdaContext | None) -> None:
        self.context = context
        if self.idempotency is not None and context is not None:
            self.idempotency.register_lambda_context(context)

    def handle_record(self, record: SQSRecord) -> Decision:
        """Route one SQS record. Raises only for transient failures (the record goes back to SQS)."""
        logger.append_keys(message_id=record.message_id, receive_count=record.attributes.approximate_receive_count)
        try:
            return self._handle(record)
        finally:
            logger.remove_keys(["message_id", "receive_count", "contact_id"])

    def _handle(self, record: SQSRecord) -> Decision:
        contact_id: str | None = None
        try:
            self._check_deadline()
            event = parse_contact_event(record.body)
            contact_id = event.detail.contact_id
            logger.append_keys(contact_id=contact_id)
            decision = self.router.route(event.detail)
        except PermanentError as exc:
            decision = Decision(outcome=Outcome.REJECTED, contact_id=contact_id, reason=exc.reason, detail=exc.message)
            record_decision(decision)
            self._dead_letter(record, exc)
            return decision
        except TransientError as exc:
            record_decision(
                Decision(outcome=Outcome.FAILED, contact_id=contact_id, reason=exc.reason, detail=exc.message)
            )
            raise
        record_decision(decision)
        return decision

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


def parse_contact_event(body: str) -> ContactEvent:
    """SQS body (the EventBridge event as JSON) -> ContactEvent, or PermanentError("malformed_event")."""
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, TypeError) as exc:
        raise PermanentError(
            "malformed_event", f"SQS body is not JSON: {exc.msg if hasattr(exc, 'msg') else exc}"
        ) from exc
    if not isinstance(raw, dict):
        raise PermanentError("malformed_event", f"SQS body is a JSON {type(raw).__name__}, not an event object")
    try:
        return parse(event=raw, model=ContactEvent)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)[:5]
        )
        raise PermanentError("malformed_event", f"not an Amazon Connect contact event: {problems}") from exc


def build_router_app(
    settings: Settings,
    *,
    connect_client: Any = None,
    dynamodb_client: Any = None,
    sqs_client: Any = None,
    ssm_client: Any = None,
    appconfig_client: Any = None,
) -> RouterApp:
    connect = ConnectGateway(
        connect_client or aws.client("connect", settings.region, aws.CONNECT_CONFIG),
        instance_id=settings.instance_id,
        user_cache_seconds=settings.user_cache_seconds,
    )
    fetch = remote_fetcher(settings.rules, ssm_client, appconfig_client)
    rules = RulesProvider(settings.rules, fetch)
    rules.current()  # fail at start-up, not per record, if the rules are invalid
    idempotency = (
        DynamoDBIdempotency(
            settings.idempotency_table,
            settings.idempotency_ttl_seconds,
            dynamodb_client or aws.client("dynamodb", settings.region),
        )
        if settings.idempotency_table
        else None
    )
    dead_letters = (
        DeadLetterQueue(settings.dead_letter_queue_url, sqs_client or aws.client("sqs", settings.region))
        if settings.dead_letter_queue_url
        else None
    )
    router = Router(
        RouterOptions(
            instance_arn=settings.instance_arn,
            dry_run=settings.dry_run,
            route_voice=settings.route_voice,
            allowed_agent_arn_pattern=settings.allowed_agent_arn_pattern,
        ),
        connect=connect,
        users=connect,
        rules=rules,
        idempotency=idempotency,
    )
    logger.debug(
        "router configured",
        rules_source=rules.source,
        dry_run=settings.dry_run,
        idempotency=bool(idempotency),
        dead_letter_queue=bool(dead_letters),
    )
    return RouterApp(router=router, dead_letters=dead_letters, idempotency=idempotency)
