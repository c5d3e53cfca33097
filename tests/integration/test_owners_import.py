"""Owners import against careless and hostile files: the whole file is checked before anything is written,
every bad line is reported with its number, writes are batched and resumable (moto DynamoDB, Connect emulator)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from contact_router.adapters.affinity_store import BATCH_ATTEMPTS, MAX_BATCH_WRITES, AffinityStore
from contact_router.adapters.connect import ConnectGateway
from contact_router.customers.keys import CustomerKey, KeyKind, digest
from contact_router.errors import TransientError
from contact_router_cli.main import MAX_REPORTED_LINES, main
from contact_router_cli.owners import (
    MAX_LINE_BYTES,
    ImportReport,
    OwnerResolver,
    OwnersWriteError,
    check_file,
    import_owners,
)
from tests.integration.conftest import AFFINITY_TABLE, SECRET, Harness

HEADER = b"key_type,key,owner\n"


def good_rows(count: int, start: int = 0, owner: str = "dana") -> bytes:
    return b"".join(f"email,buyer{n}@client.example,{owner}\n".encode() for n in range(start, start + count))


class CountingClient:
    """The moto DynamoDB client, counting requests; ``fail_writes_after`` makes later BatchWriteItem calls fail
    as DynamoDB would when the table is throttled past botocore's retries."""

    def __init__(
        self, client: Any, fail_writes_after: int | None = None, unprocessed: int = 0, deny: str | None = None
    ) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()
        self.deny = deny  # refuse this operation with AccessDeniedException, as IAM would
        self.fail_writes_after = fail_writes_after
        self.unprocessed = unprocessed  # the next N BatchWriteItem calls leave their last item unprocessed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_get_item(self, **kwargs: Any) -> Any:
        self.calls["BatchGetItem"] += 1
        if self.deny == "BatchGetItem":
            from botocore.exceptions import ClientError

            error = {"Code": "AccessDeniedException", "Message": "not authorized to perform: dynamodb:BatchGetItem"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "BatchGetItem")
        return self._client.batch_get_item(**kwargs)

    def batch_write_item(self, **kwargs: Any) -> Any:
        self.calls["BatchWriteItem"] += 1
        if self.fail_writes_after is not None and self.calls["BatchWriteItem"] > self.fail_writes_after:
            from botocore.exceptions import ClientError

            error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate of requests exceeds"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "BatchWriteItem")
        if self.unprocessed:
            self.unprocessed -= 1
            (table, requests), *_ = kwargs["RequestItems"].items()
            if len(requests) > 1:
                self._client.batch_write_item(RequestItems={table: requests[:-1]})
            return {"UnprocessedItems": {table: requests[-1:]}}
        return self._client.batch_write_item(**kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        self.calls["PutItem"] += 1
        return self._client.put_item(**kwargs)


@pytest.fixture
def resolver(harness: Harness) -> OwnerResolver:
    return OwnerResolver(
        ConnectGateway(harness.emulator.client(), harness.emulator.instance_id), harness.emulator.instance_arn
    )


def items(harness: Harness) -> int:
    pages = harness.dynamodb.get_paginator("scan").paginate(TableName=AFFINITY_TABLE, Select="COUNT")
    return sum(page["Count"] for page in pages)


def test_a_latin1_byte_after_1500_good_rows_is_one_line_and_nothing_is_written(
    harness: Harness, resolver: OwnerResolver, tmp_path: Path
) -> None:
    # GIVEN 1,500 good rows, then a row saved in latin-1 (a UnicodeDecodeError traceback after 1,410 writes before)
    path = tmp_path / "owners.csv"
    path.write_bytes(HEADER + good_rows(1500) + b"email,jos\xe9@client.example,dana\n" + good_rows(10, 2000))
    client = CountingClient(harness.dynamodb)
    # WHEN it is imported
    report = import_owners(path, AffinityStore(AFFINITY_TABLE, client), SECRET.encode(), resolver)
    # THEN one bad line, with its number and the byte, and not one request to DynamoDB
    assert report.bad == [(1502, "not UTF-8: byte 0xE9 at column 10 (save the file as UTF-8)")]
    assert report.rows == 1511
    assert (report.stored, client.calls.total(), items(harness)) == (0, 0, 0)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"email,buyer@client.example," + b"x" * (1024 * 1024) + b"\n", "bytes; a line has at most 1024"),
        (b"email,nul\x00@client.example,dana\n", "a control or invisible character (U+0000) at column 10"),
        (b'customer_id,"C-1\n', "unbalanced quotes (a value cannot span lines)"),
        (b"customer_id,C-1\rC-2,dana\n", "a control or invisible character (U+000D) at column 16"),
        ("customer_id,C\u200b-1,dana\n".encode(), "a control or invisible character (U+200B) at column 14"),
        (b"customer_id,C-1\tX,dana\n", "a control or invisible character (U+0009) at column 16"),
        (b"customer_id," + b"C" * 300 + b",dana\n", "key of 300 characters; at most 256"),
        (b"email,buyer@client.example,dana,extra\n", "expected 3 columns (key_type,key,owner), got 4"),
    ],
)
def test_hostile_cells_are_reported_with_their_line(
    harness: Harness, resolver: OwnerResolver, tmp_path: Path, line: bytes, reason: str
) -> None:
    path = tmp_path / "owners.csv"
    path.write_bytes(HEADER + good_rows(3) + line + good_rows(2, 10))
    checked = check_file(path, SECRET.encode(), resolver)
    assert [number for number, _ in checked.bad][:1] == [5]
    assert reason in checked.bad[0][1]
    assert b"client.example" not in checked.bad[0][1].encode()  # values are never echoed
    assert len(line) <= MAX_LINE_BYTES or checked.bad[0][1].startswith(f"{len(line) - 1} bytes")


