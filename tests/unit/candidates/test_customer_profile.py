"""The ``customer_profile`` source: a user named on the contact's Customer Profiles profile."""

from __future__ import annotations

import pytest

from contact_router.errors import TransientError
from contact_router.models.agent import UserRef
from contact_router.models.contact import Contact
from contact_router.models.decision import Verdict
from contact_router.routing.candidates import collect, customer_profile
from contact_router.routing.candidates.customer_profile import ProfilesPort
from contact_router.rules.model import RoutingRule
from tests.fakes import DANA, INSTANCE_ARN, SAM, FakeConnect, FakeProfiles, lookup, source

PROFILE_ID = "6f1b8a51c2d44e0f9a3b7c6d5e4f3a2b"


def _ports(profiles: FakeProfiles, region: str | None = None) -> dict[str, object]:
    return {"customer_profile": ProfilesPort(profiles, "customerProfileId", region)}


def _source(attribute: str = "preferredAgent", **more: object) -> object:
    return source(customer_profile={"attribute": attribute, **more})


def test_the_profile_found_by_its_id_names_the_preferred_agent() -> None:
    # GIVEN a profile whose preferredAgent is dana, and a contact whose flow stored that profile's id
    profiles = FakeProfiles()
    profiles.add({"preferredAgent": DANA}, profileId=PROFILE_ID)
    contact = Contact(
        id="c1",
        channel="CHAT",
        attributes={"customerProfileId": PROFILE_ID},
        customer_endpoint=("EMAIL_ADDRESS", "a@b.co"),
    )
    # WHEN resolved
    [found] = customer_profile.resolve(_source(), contact, lookup(ports=_ports(profiles)))
    # THEN dana, from one search by _profileId (the id wins over the address)
    assert (found.source, found.verdict, found.user_id) == ("customer_profile:preferredAgent", Verdict.ELIGIBLE, DANA)
    assert profiles.searches == [("_profileId", PROFILE_ID)]


def test_without_a_profile_id_the_email_address_finds_the_profile() -> None:
    profiles = FakeProfiles()
    profiles.add({"accountOwner": SAM}, email="Ann@Example.com")
    contact = Contact(id="c1", channel="EMAIL", customer_endpoint=("EMAIL_ADDRESS", " Ann@Example.com "))
    [found] = customer_profile.resolve(_source("accountOwner"), contact, lookup(ports=_ports(profiles)))
    assert (found.verdict, found.user_id) == (Verdict.ELIGIBLE, SAM)
    assert profiles.searches == [("_email", "Ann@Example.com")]


def test_a_phone_number_is_searched_in_e164() -> None:
    # GIVEN a number written nationally and a deployment whose numbers without a country code are British
    profiles = FakeProfiles()
    profiles.add({"preferredAgent": DANA}, phone="+442079460000")
    contact = Contact(id="c1", channel="CHAT", customer_endpoint=("TELEPHONE_NUMBER", "020 7946 0000"))
    [found] = customer_profile.resolve(_source(), contact, lookup(ports=_ports(profiles, region="GB")))
    assert found.user_id == DANA
    assert profiles.searches == [("_phone", "+442079460000")]


def test_search_by_limits_the_identities_used() -> None:
    # GIVEN a rule that trusts only the profile id, and a contact that has only a phone number
    profiles = FakeProfiles()
    profiles.add({"preferredAgent": DANA}, phone="+442079460000")
    contact = Contact(id="c1", channel="CHAT", customer_endpoint=("TELEPHONE_NUMBER", "+442079460000"))
    [found] = customer_profile.resolve(_source(search_by=["profile_id"]), contact, lookup(ports=_ports(profiles)))
    # THEN nothing is searched
    assert (found.verdict, found.detail) == (Verdict.SOURCE_EMPTY, "no profile_id on the contact")
    assert profiles.searches == []


