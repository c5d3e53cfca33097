"""Integration fixtures: the router handler in-process, Connect emulated, DynamoDB and SQS on moto.

The idempotency table is created from its definition in template.yaml, so the tests cannot drift from
what is deployed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from connect_emulator import ConnectEmulator, Iam, World
from contact_router.adapters.aws import Clients
from contact_router.composition import build_affinity_app, build_flow_app, build_router_app, build_supervision_app
from contact_router.config import Settings
from contact_router.flow_app import FlowApp
from contact_router.handlers import router as router_handler
from contact_router.record_policy import AffinityApp, RouterApp, SupervisionApp
from contact_router_cli.local import LocalLambdaContext, lambda_output_to
from contact_router_cli.roles import function_role_policies
from tests.conftest import EVENTS_DIR, SAMPLES_DIR
from tests.support.cfn import load_template

TABLE = "idempotency"
AFFINITY_TABLE = "affinity"
SECRET = "integration-test-customer-key-secret-0123456789"


LambdaContext = LocalLambdaContext

# The deployment the harness mirrors: its supervision settings allow barge, and the sweep is on. With these
# parameters each function's Connect requests are authorized against its role in template.yaml (the
# emulator's IAM mode), so a policy that would be denied in production fails the tests.
DEPLOYMENT = {"AllowBarge": "true", "SweepEnabled": "true", "FlowIntegration": "true"}


@dataclass
class Harness:
    emulator: ConnectEmulator
    sqs: Any
    dynamodb: Any
    dlq_url: str
    env: dict[str, str]
    secrets: Any = None
    _ids: int = 0
    apps: list[RouterApp] = field(default_factory=list)

    def app(self, **env: str) -> RouterApp:
        settings = Settings.from_env({**self.env, **env})
        app = build_router_app(
            settings,
            Clients(
                connect=self.emulator.client(role="RouterFunction"),
                dynamodb=self.dynamodb,
                sqs=self.sqs,
                secretsmanager=self.secrets,
            ),
        )
        self.apps.append(app)
        return app

    def flow_app(self, **env: str) -> FlowApp:
        """The contact-flow entry point, its Connect calls authorized against FlowFunctionRole."""
        return build_flow_app(
            Settings.from_env({**self.env, **env}),
            Clients(
                connect=self.emulator.client(role="FlowFunction"),
                dynamodb=self.dynamodb,
                secretsmanager=self.secrets,
            ),
        )

    def supervision_app(self, **env: str) -> SupervisionApp:
        settings = Settings.from_env({**self.env, "ALLOW_BARGE": "true", **env})
        return build_supervision_app(
            settings,
            Clients(connect=self.emulator.client(role="SupervisionFunction"), dynamodb=self.dynamodb, sqs=self.sqs),
        )

    def affinity_app(self, **env: str) -> AffinityApp:
        return build_affinity_app(
            Settings.from_env({**self.env, **env}),
            Clients(
                connect=self.emulator.client(role="AffinityFunction"),
                dynamodb=self.dynamodb,
                sqs=self.sqs,
                secretsmanager=self.secrets,
            ),
        )

    def record(self, body: str | dict[str, Any], receive_count: int = 1) -> dict[str, Any]:
        self._ids += 1
        text = body if isinstance(body, str) else json.dumps(body)
        return {
            "messageId": f"m-{self._ids}",
            "receiptHandle": f"r-{self._ids}",
            "body": text,
            "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1763629200000"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-2:123456789012:contact-router-events",
            "awsRegion": "eu-west-2",
        }

    def invoke(self, records: list[dict[str, Any]], app: RouterApp | None = None) -> dict[str, Any]:
        return router_handler.lambda_handler({"Records": records}, LambdaContext(), app=app or self.app())

    def dead_letters(self) -> list[dict[str, Any]]:
        out = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=300
            ).get("Messages", [])
            if not messages:
                return out
            for m in messages:
                attrs = {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()}
                out.append({"body": m["Body"], **attrs})


def event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return data


def create_affinity_table(dynamodb: Any, name: str) -> None:
    """AffinityTable as template.yaml defines it (key schema and TTL attribute), when it does; else the
    local pipeline's definition (tests/template checks the two agree)."""
    resources = load_template()["Resources"]
    props = resources.get("AffinityTable", {}).get("Properties") or {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
    }
    dynamodb.create_table(
        TableName=name,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode=props["BillingMode"],
    )
    dynamodb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": props["TimeToLiveSpecification"]["AttributeName"]},
    )


def create_idempotency_table(dynamodb: Any, name: str) -> None:
    props = load_template()["Resources"]["IdempotencyTable"]["Properties"]
    dynamodb.create_table(
        TableName=name,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode=props["BillingMode"],
    )
    dynamodb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={
            "Enabled": True,
            "AttributeName": props["TimeToLiveSpecification"]["AttributeName"],
        },
    )


@pytest.fixture
def lambda_output() -> Iterator[io.StringIO]:
    """Everything the Lambda writes (JSON log lines and EMF metrics), as CloudWatch would receive it."""
    stream = io.StringIO()
    with lambda_output_to(stream):
        yield stream


@pytest.fixture
def world_path() -> Path:
    return SAMPLES_DIR / "world.yaml"


@pytest.fixture
def harness(world_path: Path) -> Iterator[Harness]:
    emulator = ConnectEmulator(World.from_file(world_path))
    emulator.use_iam(Iam(function_role_policies(emulator.instance_arn, DEPLOYMENT)))
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-2")
        sqs = boto3.client("sqs", region_name="eu-west-2")
        create_idempotency_table(dynamodb, TABLE)
        dlq_url = sqs.create_queue(QueueName="contact-router-dlq")["QueueUrl"]
        secrets = boto3.client("secretsmanager", region_name="eu-west-2")
        secret_arn = secrets.create_secret(Name="customer-key", SecretString=SECRET)["ARN"]
        create_affinity_table(dynamodb, AFFINITY_TABLE)
        env = {
            "CONNECT_INSTANCE_ARN": emulator.instance_arn,
            "RULES_SOURCE": "file",
            "RULES_FILE": str(SAMPLES_DIR / "rules.yaml"),
            "IDEMPOTENCY_TABLE": TABLE,
            "DEAD_LETTER_QUEUE_URL": dlq_url,
            "AFFINITY_TABLE": AFFINITY_TABLE,
            "CUSTOMER_KEY_SECRET_ARN": secret_arn,
        }
        yield Harness(emulator=emulator, sqs=sqs, dynamodb=dynamodb, dlq_url=dlq_url, env=env, secrets=secrets)
