"""IAM mode: each request is authorized against the calling role's policy, as Amazon Connect does.

Off unless `ConnectEmulator.use_iam(Iam(...))` turns it on. The caller is the access key id the request is
signed with (SigV4 `Authorization: ... Credential=<key>/...`): `emulator.client(role="RouterFunction")` signs
with the key `RouterFunction`, and `Iam({"RouterFunction": statements})` holds that role's identity-policy
statements (plain JSON, intrinsics resolved; `contact_router_cli.roles` reads them from template.yaml).
Requests signed with a key that names no role (an operator's CLI, a test's own client) are not evaluated.

What a request is authorized on comes from the Service Authorization Reference ("Actions, resources, and
condition keys for Amazon Connect", transcribed in tools/aws_reference/iam-reference.yaml and read through
`aws_reference.iam`, the one table preflight and the template tests read too): the ARN of every resource type
the action lists as required, built from the request (`InstanceId`, `ContactId`, `UserId` ...), and the
condition keys it lists that the request fills (`connect:InstanceId`, `connect:PreferredUserArn`,
`connect:MonitorCapabilities`). Each resource must be allowed by some Allow statement (action, resource and
every condition match) and denied by no Deny statement; otherwise the answer is AccessDeniedException (403)
naming the action and the resource, as Connect answers.

`evaluate` is the project's one evaluator of identity-policy statements: the emulator's IAM mode uses it for
Connect's requests, and tests/support/iam_policy.py (the stand-in for ``iam:SimulatePrincipalPolicy``, which moto
lacks) uses it for every role preflight simulates. A condition on a key the request does not carry is decided as
the IAM User Guide documents ("IAM JSON policy elements: Condition operators", "Single-valued vs. multivalued
context keys"): false for a positive operator, true for a negated one (StringNotEquals, ArnNotLike, ...), true
with ...IfExists, the Null operator tests exactly that absence; ForAllValues holds, ForAnyValue does not.

Behaviours the documents leave open are named switches (`IamSwitches`), listed in docs/emulator.md:
`preferred_user_arn_from_id` -- whether Connect fills `connect:PreferredUserArn` when `UserId` is a plain
user id (undocumented; off: the key is absent, so an `ArnLike` condition on it fails);
`for_any_value_missing_key_holds` -- ForAnyValue with a negated or ...IfExists operator on a missing key (the two
pages' rules disagree; off: false, as ForAnyValue's own rule and a reported real evaluation say).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_reference.iam import action_reference, id_placeholder, resource_arn
from connect_emulator.errors import ServiceError

ACCESS_DENIED = "AccessDeniedException"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_INSTANCE_ARN = re.compile(r"^arn:(?P<partition>[^:]+):connect:(?P<region>[^:]+):(?P<account>\d{12}):instance/[^/]+$")

# Condition operators the emulator evaluates; a policy using another one is refused when loaded.
_STRING_OPERATORS = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"}
_LIKE_OPERATORS = {"StringLike", "StringNotLike", "ArnLike", "ArnNotLike", "ArnEquals", "ArnNotEquals"}
_OPERATORS = _STRING_OPERATORS | _LIKE_OPERATORS | {"Bool", "Null"}


class IamPolicyError(ValueError):
    """A policy the IAM mode cannot evaluate (an operator or element it does not implement)."""


@dataclass(frozen=True)
class IamSwitches:
    """Behaviours of Connect's authorization the documents leave open (docs/emulator.md lists each source)."""

    # Undocumented: does Connect put the user's ARN in connect:PreferredUserArn when UserId is a plain id?
    # The API reference only says the key is honored. Off: the key is absent for a plain id.
    preferred_user_arn_from_id: bool = False
    # ForAnyValue with a negated or ...IfExists operator (ForAnyValue:StringNotEquals, ForAnyValue:ArnLikeIfExists)
    # on a key the request does not carry. The condition-operators page says a negated operator and IfExists are
    # true on a missing key; the multivalued-keys page says ForAnyValue is false on a missing key. Off: false (the
    # set operator's rule; a re:Post report of ForAnyValue:StringEqualsIfExists denying a request without the key).
    for_any_value_missing_key_holds: bool = False


