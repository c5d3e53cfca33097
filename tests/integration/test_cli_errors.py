"""Expected failures of the command line: one line saying what to do, exit status 2, no traceback.

Each test makes one mistake a new operator makes (no credentials, no Region, an unknown contact, a table or
queue that is not there, throttling, access denied) through the real command, with AWS played by moto or
the Connect emulator. ``catch_exceptions=False`` lets any traceback escape and fail the test.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
import yaml
from click.testing import CliRunner
from moto import mock_aws

from contact_router.adapters import aws
from contact_router_cli.main import main
from tests.conftest import SAMPLES_DIR

WORLD = SAMPLES_DIR / "world.yaml"
UNKNOWN_CONTACT = "99999999-0000-4000-8000-000000000099"
WAITING_CONTACT = "44444444-0000-4000-8000-000000000001"


def one_line_failure(*args: str) -> str:
    """Runs the command; asserts exit 2 and a single line of output; returns that line."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    lines = result.output.splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new process: no botocore session yet (it caches credentials), no instance metadata to ask."""
    monkeypatch.setattr(aws, "_session", None)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def world_with_faults(tmp_path: Path, faults: dict[str, object]) -> Path:
    world = yaml.safe_load(WORLD.read_text())
    world["faults"] = faults
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(world))
    return path


# ------------------------------------------------------------------ the three mistakes of a first session
def test_mistake_explain_an_unknown_contact() -> None:
    line = one_line_failure("explain", "--contact-id", UNKNOWN_CONTACT, "--world", str(WORLD))
    assert line.startswith("Error: no such contact in this instance: check --contact-id and --world / --instance-arn")
    assert "ResourceNotFoundException" not in line or "(" in line


@pytest.mark.usefixtures("fresh_process")
def test_mistake_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    line = one_line_failure("dlq", "list", "--queue-url", "https://sqs.eu-west-2.amazonaws.com/123456789012/dlq")
    assert line == (
        "Error: no AWS credentials found: run `aws configure` or `aws sso login`, "
        "or set AWS_PROFILE to a profile with credentials"
    )


@pytest.mark.usefixtures("fresh_process")
def test_mistake_no_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    line = one_line_failure("owners", "export", "--table", "contact-router-affinity")
    assert line == (
        "Error: no AWS Region configured: pass --region or set AWS_DEFAULT_REGION "
        "(e.g. export AWS_DEFAULT_REGION=eu-west-2)"
    )


# ------------------------------------------------------------------------------- the other expected ones
@pytest.mark.usefixtures("fresh_process")
def test_no_region_anywhere_for_a_queue_url_that_names_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    line = one_line_failure("dlq", "list", "--queue-url", "http://localhost:9324/000000000000/dlq")
    assert "no AWS Region configured: pass --region" in line


@mock_aws
def test_missing_table() -> None:
    line = one_line_failure("owners", "export", "--table", "no-such-table", "--region", "eu-west-2")
    assert line.startswith("Error: no such DynamoDB table: check --table (stack output AffinityTableName) and --region")


@mock_aws
def test_missing_queue() -> None:
    boto3.client("sqs", region_name="eu-west-2").create_queue(QueueName="source")
    line = one_line_failure("dlq", "list", "--queue-url", "https://sqs.eu-west-2.amazonaws.com/123456789012/typo-dlq")
    assert line.startswith("Error: no such queue: check --queue-url")


def test_access_denied(tmp_path: Path) -> None:
    world = world_with_faults(tmp_path, {"error_rates": {"DescribeContact": {"AccessDeniedException": 1.0}}})
    line = one_line_failure("explain", "--contact-id", WAITING_CONTACT, "--world", str(world))
    assert line.startswith("Error: access denied to DescribeContact: your IAM identity needs permission")


def test_throttling_that_outlasts_the_retries(tmp_path: Path) -> None:
    world = world_with_faults(tmp_path, {"error_rates": {"DescribeContact": {"ThrottlingException": 1.0}}})
    line = one_line_failure("explain", "--contact-id", WAITING_CONTACT, "--world", str(world))
    assert line.startswith("Error: AWS throttled or failed DescribeContact (ThrottlingException) after retries: wait")


@mock_aws
def test_missing_secret() -> None:
    boto3.client("dynamodb", region_name="eu-west-2")
    line = one_line_failure(
        "owners",
        "delete",
        "--table",
        "affinity",
        "--secret-arn",
        "arn:aws:secretsmanager:eu-west-2:123456789012:secret:nope-AbCdEf",
        "--region",
        "eu-west-2",
        str(SAMPLES_DIR / "owners.csv"),
    )
    assert line.startswith("Error: no such secret: check --secret-arn")


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only expected failures are turned into one line: anything else is a bug and must stay visible.
    from contact_router_cli import dlq

    def broken(*_: object, **__: object) -> None:
        raise KeyError("MessageId")

    monkeypatch.setattr(dlq, "receive_all", broken)
    with pytest.raises(KeyError):
        CliRunner().invoke(
            main,
            ["dlq", "list", "--queue-url", "https://sqs.eu-west-2.amazonaws.com/123456789012/dlq"],
            catch_exceptions=False,
        )


@pytest.mark.usefixtures("fresh_process")
def test_monitor_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    arn = "arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555"
    line = one_line_failure("monitor", "--contact-id", "c-1", "--supervisor", "lead.one", "--instance-arn", arn)
    assert line.startswith("Error: no AWS credentials found: run `aws configure`")
