"""A local stand-in for ``iam:SimulatePrincipalPolicy``, which moto does not implement (moto 5.2.5 has no
``simulate_principal_policy``, and its own policy checks ignore conditions).

``LocalPolicySimulator`` reads a role's identity policies from (moto's) IAM, inline and attached, and hands them to
the project's one policy evaluator, ``connect_emulator.iam.evaluate`` (the emulator's IAM mode uses the same): an
explicit Deny wins, then an Allow, else the implicit deny; Action/NotAction, Resource/NotResource; the condition
operators and the missing-key rules IAM documents, with the open cases as ``IamSwitches`` (docs/emulator.md). An
operator it does not implement raises, so a test can never pass on a condition nobody evaluated.

Permissions boundaries and SCPs are not modelled (moto's accounts have none); production uses the real call.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from connect_emulator.iam import IamSwitches, evaluate
from contact_router_cli.preflight import ContextEntry, Simulation

if TYPE_CHECKING:
    from types_boto3_iam import IAMClient


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

    def __init__(self, iam_client: IAMClient, switches: IamSwitches | None = None) -> None:
        self._iam = iam_client
        self.switches = switches or IamSwitches()
        self.calls: list[tuple[str, str, str, tuple[ContextEntry, ...]]] = []

    def simulate(self, principal_arn: str, action: str, resource: str, context: Sequence[ContextEntry]) -> Simulation:
        self.calls.append((principal_arn, action, resource, tuple(context)))
        values = {entry.key: tuple(entry.values) for entry in context}
        statements = self._statements(principal_arn.rsplit("/", 1)[-1])
        return Simulation(resource, evaluate(statements, action, resource, values, self.switches))

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
