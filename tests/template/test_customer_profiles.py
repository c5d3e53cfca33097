"""The customer_profile candidate source in the deployed stack: off by default, and with a domain the router
may search that one domain, nothing else."""

from __future__ import annotations

from tests.support.cfn import TEST_INSTANCE_ARN, as_list, stack

ACCOUNT_REGION = ":".join(TEST_INSTANCE_ARN.split(":")[3:5])


def _profile_statements(**parameters: str) -> list[tuple[str, dict[str, object]]]:
    return [
        (name, statement)
        for name, statement in stack(**parameters).iam_statements()
        if any(str(action).startswith("profile:") for action in as_list(statement["Action"]))
    ]


def test_without_a_domain_no_role_may_read_customer_profiles() -> None:
    deployed = stack()
    assert _profile_statements() == []
    assert deployed.properties("RouterFunction")["Environment"]["Variables"]["CUSTOMER_PROFILES_DOMAIN"] == ""


def test_with_a_domain_only_the_router_may_search_only_that_domain() -> None:
    # GIVEN the stack deployed with a Customer Profiles domain
    deployed = stack(CustomerProfilesDomain="acme-profiles")
    # THEN one statement, on the router's role: SearchProfiles on that domain's ARN
    [(role, statement)] = _profile_statements(CustomerProfilesDomain="acme-profiles")
    assert role == "RouterFunctionRole"
    assert (statement["Sid"], statement["Action"], statement["Resource"]) == (
        "SearchCustomerProfiles",
        "profile:SearchProfiles",
        f"arn:aws:profile:{ACCOUNT_REGION}:domains/acme-profiles",
    )
    assert deployed.properties("RouterFunction")["Environment"]["Variables"]["CUSTOMER_PROFILES_DOMAIN"] == (
        "acme-profiles"
    )
