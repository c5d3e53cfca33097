"""The HTTP endpoint on loopback: unchanged boto3 clients reach it through AWS_ENDPOINT_URL_CONNECT."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config

from connect_emulator import ConnectEmulator
from tests.emulator.support import DANA, INSTANCE_ID, QUEUED_CHAT, client_error


def _plain_client() -> Any:
    """A client built the way application code builds it: no emulator-specific arguments."""
    return boto3.client("connect", region_name="eu-west-2", config=Config(retries={"total_max_attempts": 1}))


def test_boto3_reaches_the_server_through_the_endpoint_variable(
    emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the emulator serving on a free loopback port, named by AWS_ENDPOINT_URL_CONNECT
    with emulator.serve() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CONNECT", url)
        client = _plain_client()

        # WHEN the application associates a contact and reads it back
        client.associate_contact_with_user(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT, UserId=DANA)
        contact = client.describe_contact(InstanceId=INSTANCE_ID, ContactId=QUEUED_CHAT)["Contact"]

    # THEN the calls went over HTTP to the same emulated state
    assert url.startswith("http://127.0.0.1:")
    assert contact["AgentInfo"]["Id"] == DANA
    assert emulator.call_counts() == {"AssociateContactWithUser": 1, "DescribeContact": 1}


def test_errors_over_http_keep_code_and_status(emulator: ConnectEmulator) -> None:
    # GIVEN a client pointed at the server with endpoint_url
    with emulator.serve() as url:
        client = boto3.client(
            "connect", region_name="eu-west-2", endpoint_url=url, config=Config(retries={"total_max_attempts": 1})
        )

        # WHEN an unknown contact and an unimplemented operation are requested
        missing = client_error(client.describe_contact, InstanceId=INSTANCE_ID, ContactId="nope")
        unimplemented = client_error(
            client.describe_agent_status, InstanceId=INSTANCE_ID, AgentStatusId="33333333-0000-4000-8000-00000000beef"
        )

    # THEN botocore parses the same modeled errors as in process
    assert missing[:2] == ("ResourceNotFoundException", 404)
    assert unimplemented[:2] == ("NotImplementedByEmulator", 501)


def test_raw_http_answers_json_with_error_headers(emulator: ConnectEmulator) -> None:
    # GIVEN the server and a plain HTTP request for a contact that does not exist
    with emulator.serve() as url:
        request = urllib.request.Request(f"{url}/contacts/{INSTANCE_ID}/nope")

        # WHEN it is sent
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)

    # THEN the answer carries the modeled status, the error type header and a JSON message
    error = caught.value
    assert error.code == 404
    assert error.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    body = json.loads(error.read())
    assert body["__type"] == "ResourceNotFoundException"
    assert "nope" in body["Message"]
    error.close()
