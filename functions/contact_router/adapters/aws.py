"""AWS clients with explicit timeouts and retry configuration, created once per execution environment.

Clients come from a botocore session rather than ``boto3.client``: boto3's import also loads s3transfer
(~90 ms of cold start) that no function here uses. Service-specific endpoints such as
``AWS_ENDPOINT_URL_CONNECT`` work the same (botocore resolves them).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, TypedDict, cast

import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    # The types-boto3 stubs are a development dependency (requirements/dev.txt): only mypy reads these.
    from botocore.client import BaseClient
    from types_boto3_appconfigdata import AppConfigDataClient
    from types_boto3_connect import ConnectClient
    from types_boto3_customer_profiles import CustomerProfilesClient
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_secretsmanager import SecretsManagerClient
    from types_boto3_sqs import SQSClient
    from types_boto3_ssm import SSMClient

# Explicit, because botocore's default retry mode changed between versions (legacy 5 / standard 3).
# Throttles that survive these attempts give the SQS record back; SQS redelivers after the visibility
# timeout instead of the function sleeping.
CONNECT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    user_agent_appid="contact-router",  # type: ignore[call-arg]  # botocore-stubs 1.43 lacks it (botocore has it)
)
DEFAULT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    user_agent_appid="contact-router",  # type: ignore[call-arg]  # botocore-stubs 1.43 lacks it (botocore has it)
)

# The contact-flow entry point answers a flow that waits a few seconds at most (InvocationTimeLimitSeconds <= 8):
# short timeouts and one retry, so a slow call ends well inside the decision's deadline (flow_app.py).
FLOW_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=0.5,
    read_timeout=1,
    user_agent_appid="contact-router",  # type: ignore[call-arg]  # botocore-stubs 1.43 lacks it (botocore has it)
)

_session: botocore.session.Session | None = None
_lock = threading.Lock()


def client(service: str, region: str | None = None, config: Config | None = None) -> BaseClient:
    """A client for ``service``; honours AWS_ENDPOINT_URL_<SERVICE> (e.g. the local Connect emulator)."""
    global _session  # noqa: PLW0603 - one session per execution environment, as boto3's default session
    with _lock:
        if _session is None:
            _session = botocore.session.get_session()
        return _session.create_client(service, region_name=region or None, config=config or DEFAULT_CONFIG)


class ClientMap(TypedDict, total=False):
    """The clients ``Clients`` serves, by attribute name, each typed by its types-boto3 stub."""

    connect: ConnectClient
    dynamodb: DynamoDBClient
    sqs: SQSClient
    secretsmanager: SecretsManagerClient
    customer_profiles: CustomerProfilesClient
    ssm: SSMClient
    appconfigdata: AppConfigDataClient


class Clients:
    """The AWS clients of one execution environment, each created at its first use and then reused.

    Tests and the local runner hand in their own (the Connect emulator's client, moto's); anything not
    handed in is a real client for ``region``. An unknown keyword is a TypeError (no client is ever untyped).
    """

    def __init__(
        self,
        region: str | None = None,
        *,
        config: Config | None = None,
        connect: ConnectClient | None = None,
        dynamodb: DynamoDBClient | None = None,
        sqs: SQSClient | None = None,
        secretsmanager: SecretsManagerClient | None = None,
        customer_profiles: CustomerProfilesClient | None = None,
        ssm: SSMClient | None = None,
        appconfigdata: AppConfigDataClient | None = None,
    ) -> None:
        self.region = region
        self.config = config  # every client made here, when given (the flow entry point's FLOW_CONFIG)
        self._clients: ClientMap = {}
        if connect is not None:
            self._clients["connect"] = connect
        if dynamodb is not None:
            self._clients["dynamodb"] = dynamodb
        if sqs is not None:
            self._clients["sqs"] = sqs
        if secretsmanager is not None:
            self._clients["secretsmanager"] = secretsmanager
        if customer_profiles is not None:
            self._clients["customer_profiles"] = customer_profiles
        if ssm is not None:
            self._clients["ssm"] = ssm
        if appconfigdata is not None:
            self._clients["appconfigdata"] = appconfigdata

    def _make(self, service: str) -> BaseClient:
        return client(service, self.region, self.config or (CONNECT_CONFIG if service == "connect" else None))

    # Each property returns the client handed in, else makes one at first use; the cast names what botocore
    # made (create_client is typed BaseClient) after the service it was asked for.
    @property
    def connect(self) -> ConnectClient:
        if "connect" not in self._clients:
            self._clients["connect"] = cast("ConnectClient", self._make("connect"))
        return self._clients["connect"]

    @property
    def dynamodb(self) -> DynamoDBClient:
        if "dynamodb" not in self._clients:
            self._clients["dynamodb"] = cast("DynamoDBClient", self._make("dynamodb"))
        return self._clients["dynamodb"]

    @property
    def sqs(self) -> SQSClient:
        if "sqs" not in self._clients:
            self._clients["sqs"] = cast("SQSClient", self._make("sqs"))
        return self._clients["sqs"]

    @property
    def secretsmanager(self) -> SecretsManagerClient:
        if "secretsmanager" not in self._clients:
            self._clients["secretsmanager"] = cast("SecretsManagerClient", self._make("secretsmanager"))
        return self._clients["secretsmanager"]

    @property
    def customer_profiles(self) -> CustomerProfilesClient:
        if "customer_profiles" not in self._clients:
            made = cast("CustomerProfilesClient", self._make("customer-profiles"))
            self._clients["customer_profiles"] = made
        return self._clients["customer_profiles"]

    @property
    def ssm(self) -> SSMClient:
        if "ssm" not in self._clients:
            self._clients["ssm"] = cast("SSMClient", self._make("ssm"))
        return self._clients["ssm"]

    @property
    def appconfigdata(self) -> AppConfigDataClient:
        if "appconfigdata" not in self._clients:
            self._clients["appconfigdata"] = cast("AppConfigDataClient", self._make("appconfigdata"))
        return self._clients["appconfigdata"]

    @property
    def given(self) -> ClientMap:
        """A copy of the clients handed in (or already made), by name: reading it creates nothing."""
        return self._clients.copy()

    def lazy_sqs(self) -> SQSClient:
        """The SQS client where an adapter needs it only on some paths (dead letters, re-checks, requeues: none
        on the happy path): the client handed in or already made, else a stand-in that makes it at its first use.
        A cold start that sends nothing to SQS never builds the client (about 15 ms)."""
        made = self._clients.get("sqs")
        return made if made is not None else cast("SQSClient", _FirstUse(self, "sqs"))

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
