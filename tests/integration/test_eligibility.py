"""Eligibility through the router's real entry point, against the emulator in IAM mode: queue membership from
the candidates' routing profiles (ListRoutingProfileQueues), under both settings of the emulator switches the
documents leave open (association to a non-member; logged-out agents in GetCurrentUserData)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import SAMPLES_DIR
from tests.integration.conftest import Harness, event

DANA = "33333333-0000-4000-8000-000000000001"
SAM = "33333333-0000-4000-8000-000000000002"
LEE = "33333333-0000-4000-8000-000000000004"  # Offline in the sample world
BILLING_ONLY = "55555555-0000-4000-8000-0000000000b1"


def world_file(tmp_path: Path, **instance: object) -> Path:
    """The sample world, with dana moved to a routing profile that serves only the billing queue."""
    data: dict[str, Any] = yaml.safe_load((SAMPLES_DIR / "world.yaml").read_text(encoding="utf-8"))
    data["instance"].update(instance)
    data["routing_profiles"].append(
        {
            "id": BILLING_ONLY,
            "name": "Billing only",
            "concurrency": {"CHAT": 3, "EMAIL": 2},
            "queues": ["Billing email"],
        }
    )
    for user in data["users"]:
        if user["username"] == "dana":
            user["routing_profile"] = "Billing only"
            user.pop("busy", None)
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(params=[False, True], ids=["association-open", "association-requires-queue"])
def association_requires_queue(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture(params=[False, True], ids=["offline-absent", "offline-listed"])
def user_data_lists_offline(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def world_path(tmp_path: Path, association_requires_queue: bool, user_data_lists_offline: bool) -> Path:
    return world_file(
        tmp_path,
        association_requires_queue=association_requires_queue,
        user_data_lists_offline=user_data_lists_offline,
    )


def rules(tmp_path: Path, candidates: str, extra: str = "") -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(f"version: 1\nrouting:\n  - name: r\n    candidates: [{candidates}]\n{extra}", encoding="utf-8")
    return str(path)


def support_chat(harness: Harness) -> tuple[str, dict[str, Any]]:
    contact = harness.emulator.add_contact(channel="CHAT", state="QUEUED", queue="Support")
    body = event("queued-chat-attribute.json")
    body["detail"]["contactId"] = contact.id
    return contact.id, harness.record(body)


def decisions(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.decision for r in caplog.records if hasattr(r, "decision")]  # type: ignore[attr-defined]


def test_a_candidate_whose_profile_lacks_the_queue_is_skipped_with_the_reason(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN dana (available, free chat slots, but her profile serves only the billing queue) before sam, and a
    # chat in Support; whatever Connect does with an association to a non-member (both switch settings)
    app = harness.app(RULES_FILE=rules(tmp_path, f"{{users: [{DANA}, {SAM}]}}"))
    contact_id, record = support_chat(harness)
    caplog.set_level("INFO")
    # WHEN routed through the handler
    assert harness.invoke([record], app) == {"batchItemFailures": []}
    # THEN dana is skipped as not_in_queue, naming her profile, and sam gets the contact
    (decision,) = decisions(caplog)
    assert (decision["outcome"], decision["agent_id"]) == ("Associated", SAM)
    dana, sam = decision["candidates"]
    assert (dana["verdict"], dana["in_queue"]) == ("not_in_queue", False)
    assert (
        dana["detail"]
        == f"routing profile {BILLING_ONLY} does not serve queue 22222222-0000-4000-8000-000000000001 for CHAT"
    )
    assert (sam["verdict"], sam["in_queue"]) == ("chosen", True)
    assert [(a.contact_id, a.user_id) for a in harness.emulator.associations] == [(contact_id, SAM)]


def test_routing_criteria_prefer_only_members_whether_or_not_logged_out_agents_are_listed(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture, user_data_lists_offline: bool
) -> None:
    # GIVEN lee (logged out, his profile serves Support) and dana (not a member), a routing-criteria fallback
    app = harness.app(
        RULES_FILE=rules(
            tmp_path,
            f"{{users: [{LEE}, {DANA}]}}",
            "    fallback: [{routing_criteria: {expiry_seconds: 60}}]\n",
        )
    )
    contact_id, record = support_chat(harness)
    caplog.set_level("INFO")
    # WHEN nobody can take it now
    assert harness.invoke([record], app) == {"batchItemFailures": []}
    # THEN Connect is asked to prefer lee only, the same whether GetCurrentUserData lists him (status Offline,
    # his profile known) or not (his profile read with DescribeUser)
    (decision,) = decisions(caplog)
    assert decision["outcome"] == "RoutingCriteriaSet"
    assert decision["routing_steps"] == [[LEE]]
    verdicts = {c["user_id"]: (c["verdict"], c["in_queue"]) for c in decision["candidates"]}
    assert verdicts[DANA] == ("not_in_queue", False)
    assert verdicts[LEE] == ("status" if user_data_lists_offline else "offline", True)
    steps = harness.emulator.routing_criteria(contact_id)
    assert steps is not None
    assert [s.agent_ids for s in steps.steps] == [(LEE,)]
    described = [c.params["UserId"] for c in harness.emulator.calls if c.operation == "DescribeUser"]
    assert described == ([] if user_data_lists_offline else [LEE])


def test_without_required_membership_the_association_depends_on_the_undocumented_answer(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture, association_requires_queue: bool
) -> None:
    # GIVEN a rule that lets a non-member be associated (require_queue_membership: false), dana first
    app = harness.app(
        RULES_FILE=rules(tmp_path, f"{{users: [{DANA}, {SAM}]}}", "    require_queue_membership: false\n")
    )
    contact_id, record = support_chat(harness)
    caplog.set_level("INFO")
    response = harness.invoke([record], app)
    if association_requires_queue:
        # THEN if Connect refuses non-members, the contact is dead-lettered with Connect's error: why the
        # default is true
        assert response == {"batchItemFailures": []}
        (dead,) = harness.dead_letters()
        assert json.loads(dead["body"])["detail"]["contactId"] == contact_id
        assert dead["reason"] == "invalid_request"
    else:
        # THEN if Connect accepts them, dana gets it; membership was not needed, so not read
        (decision,) = decisions(caplog)
        assert (decision["outcome"], decision["agent_id"]) == ("Associated", DANA)
        assert "in_queue" not in decision["candidates"][0]
        assert harness.emulator.call_counts()["ListRoutingProfileQueues"] == 0
