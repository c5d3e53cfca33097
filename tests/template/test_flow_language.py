"""flows/preferred-agent.json against the documented flow language (tools/aws_reference/flow-language.yaml),
and the template's inlined copy against the file: the flow never ships with an undocumented action, parameter,
error type or a transition to nowhere."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cfn import load_template

ROOT = Path(__file__).resolve().parents[2]
FLOW = ROOT / "flows" / "preferred-agent.json"
REFERENCE = ROOT / "tools" / "aws_reference" / "flow-language.yaml"


def reference() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(REFERENCE.read_text())
    return data


def flow() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FLOW.read_text())
    return data


def _parameter_problems(where: str, given: Any, spec: dict[str, Any]) -> list[str]:
    """``given`` (a parameter's value) against its documented ``spec`` (members, items, values, min/max, static)."""
    problems: list[str] = []
    if isinstance(given, str) and given.startswith("$.") and spec.get("static"):
        problems.append(f"{where}: documented as static only, given {given!r}")
    if "values" in spec and given not in spec["values"]:
        problems.append(f"{where}: {given!r} is not one of {spec['values']}")
    if "min" in spec or "max" in spec:
        try:
            number = int(given)
        except (TypeError, ValueError):
            problems.append(f"{where}: {given!r} is not an integer")
        else:
            if not spec.get("min", number) <= number <= spec.get("max", number):
                problems.append(f"{where}: {number} outside {spec.get('min')}..{spec.get('max')}")
    if "members" in spec:
        if not isinstance(given, dict):
            return [*problems, f"{where}: expected an object"]
        for name, value in given.items():
            if name not in spec["members"]:
                problems.append(f"{where}.{name}: not a documented member")
            else:
                problems += _parameter_problems(f"{where}.{name}", value, spec["members"][name] or {})
    if "items" in spec:
        if not isinstance(given, list) or not given:
            return [*problems, f"{where}: expected a non-empty list"]
        for index, item in enumerate(given):
            problems += _parameter_problems(f"{where}[{index}]", item, {"members": spec["items"]})
    return problems


def flow_problems(content: dict[str, Any], ref: dict[str, Any]) -> list[str]:
    """Every way ``content`` departs from the documented flow language, as readable lines."""
    problems: list[str] = []
    actions = content.get("Actions", [])
    ids = [a.get("Identifier") for a in actions]
    if len(set(ids)) != len(ids):
        problems.append("Identifiers are not unique")
    if content.get("StartAction") not in ids:
        problems.append(f"StartAction {content.get('StartAction')!r} is not an action")
    transitions = ref["transitions"]
    for action in actions:
        ident, kind = action.get("Identifier", ""), action.get("Type")
        if len(ident) > ref["identifier"]["max_length"] or set(ident) & set(ref["identifier"]["forbidden_characters"]):
            problems.append(f"{ident}: Identifier breaks the documented rules")
        documented = ref["actions"].get(kind)
        if documented is None:
            problems.append(f"{ident}: action type {kind!r} is not documented (or not in the reference table)")
            continue
        problems += _parameter_problems(
            f"{ident}.Parameters", action.get("Parameters", {}), {"members": documented["parameters"]}
        )
        moves = action.get("Transitions", {})
        for name in moves:
            if name not in transitions["members"]:
                problems.append(f"{ident}.Transitions.{name}: not a documented transition")
        targets = [moves["NextAction"]] if "NextAction" in moves else []
        for error in moves.get("Errors", []):
            if set(error) != set(transitions["error_members"]):
                problems.append(
                    f"{ident}: error transition {error} has other members than {transitions['error_members']}"
                )
            if error.get("ErrorType") not in documented["errors"]:
                problems.append(f"{ident}: error type {error.get('ErrorType')!r} not documented for {kind}")
            targets.append(error.get("NextAction"))
        if moves.get("Conditions") and not documented["conditions"]:
            problems.append(f"{ident}: {kind} supports no conditions")
        for condition in moves.get("Conditions", []):
            if set(condition) != set(transitions["condition_members"]):
                problems.append(
                    f"{ident}: condition {condition} has other members than {transitions['condition_members']}"
                )
            test = condition.get("Condition", {})
            if set(test) != set(transitions["condition"]) or test.get("Operator") not in transitions["operators"]:
                problems.append(f"{ident}: condition {test} is not a documented Operator with Operands")
            targets.append(condition.get("NextAction"))
        problems += [f"{ident}: transition to missing action {t!r}" for t in targets if t not in ids]
    return problems


def test_the_flow_uses_only_documented_actions_parameters_errors_and_existing_targets() -> None:
    assert flow_problems(flow(), reference()) == []


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda f: f["Actions"][0].update(Type="InvokeLambdaFunctionV2"), "action type 'InvokeLambdaFunctionV2'"),
        (lambda f: f["Actions"][0]["Parameters"].update(TimeoutSeconds="3"), "TimeoutSeconds: not a documented"),
        (lambda f: f["Actions"][0]["Parameters"].update(InvocationTimeLimitSeconds="9"), "outside 1..8"),
        (
            lambda f: f["Actions"][2]["Parameters"]["RoutingCriteria"]["Steps"][0]["Expiry"].update(
                DurationInSeconds="$.External.stepSeconds"
            ),
            "static only",
        ),
        (
            lambda f: f["Actions"][2]["Parameters"]["RoutingCriteria"]["Steps"][0]["Expression"][
                "AttributeCondition"
            ].update(AgentIdList=["x"]),
            "AgentIdList: not a documented member",
        ),
        (lambda f: f["Actions"][0]["Transitions"].update(NextAction="nowhere"), "missing action 'nowhere'"),
        (lambda f: f["Actions"][5]["Transitions"]["Errors"][0].update(ErrorType="QueueFull"), "'QueueFull' not doc"),
        (lambda f: f["Actions"][2]["Transitions"].update(Conditions=[]), None),
        (
            lambda f: f["Actions"][1]["Transitions"]["Conditions"][0]["Condition"].update(Operator="Like"),
            "not a documented Operator",
        ),
        (lambda f: f.update(StartAction="start"), "StartAction 'start'"),
    ],
)
def test_each_kind_of_departure_is_caught(breakage: Any, expected: str | None) -> None:
    # GIVEN the flow with one thing broken WHEN it is checked THEN the problem is named (an empty list is allowed)
    broken = copy.deepcopy(flow())
    breakage(broken)
    problems = flow_problems(broken, reference())
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


