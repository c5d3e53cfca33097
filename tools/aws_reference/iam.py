"""The Service Authorization Reference, transcribed in ``iam-reference.yaml`` (this package's data file).

``action_reference("connect:MonitorContact")`` is an action's row: required and optional resource types, condition
keys. ``resource_format(service, type)`` is a resource type's ARN format; ``resource_arn(service, type, values)``
fills one in (``${InstanceId}``, ``${UserId}`` ... from ``values``); ``required_arns(action, values)`` is one ARN
of each resource type the action requires, as IAM is asked about it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

FILE_NAME = "iam-reference.yaml"
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


class IamReferenceError(LookupError):
    """An action or resource type the table does not list, or an ARN the given values cannot fill in."""


@dataclass(frozen=True)
class ActionReference:
    service: str
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    condition_keys: tuple[str, ...]
    read: bool

    @property
    def action(self) -> str:
        return f"{self.service}:{self.name}"

    @property
    def resource_types(self) -> tuple[str, ...]:
        return self.required + self.optional


@cache
def load_reference() -> dict[str, Any]:
    """The table as data (read once from the package)."""
    data: dict[str, Any] = yaml.safe_load(resources.files("aws_reference").joinpath(FILE_NAME).read_text("utf-8"))
    return data


def action_reference(action: str) -> ActionReference | None:
    """The table's row for ``service:Action`` (None when the table has none)."""
    service, _, name = action.partition(":")
    entry = load_reference()["services"].get(service, {}).get("actions", {}).get(name)
    if entry is None:
        return None
    return ActionReference(
        service=service,
        name=name,
        required=tuple(entry["required"]),
        optional=tuple(entry["optional"]),
        condition_keys=tuple(entry["condition_keys"]),
        read=bool(entry["read"]),
    )


def resource_format(service: str, resource_type: str) -> str:
    """The ARN format IAM evaluates for a resource type (``evaluated_as`` when the table gives one)."""
    spec = load_reference()["services"][service]
    evaluated: dict[str, str] = spec.get("evaluated_as", {})
    return evaluated.get(resource_type) or spec["resources"][resource_type]


def id_placeholder(service: str, resource_type: str) -> str:
    """The placeholder naming the resource itself: the last of its format (``UserId`` for connect's user)."""
    arn_format: str = load_reference()["services"][service]["resources"][resource_type]
    placeholders: list[str] = _PLACEHOLDER.findall(arn_format)
    return placeholders[-1]


def resource_arn(service: str, resource_type: str, values: Mapping[str, str]) -> str:
    """One ARN of ``resource_type``: its format with every ``${Placeholder}`` taken from ``values``."""
    try:
        arn_format: str = load_reference()["services"][service]["resources"][resource_type]
    except KeyError as exc:
        raise IamReferenceError(f"{FILE_NAME} lists no {service} resource type {resource_type!r}") from exc

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise IamReferenceError(f"no value for ${{{name}}} of the {service} {resource_type} ARN ({arn_format})")
        return values[name]

    return _PLACEHOLDER.sub(value, arn_format)


def required_arns(action: str, values: Mapping[str, str]) -> dict[str, str]:
    """One ARN of each resource type ``action`` requires, by type (empty: the action takes only ``*``)."""
    reference = action_reference(action)
    if reference is None:
        raise IamReferenceError(f"{action} is not in {FILE_NAME}")
    return {kind: resource_arn(reference.service, kind, values) for kind in reference.required}
