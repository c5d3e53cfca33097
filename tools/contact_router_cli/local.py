"""The local pipeline: events -> SQS (moto) -> the real router Lambda handler -> emulated Connect.

Everything AWS but Connect is moto (DynamoDB idempotency table, SQS queue and dead-letter queue); Connect
is the embedded emulator attached in-process to a real boto3 client. The handler is the one Lambda runs
(``contact_router.handlers.router.lambda_handler``), fed SQS batches the way the event source mapping
does: up to 10 records, partial batch failures left on the queue for another receive.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import boto3
from moto import mock_aws

from connect_emulator import ConnectEmulator, Iam, World
from contact_router.adapters.affinity_store import AffinityStore
from contact_router.adapters.aws import Clients
from contact_router.adapters.connect import ConnectGateway
from contact_router.composition import build_affinity_app, build_router_app, build_supervision_app
from contact_router.config import Settings
from contact_router.handlers import affinity as affinity_handler
from contact_router.handlers import router as router_handler
from contact_router.handlers import supervision as supervision_handler
from contact_router.models.affinity import AffinityDecision
from contact_router.models.decision import Decision
from contact_router.models.supervision import SupervisionDecision
from contact_router.observability import logger as powertools_logger
from contact_router.routing.fallback import RECHECK_KEY
from contact_router_cli.owners import ImportReport, OwnerResolver, import_owners
from contact_router_cli.roles import function_role_policies

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_sqs import SQSClient
    from types_boto3_sqs.type_defs import MessageTypeDef

IDEMPOTENCY_TABLE = "contact-router-idempotency"
AFFINITY_TABLE = "contact-router-affinity"
T = TypeVar("T")
# The local run's customer-key secret (a deployment generates its own in Secrets Manager).
LOCAL_SECRET = "local-run-customer-key-secret-not-for-production-use"  # noqa: S105 - moto only
MAX_RECEIVES = 3  # like the template's redrive policy, smaller: a local run should end quickly


@dataclass
class DeadLetter:
    reason: str
    error: str
    contact_id: str | None
    source: str


@dataclass
class LocalRunResult:
    decisions: list[tuple[str, Decision]]  # (event file name, final decision), in processing order
    supervision: list[tuple[str, SupervisionDecision]]
    affinity: list[tuple[str, AffinityDecision]]
    owners: ImportReport | None
    dead_letters: list[DeadLetter]
    api_calls: Counter[str]
    emulator: ConnectEmulator
    sources: dict[str, str] = field(default_factory=dict)  # message id -> event file name
    affinity_items: list[dict[str, Any]] = field(default_factory=list)  # the affinity table after the run
    batches: int = 0


class VirtualTimeRechecks:
    """The router's delayed re-checks, delivered in emulated time: when the queue is empty, the emulator's
    clock jumps to the earliest due re-check (the world's timeline applies on the way), so a wait of minutes
    runs in milliseconds. Implements the router's ``RecheckPort``."""

    def __init__(self, emulator: ConnectEmulator) -> None:
        self._emulator = emulator
        self._due: list[tuple[float, int, str]] = []
        self._sequence = 0

    def schedule(self, message: Mapping[str, Any], delay_seconds: int) -> None:
        self._sequence += 1
        heapq.heappush(self._due, (self._emulator.now() + delay_seconds, self._sequence, json.dumps(message)))

    def pop_due(self) -> str | None:
        """The next re-check's body, after moving the emulated clock to its due time; None when none is left."""
        if not self._due:
            return None
        due, _, body = heapq.heappop(self._due)
        self._emulator.advance_to(max(0.0, due - self._emulator.started_at))
        return body


class _DecisionCollector(logging.Handler):
    """Collects the decision records the handlers log (the same lines CloudWatch would get)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.records: list[tuple[str | None, Decision]] = []
        self.supervision: list[tuple[str | None, SupervisionDecision]] = []
        self.affinity: list[tuple[str | None, AffinityDecision]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message_id = powertools_logger.thread_safe_get_current_keys().get("message_id")
        decision = getattr(record, "decision", None)
        if isinstance(decision, dict):
            self.records.append((message_id, Decision.from_record(decision)))
        supervision = getattr(record, "supervision", None)
        if isinstance(supervision, dict):
            self.supervision.append((message_id, SupervisionDecision.from_record(supervision)))
        affinity = getattr(record, "affinity", None)
        if isinstance(affinity, dict):
            self.affinity.append((message_id, AffinityDecision.from_record(affinity)))


@contextlib.contextmanager
def lambda_output_to(stream: IO[str]) -> Iterator[_DecisionCollector]:
    """Send the Lambda's JSON logs and EMF metrics to ``stream``; collect decision records."""
    collector = _DecisionCollector()
    lambda_logger = logging.getLogger(powertools_logger.name)
    handlers = [h for h in lambda_logger.handlers if isinstance(h, logging.StreamHandler)]
    previous = [h.setStream(stream) for h in handlers]
    lambda_logger.addHandler(collector)
    try:
        with contextlib.redirect_stdout(stream):
            yield collector
    finally:
        lambda_logger.removeHandler(collector)
        for handler, old in zip(handlers, previous, strict=True):
            if old is not None:
                handler.setStream(old)


class LocalLambdaContext:
    """The parts of a Lambda context the handler and Powertools read."""

    function_name = "contact-router-local"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:contact-router-local"
    memory_limit_in_mb = 256
    aws_request_id = "local"
    log_group_name = "/aws/lambda/contact-router-local"
    log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def run_pipeline(
    world_path: Path,
    rules_path: Path,
    event_paths: Sequence[Path],
    *,
    log_stream: IO[str],
    dry_run: bool = False,
    route_voice: bool = False,
    owners_path: Path | None = None,
) -> LocalRunResult:
    emulator = ConnectEmulator(World.from_file(world_path))
    # IAM mode: each function's Connect requests are authorized against its role in template.yaml, deployed with
    # the parameters this run mirrors (barge allowed, as ALLOW_BARGE below), so a wrong policy fails the run.
    emulator.use_iam(
        Iam(
            function_role_policies(
                emulator.instance_arn, {"AllowBarge": "true", "RouteVoice": str(route_voice).lower()}
            )
        )
    )
    region = emulator.region
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=region)
        sqs = boto3.client("sqs", region_name=region)
        # Same key schemas and TTL attributes as the tables of template.yaml (a template test checks both).
        create_table(dynamodb, IDEMPOTENCY_TABLE, "id", "expiration")
        create_table(dynamodb, AFFINITY_TABLE, "pk", "expires_at")
        secrets = boto3.client("secretsmanager", region_name=region)
        secret_arn = secrets.create_secret(Name="contact-router-customer-key", SecretString=LOCAL_SECRET)["ARN"]
        dlq_url, router_queue = _queue_pair(sqs, "contact-router")
        supervision_dlq, supervision_queue = _queue_pair(sqs, "contact-router-supervision")
        affinity_dlq, affinity_queue = _queue_pair(sqs, "contact-router-affinity")
        env = {
            "CONNECT_INSTANCE_ARN": emulator.instance_arn,
            "RULES_SOURCE": "file",
            "RULES_FILE": str(rules_path),
            "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
            "DRY_RUN": str(dry_run).lower(),
            "ROUTE_VOICE": str(route_voice).lower(),
            "ALLOW_BARGE": "true",  # the sample rules let the escalation desk barge
            "AFFINITY_TABLE": AFFINITY_TABLE,
            "CUSTOMER_KEY_SECRET_ARN": secret_arn,
        }
        rechecks = VirtualTimeRechecks(emulator)

        def clients(role: str) -> Clients:
            # each function calls Connect as its own role (the emulator's IAM mode evaluates it)
            return Clients(connect=emulator.client(role=role), dynamodb=dynamodb, sqs=sqs, secretsmanager=secrets)

        router_app = build_router_app(
            Settings.from_env({**env, "DEAD_LETTER_QUEUE_URL": dlq_url}),
            clients("RouterFunction"),
            clock=emulator.now,
            rechecks=rechecks,
        )
        supervision_app = build_supervision_app(
            Settings.from_env({**env, "DEAD_LETTER_QUEUE_URL": supervision_dlq}), clients("SupervisionFunction")
        )
        affinity_app = build_affinity_app(
            Settings.from_env({**env, "DEAD_LETTER_QUEUE_URL": affinity_dlq}), clients("AffinityFunction")
        )
        owners = (
            import_owners(
                owners_path,
                AffinityStore(AFFINITY_TABLE, dynamodb),
                LOCAL_SECRET.encode(),
                OwnerResolver(ConnectGateway(emulator.client(), emulator.instance_id), emulator.instance_arn),
            )
            if owners_path
            else None
        )

        # Every event goes to the router's queue (a replay, as if delivered); CONNECTED_TO_AGENT events also go
        # to the supervision queue, as the supervision rule of template.yaml would deliver them.
        sources: dict[str, str] = {}
        for path in event_paths:
            body = path.read_text(encoding="utf-8")
            sources[sqs.send_message(QueueUrl=router_queue, MessageBody=body)["MessageId"]] = path.name
            if _detail(body, "eventType") == "CONNECTED_TO_AGENT":
                for queue in (supervision_queue, affinity_queue):
                    sources[sqs.send_message(QueueUrl=queue, MessageBody=body)["MessageId"]] = path.name

        with lambda_output_to(log_stream) as collector:
            # Connected contacts are recorded first, as if they happened before the queued ones (a returning
            # customer's earlier call); then routing (with its re-checks in emulated time); then supervision.
            batches = _drain(sqs, affinity_queue, affinity_handler.lambda_handler, affinity_app)
            batches += _drain(sqs, router_queue, router_handler.lambda_handler, router_app)
            while (recheck_body := rechecks.pop_due()) is not None:
                attempt = json.loads(recheck_body)[RECHECK_KEY]["attempt"]
                message_id = sqs.send_message(QueueUrl=router_queue, MessageBody=recheck_body)["MessageId"]
                sources[message_id] = f"  ↻ re-check {attempt}"
                batches += _drain(sqs, router_queue, router_handler.lambda_handler, router_app)
            batches += _drain(sqs, supervision_queue, supervision_handler.lambda_handler, supervision_app)
        dead_letters = [
            letter
            for dlq in (dlq_url, supervision_dlq, affinity_dlq)
            for letter in _read_dead_letters(sqs, dlq, sources)
        ]
        stored_items = dynamodb.scan(TableName=AFFINITY_TABLE)["Items"]

    return LocalRunResult(
        decisions=[(sources.get(mid, "?"), d) for mid, d in _final(collector.records)],
        supervision=[(sources.get(mid, "?"), d) for mid, d in _final(collector.supervision)],
        affinity=[(sources.get(mid, "?"), d) for mid, d in _final(collector.affinity)],
        owners=owners,
        affinity_items=stored_items,
        dead_letters=dead_letters,
        api_calls=Counter(emulator.call_counts()),
        emulator=emulator,
        sources=sources,
        batches=batches,
    )


