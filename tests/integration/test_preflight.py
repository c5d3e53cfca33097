"""`contact-router preflight` on a deployed stack: template.yaml created as a CloudFormation stack in moto, the
Connect instance emulated (samples/world.yaml), the rules in SSM (samples/rules.yaml). IAM decisions come from
tests/support/iam_policy.py (moto has no SimulatePrincipalPolicy), reading the roles CloudFormation made.

One account is deployed per module (a deployment takes seconds); a test that breaks something puts it back.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from click.testing import CliRunner
from moto import mock_aws

from connect_emulator import ConnectEmulator, World
from contact_router_cli.main import main
from contact_router_cli.preflight import CLIENTS_KEY, Clients
from tests.support.cfn import REGION
from tests.support.iam_policy import policy_document
from tests.support.iam_reference import action_reference, patterns_meet, resource_format
from tests.support.preflight_account import RULES, STACK_NAME, WORLD, Account, deploy, rules_parameter

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS::")  # moto's note on resources it skips
RULES_PARAMETER = rules_parameter(STACK_NAME)


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    with mock_aws():
        yield deploy()


def invoke(account: Account | None, *args: str, obj: dict[str, Any] | None = None) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "250"}).invoke(  # wide enough that no cell wraps
        main,
        ["preflight", "--stack-name", account.stack_name if account else STACK_NAME, *args],
        obj=obj if obj is not None else (account.obj if account else None),
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def report(account: Account) -> tuple[int, dict[str, Any]]:
    code, out = invoke(account, "--json")
    return code, json.loads(out)


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in data["checks"]}


def role_of(account: Account, function: str) -> str:
    config = account.clients.lambda_.get_function_configuration(FunctionName=f"{account.stack_name}-{function}")
    return str(config["Role"]).rsplit("/", 1)[1]


@contextmanager
def role_statement_changed(
    account: Account, function: str, sid: str, change: Callable[[dict[str, Any]], None]
) -> Iterator[None]:
    """One statement of a function role's inline policy changed, as someone editing the role in the console would;
    put back afterwards."""
    iam = boto3.client("iam", region_name=REGION)
    role = role_of(account, function)
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    original = policy_document(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
    original["Statement"] = [s for s in original["Statement"] if s]
    changed = copy.deepcopy(original)
    change(next(s for s in changed["Statement"] if s.get("Sid") == sid))
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(changed))
    try:
        yield
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(original))


# --------------------------------------------------------------------------------------------- all PASS
def test_the_deployed_template_passes_every_check(account: Account) -> None:
    # WHEN preflight runs on the stack deployed from template.yaml
    code, out = invoke(account)

    # THEN it exits 0 and says so in the table's last line
    assert code == 0, out
    assert out.rstrip().splitlines()[-1].endswith("0 WARN, 0 FAIL"), out
    # AND every area was checked
    _, data = report(account)
    assert {c["area"] for c in data["checks"]} == {
        "stack",
        "function",
        "settings",
        "connect",
        "rules",
        "iam",
        "events",
        "lambda",
        "queues",
    }
    assert all(check["status"] == "PASS" for check in data["checks"]), [
        c for c in data["checks"] if c["status"] != "PASS"
    ]
    checks = by_name(data)
    assert checks["agents"]["detail"] == "5 user(s) named by the rules exist"
    assert checks["queues"]["detail"] == "2 queue(s) named exist"
    assert {"rule RouterRule", "rule SupervisionRule", "rule AffinityRule"} <= set(checks)


def test_permissions_are_simulated_with_real_arns_and_condition_keys(account: Account) -> None:
    # WHEN preflight runs
    account.simulator.calls.clear()
    code, _ = report(account)
    assert code == 0

    # THEN AssociateContactWithUser is asked for an agent the rules name, with that agent as PreferredUserArn
    calls = account.simulator.calls
    world = {u.username: account.emulator.user_arn(u.username) for u in account.emulator.world.users}
    rules = yaml.safe_load(open(RULES, encoding="utf-8"))  # noqa: SIM115
    named = {u for rule in rules["routing"] for c in rule["candidates"] for u in c.get("users", [])}
    associate = [c for c in calls if c[1] == "connect:AssociateContactWithUser"]
    agent_arns = {resource for _, _, resource, _ in associate if "/agent/" in resource}
    assert len(agent_arns) == 1
    (agent,) = agent_arns
    assert agent in {world[name] for name in named | {u for r in rules["routing"] for u in r.get("exclude_users", [])}}
    for _, _, _, context in associate:
        assert {e.key: e.values for e in context}["connect:PreferredUserArn"] == (agent,)
    # AND the contact resource is a contact ARN of the instance
    assert any(r.startswith(f"{account.emulator.instance_arn}/contact/") for _, _, r, _ in associate)
    # AND MonitorContact carries the capabilities the supervision rules ask for (one of them barges)
    monitor = [c for c in calls if c[1] == "connect:MonitorContact"]
    assert monitor
    for _, _, _, context in monitor:
        entry = {e.key: e for e in context}["connect:MonitorCapabilities"]
        assert entry.values == ("SILENT_MONITOR", "BARGE")
        assert entry.type == "stringList"
    # AND each function is simulated with its own role
    roles = {principal.rsplit("/", 1)[1] for principal, *_ in calls}
    assert roles == {role_of(account, f) for f in ("router", "supervision", "affinity")}


def test_each_action_is_simulated_on_one_real_arn_of_each_type_the_reference_requires(account: Account) -> None:
    # WHEN preflight runs
    account.simulator.calls.clear()
    code, _ = report(account)
    assert code == 0

    # THEN every Connect action is asked about exactly one ARN of each resource type the reference marks required
    # (the same table the template test and the emulator's IAM mode read), and about no other ARN
    asked: dict[tuple[str, str], set[str]] = {}
    for principal, action, resource, _ in account.simulator.calls:
        asked.setdefault((principal, action), set()).add(resource)
    connect = {key: arns for key, arns in asked.items() if key[1].startswith("connect:")}
    assert {action for _, action in connect} >= {
        "connect:DescribeContact",
        "connect:GetCurrentUserData",
        "connect:AssociateContactWithUser",
        "connect:MonitorContact",
    }
    for (_, action), arns in connect.items():
        reference = action_reference(action)
        assert reference is not None, action
        covered = {
            kind for kind in reference.required for arn in arns if patterns_meet(arn, resource_format("connect", kind))
        }
        assert covered == set(reference.required), action
        assert len(arns) == len(reference.required), (action, arns)
    # AND the ARNs are the instance's own: GetCurrentUserData on the agent's real routing profile and hierarchy group
    instance = account.emulator.instance_arn
    agent_resources = next(arns for (_, action), arns in connect.items() if action == "connect:GetCurrentUserData")
    agent = next(arn for arn in agent_resources if "/agent/" in arn)
    user = account.clients.connect.describe_user(InstanceId=instance.rsplit("/", 1)[1], UserId=agent.rsplit("/", 1)[1])
    assert f"{instance}/routing-profile/{user['User']['RoutingProfileId']}" in agent_resources
    group = user["User"].get("HierarchyGroupId")
    assert any(arn.startswith(f"{instance}/agent-group/{group or ''}") for arn in agent_resources)


# ------------------------------------------------------------------------------------- broken permission
def _without_agent_resource(statement: dict[str, Any]) -> None:
    statement["Resource"] = [r for r in statement["Resource"] if "/agent/" not in r]


def _other_agents_only(statement: dict[str, Any]) -> None:
    statement["Condition"]["ArnLike"]["connect:PreferredUserArn"] += "-nobody"


def _another_parameter(statement: dict[str, Any]) -> None:
    statement["Resource"] += "-other"


def _silent_only(statement: dict[str, Any]) -> None:
    statement["Condition"]["ForAllValues:StringEquals"]["connect:MonitorCapabilities"] = ["SILENT_MONITOR"]


@pytest.mark.parametrize(
    ("function", "sid", "change", "failing", "denied"),
    [
        (
            "router",
            "AssociateContactWithAllowedAgents",
            _without_agent_resource,
            "router: connect:AssociateContactWithUser",
            "implicitDeny on user arn:aws:connect:",
        ),
        (
            "router",
            "AssociateContactWithAllowedAgents",
            _other_agents_only,
            "router: connect:AssociateContactWithUser",
            "implicitDeny on contact arn:aws:connect:",
        ),
        (
            "supervision",
            "MonitorInstanceContacts",
            _silent_only,
            "supervision: connect:MonitorContact",
            "implicitDeny on contact arn:aws:connect:",
        ),
        (
            "router",
            "ReadRulesParameter",
            _another_parameter,
            "router: ssm:GetParameter",
            "implicitDeny on parameter arn:aws:ssm:eu-west-2:123456789012:parameter/contact-router/rules",
        ),
    ],
    ids=["no-agent-resource", "preferred-user-condition", "no-barge", "rules-parameter"],
)
def test_one_broken_permission_fails_with_its_fix(
    account: Account,
    function: str,
    sid: str,
    change: Callable[[dict[str, Any]], None],
    failing: str,
    denied: str,
) -> None:
    # GIVEN one statement of one function role is broken
    with role_statement_changed(account, function, sid, change):
        # WHEN preflight runs
        code, out = invoke(account)
        _, data = report(account)

    # THEN it exits 1, and exactly that check FAILs, naming what is denied and the statement that grants it
    assert code == 1
    failed = [c for c in data["checks"] if c["status"] == "FAIL"]
    assert [c["name"] for c in failed] == [failing]
    assert denied in failed[0]["detail"]
    assert sid in failed[0]["fix"]
    assert role_of(account, function) in failed[0]["fix"]
    assert data["result"] == "FAIL"
    assert data["counts"]["FAIL"] == 1
    # AND the table shows it with its fix
    assert "FAIL" in out
    assert sid in out
    # AND with the statement back, everything passes again
    assert report(account)[0] == 0


def test_barge_allowed_by_iam_while_allow_barge_is_off_is_a_warning(account: Account) -> None:
    # GIVEN a stack deployed with AllowBarge=false and rules that never barge
    rules = yaml.safe_load(open(RULES, encoding="utf-8"))  # noqa: SIM115
    for rule in rules["supervision"]:
        rule["capabilities"] = ["SILENT_MONITOR"]
    silent = deploy(stack_name="silent", rules_text=yaml.safe_dump(rules), AllowBarge="false")
    # WHEN preflight runs
    _, data = report(silent)
    assert by_name(data)["supervision: BARGE held back"]["status"] == "PASS"
    assert by_name(data)["supervision: connect:MonitorContact"]["detail"].endswith(
        "connect:MonitorCapabilities=SILENT_MONITOR"
    )
    # AND when the role lets BARGE through anyway
    with role_statement_changed(
        silent,
        "supervision",
        "MonitorInstanceContacts",
        lambda s: s["Condition"]["ForAllValues:StringEquals"].update(
            {"connect:MonitorCapabilities": ["SILENT_MONITOR", "BARGE"]}
        ),
    ):
        code, data = report(silent)

    # THEN only the function holds BARGE back: a warning, not a failure
    assert code == 0
    assert by_name(data)["supervision: BARGE held back"]["status"] == "WARN"


# ------------------------------------------------------------------------------- the rest of the stack
def test_missing_agents_and_queues_of_the_rules_fail(account: Account) -> None:
    # GIVEN rules naming a username, a user id and a queue that the instance does not have
    ssm = account.clients.ssm
    original = ssm.get_parameter(Name=RULES_PARAMETER)["Parameter"]["Value"]
    rules = yaml.safe_load(original)
    rules["routing"][0]["candidates"][0]["users"] = ["mo", "nobody.here", "33333333-0000-4000-8000-0000000000ff"]
    rules["routing"][0]["when"]["queue"] = ["22222222-0000-4000-8000-0000000000ff"]
    ssm.put_parameter(Name=RULES_PARAMETER, Value=yaml.safe_dump(rules), Type="String", Overwrite=True)
    try:
        # WHEN preflight runs
        code, data = report(account)
    finally:
        ssm.put_parameter(Name=RULES_PARAMETER, Value=original, Type="String", Overwrite=True)

    # THEN the agents and queues checks fail, naming each missing one and the rule naming it
    assert code == 1
    checks = by_name(data)
    assert checks["agents"]["status"] == "FAIL"
    assert "nobody.here (vip-desk): no user with this username" in checks["agents"]["detail"]
    assert "33333333-0000-4000-8000-0000000000ff (vip-desk): no such user" in checks["agents"]["detail"]
    assert "mo (" not in checks["agents"]["detail"]
    assert checks["queues"]["status"] == "FAIL"
    assert "22222222-0000-4000-8000-0000000000ff (vip-desk): not found" in checks["queues"]["detail"]


def test_invalid_rules_fail_with_the_loader_s_problems(account: Account) -> None:
    # GIVEN rules the product's loader rejects
    ssm = account.clients.ssm
    original = ssm.get_parameter(Name=RULES_PARAMETER)["Parameter"]["Value"]
    ssm.put_parameter(Name=RULES_PARAMETER, Value="version: 1\nrouting: [{name: x}]\n", Type="String", Overwrite=True)
    try:
        code, data = report(account)
    finally:
        ssm.put_parameter(Name=RULES_PARAMETER, Value=original, Type="String", Overwrite=True)

    # THEN the rules check fails with the problem the loader names, and the references are not checked
    assert code == 1
    rules = by_name(data)[f"ssm:{RULES_PARAMETER}"]
    assert rules["status"] == "FAIL"
    assert "candidates" in rules["detail"]
    assert "contact-router rules validate" in rules["fix"]
    assert by_name(data)["agents and queues"]["status"] == "WARN"


def test_disabled_rule_and_mapping_fail_and_dead_letters_warn(account: Account) -> None:
    # GIVEN the router's EventBridge rule disabled, its event source mapping disabled, and a dead letter waiting
    stack = account.clients.cloudformation.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in stack}
    events, lambda_, sqs = account.clients.events, account.clients.lambda_, account.clients.sqs
    events.disable_rule(Name=physical["RouterRule"])
    lambda_.update_event_source_mapping(UUID=physical["RouterFunctionRouterQueue"], Enabled=False)
    sqs.send_message(QueueUrl=physical["DeadLetterQueue"], MessageBody="{}")
    try:
        code, data = report(account)
    finally:
        events.enable_rule(Name=physical["RouterRule"])
        lambda_.update_event_source_mapping(UUID=physical["RouterFunctionRouterQueue"], Enabled=True)
        sqs.purge_queue(QueueUrl=physical["DeadLetterQueue"])

    # THEN the rule and the mapping fail with the command that fixes them, and the dead letter is a warning
    assert code == 1
    checks = by_name(data)
    assert checks["rule RouterRule"]["status"] == "FAIL"
    assert "state DISABLED" in checks["rule RouterRule"]["detail"]
    assert "aws events enable-rule" in checks["rule RouterRule"]["fix"]
    mapping = checks["mapping RouterFunctionRouterQueue"]
    assert mapping["status"] == "FAIL"
    assert "--enabled" in mapping["fix"]
    assert checks["dead letters: router"]["status"] == "WARN"
    assert "1 message(s)" in checks["dead letters: router"]["detail"]
    assert "contact-router dlq list" in checks["dead letters: router"]["fix"]
    assert report(account)[0] == 0


def test_dry_run_is_a_warning_with_the_way_out(account: Account) -> None:
    # GIVEN a stack deployed as samconfig.toml's default environment does: DryRun=true
    code, data = report(deploy(stack_name="dry-run", DryRun="true"))

    # THEN dry run is a warning (not a failure), with how to turn it off
    assert code == 0
    dry = by_name(data)["dry run"]
    assert dry["status"] == "WARN"
    assert "DryRun=false" in dry["fix"]


def test_an_instance_missing_from_the_region_fails(account: Account) -> None:
    # GIVEN the stack's ConnectInstanceArn names no instance that Connect knows in this Region
    other = World.from_dict(
        {**yaml.safe_load(open(WORLD, encoding="utf-8")), "instance": {"id": "99999999-2222-4333-8444-555555555555"}}  # noqa: SIM115
    )
    clients = Clients(**{**account.clients.__dict__, "connect": ConnectEmulator(other).client()})
    code, out = invoke(None, "--json", obj={CLIENTS_KEY: lambda region, profile: clients})
    data = json.loads(out)

    # THEN the instance check fails with the fix, and the checks that need the instance say they were skipped
    assert code == 1
    instance = by_name(data)["instance"]
    assert instance["status"] == "FAIL"
    assert instance["detail"] == "no instance 11111111-2222-4333-8444-555555555555 in eu-west-2"
    assert "ConnectInstanceArn" in instance["fix"]
    assert by_name(data)["agents and queues"]["status"] == "WARN"


def test_the_optional_sweep_is_checked_when_deployed(account: Account) -> None:
    # GIVEN a stack deployed with the sweep on, searching one queue of the instance
    sweep = deploy(stack_name="sweep", SweepEnabled="true", SweepQueueIds="22222222-0000-4000-8000-000000000001")
    code, data = report(sweep)

    # THEN its function, its SearchContacts permission on the instance, its schedule and its queue pass
    assert code == 0, [c for c in data["checks"] if c["status"] != "PASS"]
    checks = by_name(data)
    assert checks["sweep"]["status"] == "PASS"
    assert checks["sweep: connect:SearchContacts"]["detail"] == "allowed on instance"
    assert checks["rule SweepScheduleRule"]["detail"] == "ENABLED, delivers to SweepFunction"
    assert checks["dead letters: sweep"]["status"] == "PASS"
    assert checks["queues"]["detail"] == "3 queue(s) named exist"  # the rules' two and the sweep's one


def test_the_flow_function_is_said_not_deployed_without_flow_integration(account: Account) -> None:
    # WHEN preflight runs on a stack deployed with FlowIntegration=false (the template's default)
    _, data = report(account)

    # THEN it says the contact-flow entry point is not deployed, and simulates nothing for it
    assert by_name(data)["flow"] == {
        "area": "function",
        "name": "flow",
        "status": "PASS",
        "detail": "not deployed (FlowIntegration=false): nothing to check",
        "fix": "",
    }
    assert not [c for c in data["checks"] if c["name"].startswith("flow: ")]


FLOW_CALLS = {  # what the flow function calls, and the statement of FlowFunctionRole that grants it
    "connect:DescribeContact": "DescribeInstanceContacts",
    "connect:GetCurrentUserData": "ReadCurrentUserData",
    "connect:SearchUsers": "SearchInstanceUsers",
    "connect:DescribeUser": "DescribeInstanceUsers",
    "connect:ListRoutingProfileQueues": "ListInstanceRoutingProfileQueues",
    "ssm:GetParameter": "ReadRulesParameter",
}


def test_the_flow_function_is_checked_when_deployed(account: Account) -> None:
    # GIVEN a stack deployed with the contact-flow entry point (FlowIntegration=true)
    flow = deploy(stack_name="flow", FlowIntegration="true")
    flow.simulator.calls.clear()
    code, data = report(flow)

    # THEN its function and settings pass, and each call it makes is simulated with its own role
    assert code == 0, [c for c in data["checks"] if c["status"] != "PASS"]
    checks = by_name(data)
    assert checks["flow"]["detail"] == "flow-flow: settings valid"
    for action in FLOW_CALLS:
        assert checks[f"flow: {action}"]["status"] == "PASS", action
    flow_role = role_of(flow, "flow")
    asked = {action for principal, action, _, _ in flow.simulator.calls if principal.endswith(f"/{flow_role}")}
    assert asked == set(FLOW_CALLS)

    # AND a flow role without its DescribeContact statement's resource fails that check, naming the statement
    with role_statement_changed(flow, "flow", "DescribeInstanceContacts", _another_parameter):
        code, data = report(flow)
    assert code == 1
    failed = [c for c in data["checks"] if c["status"] == "FAIL"]
    assert [c["name"] for c in failed] == ["flow: connect:DescribeContact"]
    assert "DescribeInstanceContacts" in failed[0]["fix"]
    assert flow_role in failed[0]["fix"]


def test_the_customer_profiles_domain_is_checked_when_set(account: Account) -> None:
    # GIVEN a stack deployed with a Customer Profiles domain for the customer_profile source
    profiles = deploy(stack_name="profiles", CustomerProfilesDomain="acme-profiles")
    code, data = report(profiles)
    # THEN the router's role may search that domain
    assert code == 0, [c for c in data["checks"] if c["status"] != "PASS"]
    assert by_name(data)["router: profile:SearchProfiles"] == {
        "area": "iam",
        "name": "router: profile:SearchProfiles",
        "status": "PASS",
        "detail": "allowed on domains/acme-profiles",
        "fix": "",
    }


# ----------------------------------------------------------------------------------------------- --json
def test_json_is_one_object_with_counts_and_every_check(account: Account) -> None:
    code, out = invoke(account, "--json")
    data = json.loads(out)
    assert code == 0
    assert set(data) == {"stack", "region", "result", "counts", "checks"}
    assert (data["stack"], data["region"], data["result"]) == (STACK_NAME, REGION, "PASS")
    assert data["counts"] == {"PASS": len(data["checks"]), "WARN": 0, "FAIL": 0}
    for check in data["checks"]:
        assert set(check) == {"area", "name", "status", "detail", "fix"}
        assert check["status"] in ("PASS", "WARN", "FAIL")


# ------------------------------------------------------------------------------ the operator's mistakes
def one_line_error(code: int, out: str) -> str:
    assert code == 2, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert "Traceback" not in out
    return lines[0]


def test_a_stack_that_does_not_exist_is_one_line(account: Account) -> None:
    result = CliRunner(env={"COLUMNS": "250"}).invoke(  # wide enough that no cell wraps
        main, ["preflight", "--stack-name", "nope"], obj=account.obj
    )
    line = one_line_error(result.exit_code, result.output)
    assert line == "Error: stack 'nope' not found in eu-west-2 (check --stack-name and --region)"


def test_access_denied_is_one_line(account: Account) -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    stubber = Stubber(cloudformation)
    stubber.add_client_error("describe_stacks", service_error_code="AccessDenied", http_status_code=403)
    clients = Clients(**{**account.clients.__dict__, "cloudformation": cloudformation})
    with stubber:
        code, out = invoke(None, obj={CLIENTS_KEY: lambda region, profile: clients})
    line = one_line_error(code, out)
    assert line.startswith("Error: access denied for cloudformation:DescribeStacks")


def test_no_region_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    code, out = invoke(None)
    assert one_line_error(code, out) == (
        "Error: no AWS Region: give --region or set AWS_DEFAULT_REGION (or a region in your AWS profile)"
    )


def test_no_credentials_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to find either
    code, out = invoke(None, "--region", REGION)
    assert one_line_error(code, out).startswith("Error: no AWS credentials")


def test_an_unknown_profile_is_one_line() -> None:
    code, out = invoke(None, "--profile", "nope", "--region", REGION)
    assert one_line_error(code, out) == "Error: AWS profile 'nope' not found in your AWS configuration"