def test_a_newline_inside_a_quoted_customer_id_reports_both_halves(resolver: OwnerResolver, tmp_path: Path) -> None:
    path = tmp_path / "owners.csv"
    path.write_bytes(HEADER + b'customer_id,"C-1\nC-2",dana\n' + good_rows(1))
    assert check_file(path, SECRET.encode(), resolver).bad == [
        (2, "unbalanced quotes (a value cannot span lines)"),
        (3, "expected 3 columns (key_type,key,owner), got 2"),
    ]


def test_duplicate_keys_are_reported_even_when_spelt_differently(resolver: OwnerResolver, tmp_path: Path) -> None:
    path = tmp_path / "owners.csv"
    path.write_bytes(
        HEADER
        + b"phone,+44 20 7946 0000,dana\n"
        + b"email,Jo@Example.com,dana\n"
        + b"phone,0044 (20) 7946-0000,dana\n"  # the same number, spelt otherwise, the same owner
        + b"email,jo@example.com,sam\n"  # the same address, case-folded, another owner
    )
    assert check_file(path, SECRET.encode(), resolver).bad == [
        (4, "the same customer key as line 2 (with the same owner); give each key once"),
        (5, "the same customer key as line 3 (with another owner); give each key once"),
    ]


def test_the_command_reports_every_bad_line_up_to_a_cap_then_exits_2(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a file with 150 bad lines among good ones
    path = tmp_path / "owners.csv"
    bad = b"".join(b"phone,0%d,dana\n" % n for n in range(150))
    path.write_bytes(HEADER + good_rows(50) + bad)
    args = ["--table", AFFINITY_TABLE, "--secret-arn", harness.env["CUSTOMER_KEY_SECRET_ARN"], "--region", "eu-west-2"]
    with harness.emulator.serve() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CONNECT", url)
        result = CliRunner().invoke(
            main, ["owners", "import", *args, "--instance-arn", harness.emulator.instance_arn, str(path)]
        )
    # THEN exit 2, one line per bad line up to the cap, a count of the rest, and nothing written
    lines = result.output.splitlines()
    assert result.exit_code == 2
    assert lines[0] == f"error: {path}:52: invalid phone key (E.164, e.g. +447700900123)"
    assert (
        len([line for line in lines if re.match(rf"error: {re.escape(str(path))}:\d+: ", line)]) == MAX_REPORTED_LINES
    )
    assert f"error: {path}: ... and {150 - MAX_REPORTED_LINES} more bad line(s)" in lines
    assert lines[-1] == f"{path}: 150 bad line(s) among 200 row(s); nothing was written (fix them and run again)"
    assert "Traceback" not in result.output
    assert items(harness) == 0


def test_writes_are_batched_and_a_rerun_writes_nothing(
    harness: Harness, resolver: OwnerResolver, tmp_path: Path
) -> None:
    path = tmp_path / "owners.csv"
    path.write_bytes(HEADER + good_rows(1000))
    client = CountingClient(harness.dynamodb)
    store = AffinityStore(AFFINITY_TABLE, client)
    progress: Counter[str] = Counter()

    def on_progress(phase: str, step: int, total: int) -> None:
        progress[phase] += step
        assert total == 1000

    # WHEN 1,000 new rows are imported
    report = import_owners(path, store, SECRET.encode(), resolver, on_progress)
    # THEN 40 writes of 25 items, progress for each row, and one read of 100 keys: it found none of them stored,
    # so the other nine chunks are new keys too and are written without reading
    assert (report.stored, report.unchanged, report.last_line) == (1000, 0, 1001)
    assert client.calls == Counter({"BatchGetItem": 1, "BatchWriteItem": 1000 // MAX_BATCH_WRITES})
    assert progress == Counter({"checking": 1000, "writing": 1000})
    assert items(harness) == 1000
    # WHEN the file is imported again, one owner changed  THEN every chunk is read and only that row is written
    path.write_bytes(HEADER + good_rows(999) + good_rows(1, 999, owner="sam"))
    client.calls.clear()
    again = import_owners(path, store, SECRET.encode(), resolver)
    assert (again.stored, again.unchanged) == (1, 999)
    assert client.calls == Counter({"BatchGetItem": 10, "BatchWriteItem": 1})


def test_new_keys_after_stored_ones_are_written_without_reading_and_a_probe_turns_reading_back_on(
    harness: Harness, resolver: OwnerResolver, tmp_path: Path
) -> None:
    client = CountingClient(harness.dynamodb)
    store = AffinityStore(AFFINITY_TABLE, client)
    path = tmp_path / "owners.csv"
    # GIVEN rows 0-299 and 1200-1999 already stored
    path.write_bytes(HEADER + good_rows(300) + good_rows(800, 1200))
    import_owners(path, store, SECRET.encode(), resolver)
    client.calls.clear()

    # WHEN the file of rows 0-1999 is imported
    path.write_bytes(HEADER + good_rows(2000))
    report = import_owners(path, store, SECRET.encode(), resolver)

    # THEN chunks 0-3 are read (the 4th finds nothing stored), 4-12 are written unread, chunk 13 is read again
    # (the probe, 10 chunks after the last read), finds rows 1300-1399 stored and turns reading back on
    assert client.calls["BatchGetItem"] == 4 + 1 + 6
    # AND the unread chunks' rows count as stored, rows 1200-1299 among them (written again, same owner);
    # every row that was read and found equal counts as unchanged
    assert (report.stored, report.unchanged) == (1000, 1000)
    assert client.calls["BatchWriteItem"] == 1000 // MAX_BATCH_WRITES
    assert items(harness) == 2000
    owners = set(
        AffinityStore(AFFINITY_TABLE, harness.dynamodb)
        .owner_ids_of(
            [digest(CustomerKey(KeyKind.EMAIL, f"buyer{n}@client.example"), SECRET.encode()) for n in range(2000)]
        )
        .values()
    )
    assert owners == {resolver("dana")}


def test_unprocessed_items_are_retried_with_backoff(harness: Harness) -> None:
    from contact_router.models.affinity import Owner

    sleeps: list[float] = []
    client = CountingClient(harness.dynamodb, unprocessed=2)
    store = AffinityStore(AFFINITY_TABLE, client, sleep=sleeps.append)
    store.put_owners((f"{n:064x}", Owner("u-1", "email")) for n in range(25))
    assert items(harness) == 25
    assert sleeps == [0.05, 0.1]
    # and an item DynamoDB never takes is an error, not a silent loss
    client.unprocessed = BATCH_ATTEMPTS
    with pytest.raises(TransientError, match="left 1 item"):
        store.put_owners((f"{n:064x}", Owner("u-2", "email")) for n in range(100, 125))


def test_an_interrupted_import_says_where_it_stopped_and_resumes(
    harness: Harness, resolver: OwnerResolver, tmp_path: Path
) -> None:
    # GIVEN DynamoDB refusing writes after the 10th batch of 25
    path = tmp_path / "owners.csv"
    path.write_bytes(HEADER + good_rows(1000))
    client = CountingClient(harness.dynamodb, fail_writes_after=10)
    with pytest.raises(OwnersWriteError) as stopped:
        import_owners(path, AffinityStore(AFFINITY_TABLE, client), SECRET.encode(), resolver)
    report: ImportReport = stopped.value.report
    # THEN the report says how far it got: two chunks of 100 written, the third part-way
    assert (report.stored, report.last_line) == (200, 201)
    assert "ProvisionedThroughputExceededException" in str(stopped.value)
    assert items(harness) == 250
    # WHEN run again  THEN it finishes, skipping what is stored
    again = import_owners(path, AffinityStore(AFFINITY_TABLE, harness.dynamodb), SECRET.encode(), resolver)
    assert (again.stored, again.unchanged) == (750, 250)
    assert items(harness) == 1000


def test_a_throttled_owner_lookup_is_not_an_unknown_owner(
    harness: Harness, resolver: OwnerResolver, tmp_path: Path
) -> None:
    # GIVEN Connect throttling SearchUsers: the owner cannot be checked (before: reported as "not a user")
    path = tmp_path / "owners.csv"
    path.write_bytes(HEADER + good_rows(5))
    harness.emulator.faults.fail_next("SearchUsers", "ThrottlingException", times=100)
    with pytest.raises(TransientError):
        import_owners(path, AffinityStore(AFFINITY_TABLE, harness.dynamodb), SECRET.encode(), resolver)
    assert items(harness) == 0


# ------------------------------------------------------------------------------ national phone numbers
def test_a_national_number_needs_a_phone_region(resolver: OwnerResolver, tmp_path: Path) -> None:
    # GIVEN numbers as a UK spreadsheet holds them: national format, and one in E.164
    path = tmp_path / "owners.csv"
    path.write_bytes(
        HEADER + b"phone,020 7946 0000,dana\n" + b"phone,+44 20 7946 0001,sam\n" + b"phone,07700 900123,sam\n"
    )
    # WHEN checked without a region  THEN each national number is a bad line saying what to do
    assert check_file(path, SECRET.encode(), resolver).bad == [
        (2, NATIONAL_WITHOUT_REGION),
        (4, NATIONAL_WITHOUT_REGION),
    ]
    # WHEN checked with --phone-region GB  THEN they are the E.164 keys the router derives from the contact
    checked = check_file(path, SECRET.encode(), resolver, phone_region="GB")
    assert checked.bad == []
    expected = [digest(CustomerKey(KeyKind.PHONE, e164), SECRET.encode()) for e164 in PHONES]
    assert [row.key_hash for row in checked.rows] == expected


def test_a_national_number_and_its_e164_spelling_are_the_same_key(resolver: OwnerResolver, tmp_path: Path) -> None:
    path = tmp_path / "owners.csv"
    path.write_bytes(
        HEADER + b"phone,+44 20 7946 0000,dana\n" + b"phone,(020) 7946-0000,sam\n" + b"phone,020 7946 00000000000,sam\n"
    )
    assert check_file(path, SECRET.encode(), resolver, phone_region="GB").bad == [
        (3, "the same customer key as line 2 (with another owner); give each key once"),
        (4, "invalid phone key for --phone-region GB (E.164, e.g. +447700900123)"),
    ]


def test_the_command_takes_the_phone_region_from_the_routers_setting(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "owners.csv"
    path.write_bytes(HEADER + b"phone,020 7946 0000,dana\n" + b"phone,07700 900123,sam\n")
    # WHEN imported with --phone-region GB  THEN both are stored under their E.164 keys
    result = run_import(harness, monkeypatch, path, "--phone-region", "gb")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"{path}: 2 row(s): 2 stored, 0 unchanged"
    stored = AffinityStore(AFFINITY_TABLE, harness.dynamodb).owner_ids_of(
        [digest(CustomerKey(KeyKind.PHONE, e164), SECRET.encode()) for e164 in ("+442079460000", "+447700900123")]
    )
    assert len(stored) == 2
    # WHEN PHONE_DEFAULT_REGION (the router's setting) is GB  THEN it is the default: the rerun finds them stored
    monkeypatch.setenv("PHONE_DEFAULT_REGION", "GB")
    again = run_import(harness, monkeypatch, path)
    assert again.output.splitlines()[-1] == f"{path}: 2 row(s): 0 stored, 2 unchanged"
    # WHEN the region is not a country  THEN one line, exit 2, nothing read
    monkeypatch.delenv("PHONE_DEFAULT_REGION")
    wrong = run_import(harness, monkeypatch, path, "--phone-region", "UK")
    assert (wrong.exit_code, wrong.output.splitlines()) == (
        2,
        ["Error: --phone-region must be an ISO 3166-1 alpha-2 country code such as GB or US, got 'UK'"],
    )


def test_without_a_region_the_command_reports_national_numbers(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHONE_DEFAULT_REGION", raising=False)
    path = tmp_path / "owners.csv"
    path.write_bytes(HEADER + good_rows(2) + b"phone,020 7946 0000,dana\n")
    result = run_import(harness, monkeypatch, path)
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"error: {path}:4: {NATIONAL_WITHOUT_REGION}",
        f"{path}: 1 bad line(s) among 3 row(s); nothing was written (fix them and run again)",
    ]
    assert items(harness) == 0


# ----------------------------------------------------------------- expected failures: one line, exit 2
def test_a_missing_table_is_one_line_and_exit_2(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "owners.csv"
    path.write_bytes(HEADER + good_rows(3))
    line = one_line_failure(run_import(harness, monkeypatch, path, table="no-such-table"))
    assert line.startswith(f"Error: {path}: writing stopped after line 0 (0 stored, 0 unchanged): no such DynamoDB ")
    assert "check --table (stack output AffinityTableName)" in line
    assert line.endswith("; run the same command again to resume")


def test_access_denied_is_one_line_and_exit_2(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "owners.csv"
    path.write_bytes(HEADER + good_rows(3))
    with_dynamodb(monkeypatch, lambda client: CountingClient(client, deny="BatchGetItem"))
    line = one_line_failure(run_import(harness, monkeypatch, path))
    assert "access denied to BatchGetItem: your IAM identity needs permission for BatchGetItem" in line
    assert items(harness) == 0


def test_a_write_stopped_part_way_is_one_line_exit_2_and_says_where(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "owners.csv"
    path.write_bytes(HEADER + good_rows(300))
    with_dynamodb(monkeypatch, lambda client: CountingClient(client, fail_writes_after=4))
    line = one_line_failure(run_import(harness, monkeypatch, path))
    assert line.startswith(f"Error: {path}: writing stopped after line 101 (100 stored, 0 unchanged): AWS throttled")
    assert line.endswith("; run the same command again to resume")


def test_a_throttled_owner_lookup_is_one_line_and_exit_2(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "owners.csv"
    path.write_bytes(HEADER + good_rows(3))
    harness.emulator.faults.fail_next("SearchUsers", "ThrottlingException", times=100)
    line = one_line_failure(run_import(harness, monkeypatch, path))
    assert line.startswith(f"Error: {path}: cannot check the owners: AWS throttled or failed SearchUsers")
    assert line.endswith("; nothing was written")
    assert items(harness) == 0


NATIONAL_WITHOUT_REGION = (
    "phone number without a country code: write it in E.164 (e.g. +447700900123) or pass --phone-region"
)
PHONES = ("+442079460000", "+442079460001", "+447700900123")


def run_import(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, path: Path, *options: str, table: str = AFFINITY_TABLE
) -> Result:
    """``contact-router owners import`` through its real entry point (moto DynamoDB, the emulator's Connect)."""
    args = ["--table", table, "--secret-arn", harness.env["CUSTOMER_KEY_SECRET_ARN"], "--region", "eu-west-2"]
    with harness.emulator.serve() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CONNECT", url)
        return CliRunner().invoke(
            main,
            ["owners", "import", *args, "--instance-arn", harness.emulator.instance_arn, *options, str(path)],
            catch_exceptions=False,
        )


def one_line_failure(result: Result) -> str:
    lines = result.output.splitlines()
    assert (result.exit_code, len(lines)) == (2, 1), result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


def with_dynamodb(monkeypatch: pytest.MonkeyPatch, wrap: Callable[[Any], Any]) -> None:
    """The command's DynamoDB client wrapped (e.g. to refuse a call as AWS would)."""
    from contact_router.adapters import aws

    real = aws.client

    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        made = real(service, *args, **kwargs)
        return wrap(made) if service == "dynamodb" else made

    monkeypatch.setattr(aws, "client", client)
