"""The Connect statements of each function's role in template.yaml, for the Connect emulator's IAM mode.

Each function's role is a plain ``AWS::IAM::Role`` the SAM transform leaves as it is, so the simulator's loader
and its one intrinsic ``Resolver`` (``simulate.template``) read it, with the pseudo parameters (partition, Region
and account) taken from the instance ARN. ``tests/template/test_iam_emulator_roles.py`` checks the result
equals the SAM-transformed template's statements.

    roles = function_role_policies(instance_arn)      # {"RouterFunction": [statement, ...], ...}
    emulator.use_iam(Iam(roles))
    client = emulator.client(role="RouterFunction")
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contact_router_cli.simulate.template import (
    _NO_VALUE,
    TEMPLATE,
    Resolver,
    TemplateError,
    list_parameters,
    load,
    parameter_values,
)

_INSTANCE_ARN = re.compile(r"^arn:(?P<partition>[^:]+):connect:(?P<region>[^:]+):(?P<account>\d{12}):instance/[^/]+$")


def _statements(document: Mapping[str, Any]) -> list[Any]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def function_role_policies(
    instance_arn: str,
    parameters: Mapping[str, str] | None = None,
    template: Mapping[str, Any] | None = None,
    path: Path = TEMPLATE,
) -> dict[str, list[dict[str, Any]]]:
    """Per function (logical id), the Connect statements of its role's policies, intrinsics resolved, for a
    stack deployed on ``instance_arn`` with ``parameters`` (template defaults for the rest)."""
    if template is None:
        # template.yaml is read once per process for each deployment (tests build many emulators)
        cached = _from_file(instance_arn, frozenset((parameters or {}).items()), path)
        return copy.deepcopy(cached)
    return _role_policies(instance_arn, parameters or {}, template)


@functools.lru_cache(maxsize=32)
def _from_file(
    instance_arn: str, parameters: frozenset[tuple[str, str]], path: Path
) -> dict[str, list[dict[str, Any]]]:
    return _role_policies(instance_arn, dict(parameters), load(path))


def _role_policies(
    instance_arn: str, parameters: Mapping[str, str], data: Mapping[str, Any]
) -> dict[str, list[dict[str, Any]]]:
    match = _INSTANCE_ARN.match(instance_arn)
    if match is None:
        raise TemplateError(f"not a Connect instance ARN: {instance_arn!r}")
    pseudo = {
        "AWS::Partition": match["partition"],
        "AWS::Region": match["region"],
        "AWS::AccountId": match["account"],
        "AWS::StackName": "contact-router",
        "AWS::URLSuffix": "amazonaws.com",
    }
    values = parameter_values(data, {"ConnectInstanceArn": instance_arn, **parameters})
    resolver = Resolver(values, data.get("Conditions") or {}, list_parameters(data), pseudo)
    resources: dict[str, Any] = data["Resources"]
    roles: dict[str, list[dict[str, Any]]] = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        role = (resource.get("Properties") or {}).get("Role")
        if not (isinstance(role, dict) and isinstance(role.get("Fn::GetAtt"), list)):
            raise TemplateError(f"{name}: expected Role: !GetAtt <its role>.Arn")
        policies = resolver.resolve((resources[role["Fn::GetAtt"][0]].get("Properties") or {}).get("Policies", []))
        statements = [
            statement
            for policy in policies
            for statement in _statements(policy["PolicyDocument"])
            if statement is not _NO_VALUE
            and any(str(action).startswith("connect:") for action in _as_list(statement["Action"]))
        ]
        roles[name] = statements
    return roles


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
