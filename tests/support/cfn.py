"""Read template.yaml the way SAM and CloudFormation would, so tests check what is deployed.

- ``load_template()``: the SAM template as plain dicts, short-form tags (``!Ref``, ``!Sub``, ``!If`` ...)
  turned into their long form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``), as cfn-lint reads it.
- ``stack(**parameters)``: the template after the SAM transform (aws-sam-translator, offline) with
  parameters and conditions applied, for one set of parameter values.
- ``stack_of(template, **parameters)``: the same for a template given as data (a deliberately broken copy of
  ``load_template()``, for tests that show an assertion catches the breakage).
- ``router_event_pattern(**parameters)`` / ``supervision_event_pattern(**parameters)`` /
  ``affinity_event_pattern(**parameters)``: the EventBridge pattern of the rule feeding the router queue /
  the supervision queue / the affinity queue, ready for matching.

Loading and intrinsics are the simulator's (``contact_router_cli.simulate.template``: cfn-lint's decoder,
one ``Resolver``), so tests and simulator evaluate the template the same way. Intrinsics are resolved as far
as parameters and pseudo parameters allow; references to resources (``{"Ref": "RouterQueue"}``,
``{"Fn::GetAtt": [...]}``, ``${RouterRule.Arn}``) stay as they are, so tests can check what points at what.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from contact_router_cli.simulate import template as cfn_template
from contact_router_cli.simulate.template import PSEUDO_PARAMETERS, Resolver

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

REGION = PSEUDO_PARAMETERS["AWS::Region"]
ACCOUNT = PSEUDO_PARAMETERS["AWS::AccountId"]
TEST_INSTANCE_ARN = f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/11111111-2222-4333-8444-555555555555"


@cache
def _load_template_text() -> str:
    return json.dumps(cfn_template.load(TEMPLATE))


def load_template() -> dict[str, Any]:
    """template.yaml as plain data (a fresh copy each call)."""
    result: dict[str, Any] = json.loads(_load_template_text())
    return result


def list_parameters() -> frozenset[str]:
    """Names of the template's list-typed parameters (CommaDelimitedList, List<...>)."""
    return cfn_template.list_parameters(load_template())


def parameter_values(**overrides: str) -> dict[str, str]:
    """Every parameter's value: the template's defaults, the test instance ARN, then ``overrides``."""
    template = load_template()
    return cfn_template.parameter_values(
        template, {"ConnectInstanceArn": TEST_INSTANCE_ARN, **{k: str(v) for k, v in overrides.items()}}
    )


