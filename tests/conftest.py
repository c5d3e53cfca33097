"""Shared test setup: no real AWS, no network beyond loopback.

Every test runs with fake credentials and a fixed Region, and any socket connection to a non-loopback
address fails loudly, so a test can never reach real AWS by accident.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

import pytest

# The Powertools Tracer is off outside Lambda anyway; said here too, before any function module is imported,
# so no test ever tries to send a trace segment, whatever the environment it runs in.
os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"

ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = ROOT / "events"
SAMPLES_DIR = ROOT / "samples"
TEMPLATE = ROOT / "template.yaml"

_real_connect = socket.socket.connect


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise RuntimeError(f"tests must not touch the network: connect to {address!r} blocked")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network_no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_CONNECT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ContactRouter")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "contact-router")