@dataclass(frozen=True)
class AuthorizationRequest:
    """What one Connect request is authorized on: the IAM action, the resource ARNs, the condition keys."""

    action: str
    resources: tuple[str, ...]
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# GetCurrentUserData names its resources in Filters: each filter holds ids of one resource type.
_FILTER_TYPES = {
    "Agents": "user",
    "Queues": "queue",
    "RoutingProfiles": "routing-profile",
    "UserHierarchyGroups": "hierarchy-group",
}
# Where a request names a resource when the parameter is not called as the ARN format's placeholder.
_PARAMETER_FOR = {("GetContactAttributes", "ContactId"): "InitialContactId"}


def _text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    return value if isinstance(value, str) else ""


def _texts(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def authorization_request(
    operation: str, params: Mapping[str, Any], instance_arn: str, switches: IamSwitches = IamSwitches()
) -> AuthorizationRequest | None:
    """The resources and condition keys Connect authorizes `operation` on (None: not in the reference table).

    The resource types are the ones the reference (aws_reference.iam) marks required for the action; each ARN is
    the type's format filled from the request: the parameter named as the format's placeholder (`ContactId`,
    `UserId`, `RoutingProfileId` ...; an ARN given there is taken as it is). GetCurrentUserData is authorized on
    every resource its Filters name, each of one of its required types. `instance_arn` gives partition, Region
    and account for ARNs built from plain ids.
    """
    match = _INSTANCE_ARN.match(instance_arn)
    if match is None:
        raise ValueError(f"not a Connect instance ARN: {instance_arn!r}")
    reference = action_reference(f"connect:{operation}")
    if reference is None:
        return None
    instance_id = _text(params, "InstanceId").rsplit("/", 1)[-1]
    values = {
        "Partition": match["partition"],
        "Region": match["region"],
        "Account": match["account"],
        "InstanceId": instance_id,
    }

    def arn(kind: str, value: str) -> str:
        if value.startswith("arn:"):
            return value
        return resource_arn("connect", kind, {**values, id_placeholder("connect", kind): value})

    def named(kind: str) -> str:
        placeholder = id_placeholder("connect", kind)
        return arn(kind, _text(params, _PARAMETER_FOR.get((operation, placeholder), placeholder)))

    context: dict[str, tuple[str, ...]] = {"connect:InstanceId": (instance_id,)}
    if operation == "GetCurrentUserData":
        raw_filters = params.get("Filters")
        filters: Mapping[str, Any] = raw_filters if isinstance(raw_filters, Mapping) else {}
        resources = tuple(
            arn(kind, value)
            for key, kind in _FILTER_TYPES.items()
            if kind in reference.required
            for value in _texts(filters.get(key))
        )
        return AuthorizationRequest(reference.action, resources, context)
    resources = tuple(named(kind) for kind in reference.required)
    if "connect:PreferredUserArn" in reference.condition_keys and operation == "AssociateContactWithUser":
        user_id = _text(params, "UserId")
        if user_id.startswith("arn:") or switches.preferred_user_arn_from_id:
            context["connect:PreferredUserArn"] = (named("user"),)
    if "connect:MonitorCapabilities" in reference.condition_keys:
        capabilities = _texts(params.get("AllowedMonitorCapabilities"))
        if capabilities:
            context["connect:MonitorCapabilities"] = tuple(capabilities)
    return AuthorizationRequest(reference.action, resources, context)


# ------------------------------------------------------------------------------------------ evaluation


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _split_operator(name: str) -> tuple[str, str, bool]:
    """(set qualifier, base operator, IfExists) of a condition operator."""
    qualifier, _, rest = name.rpartition(":")
    if_exists = rest.endswith("IfExists")
    base = rest.removesuffix("IfExists")
    if qualifier not in ("", "ForAllValues", "ForAnyValue") or base not in _OPERATORS:
        raise IamPolicyError(f"condition operator {name!r} is not evaluated by the emulator's IAM mode")
    return qualifier, base, if_exists


def _arn_like(pattern: str, value: str) -> bool:
    # IAM matches each of an ARN's six colon-separated parts on its own: a wildcard never spans a colon.
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    return len(pattern_parts) == len(value_parts) and all(
        fnmatch.fnmatchcase(v, p) for p, v in zip(pattern_parts, value_parts, strict=True)
    )


def _matcher(base: str) -> Callable[[str, str], bool]:
    if base in ("StringEquals", "StringNotEquals"):
        return lambda policy, value: policy == value
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return lambda policy, value: policy.lower() == value.lower()
    if base in ("StringLike", "StringNotLike"):
        return lambda policy, value: fnmatch.fnmatchcase(value, policy)
    if base == "Bool":
        return lambda policy, value: policy.lower() == value.lower()
    return _arn_like  # ArnLike, ArnEquals and their negations (IAM treats ArnEquals like ArnLike)


def _lookup(context: Mapping[str, Sequence[str]], key: str) -> Sequence[str] | None:
    """The request's values for a condition key; key names are not case-sensitive in IAM."""
    found = context.get(key)
    if found is not None:
        return found
    lowered = key.lower()
    return next((values for name, values in context.items() if name.lower() == lowered), None)


def _condition_holds(
    operator: str,
    key: str,
    policy_values: list[str],
    context: Mapping[str, Sequence[str]],
    switches: IamSwitches = IamSwitches(),
) -> bool:
    qualifier, base, if_exists = _split_operator(operator)
    values = _lookup(context, key)
    if base == "Null":  # "true": the key is absent; "false": it is present (the Null condition operator)
        return (values is None) == (str(policy_values[0]).lower() == "true")
    negated = "Not" in base
    if values is None:
        if qualifier == "ForAllValues":  # documented: true when the request has no such key
            return True
        if qualifier == "ForAnyValue":  # documented: false when the request has no such key
            return (if_exists or negated) and switches.for_any_value_missing_key_holds
        return if_exists or negated  # documented: IfExists and negated operators hold on a missing key
    matches = _matcher(base)

    def hit(value: str) -> bool:
        return any(matches(str(policy), value) for policy in policy_values)

    if qualifier == "ForAllValues":
        return all(hit(v) != negated for v in values)
    if qualifier == "ForAnyValue":
        return any(hit(v) != negated for v in values)
    return all(not hit(v) for v in values) if negated else any(hit(v) for v in values)


def _matches_any(value: str, patterns: Any, *, ignore_case: bool) -> bool:
    if ignore_case:  # action names are not case-sensitive; resource ARNs are
        return any(fnmatch.fnmatchcase(value.lower(), str(p).lower()) for p in _as_list(patterns))
    return any(fnmatch.fnmatchcase(value, str(p)) for p in _as_list(patterns))


def statement_applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, Sequence[str]],
    switches: IamSwitches = IamSwitches(),
) -> bool:
    """Whether one identity-policy statement covers ``action`` on ``resource`` with the request's condition keys
    (Action or NotAction, Resource or NotResource, every condition)."""
    if "Action" in statement:
        if not _matches_any(action, statement["Action"], ignore_case=True):
            return False
    elif _matches_any(action, statement.get("NotAction", []), ignore_case=True):
        return False
    if "Resource" in statement:
        if not _matches_any(resource, statement["Resource"], ignore_case=False):
            return False
    elif "NotResource" in statement:
        if _matches_any(resource, statement["NotResource"], ignore_case=False):
            return False
    else:
        return False  # a statement without Resource or NotResource is invalid: IAM would not store it
    conditions: Mapping[str, Mapping[str, Any]] = statement.get("Condition", {})
    return all(
        _condition_holds(operator, key, [str(v) for v in _as_list(values)], context, switches)
        for operator, keys in conditions.items()
        for key, values in keys.items()
    )


