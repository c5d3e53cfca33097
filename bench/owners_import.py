"""Owners import throughput: ``contact_router_cli.owners.import_owners`` against moto's DynamoDB.

    .venv/bin/python bench/owners_import.py [--rows 10000] [--baseline c3af284]

Writes a CSV of ``--rows`` good rows (phone, email and customer_id keys; owners by username, id and ARN, as
people write them), imports it into a fresh affinity table on moto (in-process, no network) with owners
resolved against the Connect emulator (samples/world.yaml), then imports it again (every row unchanged).
Prints rows per second for both runs and the DynamoDB requests made.

``--baseline COMMIT`` first runs the same measurement on that commit's code (``git archive`` of functions/ and
tools/ into a temporary folder, run in a subprocess), then on the working tree, and prints the ratios: the two
side by side in one run, on the same machine load. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in ("functions", "tools"):
    if str(ROOT / folder) not in sys.path:
        sys.path.append(str(ROOT / folder))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from connect_emulator import ConnectEmulator, World  # noqa: E402
from contact_router.adapters.affinity_store import AffinityStore  # noqa: E402
from contact_router.adapters.connect import ConnectGateway  # noqa: E402
from contact_router_cli.owners import OwnerResolver, import_owners  # noqa: E402

TABLE = "bench-affinity"
SECRET = b"bench-secret-0123456789abcdef"


def write_csv(path: Path, rows: int, emulator: ConnectEmulator) -> None:
    users = {u.username: u.id for u in emulator.world.users}
    owners = ["dana", "sam", users["dana"], f"{emulator.instance_arn}/agent/{users['sam']}", "omar"]
    lines = ["key_type,key,owner"]
    for n in range(rows):
        kind = ("phone", "email", "customer_id")[n % 3]
        key = {"phone": f"+44 7700 {n:06d}", "email": f"Buyer{n}@Client{n % 7}.example", "customer_id": f"C-{n:07d}"}
        lines.append(f"{kind},{key[kind]},{owners[n % len(owners)]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class CountingClient:
    """The DynamoDB client, counting the requests made through it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


def measure(rows: int) -> list[float]:
    """Rows per second of the first and the second import, printed as they come."""
    emulator = ConnectEmulator(World.from_file(ROOT / "samples" / "world.yaml"))
    figures = []
    with tempfile.TemporaryDirectory() as folder, mock_aws():
        path = Path(folder) / "owners.csv"
        write_csv(path, rows, emulator)
        raw = boto3.client("dynamodb", region_name="eu-west-2")
        raw.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb = CountingClient(raw)
        store = AffinityStore(TABLE, dynamodb)
        resolver = OwnerResolver(ConnectGateway(emulator.client(), emulator.instance_id), emulator.instance_arn)
        for run in ("first import (all new)", "second import (all unchanged)"):
            dynamodb.calls.clear()
            started = time.perf_counter()
            report = import_owners(path, store, SECRET, resolver)
            elapsed = time.perf_counter() - started
            figures.append(rows / elapsed)
            requests = ", ".join(f"{name} {count}" for name, count in sorted(dynamodb.calls.items()))
            print(
                f"  {run:30} {rows / elapsed:9.0f} rows/s  {elapsed:7.2f} s  stored {report.stored}, "
                f"unchanged {report.unchanged}, bad {len(report.bad)}  [{requests}]",
                flush=True,
            )
        pages = raw.get_paginator("scan").paginate(TableName=TABLE, Select="COUNT")
        print(f"  items in the table: {sum(page['Count'] for page in pages)}", flush=True)
    return figures


def baseline(commit: str, rows: int) -> list[float]:
    """The same measurement on ``commit``'s code, in a subprocess."""
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "functions", "tools"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        env = {**os.environ, "PYTHONPATH": f"{folder}/functions{os.pathsep}{folder}/tools"}
        out = subprocess.run(
            [sys.executable, __file__, "--rows", str(rows), "--label", commit],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    print(out, end="")
    return [float(value) for value in re.findall(r"(\d+) rows/s", out)]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--baseline", metavar="COMMIT", help="Also measure this commit's code, then compare.")
    parser.add_argument("--label", default="working tree", help=argparse.SUPPRESS)
    args = parser.parse_args()
    where = "moto DynamoDB (in-process), owners resolved on the emulator"
    before = []
    if args.baseline:
        before = baseline(args.baseline, args.rows)
    print(f"owners import, {args.rows} rows, {where} -- {args.label}", flush=True)
    after = measure(args.rows)
    for run, old, new in zip(("first import", "second import"), before, after, strict=False):
        print(f"  {run:30} {new / old:9.1f} x  ({old:.0f} -> {new:.0f} rows/s)")


if __name__ == "__main__":
    main()
