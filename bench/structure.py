"""Structure figures of functions/: how big the largest modules are, and how far one QUEUED event travels.

    .venv/bin/python bench/structure.py

1. the largest modules of functions/ (lines, as ``wc -l`` counts them);
2. files touched by one QUEUED event: the distinct project files (functions/contact_router) whose code runs
   while the router handler decides ``events/queued-chat-attribute.json`` (an association) on the Connect
   emulator, with the idempotency table and the dead-letter queue on moto -- the app is built first, as a
   cold start would, and not counted;
3. project frames from the handler to the Connect call: the project frames on the stack at the moment
   botocore is asked for AssociateContactWithUser.

Nothing here asserts: the figures go into issue notes, before and after a reshape.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "functions" / "contact_router"
EVENT = ROOT / "events" / "queued-chat-attribute.json"


def largest_modules(top: int = 8) -> list[tuple[int, str]]:
    sizes = [
        (len(path.read_text(encoding="utf-8").splitlines()), str(path.relative_to(ROOT)))
        for path in (ROOT / "functions").rglob("*.py")
    ]
    return sorted(sizes, reverse=True)[:top]


def _project(filename: str) -> bool:
    return filename.startswith(str(PACKAGE))


def trace_one_queued_event() -> tuple[set[str], list[str], dict[str, Any]]:
    import boto3
    from moto import mock_aws

    from connect_emulator import ConnectEmulator, World
    from contact_router_cli.local import LocalLambdaContext, lambda_output_to

    emulator = ConnectEmulator(World.from_file(ROOT / "samples" / "world.yaml"))
    with mock_aws(), lambda_output_to(open(os.devnull, "w", encoding="utf-8")):
        dynamodb = boto3.client("dynamodb", region_name="eu-west-2")
        sqs = boto3.client("sqs", region_name="eu-west-2")
        dynamodb.create_table(
            TableName="idempotency",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        env = {
            "CONNECT_INSTANCE_ARN": emulator.instance_arn,
            "RULES_SOURCE": "file",
            "RULES_FILE": str(ROOT / "samples" / "rules.yaml"),
            "IDEMPOTENCY_TABLE": "idempotency",
            "DEAD_LETTER_QUEUE_URL": sqs.create_queue(QueueName="dlq")["QueueUrl"],
        }
        app = _build_router_app(env, emulator.client(), dynamodb, sqs)
        from contact_router.handlers import router as handler

        record = {
            "messageId": "m-1",
            "receiptHandle": "r-1",
            "body": EVENT.read_text(encoding="utf-8"),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1763629200000"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-2:123456789012:contact-router-events",
            "awsRegion": "eu-west-2",
        }
        files: set[str] = set()
        stack_at_call: list[str] = []

        def profile(frame: FrameType, event: str, arg: Any) -> None:
            if event != "call":
                return
            filename = frame.f_code.co_filename
            if _project(filename):
                files.add(str(Path(filename).relative_to(ROOT)))
            elif frame.f_code.co_name == "_make_api_call" and frame.f_locals.get("operation_name") == (
                "AssociateContactWithUser"
            ):
                walk: FrameType | None = frame
                while walk is not None:
                    if _project(walk.f_code.co_filename):
                        name = Path(walk.f_code.co_filename).relative_to(PACKAGE)
                        stack_at_call.append(f"{name}:{walk.f_code.co_name}")
                    walk = walk.f_back

        sys.setprofile(profile)
        try:
            result = handler.lambda_handler({"Records": [record]}, LocalLambdaContext(), app=app)
        finally:
            sys.setprofile(None)
    return files, list(reversed(stack_at_call)), result


def _build_router_app(env: dict[str, str], connect: Any, dynamodb: Any, sqs: Any) -> Any:
    from contact_router.adapters.aws import Clients
    from contact_router.composition import build_router_app
    from contact_router.config import Settings

    return build_router_app(Settings.from_env(env), Clients(connect=connect, dynamodb=dynamodb, sqs=sqs))


def main() -> None:
    print("largest modules of functions/ (lines):")
    for lines, path in largest_modules():
        print(f"  {lines:5d}  {path}")
    files, stack, result = trace_one_queued_event()
    if result.get("batchItemFailures"):
        raise SystemExit(f"the event was not decided: {json.dumps(result)}")
    print(f"files touched by one QUEUED event ({EVENT.name}): {len(files)}")
    for name in sorted(files):
        print(f"  {name}")
    print(f"project frames from the handler to AssociateContactWithUser: {len(stack)}")
    for frame in stack:
        print(f"  {frame}")


if __name__ == "__main__":
    main()