def evaluate(
    statements: Sequence[Mapping[str, Any]],
    action: str,
    resource: str,
    context: Mapping[str, Sequence[str]],
    switches: IamSwitches = IamSwitches(),
) -> str:
    """IAM's decision for identity-policy ``statements`` (as SimulatePrincipalPolicy names it): ``explicitDeny``
    when a Deny statement applies, else ``allowed`` when an Allow does, else ``implicitDeny``. An operator this
    evaluator does not implement raises IamPolicyError, so no caller passes on a condition it cannot read."""
    decision = "implicitDeny"
    for statement in statements:
        if statement_applies(statement, action, resource, context, switches):
            if statement.get("Effect") == "Deny":
                return "explicitDeny"
            decision = "allowed"
    return decision


def _check_statement(statement: Mapping[str, Any], where: str) -> None:
    unknown = set(statement) - {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
    if unknown:
        raise IamPolicyError(f"{where}: {sorted(unknown)} not evaluated by the emulator's IAM mode")
    has_action = ("Action" in statement) != ("NotAction" in statement)
    has_resource = ("Resource" in statement) != ("NotResource" in statement)
    if statement.get("Effect") not in ("Allow", "Deny") or not has_action or not has_resource:
        raise IamPolicyError(
            f"{where}: a statement needs Effect Allow/Deny, Action or NotAction, and Resource or NotResource"
        )
    for operator, keys in statement.get("Condition", {}).items():
        _split_operator(operator)
        if not isinstance(keys, Mapping):
            raise IamPolicyError(f"{where}: condition {operator} must map keys to values")
    names = [*_as_list(statement.get("Action", statement.get("NotAction", [])))]
    for value in [*names, *_as_list(statement.get("Resource", statement.get("NotResource", [])))]:
        if not isinstance(value, str):
            raise IamPolicyError(f"{where}: {value!r} is not resolved to a string")


class Iam:
    """The roles' identity policies, by the access key id a role's requests are signed with."""

    def __init__(self, roles: Mapping[str, Sequence[Mapping[str, Any]]], switches: IamSwitches | None = None) -> None:
        for role, statements in roles.items():
            for index, statement in enumerate(statements):
                _check_statement(statement, f"role {role} statement {statement.get('Sid') or index}")
        self.roles: dict[str, tuple[Mapping[str, Any], ...]] = {k: tuple(v) for k, v in roles.items()}
        self.switches = switches or IamSwitches()

    @staticmethod
    def caller(headers: Mapping[str, str]) -> str | None:
        """The access key id a request is signed with (None when unsigned)."""
        for name, value in headers.items():
            if name.lower() == "authorization":
                found = _CREDENTIAL.search(value)
                return found.group(1) if found else None
        return None

    def authorize(
        self, headers: Mapping[str, str], operation: str, params: Mapping[str, Any], instance_arn: str
    ) -> None:
        """Raise AccessDeniedException unless the caller's role may make this request."""
        role = self.caller(headers)
        if role is None or role not in self.roles:
            return
        request = authorization_request(operation, params, instance_arn, self.switches)
        if request is None:
            raise ServiceError(
                ACCESS_DENIED,
                f"connect emulator IAM mode: no authorization model for {operation} "
                "(add its row to tools/aws_reference/iam-reference.yaml)",
            )
        account = instance_arn.split(":")[4]
        for resource in request.resources:
            if not self.allows(role, request, resource):
                raise ServiceError(
                    ACCESS_DENIED,
                    f"User: arn:aws:sts::{account}:assumed-role/{role}/emulated is not authorized to perform: "
                    f"{request.action} on resource: {resource} because no identity-based policy allows the "
                    f"{request.action} action",
                )

    def allows(self, role: str, request: AuthorizationRequest, resource: str) -> bool:
        return evaluate(self.roles[role], request.action, resource, request.context, self.switches) == "allowed"