def test_every_path_ends_in_the_queue_and_errors_never_skip_it() -> None:
    # GIVEN the flow WHEN every error branch is followed THEN it reaches TransferContactToQueue (or is that action)
    actions = {a["Identifier"]: a for a in flow()["Actions"]}
    for ident, action in actions.items():
        if action["Type"] in ("TransferContactToQueue", "DisconnectParticipant"):
            continue
        for error in action["Transitions"].get("Errors", []):
            assert actions[error["NextAction"]]["Type"] == "TransferContactToQueue", (ident, error)
        assert actions[action["Transitions"]["NextAction"]]["Type"] in (
            "TransferContactToQueue",
            "Compare",
            "UpdateRoutingCriteria",
        )


def test_the_template_inlines_this_file_and_the_timeouts_agree() -> None:
    # GIVEN the template's PreferredAgentFlow WHEN its Content is read THEN it is the file (before substitution)
    resources = load_template()["Resources"]
    content = resources["PreferredAgentFlow"]["Properties"]["Content"]["Fn::Sub"]
    assert json.loads(content[0]) == flow()
    assert content[1] == {"FlowFunctionArn": {"Fn::GetAtt": ["FlowFunction", "Arn"]}}
    # AND the function's timeout is the flow's InvocationTimeLimitSeconds: it answers before the flow gives up
    invoke = next(a for a in flow()["Actions"] if a["Type"] == "InvokeLambdaFunction")
    assert int(invoke["Parameters"]["InvocationTimeLimitSeconds"]) == resources["FlowFunction"]["Properties"]["Timeout"]


def test_the_flow_reads_the_keys_the_function_answers() -> None:
    # GIVEN the flow's $.External references WHEN compared with the answer's keys THEN each exists
    from contact_router.routing.preference import MAX_PREFERRED, flow_answer

    text = FLOW.read_text()
    answer_keys = set(flow_answer(None, outcome="x", reason="y")) | {f"agent{i}" for i in range(1, MAX_PREFERRED + 1)}
    used = {part.split('"')[0] for part in text.split("$.External.")[1:]}
    assert used <= answer_keys, used - answer_keys
