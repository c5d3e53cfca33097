"""template.yaml evaluated without AWS: loaded as cfn-lint reads it, intrinsics resolved from parameter values
(the one implementation: ``tests/support/cfn.py`` resolves the SAM-transformed template with it too), and what
the simulator takes from it: the router rule's EventBridge pattern, the router queue's visibility timeout and
redrive policy, the event source mapping (batch size, batching window, maximum concurrency), the function
timeout and the idempotency table's keys -- so a simulation cannot drift from what is deployed.

``Resolver`` resolves ``Ref``, ``Fn::If``, ``Fn::Sub``, ``Fn::Select``, ``Fn::Split``, ``Fn::Join``, the
condition functions and ``AWS::NoValue`` as far as parameters and pseudo parameters allow. Parameters are
strings, as on the command line; a ``Ref`` to a list parameter (``CommaDelimitedList``, ``List<...>``) is the
list CloudFormation makes of it. References to resources (``{"Ref": "RouterQueue"}``, ``Fn::GetAtt``,
``${RouterRule.Arn}``) stay as they are. ``tests/simulation`` checks the simulator's reading against the SAM
transform.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cfnlint.decode import cfn_yaml

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
ROUTER_QUEUE = "RouterQueue"
PSEUDO_PARAMETERS: dict[str, str] = {
    "AWS::Region": "eu-west-2",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "contact-router",
    "AWS::URLSuffix": "amazonaws.com",
}


class TemplateError(ValueError):
    """template.yaml does not have the shape expected, or uses what cannot be evaluated here."""


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data, short-form tags (``!Ref``, ``!Sub``, ``!If`` ...) in their long form
    (``{"Ref": ...}``, ``{"Fn::Sub": ...}``), as cfn-lint's decoder reads it."""
    try:
        # The JSON round trip leaves plain dicts, lists and strings (the decoder's nodes carry positions).
        data = json.loads(json.dumps(cfn_yaml.load(str(path))))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: cannot read the template: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return data


def list_parameters(template: Mapping[str, Any]) -> frozenset[str]:
    """Names of the template's list-typed parameters (CommaDelimitedList, List<...>)."""
    return frozenset(
        name
        for name, spec in (template.get("Parameters") or {}).items()
        if spec["Type"] == "CommaDelimitedList" or spec["Type"].startswith("List<")
    )


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """Every parameter's value: the template's defaults, then ``overrides`` (each must be a parameter)."""
    specs: Mapping[str, Any] = template.get("Parameters") or {}
    unknown = set(overrides) - set(specs)
    if unknown:
        raise TemplateError(f"not parameters of the template: {sorted(unknown)}")
    values = {name: str(spec["Default"]) for name, spec in specs.items() if "Default" in spec}
    values.update({name: str(value) for name, value in overrides.items()})
    return values


_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Resolves the intrinsic functions that depend only on parameters, pseudo parameters and conditions."""

    def __init__(
        self,
        parameters: Mapping[str, str],
        conditions: Mapping[str, Any],
        list_parameters: Iterable[str] = (),
        pseudo_parameters: Mapping[str, str] = PSEUDO_PARAMETERS,
    ) -> None:
        self.refs: dict[str, Any] = {**pseudo_parameters, **parameters}
        # CloudFormation splits a list parameter on commas and trims each member.
        for name in set(list_parameters) & set(parameters):
            self.refs[name] = [member.strip() for member in parameters[name].split(",")]
        self._condition_specs = conditions
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self._condition_specs:
                raise TemplateError(f"condition {name!r} is not defined")
            self._conditions[name] = self._truth(self._condition_specs[name])
        return self._conditions[name]

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
        raise TemplateError(f"not a condition: {node!r}")

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = (self.resolve(item) for item in node)
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, args),) = node.items()
            handler = self._FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, args)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        return self.refs.get(name, {"Ref": name})

    def _if(self, args: list[Any]) -> Any:
        name, if_true, if_false = args
        return self.resolve(if_true if self.condition(name) else if_false)

    def _sub(self, args: Any) -> Any:
        text, variables = (args, {}) if isinstance(args, str) else args
        values = {**self.refs, **{name: self.resolve(value) for name, value in variables.items()}}

        def substitute(match: re.Match[str]) -> str:
            value = values.get(match.group(1))
            return value if isinstance(value, str) else match.group(0)

        return _SUB_VARIABLE.sub(substitute, text)

    def _select(self, args: list[Any]) -> Any:
        index, items = self.resolve(args[0]), self.resolve(args[1])
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return items[int(index)]
        return {"Fn::Select": [index, items]}

    def _split(self, args: list[Any]) -> Any:
        delimiter, text = args[0], self.resolve(args[1])
        return text.split(delimiter) if isinstance(text, str) else {"Fn::Split": [delimiter, text]}

    def _join(self, args: list[Any]) -> Any:
        delimiter, items = args[0], self.resolve(args[1])
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return delimiter.join(items)
        return {"Fn::Join": [delimiter, items]}

    _FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
        "Ref": _ref,
        "Fn::If": _if,
        "Fn::Sub": _sub,
        "Fn::Select": _select,
        "Fn::Split": _split,
        "Fn::Join": _join,
    }


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
    values = parameter_values(template, parameters)
    resolver = Resolver(values, template.get("Conditions") or {}, list_parameters(template))
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
