"""Check IAM statements against the Service Authorization Reference, transcribed in
tools/aws_reference/iam-reference.yaml (read by ``aws_reference.iam``, which preflight and the emulator share).

``statement_problems(statement, resolve)`` lists, for one Allow statement, every way it disagrees with the
reference: a required resource type no ARN of the statement covers, an ARN that is no resource type the action
takes, a condition key the action does not support, an action missing from the table.

Resource ARNs and the reference's ARN formats are both patterns: a statement's ARN may hold IAM wildcards
(``*`` any characters, ``/`` included; ``?`` one character) and a format holds ``${Placeholder}`` values (one
ARN path segment, or several for the placeholders the table lists as multi-segment). "The ARN covers the type"
means the two patterns have a string in common, decided exactly on the two patterns (no sampling).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from typing import Any

from aws_reference.iam import action_reference, load_reference, resource_format
from tests.support.cfn import ACCOUNT, REGION, as_list

__all__ = [
    "action_reference",
    "load_reference",
    "patterns_meet",
    "resolver_for",
    "resource_format",
    "statement_problems",
]

# Placeholder tokens inside a compiled ARN format: one path segment, several segments, any string.
_SEGMENT, _SEGMENTS, _ANY = "\x01", "\x02", "\x03"
_STARS = {_SEGMENT, _SEGMENTS, _ANY}
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
# Global condition keys apply to every action; the tag keys among aws: are per action (listed in the table).
_PER_ACTION_AWS_KEYS = ("aws:resourcetag/", "aws:requesttag/", "aws:tagkeys")


@lru_cache(maxsize=512)
def _compiled(arn_format: str) -> str:
    multi = set(load_reference()["multi_segment_placeholders"])

    def token(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "Partition":
            return "aws"
        if name == "Region":
            return REGION
        if name == "Account":
            return ACCOUNT
        return _SEGMENTS if name in multi else _SEGMENT

    return _PLACEHOLDER.sub(token, arn_format).replace("*", _ANY)


def _fits(token: str, char: str) -> bool:
    if token == _SEGMENT:
        return char not in "/:"
    if token == _SEGMENTS:
        return char != ":"
    return True


def patterns_meet(arn: str, arn_format: str) -> bool:
    """Whether some ARN is matched both by ``arn`` (an IAM Resource, wildcards allowed) and by ``arn_format``."""
    glob, pattern = arn, _compiled(arn_format)

    @cache
    def meet(i: int, j: int) -> bool:
        g = glob[i] if i < len(glob) else None
        p = pattern[j] if j < len(pattern) else None
        if g is None and p is None:
            return True
        # a wildcard may match the empty string
        if g == "*" and meet(i + 1, j):
            return True
        if p in _STARS and meet(i, j + 1):
            return True
        if g is None or p is None:
            return False
        if g == "*":
            # the statement's wildcard takes one literal character of the format
            return p not in _STARS and meet(i, j + 1)
        if p in _STARS:
            # the format's placeholder takes one character of the statement's ARN
            return (g == "?" or _fits(p, g)) and meet(i + 1, j)
        return (g == "?" or g == p) and meet(i + 1, j + 1)

    return meet(0, 0)


def _is_per_action_key(key: str) -> bool:
    lowered = key.lower()
    return not lowered.startswith("aws:") or lowered.startswith(_PER_ACTION_AWS_KEYS)


def _key_supported(key: str, supported: tuple[str, ...]) -> bool:
    lowered = key.lower()
    for candidate in supported:
        pattern = candidate.lower()
        if "${" in pattern:
            if lowered.startswith(pattern.split("${", 1)[0]):
                return True
        elif lowered == pattern:
            return True
    return False


def statement_problems(statement: Mapping[str, Any], resolve: Callable[[Any], str]) -> list[str]:
    """How an Allow statement disagrees with the reference (empty when it agrees)."""
    where = statement.get("Sid") or "statement"
    if "NotAction" in statement or "NotResource" in statement:
        return [f"{where}: NotAction/NotResource are not checked here; write Action and Resource"]
    resources = [resolve(resource) for resource in as_list(statement["Resource"])]
    condition_keys = [key for keys in statement.get("Condition", {}).values() for key in keys]
    problems: list[str] = []
    for action in as_list(statement["Action"]):
        reference = action_reference(action)
        if reference is None:
            problems.append(f"{where}: {action} is not in tools/aws_reference/iam-reference.yaml")
            continue
        if not reference.resource_types:
            if resources != ["*"]:
                problems.append(f"{where}: {action} takes no resource type, so only Resource '*'")
        else:
            for resource_type in reference.required:
                arn_format = resource_format(reference.service, resource_type)
                if not any(patterns_meet(resource, arn_format) for resource in resources):
                    problems.append(f"{where}: {action} requires the {resource_type} resource ({arn_format})")
            for resource in resources:
                if not any(
                    patterns_meet(resource, resource_format(reference.service, resource_type))
                    for resource_type in reference.resource_types
                ):
                    problems.append(
                        f"{where}: {action} takes no resource like {resource} "
                        f"(it takes {', '.join(reference.resource_types)})"
                    )
        for key in condition_keys:
            if _is_per_action_key(key) and not _key_supported(key, reference.condition_keys):
                problems.append(f"{where}: {action} does not support the condition key {key}")
    return problems


# What an unresolved reference to one of the stack's own resources stands for: an ARN of that resource's kind
# (named after its logical id), so that it can be matched against the reference's formats.
_SAMPLE_ARNS: dict[tuple[str, str], str] = {
    ("AWS::Logs::LogGroup", "Arn"): f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/contact-router/{{id}}:*",
    ("AWS::SQS::Queue", "Arn"): f"arn:aws:sqs:{REGION}:{ACCOUNT}:{{id}}",
    ("AWS::DynamoDB::Table", "Arn"): f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{{id}}",
    ("AWS::SecretsManager::Secret", "Ref"): f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{{id}}-AbCdEf",
}


def resolver_for(resources: Mapping[str, Mapping[str, Any]]) -> Callable[[Any], str]:
    """Turns a statement's Resource entry (a string, or a Ref/GetAtt of one of ``resources``) into an ARN."""

    def resolve(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and len(value) == 1:
            ((kind, args),) = value.items()
            if kind == "Ref":
                logical_id, attribute = str(args), "Ref"
            elif kind == "Fn::GetAtt":
                logical_id, attribute = str(args[0]), str(args[1])
            else:
                raise ValueError(f"cannot resolve {value!r}")
            sample = _SAMPLE_ARNS.get((resources[logical_id]["Type"], attribute))
            if sample is not None:
                return sample.format(id=logical_id)
        raise ValueError(f"cannot resolve {value!r} to an ARN")

    return resolve
