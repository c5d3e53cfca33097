"""What the simulator takes from template.yaml: the router rule's EventBridge pattern, the router queue's
visibility timeout and redrive policy, the event source mapping (batch size, batching window, maximum
concurrency), the function timeout and the idempotency table's keys -- so a simulation cannot drift from
what is deployed.

A small loader of its own (the simulator is a tool; the tests' SAM-transform helpers are not its
dependency): CloudFormation short-form tags become their long form, and ``Ref`` / ``Fn::If`` /
``Fn::Equals`` / ``Fn::Not`` / ``Fn::And`` / ``Fn::Or`` / ``Condition`` are resolved from parameter values.
``tests/simulation`` checks that the pattern equals the one the SAM transform yields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
ROUTER_QUEUE = "RouterQueue"


class TemplateError(ValueError):
    """template.yaml does not have the shape the simulator expects."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads ``!Ref X`` as ``{"Ref": X}``, ``!GetAtt A.B`` as ``{"Fn::GetAtt": [A, B]}``,
    and any other ``!Name`` as ``{"Fn::Name": ...}``."""


def _construct_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: cannot read the template: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return data


_NO_VALUE = object()


class _Resolver:
    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        defaults = {
            name: str(spec["Default"])
            for name, spec in (template.get("Parameters") or {}).items()
            if isinstance(spec, dict) and "Default" in spec
        }
        self.values: dict[str, str] = {**defaults, **parameters}
        self.conditions: Mapping[str, Any] = template.get("Conditions") or {}

    def resolve(self, node: Any) -> Any:
        """Parameters and conditions resolved; references to resources and pseudo parameters kept as they are,
        ``AWS::NoValue`` dropped."""
        if isinstance(node, list):
            return [item for item in (self.resolve(item) for item in node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, args),) = node.items()
            if key == "Ref":
                if args == "AWS::NoValue":
                    return _NO_VALUE
                return self.values.get(args, node)
            if key == "Fn::If":
                name, if_true, if_false = args
                return self.resolve(if_true if self.condition(name) else if_false)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise TemplateError(f"condition {name!r} is not defined")
        return self._truth(self.conditions[name])

    def _truth(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((key, args),) = node.items()
            if key == "Condition":
                return self.condition(args)
            if key == "Fn::Equals":
                left, right = (self.resolve(arg) for arg in args)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._truth(args[0])
            if key == "Fn::And":
                return all(self._truth(arg) for arg in args)
            if key == "Fn::Or":
                return any(self._truth(arg) for arg in args)
        raise TemplateError(f"not a condition the simulator can evaluate: {node!r}")


def _targets(resource: Mapping[str, Any], queue: str) -> bool:
    targets = (resource.get("Properties") or {}).get("Targets") or []
    return any(isinstance(t, dict) and t.get("Arn") == {"Fn::GetAtt": [queue, "Arn"]} for t in targets)


@dataclass(frozen=True)
class Deployment:
    """The deployed shape of the router path, for one set of parameter values."""

    event_pattern: dict[str, Any]
    visibility_timeout: float
    max_receive_count: int
    batch_size: int
    batching_window: float
    max_concurrency: int
    connect_api_quotas: str  # the router's CONNECT_API_QUOTAS (client-side pacing)
    timeout: float
    idempotency_key: str
    idempotency_ttl_attribute: str


def router_deployment(parameters: Mapping[str, str], path: Path = TEMPLATE) -> Deployment:
    """Read the router path of template.yaml with these parameter values (defaults for the rest)."""
    template = load(path)
    resolver = _Resolver(template, parameters)
    resources: dict[str, Any] = template["Resources"]

    rules = [r for r in resources.values() if r.get("Type") == "AWS::Events::Rule" and _targets(r, ROUTER_QUEUE)]
    if len(rules) != 1:
        raise TemplateError(f"expected one EventBridge rule targeting {ROUTER_QUEUE}, found {len(rules)}")
    pattern = resolver.resolve(rules[0]["Properties"]["EventPattern"])

    queue = resolver.resolve(resources[ROUTER_QUEUE]["Properties"])
    mappings = [
        (name, event["Properties"])
        for name, resource in resources.items()
        if resource.get("Type") == "AWS::Serverless::Function"
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values()
        if event.get("Type") == "SQS"
        and event.get("Properties", {}).get("Queue") == {"Fn::GetAtt": [ROUTER_QUEUE, "Arn"]}
    ]
    if len(mappings) != 1:
        raise TemplateError(f"expected one function reading {ROUTER_QUEUE}, found {len(mappings)}")
    function_name, mapping = mappings[0]
    mapping = resolver.resolve(mapping)
    function = resolver.resolve(resources[function_name].get("Properties") or {})
    globals_ = resolver.resolve(((template.get("Globals") or {}).get("Function")) or {})

    table = resolver.resolve(resources["IdempotencyTable"]["Properties"])
    (key,) = [k["AttributeName"] for k in table["KeySchema"] if k["KeyType"] == "HASH"]
    return Deployment(
        event_pattern=pattern,
        visibility_timeout=float(queue["VisibilityTimeout"]),
        max_receive_count=int(queue["RedrivePolicy"]["maxReceiveCount"]),
        batch_size=int(mapping.get("BatchSize", 10)),
        batching_window=float(mapping.get("MaximumBatchingWindowInSeconds", 0)),
        max_concurrency=int((mapping.get("ScalingConfig") or {}).get("MaximumConcurrency", 1000)),
        connect_api_quotas=str(
            ((function.get("Environment") or {}).get("Variables") or {}).get("CONNECT_API_QUOTAS", "")
        ),
        timeout=float(function.get("Timeout", globals_.get("Timeout", 3))),
        idempotency_key=str(key),
        idempotency_ttl_attribute=str(table["TimeToLiveSpecification"]["AttributeName"]),
    )


# ------------------------------------------------------------------------------------ pattern matching
def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge matching for the patterns the template uses: nested objects and lists of exact values
    (plus ``prefix``, ``anything-but`` and ``exists`` filters). Anything else is refused, so a new kind of
    filter in template.yaml cannot be silently ignored by the simulation."""
    for key, rule in pattern.items():
        present = key in event
        value = event.get(key)
        if isinstance(rule, Mapping):
            if not isinstance(value, Mapping) or not matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not _match_list(rule, value, present):
                return False
        else:
            raise TemplateError(f"event pattern field {key!r}: expected a list or an object, got {rule!r}")
    return True


def _match_list(rules: list[Any], value: Any, present: bool) -> bool:
    values = value if isinstance(value, list) else [value]
    for rule in rules:
        if isinstance(rule, Mapping):
            if _match_filter(rule, values, present):
                return True
        elif present and any(v == rule and type(v) is type(rule) for v in values):
            return True
    return False


def _match_filter(rule: Mapping[str, Any], values: list[Any], present: bool) -> bool:
    ((name, arg),) = rule.items()
    if name == "exists":
        return present is bool(arg)
    if name == "prefix":
        return present and any(isinstance(v, str) and v.startswith(arg) for v in values)
    if name == "anything-but":
        excluded = arg if isinstance(arg, list) else [arg]
        return present and all(v not in excluded for v in values)
    raise TemplateError(f"event pattern filter {name!r} is not supported by the simulator")
