"""The flow modes' contact flow: "Invoke AWS Lambda function" (the router's flow entry point, built as deployed
with ``contact_router.composition.build_flow_app`` over a Connect client attached to the emulator), then "Set
routing criteria" from its answer, then "Transfer to queue".

Step durations: ``deployed`` takes them from the deployed flow (``flows/preferred-agent.json``: the flow
language sets a step's expiry only statically, 30 s there); ``answer`` takes the answer's ``stepSeconds`` (the
rule's own window), as a flow that branches on them would (docs/deployment-modes.md, step 5).

The flow runs before the contact is queued, so it takes no part in the measured wait (queued to connected): it
runs in the simulation's driver, in zero virtual time (the emulator's latency is not slept for its calls; their
count is measured). Its answer's deadline is the flow block's time limit, in wall time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from contact_router.adapters import aws
from contact_router.adapters.aws import Clients
from contact_router.composition import build_flow_app
from contact_router.config import Settings
from contact_router_cli.simulate import workload

# The deployed flow (flows/preferred-agent.json) sets one routing-criteria step for each of the first three
# agents of the answer; the flow block waits at most InvocationTimeLimitSeconds for the Lambda.
FLOW_AGENTS = 3
TIME_LIMIT_MS = 3_000
FLOW_FILE = Path(__file__).resolve().parents[3] / "flows" / "preferred-agent.json"
StepSource = Literal["deployed", "answer"]
STEP_SOURCES = ("deployed", "answer")


def deployed_step_seconds(flow_file: Path = FLOW_FILE) -> dict[int, list[int]]:
    """Number of agents -> the step durations of the flow's "Set routing criteria" block for that many."""
    flow = json.loads(flow_file.read_text(encoding="utf-8"))
    found: dict[int, list[int]] = {}
    for action in flow.get("Actions", []):
        if action.get("Type") == "UpdateRoutingCriteria":
            steps = action["Parameters"]["RoutingCriteria"]["Steps"]
            found[len(steps)] = [int(step["Expiry"]["DurationInSeconds"]) for step in steps]
    return found


def flow_function(
    emulator: Any, rules_file: Path, steps: StepSource = "deployed"
) -> Callable[[workload.ContactPlan], Mapping[str, Any] | None]:
    """The flow for each arriving contact: the Lambda's answer turned into the routing criteria the flow sets."""
    durations = deployed_step_seconds() if steps == "deployed" else None
    settings = Settings.from_env(
        {"CONNECT_INSTANCE_ARN": workload.INSTANCE_ARN, "RULES_SOURCE": "file", "RULES_FILE": str(rules_file)}
    )
    app = build_flow_app(settings, Clients(connect=emulator.client(config=aws.FLOW_CONFIG)))

    def flow(plan: workload.ContactPlan) -> Mapping[str, Any] | None:
        return routing_criteria(app.answer(flow_event(plan), lambda: TIME_LIMIT_MS), durations)

    return flow


def flow_event(plan: workload.ContactPlan) -> dict[str, Any]:
    """The ConnectContactFlowEvent the "Invoke AWS Lambda function" block sends for the contact."""
    queue_id = workload.QUEUES[plan.fields["queue"]]
    contact = {
        "ContactId": plan.id,
        "InitialContactId": plan.id,
        "PreviousContactId": None,
        "Channel": plan.fields["channel"],
        "InitiationMethod": plan.fields.get("initiation_method", "API"),
        "InstanceARN": workload.INSTANCE_ARN,
        "Attributes": dict(plan.fields.get("attributes", {})),
        "Queue": {"ARN": f"{workload.INSTANCE_ARN}/queue/{queue_id}", "Name": plan.fields["queue"]},
        "MediaStreams": {},
    }
    return {"Name": "ContactFlowEvent", "Details": {"ContactData": contact, "Parameters": {}}}


def routing_criteria(
    answer: Mapping[str, str], deployed: Mapping[int, Sequence[int]] | None = None
) -> Mapping[str, Any] | None:
    """What "Set routing criteria" sets from the answer: one step per agent (the first ``FLOW_AGENTS``), each
    lasting what the deployed flow says for that many agents (``deployed``), else the answer's ``stepSeconds``;
    none when the answer prefers nobody (the flow transfers to the queue as it is)."""
    agents = [answer[f"agent{i}"] for i in range(1, FLOW_AGENTS + 1) if answer.get(f"agent{i}")]
    if not agents or answer.get("agentCount", "0") == "0":
        return None
    if deployed is not None:
        seconds = list(deployed[len(agents)])
    else:
        seconds = [int(s) for s in answer.get("stepSeconds", "").split(",") if s]
    steps = []
    for number, agent in enumerate(agents):
        duration = seconds[number] if number < len(seconds) else seconds[-1] if seconds else 30
        condition = {"ComparisonOperator": "Match", "MatchCriteria": {"AgentsCriteria": {"AgentIds": [agent]}}}
        steps.append({"Expression": {"AttributeCondition": condition}, "Expiry": {"DurationInSeconds": duration}})
    return {"Steps": steps}
