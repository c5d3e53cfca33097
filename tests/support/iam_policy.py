"""A local stand-in for ``iam:SimulatePrincipalPolicy``, which moto does not implement (moto 5.2.5 has no
``simulate_principal_policy``, and its own policy checks ignore conditions).

``LocalPolicySimulator`` reads a role's identity policies from (moto's) IAM, inline and attached, and evaluates
them for one action on one resource with the request's context keys, the way IAM documents it:

- an explicit Deny wins, then an Allow, else the implicit deny;
- Action / NotAction and Resource / NotResource with ``*`` and ``?`` wildcards (actions case-insensitively);
- the condition operators the template uses and their close relatives: StringEquals, StringNotEquals,
  StringLike, StringNotLike, ArnEquals, ArnLike, ArnNotEquals, ArnNotLike, Bool, with the ``ForAllValues:`` and
  ``ForAnyValue:`` set qualifiers and the ``...IfExists`` suffix. A key missing from the request fails the
  condition, except under ForAllValues (true for an empty set) and IfExists. Any other operator raises, so a test
  can never pass on a condition this evaluator does not understand.

Permissions boundaries and SCPs are not modelled (moto's accounts have none); production uses the real call.
"""

from __future__ import annotations

import ast
import fnmatch
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from contact_router_cli.preflight import ContextEntry, Simulation

if TYPE_CHECKING:
    from types_boto3_iam import IAMClient


def _arn_like(value: str, pattern: str) -> bool:
    """ArnLike: each of the six colon-separated parts is matched on its own (a * never spans a colon)."""
    values, patterns = value.split(":", 5), pattern.split(":", 5)
    return len(values) == len(patterns) == 6 and all(map(fnmatch.fnmatchcase, values, patterns))


_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda value, pattern: value == pattern, False),
    "StringNotEquals": (lambda value, pattern: value != pattern, True),
    "StringLike": (fnmatch.fnmatchcase, False),
    "StringNotLike": (lambda value, pattern: not fnmatch.fnmatchcase(value, pattern), True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (lambda value, pattern: not _arn_like(value, pattern), True),
    "ArnNotLike": (lambda value, pattern: not _arn_like(value, pattern), True),
    "Bool": (lambda value, pattern: value.lower() == pattern.lower(), False),
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_document(raw: Any) -> dict[str, Any]:
    """A policy document as IAM hands it back; moto gives CloudFormation-made inline policies as a Python repr."""
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        parsed = ast.literal_eval(raw)
    return dict(parsed)


class LocalPolicySimulator:
    """Implements ``contact_router_cli.preflight.PolicySimulator`` over the roles stored in an IAM client."""

    def __init__(self, iam_client: IAMClient) -> None:
        self._iam = iam_client
        self.calls: list[tuple[str, str, str, tuple[ContextEntry, ...]]] = []

    def simulate(self, principal_arn: str, action: str, resource: str, context: Sequence[ContextEntry]) -> Simulation:
        self.calls.append((principal_arn, action, resource, tuple(context)))
        values = {entry.key.lower(): list(entry.values) for entry in context}
        decision = "implicitDeny"
        for statement in self._statements(principal_arn.rsplit("/", 1)[-1]):
            if not _applies(statement, action, resource, values):
                continue
            if statement.get("Effect") == "Deny":
                return Simulation(resource, "explicitDeny")
            decision = "allowed"
        return Simulation(resource, decision)

    def _statements(self, role_name: str) -> list[dict[str, Any]]:
        documents = [
            policy_document(self._iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
            for name in self._iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        ]
        for attached in self._iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
            policy = self._iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = self._iam.get_policy_version(
                PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
            )
            documents.append(policy_document(version["PolicyVersion"]["Document"]))
        # CloudFormation's AWS::NoValue leaves None in moto's copy of a statement list.
        return [s for d in documents for s in _as_list(d.get("Statement", [])) if isinstance(s, dict)]


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, list[str]]) -> bool:
    if "Action" in statement:
        matched = any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(statement["Action"]))
    else:
        matched = not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(statement["NotAction"]))
    if not matched:
        return False
    if "Resource" in statement:
        matched = any(fnmatch.fnmatchcase(resource, r) for r in _as_list(statement["Resource"]))
    elif "NotResource" in statement:
        matched = not any(fnmatch.fnmatchcase(resource, r) for r in _as_list(statement["NotResource"]))
    else:
        matched = False  # a statement without Resource is invalid: IAM would not have stored it
    if not matched:
        return False
    return all(
        _condition(operator, key, expected, context)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def _condition(operator: str, key: str, expected: Any, context: Mapping[str, list[str]]) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    if name not in _OPERATORS:
        raise ValueError(f"condition operator {operator} is not understood by this evaluator")
    test, negated = _OPERATORS[name]
    patterns = [str(p) for p in _as_list(expected)]
    values = context.get(key.lower())
    if values is None:
        return qualifier == "ForAllValues" or if_exists or (negated and qualifier == "")

    def one(value: str) -> bool:
        return all(test(value, p) for p in patterns) if negated else any(test(value, p) for p in patterns)

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    if qualifier:
        raise ValueError(f"condition qualifier {qualifier} is not understood by this evaluator")
    return len(values) == 1 and one(values[0])