def test_an_address_shared_by_two_profiles_names_nobody() -> None:
    profiles = FakeProfiles()
    profiles.add({"preferredAgent": DANA}, phone="+442079460000")
    profiles.add({"preferredAgent": SAM}, phone="+442079460000")
    contact = Contact(id="c1", channel="CHAT", customer_endpoint=("TELEPHONE_NUMBER", "+442079460000"))
    [found] = customer_profile.resolve(_source(), contact, lookup(ports=_ports(profiles)))
    assert (found.verdict, found.detail) == (Verdict.SOURCE_EMPTY, "several profiles share this phone")


@pytest.mark.parametrize(
    ("attributes", "detail"),
    [
        (None, "no profile with this profile_id"),
        ({"tier": "gold"}, "profile (by profile_id) has no preferredAgent"),
        ({"preferredAgent": "  "}, "profile (by profile_id) has no preferredAgent"),
    ],
)
def test_no_profile_or_no_attribute_is_an_empty_source(attributes: dict[str, str] | None, detail: str) -> None:
    profiles = FakeProfiles()
    if attributes is not None:
        profiles.add(attributes, profileId=PROFILE_ID)
    contact = Contact(id="c1", channel="CHAT", attributes={"customerProfileId": PROFILE_ID})
    [found] = customer_profile.resolve(_source(), contact, lookup(ports=_ports(profiles)))
    assert (found.verdict, found.detail) == (Verdict.SOURCE_EMPTY, detail)


def test_a_username_on_the_profile_is_looked_up_like_any_user_reference() -> None:
    # GIVEN the profile names an agent by username, and another value that is no user reference at all
    connect = FakeConnect()
    connect.usernames["dana.k"] = UserRef(id=DANA, arn=f"{INSTANCE_ARN}/agent/{DANA}", username="dana.k")
    profiles = FakeProfiles()
    profiles.add({"preferredAgent": "dana.k", "owner": "Dana K (sales)"}, profileId=PROFILE_ID)
    contact = Contact(id="c1", channel="CHAT", attributes={"customerProfileId": PROFILE_ID})
    ports = _ports(profiles)
    [by_name] = customer_profile.resolve(_source(), contact, lookup(connect, ports=ports))
    [invalid] = customer_profile.resolve(_source("owner"), contact, lookup(connect, ports=ports))
    assert (by_name.verdict, by_name.user_id, by_name.username) == (Verdict.ELIGIBLE, DANA, "dana.k")
    assert invalid.verdict is Verdict.INVALID_REFERENCE
    assert "Dana" not in (invalid.detail or "")


def test_without_a_domain_the_source_says_it_is_off() -> None:
    contact = Contact(id="c1", channel="CHAT", attributes={"customerProfileId": PROFILE_ID})
    [found] = customer_profile.resolve(_source(), contact, lookup())
    assert (found.verdict, found.detail) == (
        Verdict.SOURCE_EMPTY,
        "Customer Profiles not configured (CUSTOMER_PROFILES_DOMAIN unset)",
    )


def test_a_throttled_search_is_retried_with_the_record() -> None:
    # GIVEN Customer Profiles throttles  WHEN a rule's candidates are collected  THEN the error reaches the policy
    profiles = FakeProfiles(error=TransientError("throttled", "SearchProfiles failed: ThrottlingException (HTTP 429)"))
    rule = RoutingRule.model_validate(
        {"name": "vip", "candidates": [{"customer_profile": {"attribute": "preferredAgent"}}], "fallback": ["queue"]}
    )
    contact = Contact(id="c1", channel="CHAT", attributes={"customerProfileId": PROFILE_ID})
    with pytest.raises(TransientError):
        collect(rule, contact, lookup(ports=_ports(profiles)))


def test_the_rules_schema_rejects_a_profile_source_without_an_attribute() -> None:
    with pytest.raises(ValueError, match="attribute"):
        source(customer_profile={})
    with pytest.raises(ValueError, match="search_by"):
        source(customer_profile={"attribute": "preferredAgent", "search_by": ["fax"]})
