"""make bench: figures measured in one run (a benchmark, not a test; nothing here asserts).

1. cold start: importing the router handler module in a fresh interpreter, next to `import boto3`
   (median of N fresh processes each);
2. per-contact time of the real handler on the in-process Connect emulator, with the idempotency table
   and dead-letter queue on moto, in SQS batches of 10 -- and the same without the idempotency table, to
   show what moto's DynamoDB costs locally.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

IMPORT_PROBES = {
    "import boto3": "import boto3",
    "import boto3 + connect client": "import boto3; boto3.client('connect', region_name='eu-west-2')",
    "import router handler": "import contact_router.handlers.router",
    "import router handler + app (clients, rules)": (
        "import os; os.environ.update(CONNECT_INSTANCE_ARN='arn:aws:connect:eu-west-2:123456789012:instance/"
        "11111111-2222-4333-8444-555555555555', AWS_DEFAULT_REGION='eu-west-2');"
        "import contact_router.handlers.router as h; h.default_app()"
    ),
}


def cold_start(repeats: int) -> dict[str, float]:
    results = {}
    for label, code in IMPORT_PROBES.items():
        timer = f"import time; t=time.perf_counter(); {code}; print(time.perf_counter()-t)"
        samples = [
            float(subprocess.run([sys.executable, "-c", timer], check=True, capture_output=True, text=True).stdout)
            for _ in range(repeats)
        ]
        results[label] = statistics.median(samples) * 1000
    return results


def per_contact(contacts: int, with_idempotency: bool) -> float:
    import io

    import boto3
    import yaml
    from moto import mock_aws
    from tests.integration.conftest import Harness, LambdaContext, create_idempotency_table

    from connect_emulator import ConnectEmulator, World
    from contact_router.handlers import router as router_handler
    from contact_router_cli.local import lambda_output_to

    world = yaml.safe_load((ROOT / "samples" / "world.yaml").read_text())
    for profile in world["routing_profiles"]:
        profile["concurrency"]["CHAT"] = 10  # Connect's maximum: a whole batch of chats fits one agent
    emulator = ConnectEmulator(World.from_dict(world))
    emulator.set_busy("dana", "CHAT", 0)
    template = json.loads((ROOT / "events" / "queued-chat-attribute.json").read_text())
    dana = "33333333-0000-4000-8000-000000000001"
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-2")
        sqs = boto3.client("sqs", region_name="eu-west-2")
        create_idempotency_table(dynamodb, "idem")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        env = {"CONNECT_INSTANCE_ARN": emulator.instance_arn, "DEAD_LETTER_QUEUE_URL": dlq}
        if with_idempotency:
            env["IDEMPOTENCY_TABLE"] = "idem"
        harness = Harness(emulator=emulator, sqs=sqs, dynamodb=dynamodb, dlq_url=dlq, env=env)
        app = harness.app()
        bodies = []
        for _ in range(contacts):
            contact = emulator.add_contact(
                channel="CHAT", state="QUEUED", queue="Support", attributes={"preferredAgent": dana}
            )
            body = json.loads(json.dumps(template))
            body["detail"]["contactId"] = contact.id
            bodies.append(body)
        batches = [[harness.record(b) for b in bodies[i : i + 10]] for i in range(0, len(bodies), 10)]
        with lambda_output_to(io.StringIO()):
            start = time.perf_counter()
            for batch in batches:
                router_handler.lambda_handler({"Records": batch}, LambdaContext(), app=app)
                # the chats end, so dana has room for the next batch (capacity is not what is measured)
                paused = time.perf_counter()
                for record in batch:
                    emulator.disconnect_contact(json.loads(record["body"])["detail"]["contactId"])
                start += time.perf_counter() - paused
            elapsed = time.perf_counter() - start
        associated = len(emulator.associations)
    if associated != contacts:
        raise SystemExit(f"benchmark broken: {associated} of {contacts} contacts associated")
    return elapsed / contacts * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="fresh interpreters per import probe")
    parser.add_argument("--contacts", type=int, default=500)
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {args.repeats} fresh interpreters per probe, {args.contacts} contacts")
    print("\ncold start (median import time)")
    imports = cold_start(args.repeats)
    for label, ms in imports.items():
        print(f"  {label:<46} {ms:8.1f} ms")
    ratio = imports["import router handler"] / imports["import boto3"]
    print(f"  {'router handler / boto3':<46} {ratio:8.2f} x")
    print("\nper-contact time of the real handler, in-process emulator, batches of 10, all associated")
    full = per_contact(args.contacts, with_idempotency=True)
    bare = per_contact(args.contacts, with_idempotency=False)
    print(f"  {'with idempotency table (moto DynamoDB)':<46} {full:8.0f} us/contact")
    print(f"  {'without idempotency table':<46} {bare:8.0f} us/contact")


if __name__ == "__main__":
    main()
