"""The composition root's clients and the one failure builder of the per-record policy."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from contact_router.adapters.aws import Clients
from contact_router.models.affinity import AffinityDecision, AffinityOutcome
from contact_router.models.decision import Decision, Outcome
from contact_router.models.supervision import SupervisionDecision, SupervisionOutcome
from contact_router.record_policy import failure

INSTANCE_ARN = "arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555"


def test_clients_are_made_once_at_first_use_and_handed_in_ones_are_kept() -> None:
    # GIVEN a handed-in Connect client and nothing else
    given = object()
    clients = Clients(connect=given).for_region("eu-west-2")
    # WHEN asked twice for SQS and once for Connect
    sqs = clients.sqs
    # THEN Connect is the one handed in, SQS is made once, for the Region, and given() never makes one
    assert clients.connect is given
    assert clients.sqs is sqs
    assert sqs.meta.region_name == "eu-west-2"
    assert "dynamodb" not in clients.given


def test_a_lazy_client_is_made_at_its_first_use_only() -> None:
    # GIVEN clients for a Region and a stand-in for SQS
    clients = Clients().for_region("eu-west-2")
    sqs = clients.lazy_sqs()
    # THEN no SQS client exists until the stand-in is used
    assert clients.given.get("sqs") is None
    # WHEN it is used / THEN the one SQS client of these clients answers, made for the Region
    assert sqs.meta.region_name == "eu-west-2"
    assert clients.given.get("sqs") is clients.sqs
    assert sqs.exceptions is clients.sqs.exceptions
    # AND a handed-in client is returned as it is
    given: Any = object()
    assert Clients(sqs=given).lazy_sqs() is given


def test_the_router_app_makes_no_sqs_client_until_it_sends_something() -> None:
    # GIVEN the deployed router's settings (dead-letter queue, its own queue for re-checks) and only a Connect
    # and a DynamoDB client handed in
    from contact_router.composition import build_router_app
    from contact_router.config import Settings

    settings = Settings.from_env(
        {
            "CONNECT_INSTANCE_ARN": INSTANCE_ARN,
            "AWS_DEFAULT_REGION": "eu-west-2",
            "IDEMPOTENCY_TABLE": "contact-router-idempotency",
            "DEAD_LETTER_QUEUE_URL": "https://sqs.eu-west-2.amazonaws.com/123456789012/dlq",
            "ROUTER_QUEUE_URL": "https://sqs.eu-west-2.amazonaws.com/123456789012/events",
        }
    )
    handed: Any = object()
    clients = Clients(connect=handed, dynamodb=handed)
    # WHEN the app is built
    build_router_app(settings, clients)
    # THEN no SQS client was made (the happy path sends nothing to SQS)
    assert clients.given.get("sqs") is None


@pytest.mark.parametrize(
    ("kind", "rejected", "failed"),
    [
        (Decision, Outcome.REJECTED, Outcome.FAILED),
        (SupervisionDecision, SupervisionOutcome.REJECTED, SupervisionOutcome.FAILED),
        (AffinityDecision, AffinityOutcome.REJECTED, AffinityOutcome.FAILED),
    ],
)
def test_a_failed_record_is_rejected_when_permanent_and_failed_when_transient(
    kind: type[Decision], rejected: object, failed: object
) -> None:
    permanent = failure(kind, "c1", "malformed_event", "not JSON", permanent=True)
    transient = failure(kind, None, "throttled", "slow down", permanent=False)
    assert (type(permanent), permanent.outcome, permanent.contact_id, permanent.reason, permanent.detail) == (
        kind,
        rejected,
        "c1",
        "malformed_event",
        "not JSON",
    )
    assert (transient.outcome, transient.contact_id) == (failed, None)


def test_the_router_imports_no_other_functions_code() -> None:
    # GIVEN a fresh interpreter / WHEN the router handler builds its app (what a cold start imports)
    code = (
        "import sys, contact_router.composition as c, contact_router.handlers.router; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('contact_router', 'phonenumbers'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(result.stdout.split())
    # THEN the flow entry point's, the supervisor's, the sweep's and the affinity recorder's modules are not
    # among them, nor libphonenumber (read only where a phone number is)
    assert "contact_router.composition" in loaded
    for module in (
        "contact_router.flow_app",
        "contact_router.supervision.supervisor",
        "contact_router.sweep.sweeper",
        "contact_router.sweep.schedule",
        "contact_router.customers.affinity",
        "phonenumbers",
    ):
        assert module not in loaded, module
