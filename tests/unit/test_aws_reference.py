"""The one reader of the Service Authorization Reference table (aws_reference.iam), which the template tests,
the emulator's IAM mode and `contact-router preflight` share."""

from __future__ import annotations

import re

import pytest

from aws_reference.iam import IamReferenceError, action_reference, load_reference, required_arns, resource_arn

IDS = {
    "Partition": "aws",
    "Region": "eu-west-2",
    "Account": "123456789012",
    "InstanceId": "i-1",
    "ContactId": "c-1",
    "UserId": "u-1",
}


def test_an_action_s_required_arns_are_one_per_required_type_filled_from_the_values() -> None:
    assert required_arns("connect:MonitorContact", IDS) == {
        "contact": "arn:aws:connect:eu-west-2:123456789012:instance/i-1/contact/c-1",
        "instance": "arn:aws:connect:eu-west-2:123456789012:instance/i-1",
        "user": "arn:aws:connect:eu-west-2:123456789012:instance/i-1/agent/u-1",
    }


def test_customer_profiles_searches_are_authorized_on_the_domain() -> None:
    # preflight simulates profile:SearchProfiles on the configured domain's ARN, as the template grants it
    assert required_arns("profile:SearchProfiles", {**IDS, "DomainName": "acme-profiles"}) == {
        "domains": "arn:aws:profile:eu-west-2:123456789012:domains/acme-profiles"
    }


def test_a_missing_value_names_the_placeholder_and_the_format() -> None:
    with pytest.raises(
        IamReferenceError, match=r"no value for \$\{HierarchyGroupId\} of the connect hierarchy-group ARN"
    ):
        required_arns("connect:GetCurrentUserData", IDS)


def test_an_action_or_type_outside_the_table_is_refused() -> None:
    assert action_reference("connect:DeleteInstance") is None
    with pytest.raises(IamReferenceError, match=r"connect:DeleteInstance is not in iam-reference\.yaml"):
        required_arns("connect:DeleteInstance", IDS)
    with pytest.raises(IamReferenceError, match="lists no connect resource type 'phone-number'"):
        resource_arn("connect", "phone-number", IDS)


def test_every_type_an_action_lists_has_an_arn_format_in_its_service() -> None:
    # GIVEN every row of the table WHEN each resource type it lists is filled with a value per placeholder
    for service, spec in load_reference()["services"].items():
        for name, row in spec["actions"].items():
            for kind in row["required"] + row["optional"]:
                arn_format = spec["resources"][kind]
                values = {p: "x" for p in re.findall(r"\$\{([^}]+)\}", arn_format)}
                # THEN it is an ARN of that service
                assert resource_arn(service, kind, values).startswith(f"arn:x:{service}:"), (service, name, kind)
