"""An in-process Customer Profiles client for the tests (moto 5.2.5 has no customer-profiles): SearchProfiles
over profiles held in memory, in one domain.

It answers as the botocore model says the service does, so the router's adapter meets the real shapes: the
request is validated against the model's input shape (a bad parameter is botocore's ParamValidationError),
errors are ClientErrors with the model's codes and HTTP statuses, and a caller is authorized the way IAM
would: the request's domain ARN must match a Resource of an Allow statement for profile:SearchProfiles (the
statements handed in, taken from template.yaml's role). Searching is exact on the key's values; how the
service compares case and spelling is not documented and not modelled.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

from tests.support.aws_errors import client_error

_MODEL = botocore.session.get_session().get_service_model("customer-profiles")


@dataclass
class FakeProfilesClient:
    domain_name: str
    arn_prefix: str  # arn:aws:profile:REGION:ACCOUNT
    allow: Sequence[Mapping[str, Any]] = ()  # the caller's statements
    profiles: list[tuple[dict[str, list[str]], dict[str, str]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def add(self, attributes: Mapping[str, str], **keys: str) -> None:
        """A profile with these Attributes, found by ``_profileId=`` ... (``profileId="..."``, ``phone=``...)."""
        self.profiles.append(({f"_{name}": [value] for name, value in keys.items()}, dict(attributes)))

    def search_profiles(self, **params: Any) -> dict[str, Any]:
        shape = _MODEL.operation_model("SearchProfiles").input_shape
        assert shape is not None
        validate_parameters(params, shape)
        self.requests.append(params)
        domain_arn = f"{self.arn_prefix}:domains/{params['DomainName']}"
        if not self._allowed(domain_arn):
            raise _error(
                "AccessDeniedException", 403, f"not authorized to perform: profile:SearchProfiles on {domain_arn}"
            )
        if params["DomainName"] != self.domain_name:
            raise _error(
                "ResourceNotFoundException", 404, "The requested resource does not exist, or access was denied."
            )
        found = [
            {"ProfileId": keys.get("_profileId", ["-"])[0], "Attributes": attributes}
            for keys, attributes in self.profiles
            if set(params["Values"]) & set(keys.get(params["KeyName"], ()))
        ]
        limit = params.get("MaxResults", 20)
        return {"Items": found[:limit], **({"NextToken": "next"} if len(found) > limit else {})}

    def _allowed(self, arn: str) -> bool:
        for statement in self.allow:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if (
                statement.get("Effect") == "Allow"
                and any(fnmatch.fnmatchcase("profile:SearchProfiles", a) for a in actions)
                and any(fnmatch.fnmatchcase(arn, r) for r in resources)
            ):
                return True
        return False


def _error(code: str, status: int, message: str) -> ClientError:
    return client_error("SearchProfiles", code, status, message)