def _queue_pair(sqs: SQSClient, name: str) -> tuple[str, str]:
    """A dead-letter queue and its source queue with a redrive policy, like template.yaml's."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"{name}-events",
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}),
        },
    )["QueueUrl"]
    return dlq_url, queue_url


def _detail(body: str, name: str) -> str | None:
    """A field of an event body's detail, camelCase or PascalCase (None for a body that is not an event)."""
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        detail = json.loads(body).get("detail", {})
        value = detail.get(name) or detail.get(name[0].upper() + name[1:])
        return str(value) if value else None
    return None


def _drain(sqs: SQSClient, queue_url: str, handler: Callable[..., dict[str, Any]], app: Any) -> int:
    """Receive batches of up to 10 and invoke the handler until the queue is empty (bounded)."""
    for batches in range(10_000):
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return batches
        event = {"Records": [_lambda_record(m, queue_url) for m in messages]}
        response = handler(event, LocalLambdaContext(), app=app)
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    raise RuntimeError("the local queue did not drain after 10,000 batches")


def _lambda_record(message: MessageTypeDef, queue_url: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:eu-west-2:123456789012:{queue_url.rsplit('/', 1)[-1]}",
        "awsRegion": "eu-west-2",
    }


def _read_dead_letters(sqs: SQSClient, dlq_url: str, sources: dict[str, str]) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            return letters
        for message in messages:
            attributes = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
            letters.append(
                DeadLetter(
                    reason=attributes.get("reason", "redriven after retries"),
                    error=attributes.get("error", ""),
                    contact_id=_detail(message["Body"], "contactId"),
                    source=sources.get(attributes.get("source_message_id", ""), "?"),
                )
            )


def _final(records: list[tuple[str | None, T]]) -> list[tuple[str, T]]:
    """The last decision per SQS message (a transient failure is followed by its retry's decision)."""
    last: dict[str, T] = {}
    for message_id, decision in records:
        last[message_id or str(uuid.uuid4())] = decision
    return list(last.items())


def create_table(dynamodb: DynamoDBClient, name: str, key: str, expiry_attribute: str) -> None:
    """An on-demand table with a string hash key and a TTL attribute, as template.yaml declares its tables."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": expiry_attribute}
    )