@dataclass(frozen=True)
class Stack:
    """The transformed template for one set of parameter values (resources whose condition is false dropped)."""

    parameters: dict[str, str]
    conditions: dict[str, bool]
    resources: dict[str, dict[str, Any]]
    outputs: dict[str, Any]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res["Type"] == resource_type}

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        """The only resource of a type, as (logical id, properties)."""
        found = self.of_type(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        ((name, resource),) = found.items()
        return name, resource.get("Properties", {})

    def properties(self, logical_id: str) -> dict[str, Any]:
        props: dict[str, Any] = self.resources[logical_id].get("Properties", {})
        return props

    def iam_statements(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every statement of every identity policy (inline or managed) as (resource id, statement)."""
        for name, resource in self.resources.items():
            props = resource.get("Properties", {})
            documents = []
            if resource["Type"] == "AWS::IAM::Role":
                documents = [policy["PolicyDocument"] for policy in props.get("Policies", [])]
            elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                documents = [props["PolicyDocument"]]
            for document in documents:
                statements = document["Statement"]
                for statement in statements if isinstance(statements, list) else [statements]:
                    yield name, statement

    def role_statements(self, function: str) -> list[dict[str, Any]]:
        """The identity statements of a function's own role (the role named ``<function>Role``)."""
        role = f"{function}Role"
        assert self.properties(function)["Role"] == {"Fn::GetAtt": [role, "Arn"]}
        return [statement for name, statement in self.iam_statements() if name == role]

    def event_source_mapping(self, function: str) -> dict[str, Any]:
        """The properties of the only event source mapping invoking a function."""
        found = [
            resource["Properties"]
            for resource in self.of_type("AWS::Lambda::EventSourceMapping").values()
            if resource["Properties"]["FunctionName"] == {"Ref": function}
        ]
        assert len(found) == 1, f"expected one event source mapping for {function}, found {len(found)}"
        mapping: dict[str, Any] = found[0]
        return mapping

    def queue_policy(self, queue: str) -> dict[str, Any]:
        """The policy document of the only queue policy attached to a queue (a logical id)."""
        found = [
            resource["Properties"]["PolicyDocument"]
            for resource in self.of_type("AWS::SQS::QueuePolicy").values()
            if {"Ref": queue} in resource["Properties"]["Queues"]
        ]
        assert len(found) == 1, f"expected one queue policy for {queue}, found {len(found)}"
        document: dict[str, Any] = found[0]
        return document

    def alarm_on(self, metric: str, dimension_value: Any) -> dict[str, Any]:
        """The properties of the only alarm on ``metric`` whose dimension is ``dimension_value``."""
        found = [
            resource["Properties"]
            for resource in self.of_type("AWS::CloudWatch::Alarm").values()
            if resource["Properties"].get("MetricName") == metric
            and [d["Value"] for d in resource["Properties"].get("Dimensions", [])] == [dimension_value]
        ]
        assert len(found) == 1, f"expected one {metric} alarm on {dimension_value}, found {len(found)}"
        alarm: dict[str, Any] = found[0]
        return alarm


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statement_with(statements: list[dict[str, Any]], action: str) -> dict[str, Any]:
    """The only statement naming ``action``."""
    found = [s for s in statements if action in as_list(s["Action"])]
    assert len(found) == 1, f"expected one statement allowing {action}, found {found}"
    return found[0]


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statements for action in as_list(statement["Action"])}


def packaged_template(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """template.yaml (or ``template``) as `sam package` hands it to CloudFormation: a function's local CodeUri
    and a layer's local ContentUri replaced by an S3 URI."""
    template = load_template() if template is None else copy.deepcopy(template)
    local = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        key = local.get(resource["Type"])
        if key and isinstance(props.get(key), str):
            props[key] = f"s3://artifacts-bucket/{props[key].strip('/')}.zip"
    return template


def transform_template(parameters: Mapping[str, str], template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The SAM transform, as CloudFormation runs it, offline (no managed policies are looked up)."""
    translator = Translator(
        managed_policy_map=None,
        sam_parser=Parser(),
        boto_session=boto3.session.Session(region_name=REGION),
    )
    translated: dict[str, Any] = translator.translate(
        packaged_template(template),
        parameter_values={**PSEUDO_PARAMETERS, **parameters},
        get_managed_policy_map=lambda: {},
    )
    return translated


def _build_stack(parameters: dict[str, str], template: dict[str, Any] | None) -> Stack:
    transformed = transform_template(parameters, template)
    resolver = Resolver(parameters, transformed.get("Conditions", {}), list_parameters())
    conditions = {name: resolver.condition(name) for name in transformed.get("Conditions", {})}
    resources = {
        name: resolver.resolve(resource)
        for name, resource in transformed["Resources"].items()
        if "Condition" not in resource or conditions[resource["Condition"]]
    }
    return Stack(
        parameters=parameters,
        conditions=conditions,
        resources=resources,
        outputs=resolver.resolve(
            {
                name: output
                for name, output in transformed.get("Outputs", {}).items()
                if "Condition" not in output or conditions[output["Condition"]]
            }
        ),
    )


@cache
def _stack(frozen_overrides: frozenset[tuple[str, str]]) -> Stack:
    return _build_stack(parameter_values(**dict(frozen_overrides)), None)


def stack(**overrides: str) -> Stack:
    """The deployed shape of the stack for these parameter values (a fresh copy; the transform is cached)."""
    return copy.deepcopy(_stack(frozenset(overrides.items())))


def stack_of(template: dict[str, Any], **overrides: str) -> Stack:
    """The deployed shape of ``template`` (template.yaml's data, usually altered) for these parameter values."""
    return _build_stack(parameter_values(**overrides), template)


def event_pattern_targeting(queue: str, **overrides: str) -> dict[str, Any]:
    """The EventPattern of the only rule that targets ``queue`` (a logical id), parameters substituted."""
    deployed = stack(**overrides)
    patterns = [
        rule["Properties"]["EventPattern"]
        for rule in deployed.of_type("AWS::Events::Rule").values()
        if any(target["Arn"] == {"Fn::GetAtt": [queue, "Arn"]} for target in rule["Properties"]["Targets"])
    ]
    assert len(patterns) == 1, f"expected one EventBridge rule targeting {queue}, found {len(patterns)}"
    pattern: dict[str, Any] = patterns[0]
    return pattern


def router_event_pattern(**overrides: str) -> dict[str, Any]:
    """The EventPattern of the rule that targets the router queue, parameters substituted."""
    return event_pattern_targeting("RouterQueue", **overrides)


def supervision_event_pattern(**overrides: str) -> dict[str, Any]:
    """The EventPattern of the rule that targets the supervision queue, parameters substituted."""
    return event_pattern_targeting("SupervisionQueue", **overrides)


def affinity_event_pattern(**overrides: str) -> dict[str, Any]:
    """The EventPattern of the rule that targets the affinity recorder's queue, parameters substituted."""
    return event_pattern_targeting("AffinityQueue", **overrides)
