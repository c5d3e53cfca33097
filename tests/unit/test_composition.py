"""The composition root's clients and the one failure builder of the per-record policy."""

from __future__ import annotations

import pytest

from contact_router.adapters.aws import Clients
from contact_router.models.affinity import AffinityDecision, AffinityOutcome
from contact_router.models.decision import Decision, Outcome
from contact_router.models.supervision import SupervisionDecision, SupervisionOutcome
from contact_router.record_policy import failure


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
