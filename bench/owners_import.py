"""Owners import throughput: ``contact_router_cli.owners.import_owners`` against moto's DynamoDB.

    .venv/bin/python bench/owners_import.py [--rows 10000] [--baseline c3af284]

Writes a CSV of ``--rows`` good rows (phone, email and customer_id keys; owners by username, id and ARN, as
people write them), imports it into a fresh affinity table on moto with owners resolved against the Connect
emulator (samples/world.yaml), then imports it again (every row unchanged). Two ways of reaching moto
(``--transport``, default both):

- ``loopback``: moto's own server (``moto.server.ThreadedMotoServer``, moto's ``server`` extra) on 127.0.0.1,
  the client pointed at it with ``endpoint_url``: every request goes over HTTP, signed, as it goes to
  DynamoDB (which adds the network's round trip on top);
- ``in-process``: ``mock_aws``, botocore handing each request to moto inside the client, no HTTP at all: what
  is left of a request's cost is botocore's and moto's own Python, and moto's per-item work weighs most.

Prints rows per CPU-second (everything runs in this one process: moto, its server thread, the emulator, the
import; CPU time is what a shared machine's load disturbs least) and per wall-clock second for both runs,
and the DynamoDB requests made.

``--baseline COMMIT`` runs the same measurement on that commit's code (``git archive`` of functions/, tools/ and
samples/world.yaml into a temporary folder) and on the working tree, each in a fresh subprocess, alternating
``--repeat`` times, and prints the median of the per-pair ratios for each transport: the two side by side in one
run, on the same machine load (a shared machine's load drifts over minutes, so pairs are compared, not totals).
A benchmark, not a test (``tests/integration/test_owners_import_bench.py`` checks only that it imports what it
says it does).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in ("functions", "tools"):
    if str(ROOT / folder) not in sys.path:
        sys.path.append(str(ROOT / folder))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from connect_emulator import ConnectEmulator, World  # noqa: E402
from contact_router.adapters.affinity_store import AffinityStore  # noqa: E402
from contact_router.adapters.connect import ConnectGateway  # noqa: E402
from contact_router_cli.owners import OwnerResolver, import_owners  # noqa: E402

TABLE = "bench-affinity"
SECRET = b"bench-secret-0123456789abcdef"
TRANSPORTS = ("loopback", "in-process")
RUNS = ("first import (all new)", "second import (all unchanged)")


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


def measure(rows: int, world: Path, transport: str) -> list[float]:
    """Rows per CPU-second of the first and the second import, printed as they come."""
    with tempfile.TemporaryDirectory() as folder, _dynamodb(transport) as raw:
        emulator = ConnectEmulator(World.from_file(world))
        path = Path(folder) / "owners.csv"
        write_csv(path, rows, emulator)
        raw.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb = CountingClient(raw)
        store = AffinityStore(TABLE, dynamodb)
        resolver = OwnerResolver(ConnectGateway(emulator.client(), emulator.instance_id), emulator.instance_arn)
        figures = []
        for run in RUNS:
            dynamodb.calls.clear()
            started, cpu_started = time.perf_counter(), time.process_time()
            report = import_owners(path, store, SECRET, resolver)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            figures.append(rows / cpu)
            requests = ", ".join(f"{name} {count}" for name, count in sorted(dynamodb.calls.items()))
            print(
                f"  {transport:10} {run:30} {rows / cpu:7.0f} rows/CPU-s  {rows / elapsed:7.0f} rows/s wall  "
                f"stored {report.stored}, unchanged {report.unchanged}, bad {len(report.bad)}  [{requests}]",
                flush=True,
            )
        pages = raw.get_paginator("scan").paginate(TableName=TABLE, Select="COUNT")
        print(f"  {transport:10} items in the table: {sum(page['Count'] for page in pages)}", flush=True)
    return figures


@contextmanager
def _dynamodb(transport: str) -> Iterator[Any]:
    """A DynamoDB client on moto, reached in-process or over loopback HTTP; never AWS."""
    if transport == "in-process":
        with mock_aws():
            yield boto3.client("dynamodb", region_name="eu-west-2")
        return
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield boto3.client(
            "dynamodb",
            region_name="eu-west-2",
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # moto's server takes any key
        )
    finally:
        server.stop()


def in_subprocess(source: Path, label: str, rows: int, transports: Sequence[str]) -> dict[str, list[float]]:
    """The measurement on the code under ``source`` (functions/ and tools/), in a fresh interpreter, with the
    owners resolved against that code's own samples/world.yaml (an older emulator cannot read a newer world)."""
    env = {**os.environ, "PYTHONPATH": f"{source}/functions{os.pathsep}{source}/tools"}
    world = source / "samples" / "world.yaml"
    command = [sys.executable, __file__, "--rows", str(rows), "--label", label, "--world", str(world)]
    out = subprocess.run(
        [*command, "--transport", transports[0] if len(transports) == 1 else "both"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    print(out, end="", flush=True)
    return figures_of(out, transports)


def figures_of(out: str, transports: Sequence[str]) -> dict[str, list[float]]:
    """Each transport's rows per CPU-second, first and second import, from ``measure``'s printed lines."""
    return {
        transport: [float(value) for value in re.findall(rf"^  {re.escape(transport)} .* (\d+) rows/CPU-s", out, re.M)]
        for transport in transports
    }


def compare(commit: str, rows: int, repeat: int, transports: Sequence[str]) -> None:
    ratios = {(transport, run): [] for transport in transports for run in RUNS}
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "functions", "tools", "samples/world.yaml"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        for _ in range(repeat):
            before = in_subprocess(Path(folder), commit, rows, transports)
            after = in_subprocess(ROOT, "working tree", rows, transports)
            for transport in transports:
                for run, old, new in zip(RUNS, before[transport], after[transport], strict=True):
                    ratios[transport, run].append(new / old)
    for (transport, run), values in ratios.items():
        pairs = ", ".join(f"{value:.1f}" for value in values)
        print(f"  {transport:10} {run:30} median {statistics.median(values):5.1f} x  (pairs: {pairs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--baseline", metavar="COMMIT", help="Compare this commit's code with the working tree.")
    parser.add_argument("--repeat", type=int, default=3, help="Pairs of runs with --baseline (default 3).")
    parser.add_argument(
        "--transport", choices=(*TRANSPORTS, "both"), default="both", help="How moto is reached (default both)."
    )
    parser.add_argument("--label", default="working tree", help=argparse.SUPPRESS)
    parser.add_argument("--world", type=Path, default=ROOT / "samples" / "world.yaml", help=argparse.SUPPRESS)
    args = parser.parse_args()
    transports = TRANSPORTS if args.transport == "both" else (args.transport,)
    if args.baseline:
        compare(args.baseline, args.rows, args.repeat, transports)
        return
    print(f"owners import, {args.rows} rows, moto DynamoDB, emulator owners -- {args.label}", flush=True)
    for transport in transports:
        measure(args.rows, args.world, transport)


if __name__ == "__main__":
    main()
