"""Composition root and the per-record policy of the router.

``build_router_app`` wires adapters to the routing core from ``Settings``; clients can be injected (tests,
the local runner) and default to real boto3 clients. ``RouterApp.handle_record`` turns one SQS record into
one decision record and applies the error policy: permanent failures are dead-lettered at once with their
reason, transient ones are raised so the batch processor gives the record back to SQS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from contact_router.adapters import aws
from contact_router.adapters.affinity_store import AffinityStore
from contact_router.adapters.connect import ConnectGateway
from contact_router.adapters.dead_letter import DeadLetterQueue
from contact_router.adapters.idempotency import DynamoDBIdempotency
from contact_router.adapters.pacing import Pacer
from contact_router.adapters.rechecks import SqsRechecks
from contact_router.adapters.rules_store import RulesProvider, remote_fetcher
from contact_router.adapters.secrets import secret_loader
from contact_router.config import Settings
from contact_router.customers.affinity import AffinityRecorder
from contact_router.customers.history import HistoryLookup
from contact_router.errors import ConfigurationError, ContactRouterError, PermanentError, TransientError
from contact_router.models.affinity import AffinityDecision, AffinityOutcome
from contact_router.models.contact_event import ContactEvent, ContactEventDetail
from contact_router.models.decision import Decision, Outcome
from contact_router.models.supervision import SupervisionDecision, SupervisionOutcome
from contact_router.observability import debug_payload, logger, record_decision
from contact_router.routing.fallback import RECHECK_KEY, Recheck
from contact_router.routing.ports import RecheckPort
from contact_router.routing.router import Router, RouterOptions
from contact_router.supervision.supervisor import Supervisor, SupervisorOptions

# A record is only started with this much time left: three Connect calls with retries fit in it. Records
# not started go back to SQS untouched instead of being cut off by the function timeout mid-way.
DEADLINE_MARGIN_MS = 10_000


D = TypeVar("D", Decision, SupervisionDecision, AffinityDecision)


@dataclass
class EventApp(Generic[D]):
    """One SQS record -> one decision, with the error policy shared by every function.

    ``decide`` is the use case (Router.route, Supervisor.supervise); ``failure`` builds the decision record
    of a failed record (rejected when permanent, failed when transient).
    """

    decide: Callable[[ContactEventDetail, Recheck | None, Any], D]
    failure: Callable[[str | None, str, str, bool], D]
    dead_letters: DeadLetterQueue | None
    idempotency: DynamoDBIdempotency | None = None
    context: LambdaContext | None = None
    # Optional read-only first pass over a whole batch (the router shares one GetCurrentUserData).
    plan: Callable[[list[tuple[ContactEventDetail, Recheck | None]]], Any] | None = None
    batch_plan: Any = None

    def prepare_batch(self, records: list[dict[str, Any]]) -> None:
        """Plan the batch before its records are decided one by one; a record that cannot be parsed here
        is simply left to the per-record path (which rejects it with its reason)."""
        self.batch_plan = None
        if self.plan is None:
            return
        if self.context is not None and self.context.get_remaining_time_in_millis() < DEADLINE_MARGIN_MS:
            return  # no time to plan: each record meets the deadline check on its own path
        items = []
        for record in records:
            try:
                items.append(parse_record(str(record.get("body", ""))))
            except ContactRouterError:
                continue
        try:
            self.batch_plan = self.plan(items)
        except Exception:  # noqa: BLE001 - planning is optional; the traceback is logged
            # Planning only saves calls: a bug in it must not fail the batch. Every record still takes its
            # own path, with the usual error policy.
            logger.exception("batch planning failed; deciding each record on its own")
            self.batch_plan = None

    def end_batch(self) -> None:
        self.batch_plan = None

    def register_lambda_context(self, context: LambdaContext | None) -> None:
        self.context = context
        if self.idempotency is not None and context is not None:
            self.idempotency.register_lambda_context(context)

    def handle_record(self, record: SQSRecord) -> D:
        """Decide one SQS record. Raises only for transient failures (the record goes back to SQS)."""
        logger.append_keys(message_id=record.message_id, receive_count=record.attributes.approximate_receive_count)
        try:
            return self._handle(record)
        finally:
            logger.remove_keys(["message_id", "receive_count", "contact_id"])

    def _handle(self, record: SQSRecord) -> D:
        contact_id: str | None = None
        try:
            self._check_deadline()
            debug_payload("sqs record", body=_json_or_text(record.body))
            detail, recheck = parse_record(record.body)
            contact_id = detail.contact_id
            logger.append_keys(contact_id=contact_id)
            decision = self.decide(detail, recheck, self.batch_plan)
        except PermanentError as exc:
            rejected = self.failure(contact_id, exc.reason, exc.message, True)
            record_decision(rejected)
            self._dead_letter(record, exc)
            return rejected
        except TransientError as exc:
            record_decision(self.failure(contact_id, exc.reason, exc.message, False))
            raise
        except Exception as exc:
            # A bug, not a verdict on the record: log it with its traceback and give the record back; the
            # queue's redrive policy bounds the retries and dead-letters it if the bug persists.
            logger.exception("unexpected error while deciding a record")
            record_decision(self.failure(contact_id, "unexpected_error", f"{type(exc).__name__}: {exc}", False))
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


RouterApp = EventApp[Decision]
SupervisionApp = EventApp[SupervisionDecision]
AffinityApp = EventApp[AffinityDecision]


def _routing_failure(contact_id: str | None, reason: str, message: str, permanent: bool) -> Decision:
    outcome = Outcome.REJECTED if permanent else Outcome.FAILED
    return Decision(outcome=outcome, contact_id=contact_id, reason=reason, detail=message)


def _affinity_failure(contact_id: str | None, reason: str, message: str, permanent: bool) -> AffinityDecision:
    outcome = AffinityOutcome.REJECTED if permanent else AffinityOutcome.FAILED
    return AffinityDecision(outcome=outcome, contact_id=contact_id, reason=reason, detail=message)


def _supervision_failure(contact_id: str | None, reason: str, message: str, permanent: bool) -> SupervisionDecision:
    outcome = SupervisionOutcome.REJECTED if permanent else SupervisionOutcome.FAILED
    return SupervisionDecision(outcome=outcome, contact_id=contact_id, reason=reason, detail=message)


def _load_json(body: str) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise PermanentError("malformed_event", f"SQS body is not JSON: {exc.msg} at position {exc.pos}") from exc
    except TypeError as exc:
        raise PermanentError("malformed_event", "SQS body is not text") from exc
    except RecursionError as exc:
        raise PermanentError("malformed_event", "SQS body is JSON nested too deeply to be an event") from exc


def _json_or_text(body: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return {"unparsed_body_length": len(body)}


def parse_record(body: str) -> tuple[ContactEventDetail, Recheck | None]:
    """An SQS body: an EventBridge contact event, or a re-check the router scheduled for itself."""
    raw = _load_json(body)
    if isinstance(raw, dict) and RECHECK_KEY in raw:
        try:
            recheck = Recheck.from_message(raw)
            detail = ContactEventDetail.model_validate(
                {
                    "eventType": "QUEUED",
                    "contactId": recheck.contact_id,
                    "channel": recheck.channel,
                    "instanceArn": recheck.instance_arn,
                }
            )
        except ValidationError as exc:  # a ValueError too: caught first for its field-level message
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors(include_input=False))
            raise PermanentError("malformed_event", f"not a valid re-check message: invalid {fields}") from exc
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise PermanentError("malformed_event", f"not a valid re-check message: {type(exc).__name__}") from exc
        return detail, recheck
    return parse_contact_event(body).detail, None


def parse_contact_event(body: str) -> ContactEvent:
    """SQS body (the EventBridge event as JSON) -> ContactEvent, or PermanentError("malformed_event")."""
    raw = _load_json(body)
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


@dataclass
class _Wiring:
    connect: ConnectGateway
    rules: RulesProvider
    idempotency: DynamoDBIdempotency | None
    dead_letters: DeadLetterQueue | None


def _wire(
    settings: Settings,
    clients: dict[str, Any],
    idempotency_prefix: str,
    *,
    supervision: bool,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> _Wiring:
    connect = _connect_gateway(settings, clients, clock, sleep)
    fetch = remote_fetcher(settings.rules, clients.get("ssm"), clients.get("appconfig"))
    # Only the supervision function knows (and enforces) whether the deployment allows BARGE.
    rules = RulesProvider(settings.rules, fetch, allow_barge=settings.allow_barge if supervision else None)
    rules.current()  # fail at start-up, not per record, if the rules are invalid
    idempotency = (
        DynamoDBIdempotency(
            settings.idempotency_table,
            settings.idempotency_ttl_seconds,
            clients.get("dynamodb") or aws.client("dynamodb", settings.region),
            key_prefix=idempotency_prefix,
        )
        if settings.idempotency_table
        else None
    )
    return _Wiring(connect, rules, idempotency, _dead_letters(settings, clients))


def _connect_gateway(
    settings: Settings,
    clients: dict[str, Any],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ConnectGateway:
    rates = settings.pacing_rates
    return ConnectGateway(
        clients.get("connect") or aws.client("connect", settings.region, aws.CONNECT_CONFIG),
        instance_id=settings.instance_id,
        instance_arn=settings.instance_arn,
        user_cache_seconds=settings.user_cache_seconds,
        pacer=Pacer(rates, clock=clock, sleep=sleep) if rates else None,
    )


def _dead_letters(settings: Settings, clients: dict[str, Any]) -> DeadLetterQueue | None:
    if not settings.dead_letter_queue_url:
        return None
    return DeadLetterQueue(settings.dead_letter_queue_url, clients.get("sqs") or aws.client("sqs", settings.region))


def build_router_app(
    settings: Settings,
    *,
    connect_client: Any = None,
    dynamodb_client: Any = None,
    sqs_client: Any = None,
    ssm_client: Any = None,
    appconfig_client: Any = None,
    secretsmanager_client: Any = None,
    clock: Callable[[], float] = time.time,
    rechecks: RecheckPort | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RouterApp:
    clients = {
        "connect": connect_client,
        "dynamodb": dynamodb_client,
        "sqs": sqs_client,
        "ssm": ssm_client,
        "appconfig": appconfig_client,
        "secretsmanager": secretsmanager_client,
    }
    wiring = _wire(settings, clients, "route", supervision=False, clock=clock, sleep=sleep)
    connect, rules, idempotency, dead_letters = wiring.connect, wiring.rules, wiring.idempotency, wiring.dead_letters
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
        rechecks=rechecks
        or (
            SqsRechecks(settings.router_queue_url, clients.get("sqs") or aws.client("sqs", settings.region))
            if settings.router_queue_url
            else None
        ),
        clock=clock,
        history=_history(settings, clients),
    )
    logger.debug(
        "router configured",
        rules_source=rules.source,
        dry_run=settings.dry_run,
        idempotency=bool(idempotency),
        dead_letter_queue=bool(dead_letters),
    )
    return RouterApp(
        decide=router.route,
        plan=router.plan_batch,
        failure=_routing_failure,
        dead_letters=dead_letters,
        idempotency=idempotency,
    )


def _affinity_store(settings: Settings, clients: dict[str, Any]) -> AffinityStore | None:
    if not settings.affinity_table:
        return None
    return AffinityStore(
        settings.affinity_table,
        clients.get("dynamodb") or aws.client("dynamodb", settings.region),
        retention_seconds=settings.affinity_retention_days * 86_400,
    )


def _secret(settings: Settings, clients: dict[str, Any]) -> Callable[[], bytes]:
    if not settings.customer_key_secret_arn:
        raise ConfigurationError(["CUSTOMER_KEY_SECRET_ARN is required for customer keys"])
    return secret_loader(
        settings.customer_key_secret_arn,
        clients.get("secretsmanager") or aws.client("secretsmanager", settings.region),
    )


def _history(settings: Settings, clients: dict[str, Any]) -> HistoryLookup | None:
    store = _affinity_store(settings, clients)
    if store is None:
        return None
    return HistoryLookup(
        store, _secret(settings, clients), settings.customer_profile_attribute, settings.phone_default_region
    )


def build_affinity_app(
    settings: Settings,
    *,
    connect_client: Any = None,
    dynamodb_client: Any = None,
    sqs_client: Any = None,
    secretsmanager_client: Any = None,
) -> AffinityApp:
    clients = {
        "connect": connect_client,
        "dynamodb": dynamodb_client,
        "sqs": sqs_client,
        "secretsmanager": secretsmanager_client,
    }
    store = _affinity_store(settings, clients)
    if store is None:
        raise ConfigurationError(["AFFINITY_TABLE is required by the affinity recorder"])
    recorder = AffinityRecorder(
        settings.instance_arn,
        _connect_gateway(settings, clients),
        store,
        _secret(settings, clients),
        settings.customer_profile_attribute,
        settings.phone_default_region,
    )
    return AffinityApp(
        decide=lambda detail, _recheck, _plan: recorder.record(detail),
        failure=_affinity_failure,
        dead_letters=_dead_letters(settings, clients),
    )


def build_supervision_app(
    settings: Settings,
    *,
    connect_client: Any = None,
    dynamodb_client: Any = None,
    sqs_client: Any = None,
    ssm_client: Any = None,
    appconfig_client: Any = None,
) -> SupervisionApp:
    clients = {
        "connect": connect_client,
        "dynamodb": dynamodb_client,
        "sqs": sqs_client,
        "ssm": ssm_client,
        "appconfig": appconfig_client,
    }
    wiring = _wire(settings, clients, "supervise", supervision=True)
    supervisor = Supervisor(
        SupervisorOptions(
            instance_arn=settings.instance_arn,
            supervised_channels=settings.supervised_channels,
            dry_run=settings.dry_run,
            allowed_agent_arn_pattern=settings.allowed_agent_arn_pattern,
        ),
        connect=wiring.connect,
        rules=wiring.rules,
        idempotency=wiring.idempotency,
    )
    return SupervisionApp(
        decide=lambda detail, _recheck, _plan: supervisor.supervise(detail),
        failure=_supervision_failure,
        dead_letters=wiring.dead_letters,
        idempotency=wiring.idempotency,
    )
