"""The Customer Profiles adapter: one SearchProfiles call checked against botocore's model (Stubber: moto has no
customer-profiles), paced, and its errors classified like Connect's."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber

from contact_router.adapters.aws import Clients
from contact_router.adapters.customer_profiles import CustomerProfilesGateway
from contact_router.adapters.pacing import Pacer
from contact_router.composition import source_ports
from contact_router.config import Settings
from contact_router.errors import ConfigurationError, PermanentError, TransientError
from contact_router.routing.candidates.customer_profile import ProfilesPort
from tests.fakes import DANA, INSTANCE_ARN, Clock

PHONE = "+442079460000"


def _client() -> Any:
    return Clients().for_region("eu-west-2").customer_profiles


def test_search_asks_for_two_profiles_and_returns_their_attributes() -> None:
    # GIVEN a domain where one profile has this phone number
    client = _client()
    with Stubber(client) as stub:
        stub.add_response(
            "search_profiles",
            {"Items": [{"ProfileId": "p1", "Attributes": {"preferredAgent": DANA}}]},
            {"DomainName": "acme", "KeyName": "_phone", "Values": [PHONE], "MaxResults": 2},
        )
        # WHEN searched  THEN one request as the model allows it, and the profile's Attributes
        assert CustomerProfilesGateway(client, "acme").search("_phone", PHONE) == [{"preferredAgent": DANA}]


def test_each_search_waits_for_its_share_of_the_quota() -> None:
    # GIVEN a pace of 1 search/s (burst 2.5)  WHEN four searches are made at once
    clock = Clock()
    slept: list[float] = []
    pacer = Pacer({"SearchProfiles": 1.0}, clock=clock, sleep=slept.append)
    client = _client()
    with Stubber(client) as stub:
        for _ in range(4):
            stub.add_response("search_profiles", {"Items": []})
        gateway = CustomerProfilesGateway(client, "acme", pacer=pacer)
        for _ in range(4):
            gateway.search("_profileId", "p1")
    # THEN the burst passes and the rest wait (the clock never moved)
    assert len(slept) == 2
    assert all(wait > 0 for wait in slept)


@pytest.mark.parametrize(
    ("code", "status", "kind", "reason"),
    [
        ("ThrottlingException", 429, TransientError, "throttled"),
        ("InternalServerException", 500, TransientError, "profiles_unavailable"),
        ("AccessDeniedException", 403, PermanentError, "access_denied"),
        ("ResourceNotFoundException", 404, PermanentError, "profiles_domain_not_found"),
        ("BadRequestException", 400, PermanentError, "invalid_request"),
    ],
)
def test_errors_are_classified_and_never_carry_the_searched_value(
    code: str, status: int, kind: type[Exception], reason: str
) -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "search_profiles", service_error_code=code, service_message=PHONE, http_status_code=status
        )
        with pytest.raises(kind) as err:
            CustomerProfilesGateway(client, "acme").search("_phone", PHONE)
    assert err.value.reason == reason  # type: ignore[attr-defined]
    assert PHONE not in str(err.value)
    assert "_phone" in str(err.value)
    assert isinstance(err.value.__cause__, ClientError)


def test_a_timeout_is_transient() -> None:
    class Slow:
        def search_profiles(self, **_: Any) -> Any:
            raise ReadTimeoutError(endpoint_url="https://profile.eu-west-2.amazonaws.com")

    with pytest.raises(TransientError) as err:
        CustomerProfilesGateway(Slow(), "acme").search("_email", "a@b.co")
    assert err.value.reason == "timeout"


def test_the_source_has_a_port_only_with_a_domain() -> None:
    # GIVEN settings without, then with, CUSTOMER_PROFILES_DOMAIN
    off = Settings.for_instance(INSTANCE_ARN)
    on = Settings.for_instance(INSTANCE_ARN, customer_profiles_domain="acme", phone_default_region="GB")
    given = object()
    clients = Clients(customer_profiles=given)
    # THEN no port, then one over the handed-in client that reads the contact's profile id attribute
    assert source_ports(off, clients) == {}
    port = source_ports(on, clients)["customer_profile"]
    assert isinstance(port, ProfilesPort)
    assert (port.profile_id_attribute, port.phone_region) == ("customerProfileId", "GB")
    assert isinstance(port.profiles, CustomerProfilesGateway)
    assert port.profiles.domain_name == "acme"


def test_the_domain_setting_is_validated_and_searchprofiles_can_be_paced() -> None:
    settings = Settings.from_env(
        {
            "CONNECT_INSTANCE_ARN": INSTANCE_ARN,
            "CUSTOMER_PROFILES_DOMAIN": " acme-profiles ",
            "CONNECT_API_QUOTAS": "SearchProfiles=10",
        }
    )
    assert settings.customer_profiles_domain == "acme-profiles"
    assert settings.pacing_rates == {"SearchProfiles": 10.0}
    with pytest.raises(ConfigurationError) as err:
        Settings.from_env({"CONNECT_INSTANCE_ARN": INSTANCE_ARN, "CUSTOMER_PROFILES_DOMAIN": "acme/prod"})
    assert err.value.problems == [
        "CUSTOMER_PROFILES_DOMAIN must be a Customer Profiles domain name (1-64 letters, digits, _ or -), got 'acme/prod'"
    ]
