"""Owners import throughput: ``contact_router_cli.owners.import_owners`` against moto's DynamoDB.

    .venv/bin/python bench/owners_import.py [--rows 10000] [--baseline c3af284]

Writes a CSV of ``--rows`` good rows (phone, email and customer_id keys; owners by username, id and ARN, as
people write them), imports it into a fresh affinity table on moto (in-process, no network) with owners
resolved against the Connect emulator (samples/world.yaml), then imports it again (every row unchanged).
Prints rows per CPU-second (everything runs in this one thread: moto, the emulator, the import; CPU time is
what a shared machine's load disturbs least) and per wall-clock second for both runs, and the DynamoDB
requests made.

``--baseline COMMIT`` runs the same measurement on that commit's code (``git archive`` of functions/, tools/ and
samples/world.yaml into a temporary folder) and on the working tree, each in a fresh subprocess, alternating
``--repeat`` times, and prints the median of the per-pair ratios: the two side by side in one run, on the same
machine load (a shared machine's load drifts over minutes, so pairs are compared, not totals). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
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


def measure(rows: int, world: Path) -> list[float]:
    """Rows per second of the first and the second import, printed as they come."""
    emulator = ConnectEmulator(World.from_file(world))
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
            started, cpu_started = time.perf_counter(), time.process_time()
            report = import_owners(path, store, SECRET, resolver)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            figures.append(rows / cpu)
            requests = ", ".join(f"{name} {count}" for name, count in sorted(dynamodb.calls.items()))
            print(
                f"  {run:30} {rows / cpu:7.0f} rows/CPU-s  {rows / elapsed:7.0f} rows/s wall  stored "
                f"{report.stored}, unchanged {report.unchanged}, bad {len(report.bad)}  [{requests}]",
                flush=True,
            )
        pages = raw.get_paginator("scan").paginate(TableName=TABLE, Select="COUNT")
        print(f"  items in the table: {sum(page['Count'] for page in pages)}", flush=True)
    return figures


def in_subprocess(source: Path, label: str, rows: int) -> list[float]:
    """The measurement on the code under ``source`` (functions/ and tools/), in a fresh interpreter, with the
    owners resolved against that code's own samples/world.yaml (an older emulator cannot read a newer world)."""
    env = {**os.environ, "PYTHONPATH": f"{source}/functions{os.pathsep}{source}/tools"}
    world = source / "samples" / "world.yaml"
    out = subprocess.run(
        [sys.executable, __file__, "--rows", str(rows), "--label", label, "--world", str(world)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    print(out, end="", flush=True)
    return [float(value) for value in re.findall(r"(\d+) rows/CPU-s", out)]


def compare(commit: str, rows: int, repeat: int) -> None:
    ratios: list[list[float]] = [[], []]
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "functions", "tools", "samples/world.yaml"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        for _ in range(repeat):
            before = in_subprocess(Path(folder), commit, rows)
            after = in_subprocess(ROOT, "working tree", rows)
            for index, (old, new) in enumerate(zip(before, after, strict=True)):
                ratios[index].append(new / old)
    for run, values in zip(("first import (all new)", "second import (all unchanged)"), ratios, strict=True):
        pairs = ", ".join(f"{value:.1f}" for value in values)
        print(f"  {run:30} median {statistics.median(values):5.1f} x  (pairs: {pairs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--baseline", metavar="COMMIT", help="Compare this commit's code with the working tree.")
    parser.add_argument("--repeat", type=int, default=3, help="Pairs of runs with --baseline (default 3).")
    parser.add_argument("--label", default="working tree", help=argparse.SUPPRESS)
    parser.add_argument("--world", type=Path, default=ROOT / "samples" / "world.yaml", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        compare(args.baseline, args.rows, args.repeat)
        return
    print(f"owners import, {args.rows} rows, moto DynamoDB (in-process), emulator owners -- {args.label}", flush=True)
    measure(args.rows, args.world)


if __name__ == "__main__":
    main()
