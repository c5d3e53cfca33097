"""The customer_profile candidate source through the real router handler: emulated Connect (IAM mode), moto, and
an in-process Customer Profiles client that authorizes with the router's role as template.yaml grants it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contact_router.adapters.aws import Clients
from contact_router.composition import build_router_app
from contact_router.config import Settings
from contact_router.record_policy import RouterApp
from tests.integration.conftest import Harness, event
from tests.support.cfn import stack
from tests.support.customer_profiles import FakeProfilesClient

SAM = "33333333-0000-4000-8000-000000000002"
DOMAIN = "acme-profiles"
PROFILE_ID = "6f1b8a51c2d44e0f9a3b7c6d5e4f3a2b"
RULES = """
version: 1
routing:
  - name: profile-owner
    candidates:
      - customer_profile: {attribute: preferredAgent}
      - customer_profile: {attribute: accountOwner, search_by: [phone]}
    fallback: [queue]
"""


def router_statements(**parameters: str) -> list[dict[str, Any]]:
    """The router role's statements in the stack deployed with these parameters."""
    return [s for name, s in stack(**parameters).iam_statements() if name == "RouterFunctionRole"]


@pytest.fixture
def profiles(harness: Harness) -> FakeProfilesClient:
    instance = harness.emulator.instance_arn.split(":")
    client = FakeProfilesClient(
        DOMAIN, f"arn:aws:profile:{instance[3]}:{instance[4]}", router_statements(CustomerProfilesDomain=DOMAIN)
    )
    client.add({"preferredAgent": "sam", "accountOwner": "sam"}, profileId=PROFILE_ID, phone="+447700900999")
    return client


def app_with(harness: Harness, profiles: FakeProfilesClient, tmp_path: Path, **env: str) -> RouterApp:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    settings = Settings.from_env({**harness.env, "RULES_FILE": str(rules), **env})
    clients = Clients(
        connect=harness.emulator.client(role="RouterFunction"),
        dynamodb=harness.dynamodb,
        sqs=harness.sqs,
        secretsmanager=harness.secrets,
        customer_profiles=profiles,
    )
    return build_router_app(settings, clients, clock=harness.emulator.now)


def route(harness: Harness, app: RouterApp, contact_id: str, caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    body = event("queued-chat-attribute.json")
    body["detail"]["contactId"] = contact_id
    caplog.set_level("INFO")
    assert harness.invoke([harness.record(body)], app) == {"batchItemFailures": []}
    [decision] = [r.decision for r in caplog.records if hasattr(r, "decision")]  # type: ignore[attr-defined]
    return decision  # type: ignore[no-any-return]


def test_the_agent_named_on_the_contacts_profile_gets_the_chat(
    harness: Harness, profiles: FakeProfilesClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a queued chat whose flow stored the customer's profile id, and a profile naming sam
    contact = harness.emulator.add_contact(
        channel="CHAT", state="QUEUED", queue="Support", attributes={"customerProfileId": PROFILE_ID}
    )
    app = app_with(harness, profiles, tmp_path, CUSTOMER_PROFILES_DOMAIN=DOMAIN)
    # WHEN the router handles its QUEUED event
    decision = route(harness, app, contact.id, caplog)
    # THEN sam gets it, found by the profile id; the second source (by phone) found no phone on the contact
    assert (decision["outcome"], decision["agent_id"], decision["reason"]) == (
        "Associated",
        SAM,
        "customer_profile:preferredAgent",
    )
    assert [(r["KeyName"], r["Values"]) for r in profiles.requests] == [("_profileId", [PROFILE_ID])]
    assert [c["verdict"] for c in decision["candidates"]] == ["chosen", "source_empty"]


def test_without_a_domain_the_decision_says_the_source_is_off(
    harness: Harness, profiles: FakeProfilesClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    contact = harness.emulator.add_contact(
        channel="CHAT", state="QUEUED", queue="Support", attributes={"customerProfileId": PROFILE_ID}
    )
    decision = route(harness, app_with(harness, profiles, tmp_path), contact.id, caplog)
    assert (decision["outcome"], decision["reason"]) == ("NoEligibleAgent", "source_empty")
    assert "CUSTOMER_PROFILES_DOMAIN unset" in decision["candidates"][0]["detail"]
    assert profiles.requests == []


def test_a_domain_the_role_may_not_search_dead_letters_the_record_with_its_reason(
    harness: Harness, profiles: FakeProfilesClient, tmp_path: Path
) -> None:
    # GIVEN the function configured with another domain than the one its role was deployed for
    contact = harness.emulator.add_contact(
        channel="CHAT", state="QUEUED", queue="Support", attributes={"customerProfileId": PROFILE_ID}
    )
    app = app_with(harness, profiles, tmp_path, CUSTOMER_PROFILES_DOMAIN="other-domain")
    body = event("queued-chat-attribute.json")
    body["detail"]["contactId"] = contact.id
    # WHEN handled  THEN access denied is permanent: no retry, the record is in the dead-letter queue with its reason
    assert harness.invoke([harness.record(body)], app) == {"batchItemFailures": []}
    [letter] = harness.dead_letters()
    assert letter["reason"] == "access_denied"
