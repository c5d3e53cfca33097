"""AWS clients with explicit timeouts and retry configuration, created once per execution environment.

Clients come from a botocore session rather than ``boto3.client``: boto3's import also loads s3transfer
(~90 ms of cold start) that no function here uses. Service-specific endpoints such as
``AWS_ENDPOINT_URL_CONNECT`` work the same (botocore resolves them).
"""

from __future__ import annotations

import threading
from typing import Any

import botocore.session
from botocore.config import Config

# Explicit, because botocore's default retry mode changed between versions (legacy 5 / standard 3).
# Throttles that survive these attempts give the SQS record back; SQS redelivers after the visibility
# timeout instead of the function sleeping.
CONNECT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    user_agent_appid="contact-router",
)
DEFAULT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    user_agent_appid="contact-router",
)

# The contact-flow entry point answers a flow that waits a few seconds at most (InvocationTimeLimitSeconds <= 8):
# short timeouts and one retry, so a slow call ends well inside the decision's deadline (flow_app.py).
FLOW_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=0.5,
    read_timeout=1,
    user_agent_appid="contact-router",
)

_session: botocore.session.Session | None = None
_lock = threading.Lock()


def client(service: str, region: str | None = None, config: Config | None = None) -> Any:
    """A client for ``service``; honours AWS_ENDPOINT_URL_<SERVICE> (e.g. the local Connect emulator)."""
    global _session  # noqa: PLW0603 - one session per execution environment, as boto3's default session
    with _lock:
        if _session is None:
            _session = botocore.session.get_session()
        return _session.create_client(service, region_name=region or None, config=config or DEFAULT_CONFIG)


class Clients:
    """The AWS clients of one execution environment, each created at its first use and then reused.

    Tests and the local runner hand in their own (the Connect emulator's client, moto's); anything not
    handed in is a real client for ``region``.
    """

    def __init__(self, region: str | None = None, *, config: Config | None = None, **given: Any) -> None:
        self.region = region
        self.config = config  # every client made here, when given (the flow entry point's FLOW_CONFIG)
        self._clients: dict[str, Any] = {name: c for name, c in given.items() if c is not None}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        made = self._clients.get(service)
        if made is None:
            # botocore's names use "-" where an attribute cannot: clients.customer_profiles is "customer-profiles".
            name = service.replace("_", "-")
            made = client(name, self.region, self.config or (CONNECT_CONFIG if name == "connect" else None))
            self._clients[service] = made
        return made

    def lazy(self, service: str) -> Any:
        """``service``'s client where an adapter needs it only on some paths (SQS: dead letters, re-checks,
        requeues, none on the happy path): the client handed in or already made, else a stand-in that makes it
        at its first use. A cold start that sends nothing to SQS never builds the client (about 15 ms)."""
        made = self._clients.get(service)
        return made if made is not None else _FirstUse(self, service)

    def given(self, service: str) -> Any:
        """The client handed in (or already made) for ``service``, else None: nothing is created."""
        return self._clients.get(service)

    def for_region(self, region: str) -> Clients:
        """The same clients; those not yet created will be for ``region``."""
        if self.region is None:
            self.region = region
        return self


class _FirstUse:
    """A client made by ``clients`` at the first attribute read (``send_message``, ``exceptions``, ``meta``...)."""

    def __init__(self, clients: Clients, service: str) -> None:
        self._clients = clients
        self._service = service

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(getattr(self._clients, self._service), name)
