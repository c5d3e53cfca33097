"""``contact-router preflight``: read-only checks of a deployed stack against the real account.

After ``sam deploy``, before the first contact: does the stack's every function exist with valid settings, can
each function's role make every call the code makes (``iam:SimulatePrincipalPolicy`` with the instance's own
ARNs and the condition keys Connect fills in), does the instance exist in the stack's Region, does every agent,
username and queue the rules name exist, do the EventBridge rules feed their queues, are the event source
mappings enabled, are the dead-letter queues empty, is dry run on? Every check is PASS, WARN or FAIL, and every
FAIL says how to fix it.

Nothing here writes: the calls are Describe*, List*, Get*, Search* and SimulatePrincipalPolicy.

The AWS clients are injected (``Clients``), so tests run the same checks on moto and the Connect emulator. The
IAM simulation is a port (``PolicySimulator``): in production ``IamPolicySimulator`` calls
``iam:SimulatePrincipalPolicy``, which evaluates the role's identity policies, its permissions boundary and the
organization's SCPs as IAM does; moto does not implement that call, so tests inject an evaluator of their own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypedDict, TypeVar

import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from rich.console import Console
from rich.table import Table

from aws_reference.iam import required_arns
from contact_router.adapters.connect import ConnectGateway
from contact_router.adapters.rules_store import RulesProvider, remote_fetcher
from contact_router.config import INSTANCE_ARN_RE, RulesSourceKind, Settings
from contact_router.errors import ConfigurationError, PermanentError, TransientError
from contact_router.routing.references import ReferenceKind, arn_allowed, classify
from contact_router.rules.model import RulesFile
from contact_router_cli import render

if TYPE_CHECKING:
    from types_boto3_appconfigdata import AppConfigDataClient
    from types_boto3_cloudformation import CloudFormationClient
    from types_boto3_cloudformation.type_defs import ListStackResourcesInputTypeDef
    from types_boto3_connect import ConnectClient
    from types_boto3_events import EventBridgeClient
    from types_boto3_iam import IAMClient
    from types_boto3_iam.literals import ContextKeyTypeEnumType
    from types_boto3_iam.type_defs import EvaluationResultTypeDef, SimulatePrincipalPolicyRequestTypeDef
    from types_boto3_lambda import LambdaClient
    from types_boto3_sqs import SQSClient
    from types_boto3_ssm import SSMClient

P = ParamSpec("P")
R = TypeVar("R")

CLIENTS_KEY = "preflight_clients"  # ctx.obj key: tests and the demo inject their clients here

# An example contact of the instance: IAM matches ARNs, it never looks the contact up.
EXAMPLE_CONTACT_ID = "00000000-0000-4000-8000-00000000c0de"

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException"})
HEALTHY_STACK = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})


class Status(StrEnum):
    PASS = "PASS"  # noqa: S105 - a check's status, not a password
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    area: str
    name: str
    status: Status
    detail: str
    fix: str = ""


class OperatorError(click.ClickException):
    """An expected mistake of the person running the command (credentials, Region, stack name, access): exit 2,
    one line."""

    exit_code = 2


# ------------------------------------------------------------------------------------------ IAM simulation
@dataclass(frozen=True)
class ContextEntry:
    key: str
    values: tuple[str, ...]
    type: ContextKeyTypeEnumType = "string"  # SimulatePrincipalPolicy ContextKeyType: string, stringList, ...


@dataclass(frozen=True)
class Simulation:
    resource: str
    decision: str  # allowed | implicitDeny | explicitDeny
    missing_context: tuple[str, ...] = ()
    denied_by: str = ""  # "" (the role's policies), "permissions boundary" or "organization SCP"

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


class PolicySimulator(Protocol):
    def simulate(
        self, principal_arn: str, action: str, resource: str, context: Sequence[ContextEntry]
    ) -> Simulation: ...


class IamPolicySimulator:
    """``iam:SimulatePrincipalPolicy``, one resource per call so each decision belongs to one ARN."""

    def __init__(self, iam_client: IAMClient) -> None:
        self._iam = iam_client

    def simulate(self, principal_arn: str, action: str, resource: str, context: Sequence[ContextEntry]) -> Simulation:
        kwargs: SimulatePrincipalPolicyRequestTypeDef = {
            "PolicySourceArn": principal_arn,
            "ActionNames": [action],
            "ResourceArns": [resource],
            "ContextEntries": [
                {"ContextKeyName": e.key, "ContextKeyValues": list(e.values), "ContextKeyType": e.type} for e in context
            ],
        }
        results: list[EvaluationResultTypeDef] = []
        while True:
            page = self._iam.simulate_principal_policy(**kwargs)
            results.extend(page.get("EvaluationResults", []))
            if not page.get("IsTruncated"):
                break
            kwargs["Marker"] = page["Marker"]
        return simulation_from_api(resource, results)


def simulation_from_api(resource: str, results: Sequence[Mapping[str, Any]]) -> Simulation:
    """The decision for ``resource`` in SimulatePrincipalPolicy's EvaluationResults (per-resource results when
    IAM gives them)."""
    for result in results:
        specific = [
            r for r in result.get("ResourceSpecificResults", []) if r.get("EvalResourceName") in (resource, "*")
        ]
        decision = specific[0]["EvalResourceDecision"] if specific else result.get("EvalDecision", "implicitDeny")
        missing = tuple(
            result.get("MissingContextValues", []) or (specific[0].get("MissingContextValues", []) if specific else [])
        )
        denied_by = ""
        if result.get("PermissionsBoundaryDecisionDetail", {}).get("AllowedByPermissionsBoundary") is False:
            denied_by = "permissions boundary"
        elif result.get("OrganizationsDecisionDetail", {}).get("AllowedByOrganizations") is False:
            denied_by = "organization SCP"
        return Simulation(resource, str(decision), missing, denied_by)
    return Simulation(resource, "implicitDeny")


# ------------------------------------------------------------------------------------------------ clients
@dataclass
class Clients:
    region: str
    cloudformation: CloudFormationClient
    lambda_: LambdaClient
    events: EventBridgeClient
    sqs: SQSClient
    connect: ConnectClient
    ssm: SSMClient
    appconfigdata: AppConfigDataClient | None  # None: Powertools makes its own (tests: moto has no AppConfigData)
    simulator: PolicySimulator


ClientsFactory = Callable[[str | None, str | None], Clients]


def session_clients(region: str | None, profile: str | None) -> Clients:
    """Clients of the caller's AWS configuration (profile, environment, instance role...)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as exc:
        raise OperatorError(f"AWS profile {profile!r} not found in your AWS configuration") from exc
    if not session.region_name:
        raise OperatorError("no AWS Region: give --region or set AWS_DEFAULT_REGION (or a region in your AWS profile)")
    if session.get_credentials() is None:
        raise OperatorError("no AWS credentials: log in (aws sso login / aws configure) or give --profile")
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 5},
        user_agent_appid="contact-router",  # type: ignore[call-arg]  # botocore-stubs 1.43 lacks it (botocore has it)
    )
    return Clients(
        region=session.region_name,
        cloudformation=session.client("cloudformation", config=config),
        lambda_=session.client("lambda", config=config),
        events=session.client("events", config=config),
        sqs=session.client("sqs", config=config),
        connect=session.client("connect", config=config),
        ssm=session.client("ssm", config=config),
        appconfigdata=session.client("appconfigdata", config=config),
        simulator=IamPolicySimulator(session.client("iam", config=config)),
    )


def _call(what: str, method: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """One read; the operator's own problems (access, credentials, network) become one line."""
    try:
        return method(*args, **kwargs)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ACCESS_DENIED or code.startswith("AccessDenied"):
            raise OperatorError(f"access denied for {what}: your credentials need read access to it") from exc
        if code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"):
            raise OperatorError(f"your AWS credentials were refused ({code}): log in again") from exc
        raise
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise OperatorError("no AWS credentials: log in (aws sso login / aws configure) or give --profile") from exc
    except NoRegionError as exc:
        raise OperatorError("no AWS Region: give --region or set AWS_DEFAULT_REGION") from exc
    except EndpointConnectionError as exc:
        raise OperatorError(f"cannot reach AWS for {what}: {exc}") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# -------------------------------------------------------------------------------------------------- stack
FUNCTIONS = {  # logical id -> short name
    "RouterFunction": "router",
    "SupervisionFunction": "supervision",
    "AffinityFunction": "affinity",
    "SweepFunction": "sweep",
    "FlowFunction": "flow",
}
OPTIONAL_FUNCTIONS = {  # logical id -> the stack parameter that deploys it (template.yaml conditions)
    "SweepFunction": "SweepEnabled",
    "FlowFunction": "FlowIntegration",
}
# function -> its dead-letter queue's logical id; the flow function has none (Connect invokes it synchronously
# and the flow takes its error branch to the queue).
DEAD_LETTER_QUEUES = {
    "router": "DeadLetterQueue",
    "supervision": "SupervisionDeadLetterQueue",
    "affinity": "AffinityDeadLetterQueue",
    "sweep": "SweepDeadLetterQueue",
}
RULE_TARGETS = {  # EventBridge rule -> the resource it must deliver to
    "RouterRule": "RouterQueue",
    "SupervisionRule": "SupervisionQueue",
    "AffinityRule": "AffinityQueue",
    "SweepScheduleRule": "SweepFunction",
}


@dataclass
class Stack:
    name: str
    status: str
    account: str
    parameters: dict[str, str]
    resources: dict[str, tuple[str, str]]  # logical id -> (type, physical id)

    def physical(self, logical_id: str) -> str | None:
        found = self.resources.get(logical_id)
        return found[1] if found else None


@dataclass
class Function:
    short: str
    name: str
    arn: str
    role_arn: str
    env: dict[str, str]
    state: str
    settings: Settings | None = None


@dataclass
class Context:
    """What the checks learn as they go (later checks build on earlier ones)."""

    stack: Stack
    clients: Clients
    checks: list[Check] = field(default_factory=list)
    functions: dict[str, Function] = field(default_factory=dict)
    instance_arn: str = ""
    instance_id: str = ""
    instance_ok: bool = False
    rules: RulesFile | None = None
    agent_arns: list[str] = field(default_factory=list)  # real agents named by the rules, resolved
    supervisor_arns: list[str] = field(default_factory=list)
    queue_arns: list[str] = field(default_factory=list)

    def add(self, area: str, name: str, status: Status, detail: str, fix: str = "") -> None:
        self.checks.append(Check(area, name, status, detail, fix))


def read_stack(name: str, clients: Clients) -> Stack:
    try:
        described = _call("cloudformation:DescribeStacks", clients.cloudformation.describe_stacks, StackName=name)
    except ClientError as exc:
        if _code(exc) == "ValidationError" and "does not exist" in str(exc):
            raise OperatorError(
                f"stack {name!r} not found in {clients.region} (check --stack-name and --region)"
            ) from exc
        raise
    stack = described["Stacks"][0]
    resources: dict[str, tuple[str, str]] = {}
    kwargs: ListStackResourcesInputTypeDef = {"StackName": name}
    while True:
        page = _call("cloudformation:ListStackResources", clients.cloudformation.list_stack_resources, **kwargs)
        for summary in page.get("StackResourceSummaries", []):
            resources[summary["LogicalResourceId"]] = (summary["ResourceType"], summary.get("PhysicalResourceId", ""))
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    account = str(stack.get("StackId", "")).split(":")[4] if str(stack.get("StackId", "")).count(":") >= 5 else ""
    return Stack(
        name=name,
        status=str(stack.get("StackStatus", "")),
        account=account,
        parameters={p["ParameterKey"]: str(p.get("ParameterValue", "")) for p in stack.get("Parameters", [])},
        resources=resources,
    )


# ------------------------------------------------------------------------------------------------- checks
def run_preflight(stack_name: str, clients: Clients) -> list[Check]:
    """Every check, in the order an operator fixes things; raises OperatorError for the operator's own mistakes."""
    stack = read_stack(stack_name, clients)
    ctx = Context(stack, clients)
    try:
        _check_stack(ctx)
        _check_functions(ctx)
        _check_dry_run(ctx)
        _check_instance(ctx)
        _check_rules(ctx)
        _check_references(ctx)
        _check_permissions(ctx)
        _check_event_rules(ctx)
        _check_event_source_mappings(ctx)
        _check_dead_letter_queues(ctx)
    except ClientError as exc:  # anything not handled by a check: one line, never a traceback
        raise OperatorError(f"AWS refused a read: {exc}") from exc
    except BotoCoreError as exc:
        raise OperatorError(f"AWS call failed: {exc}") from exc
    return ctx.checks


def _check_stack(ctx: Context) -> None:
    stack = ctx.stack
    if stack.status in HEALTHY_STACK:
        ctx.add("stack", stack.name, Status.PASS, f"{stack.status}, {len(stack.resources)} resources")
    elif stack.status == "UPDATE_ROLLBACK_COMPLETE":
        ctx.add(
            "stack",
            stack.name,
            Status.WARN,
            f"{stack.status}: the last update was rolled back, the version before it runs",
            "see the stack's events (aws cloudformation describe-stack-events) for why, and deploy again",
        )
    elif stack.status.endswith("_IN_PROGRESS"):
        ctx.add(
            "stack", stack.name, Status.WARN, f"{stack.status}: checked while it changes", "run again when it is done"
        )
    else:
        ctx.add(
            "stack",
            stack.name,
            Status.FAIL,
            stack.status,
            "see the stack's events (aws cloudformation describe-stack-events) and deploy again",
        )


def _check_functions(ctx: Context) -> None:
    for logical_id, short in FUNCTIONS.items():
        physical = ctx.stack.physical(logical_id)
        if physical is None:
            switch = OPTIONAL_FUNCTIONS.get(logical_id)
            if switch is None:
                ctx.add("function", short, Status.FAIL, f"{logical_id} is not in the stack", "deploy template.yaml")
            else:  # deployed only when its parameter is true: say so, so a missing check is not taken for a pass
                value = ctx.stack.parameters.get(switch, "false")
                ctx.add("function", short, Status.PASS, f"not deployed ({switch}={value}): nothing to check")
            continue
        try:
            config = _call(
                "lambda:GetFunctionConfiguration", ctx.clients.lambda_.get_function_configuration, FunctionName=physical
            )
        except ClientError as exc:
            ctx.add("function", short, Status.FAIL, f"{physical}: {_code(exc)}", "deploy the stack again")
            continue
        env = {k: str(v) for k, v in config.get("Environment", {}).get("Variables", {}).items()}
        function = Function(
            short=short,
            name=physical,
            arn=str(config.get("FunctionArn", "")),
            role_arn=str(config.get("Role", "")),
            env=env,
            state=str(config.get("State", "Active")),
        )
        ctx.functions[short] = function
        if function.state not in ("Active", ""):
            reason = config.get("StateReason", "")
            ctx.add(
                "function",
                short,
                Status.FAIL,
                f"{physical}: state {function.state} {reason}".strip(),
                "see the function's state reason in the Lambda console and deploy again",
            )
            continue
        try:
            function.settings = Settings.from_env(env)
        except ConfigurationError as exc:
            ctx.add(
                "function",
                short,
                Status.FAIL,
                f"{physical}: invalid settings: " + "; ".join(exc.problems),
                "deploy the stack from an unmodified template.yaml (the environment is the template's)",
            )
            continue
        ctx.add("function", short, Status.PASS, f"{physical}: settings valid")


def _check_dry_run(ctx: Context) -> None:
    parameter = ctx.stack.parameters.get("DryRun", "").strip().lower()
    mismatched = [
        f"{f.short} has DRY_RUN={f.env.get('DRY_RUN', '')!r}"
        for f in ctx.functions.values()
        if "DRY_RUN" in f.env and f.env["DRY_RUN"].strip().lower() != parameter
    ]
    if mismatched:
        ctx.add(
            "settings",
            "dry run",
            Status.FAIL,
            f"stack parameter DryRun={parameter!r} but " + ", ".join(mismatched),
            "deploy again so the functions take the stack's DryRun",
        )
    elif parameter == "true":
        ctx.add(
            "settings",
            "dry run",
            Status.WARN,
            "ON: the router decides and logs, never associates; supervision never starts monitoring",
            'when the decision logs look right: set "DryRun=false" in samconfig.toml and sam deploy again',
        )
    else:
        ctx.add("settings", "dry run", Status.PASS, "off: the router associates, supervision monitors")


def _check_instance(ctx: Context) -> None:
    arn = ctx.stack.parameters.get("ConnectInstanceArn", "")
    match = INSTANCE_ARN_RE.match(arn)
    if not match:
        ctx.add(
            "connect",
            "instance",
            Status.FAIL,
            f"ConnectInstanceArn is not an instance ARN: {arn!r}",
            "deploy with ConnectInstanceArn=arn:aws:connect:REGION:ACCOUNT:instance/ID",
        )
        return
    ctx.instance_arn, ctx.instance_id = arn, match.group("id")
    if match.group("region") != ctx.clients.region:
        ctx.add(
            "connect",
            "instance",
            Status.FAIL,
            f"the instance is in {match.group('region')}, the stack in {ctx.clients.region}: its contact events "
            "never reach this stack's rules",
            f"deploy the stack in {match.group('region')}",
        )
        return
    if ctx.stack.account and match.group("account") != ctx.stack.account:
        ctx.add(
            "connect",
            "instance",
            Status.FAIL,
            f"the instance belongs to account {match.group('account')}, the stack to {ctx.stack.account}",
            "deploy the stack in the instance's account",
        )
        return
    try:
        described = _call("connect:DescribeInstance", ctx.clients.connect.describe_instance, InstanceId=ctx.instance_id)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            ctx.add(
                "connect",
                "instance",
                Status.FAIL,
                f"no instance {ctx.instance_id} in {ctx.clients.region}",
                "deploy with the ConnectInstanceArn of an existing instance (Connect console: instance ARN)",
            )
            return
        raise
    status = str(described.get("Instance", {}).get("InstanceStatus", ""))
    alias = described.get("Instance", {}).get("InstanceAlias", "")
    if status != "ACTIVE":
        ctx.add(
            "connect",
            "instance",
            Status.FAIL,
            f"{alias or ctx.instance_id}: {status}",
            "wait for the instance to be ACTIVE, or recreate it",
        )
        return
    ctx.instance_ok = True
    ctx.add("connect", "instance", Status.PASS, f"{alias or ctx.instance_id} ACTIVE in {ctx.clients.region}")


def _check_rules(ctx: Context) -> None:
    holder = ctx.functions.get("router") or ctx.functions.get("supervision")
    if holder is None or holder.settings is None:
        ctx.add("rules", "rules", Status.WARN, "not checked: no router or supervision function with valid settings")
        return
    supervision = ctx.functions.get("supervision")
    allow_barge = supervision.settings.allow_barge if supervision and supervision.settings else None
    source = holder.settings.rules
    provider = RulesProvider(
        source,
        remote_fetcher(source, ssm_client=ctx.clients.ssm, appconfig_client=ctx.clients.appconfigdata),
        allow_barge=allow_barge,
    )
    where = provider.source + (" (this checkout's bundled rules)" if source.kind is RulesSourceKind.BUNDLED else "")
    try:
        ctx.rules = provider.current()
    except ConfigurationError as exc:
        ctx.add(
            "rules",
            where,
            Status.FAIL,
            "; ".join(exc.problems),
            "check the file with `contact-router rules validate FILE` (with --forbid-barge unless AllowBarge=true) "
            "and publish the fixed version to the rules source",
        )
        return
    enabled = [r.name for r in ctx.rules.routing if r.enabled]
    monitors = [r.name for r in ctx.rules.supervision if r.enabled]
    ctx.add("rules", where, Status.PASS, f"valid: {len(enabled)} routing, {len(monitors)} supervision rule(s) enabled")


def _rule_references(rules: RulesFile) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    """(routing user refs, supervisor and agent refs, queue ids) -> the rules naming them; enabled rules only."""
    routing_users: dict[str, set[str]] = {}
    supervision_users: dict[str, set[str]] = {}
    queues: dict[str, set[str]] = {}
    for rule in (r for r in rules.routing if r.enabled):
        for source in rule.candidates:
            for user in source.users or []:
                routing_users.setdefault(user, set()).add(rule.name)
        for user in rule.exclude_users:
            routing_users.setdefault(user, set()).add(rule.name)
        for queue in rule.when.queue or []:
            queues.setdefault(queue, set()).add(rule.name)
    for monitor in (r for r in rules.supervision if r.enabled):
        for user in [*monitor.supervisors, *((monitor.when.agent.users or []) if monitor.when.agent else [])]:
            supervision_users.setdefault(user, set()).add(monitor.name)
        for queue in monitor.when.queue or []:
            queues.setdefault(queue, set()).add(monitor.name)
    return routing_users, supervision_users, queues


def _check_references(ctx: Context) -> None:
    if ctx.rules is None or not ctx.instance_ok:
        ctx.add("rules", "agents and queues", Status.WARN, "not checked: no valid rules or no instance")
        return
    routing_users, supervision_users, queues = _rule_references(ctx.rules)
    sweep = ctx.functions.get("sweep")
    for queue in (sweep.env.get("SWEEP_QUEUE_IDS", "") if sweep else "").split(","):
        if queue.strip():
            queues.setdefault(queue.strip(), set()).add("SweepQueueIds")
    gateway = ConnectGateway(ctx.clients.connect, ctx.instance_id)

    missing: list[str] = []
    resolved: dict[str, str] = {}  # reference -> user ARN
    for ref in sorted(set(routing_users) | set(supervision_users)):
        named_by = ", ".join(sorted(routing_users.get(ref, set()) | supervision_users.get(ref, set())))
        problem, arn = _resolve_user(gateway, ctx.instance_arn, ref)
        if problem:
            missing.append(f"{ref} ({named_by}): {problem}")
        elif arn:
            resolved[ref] = arn
    ctx.agent_arns = [resolved[r] for r in sorted(routing_users) if r in resolved]
    ctx.supervisor_arns = [resolved[r] for r in sorted(supervision_users) if r in resolved]
    users = len(set(routing_users) | set(supervision_users))
    if missing:
        ctx.add(
            "rules",
            "agents",
            Status.FAIL,
            "; ".join(missing),
            "fix the user reference in the rules (user id, user ARN or username of this instance) or create the user",
        )
    else:
        ctx.add(
            "rules",
            "agents",
            Status.PASS,
            f"{users} user(s) named by the rules exist" if users else "the rules name no user",
        )

    router = ctx.functions.get("router")
    pattern = router.settings.allowed_agent_arn_pattern if router and router.settings else ""
    outside = [ref for ref in sorted(routing_users) if ref in resolved and not arn_allowed(resolved[ref], pattern)]
    if outside:
        ctx.add(
            "rules",
            "allowed agents",
            Status.WARN,
            f"outside AllowedAgentArnPattern {pattern}: {', '.join(outside)}: the router never gives them contacts",
            "widen AllowedAgentArnPattern or take them out of the rules",
        )

    missing_queues: list[str] = []
    for queue_id in sorted(queues):
        try:
            described = _call(
                "connect:DescribeQueue",
                ctx.clients.connect.describe_queue,
                InstanceId=ctx.instance_id,
                QueueId=queue_id,
            )
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            missing_queues.append(f"{queue_id} ({', '.join(sorted(queues[queue_id]))}): not found")
            continue
        ctx.queue_arns.append(str(described.get("Queue", {}).get("QueueArn", f"{ctx.instance_arn}/queue/{queue_id}")))
        if described.get("Queue", {}).get("Status") == "DISABLED":
            missing_queues.append(f"{queue_id} ({', '.join(sorted(queues[queue_id]))}): disabled")
    if missing_queues:
        ctx.add(
            "rules",
            "queues",
            Status.FAIL,
            "; ".join(missing_queues),
            "name queues by id or ARN of this instance (Connect console: queue ARN), or enable the queue",
        )
    else:
        ctx.add(
            "rules",
            "queues",
            Status.PASS,
            f"{len(queues)} queue(s) named exist" if queues else "the rules name no queue",
        )


def _resolve_user(gateway: ConnectGateway, instance_arn: str, ref: str) -> tuple[str, str]:
    """(problem, user ARN): exactly one of them is non-empty."""
    reference = classify(ref)
    try:
        if reference.kind is ReferenceKind.USERNAME:
            user = gateway.find_by_username(reference.value)
            return ("", user.arn) if user else ("no user with this username", "")
        if reference.kind is ReferenceKind.INVALID:
            return (reference.value, "")
        if reference.kind is ReferenceKind.ARN and not ref.strip().startswith(f"{instance_arn}/agent/"):
            return ("the ARN of a user of another instance", "")
        gateway.describe_user_exists(reference.value)
        return ("", f"{instance_arn}/agent/{reference.value}")
    except PermanentError as exc:
        if exc.reason == "access_denied":
            raise OperatorError(f"access denied for connect:SearchUsers/DescribeUser: {exc.message}") from exc
        return ("no such user" if exc.reason == "unknown_user" else exc.message, "")
    except TransientError as exc:
        return (f"not checked ({exc.message})", "")


# ------------------------------------------------------------------------------------------------- IAM
@dataclass(frozen=True)
class Need:
    """A call a function makes: the IAM action, the template.yaml statement that grants it, its condition keys.

    The resource types it is simulated on are the ones the Service Authorization Reference marks required for
    the action (``aws_reference.iam``, the table the template tests and the emulator's IAM mode read too).
    """

    action: str
    sid: str  # the template.yaml statement that grants it
    preferred_user: bool = False
    monitor: bool = False
    only_if: str = ""  # "routing_criteria", "park": only when a rule uses that fallback


AGENT_READS = (
    Need("connect:GetCurrentUserData", "ReadCurrentUserData"),
    Need("connect:SearchUsers", "SearchInstanceUsers"),
    Need("connect:DescribeUser", "DescribeInstanceUsers"),
)
NEEDS: dict[str, tuple[Need, ...]] = {
    "router": (
        Need("connect:DescribeContact", "DescribeInstanceContacts"),
        Need("connect:GetContactAttributes", "ReadInstanceContactAttributes"),
        *AGENT_READS,
        Need("connect:ListRoutingProfileQueues", "ListInstanceRoutingProfileQueues"),
        Need("connect:AssociateContactWithUser", "AssociateContactWithAllowedAgents", preferred_user=True),
        Need("connect:UpdateContactRoutingData", "UpdateInstanceContactRoutingData", only_if="routing_criteria"),
        Need("connect:TransferContact", "ParkContactsWithTheirAgent", only_if="park"),
    ),
    "supervision": (
        Need("connect:DescribeContact", "DescribeInstanceContacts"),
        *AGENT_READS,
        Need("connect:MonitorContact", "MonitorInstanceContacts", monitor=True),
    ),
    "affinity": (Need("connect:DescribeContact", "DescribeInstanceContacts"),),
    "sweep": (Need("connect:SearchContacts", "SearchInstanceContacts"),),
    # The contact-flow entry point (FlowIntegration): the router's reads, each under the flow role's own statement.
    "flow": (
        Need("connect:DescribeContact", "DescribeInstanceContacts"),
        *AGENT_READS,
        Need("connect:ListRoutingProfileQueues", "ListInstanceRoutingProfileQueues"),
    ),
}


def _check_permissions(ctx: Context) -> None:
    if not ctx.instance_arn:
        ctx.add("iam", "permissions", Status.WARN, "not checked: no instance ARN")
        return
    agent = _example_agent(ctx)
    supervisor = ctx.supervisor_arns[0] if ctx.supervisor_arns else agent
    capabilities = _monitor_capabilities(ctx)
    uses_criteria = ctx.rules is not None and any(
        step.routing_criteria is not None for rule in ctx.rules.routing if rule.enabled for step in rule.fallback
    )
    parks = [
        step.park.contact_flow_id
        for rule in (ctx.rules.routing if ctx.rules is not None else [])
        if rule.enabled
        for step in rule.fallback
        if step.park is not None
    ]
    ids = {**_connect_ids(ctx, agent), "ContactFlowId": parks[0] if parks else str(uuid.UUID(int=0))}
    for short, function in ctx.functions.items():
        for need in NEEDS.get(short, ()):
            if (need.only_if == "routing_criteria" and not uses_criteria) or (need.only_if == "park" and not parks):
                continue
            user = supervisor if need.monitor else agent
            context = [ContextEntry("connect:InstanceId", (ctx.instance_id,))]
            if need.preferred_user:
                context.append(ContextEntry("connect:PreferredUserArn", (user,)))
            if need.monitor:
                context.append(ContextEntry("connect:MonitorCapabilities", tuple(capabilities), "stringList"))
            resources = required_arns(need.action, {**ids, "UserId": user.rsplit("/", 1)[-1]})
            _simulate(ctx, function, need, resources, context)
        _check_extra_permissions(ctx, function)
        if short == "supervision" and function.settings and not function.settings.allow_barge:
            _check_barge_held_back(ctx, function, supervisor)


def _arn_parts(arn: str) -> dict[str, str]:
    """The partition, Region and account of an ARN, as the reference's formats name them."""
    _, partition, _, region, account, _ = arn.split(":", 5)
    return {"Partition": partition, "Region": region, "Account": account}


def _connect_ids(ctx: Context, agent: str) -> dict[str, str]:
    """The ids that fill the reference's Connect ARN formats: the real instance, queue, and the example agent's
    routing profile and hierarchy group where the instance has them; an example id where it does not (IAM matches
    ARNs, it never looks a resource up)."""
    example = str(uuid.UUID(int=0))
    ids = {
        **_arn_parts(ctx.instance_arn),
        "InstanceId": ctx.instance_id,
        "ContactId": EXAMPLE_CONTACT_ID,
        "QueueId": ctx.queue_arns[0].rsplit("/", 1)[-1] if ctx.queue_arns else example,
        "RoutingProfileId": example,
        "HierarchyGroupId": example,
    }
    if ctx.instance_ok and agent.startswith(f"{ctx.instance_arn}/agent/"):
        try:
            user = _call(
                "connect:DescribeUser",
                ctx.clients.connect.describe_user,
                InstanceId=ctx.instance_id,
                UserId=agent.rsplit("/", 1)[-1],
            ).get("User", {})
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            user = {}
        for key in ("RoutingProfileId", "HierarchyGroupId"):
            if user.get(key):
                ids[key] = str(user[key])
    return ids


def _simulate(
    ctx: Context, function: Function, need: Need, resources: Mapping[str, str], context: Sequence[ContextEntry]
) -> None:
    """Simulate ``need`` on each resource (by its reference type) with ``context``; one check with the outcome."""
    results = {
        kind: _call(
            "iam:SimulatePrincipalPolicy",
            ctx.clients.simulator.simulate,
            principal_arn=function.role_arn,
            action=need.action,
            resource=arn,
            context=context,
        )
        for kind, arn in resources.items()
    }
    user = resources.get("user", "")
    keys = "".join(
        f", {e.key}=" + ("the agent's ARN" if e.values == (user,) else ",".join(e.values))
        for e in context
        if e.key != "connect:InstanceId"
    )
    name = f"{function.short}: {need.action}"
    denied = {kind: r for kind, r in results.items() if not r.allowed}
    if not denied:
        where = ", ".join(_label(kind, arn) for kind, arn in resources.items())
        ctx.add("iam", name, Status.PASS, f"allowed on {where}{keys}")
        return
    detail = "; ".join(
        f"{r.decision} on {kind} {r.resource}"
        + (f" (by the {r.denied_by})" if r.denied_by else "")
        + (f" (condition needs {', '.join(r.missing_context)})" if r.missing_context else "")
        for kind, r in denied.items()
    )
    ctx.add("iam", name, Status.FAIL, detail + keys, _permission_fix(function, need, denied))


def _short(resource: str) -> str:
    """An ARN by its resource part (queue name, parameter/..., log-group:...), anything else as it is."""
    return resource.split(":", 5)[5] if resource.startswith("arn:") and resource.count(":") >= 5 else resource


def _label(kind: str, arn: str) -> str:
    """A Connect resource by its reference type (instance, contact, user ...), another by its resource part."""
    return kind if arn.split(":")[2:3] == ["connect"] else _short(arn)


def _permission_fix(function: Function, need: Need, denied: Mapping[str, Simulation]) -> str:
    role = function.role_arn.rsplit("/", 1)[-1]
    by = {r.denied_by for r in denied.values() if r.denied_by}
    if by:
        return (
            f"the {' and '.join(sorted(by))} of role {role} must allow {need.action}; ask your account administrators"
        )
    kinds = ", ".join(f"{kind} ARNs" if _label(kind, r.resource) == kind else r.resource for kind, r in denied.items())
    fix = f"role {role} must allow {need.action} on {kinds} (template.yaml statement {need.sid})"
    if need.preferred_user:
        fix += " with ArnLike connect:PreferredUserArn matching the agent's ARN (AllowedAgentArnPattern)"
    if need.monitor:
        fix += " with ForAllValues:StringEquals connect:MonitorCapabilities covering the rules' capabilities"
    return fix + "; deploy the stack from an unmodified template.yaml"


def _check_extra_permissions(ctx: Context, function: Function) -> None:
    """The rules source, the Customer Profiles domain and the dead-letter queue: without them the function fails
    every record (of the rules that use them)."""
    region, account = ctx.clients.region, ctx.stack.account or ctx.instance_arn.split(":")[4]
    partition = ctx.instance_arn.split(":")[1] if ctx.instance_arn else "aws"
    where = {"Partition": partition, "Region": region, "Account": account}
    settings = function.settings
    if settings is not None and function.short in ("router", "supervision", "flow"):
        source = settings.rules
        if source.kind is RulesSourceKind.SSM and source.ssm_parameter:
            need = Need("ssm:GetParameter", "ReadRulesParameter")
            name = {"ParameterNameWithoutLeadingSlash": source.ssm_parameter.lstrip("/")}
            _simulate(ctx, function, need, required_arns(need.action, {**where, **name}), [])
        elif source.kind is RulesSourceKind.APPCONFIG:
            names = {  # all three are required by the settings validation that produced `settings`
                "ApplicationId": source.appconfig_application or "",
                "EnvironmentId": source.appconfig_environment or "",
                "ConfigurationProfileId": source.appconfig_profile or "",
            }
            for action in ("appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"):
                need = Need(action, "ReadRulesAppConfig")
                _simulate(ctx, function, need, required_arns(action, {**where, **names}), [])
    if settings is not None and function.short in ("router", "flow") and settings.customer_profiles_domain:
        # The customer_profile source: without it every contact of a rule using it is dead-lettered.
        need = Need("profile:SearchProfiles", "SearchCustomerProfiles")
        domain = {"DomainName": settings.customer_profiles_domain}
        _simulate(ctx, function, need, required_arns(need.action, {**where, **domain}), [])
    queue_url = ctx.stack.physical(DEAD_LETTER_QUEUES[function.short]) if function.short in DEAD_LETTER_QUEUES else None
    if queue_url:
        arn = _queue_arn(ctx, queue_url)
        sid = (
            "SendFailedRunsToDeadLetterQueue" if function.short == "sweep" else "SendPermanentFailuresToDeadLetterQueue"
        )
        need = Need("sqs:SendMessage", sid)
        values = {**_arn_parts(arn), "QueueName": arn.rsplit(":", 1)[-1]}
        _simulate(ctx, function, need, required_arns(need.action, values), [])


def _check_barge_held_back(ctx: Context, function: Function, supervisor: str) -> None:
    """AllowBarge=false: IAM itself must refuse BARGE, not only the function."""
    context = [
        ContextEntry("connect:InstanceId", (ctx.instance_id,)),
        ContextEntry("connect:MonitorCapabilities", ("SILENT_MONITOR", "BARGE"), "stringList"),
    ]
    result = _call(
        "iam:SimulatePrincipalPolicy",
        ctx.clients.simulator.simulate,
        principal_arn=function.role_arn,
        action="connect:MonitorContact",
        resource=f"{ctx.instance_arn}/contact/{EXAMPLE_CONTACT_ID}",
        context=context,
    )
    if result.allowed:
        ctx.add(
            "iam",
            "supervision: BARGE held back",
            Status.WARN,
            "AllowBarge=false but the role allows MonitorContact with BARGE: only the function holds it back",
            "deploy the stack from an unmodified template.yaml (its MonitorCapabilities condition)",
        )
    else:
        ctx.add("iam", "supervision: BARGE held back", Status.PASS, "AllowBarge=false and IAM refuses BARGE")


def _example_agent(ctx: Context) -> str:
    """A real agent: the first the rules name, else the first user of the instance."""
    if ctx.agent_arns:
        return ctx.agent_arns[0]
    if ctx.instance_ok:
        found = _call("connect:SearchUsers", ctx.clients.connect.search_users, InstanceId=ctx.instance_id, MaxResults=1)
        for user in found.get("Users", []):
            return str(user["Arn"])
    return f"{ctx.instance_arn}/agent/{uuid.UUID(int=0)}"


def _monitor_capabilities(ctx: Context) -> list[str]:
    """What the supervision function asks for: the capabilities of the enabled supervision rules."""
    wanted = {"SILENT_MONITOR"}
    for rule in ctx.rules.supervision if ctx.rules else []:
        if rule.enabled:
            wanted.update(rule.capabilities)
    return sorted(wanted, key=["SILENT_MONITOR", "BARGE"].index)


def _queue_arn(ctx: Context, queue_url: str) -> str:
    attributes = _call(
        "sqs:GetQueueAttributes", ctx.clients.sqs.get_queue_attributes, QueueUrl=queue_url, AttributeNames=["QueueArn"]
    )
    return str(attributes["Attributes"]["QueueArn"])


# --------------------------------------------------------------------------------------- events and queues
class _OnBus(TypedDict, total=False):
    EventBusName: str  # absent: the default bus


def _check_event_rules(ctx: Context) -> None:
    for logical_id, target_id in RULE_TARGETS.items():
        physical = ctx.stack.physical(logical_id)
        if physical is None:
            continue
        bus, _, name = physical.rpartition("|")  # "bus|name" on a custom bus
        bus_kwargs: _OnBus = {"EventBusName": bus} if bus else {}
        rule = _call("events:DescribeRule", ctx.clients.events.describe_rule, Name=name, **bus_kwargs)
        targets = _call("events:ListTargetsByRule", ctx.clients.events.list_targets_by_rule, Rule=name, **bus_kwargs)
        expected = _target_arn(ctx, target_id)
        arns = [t.get("Arn", "") for t in targets.get("Targets", [])]
        problems = []
        if rule.get("State") != "ENABLED":
            problems.append(f"state {rule.get('State')}")
        if expected not in arns:
            problems.append(f"targets {arns or 'nothing'}, not {target_id} ({expected})")
        pattern = json.loads(rule["EventPattern"]) if rule.get("EventPattern") else {}
        instances = pattern.get("detail", {}).get("instanceArn")
        if instances is not None and ctx.instance_arn and ctx.instance_arn not in instances:
            problems.append(f"matches instance {instances}, not {ctx.instance_arn}")
        if problems:
            ctx.add(
                "events",
                f"rule {logical_id}",
                Status.FAIL,
                f"{name}: " + "; ".join(problems),
                f"aws events enable-rule --name {name} if disabled; otherwise deploy the stack again",
            )
        else:
            ctx.add("events", f"rule {logical_id}", Status.PASS, f"ENABLED, delivers to {target_id}")


def _target_arn(ctx: Context, logical_id: str) -> str:
    physical = ctx.stack.physical(logical_id) or ""
    if logical_id.endswith("Function"):
        function = next((f for f in ctx.functions.values() if f.name == physical), None)
        return function.arn if function else physical
    return _queue_arn(ctx, physical) if physical else ""


def _check_event_source_mappings(ctx: Context) -> None:
    mappings = sorted(k for k, (kind, _) in ctx.stack.resources.items() if kind == "AWS::Lambda::EventSourceMapping")
    for logical_id in mappings:
        uuid_ = ctx.stack.physical(logical_id) or ""
        mapping = _call("lambda:GetEventSourceMapping", ctx.clients.lambda_.get_event_source_mapping, UUID=uuid_)
        state = str(mapping.get("State", ""))
        source = str(mapping.get("EventSourceArn", "")).rsplit(":", 1)[-1]
        function = str(mapping.get("FunctionArn", "")).rsplit(":", 1)[-1]
        name = f"mapping {logical_id}"
        if state == "Enabled":
            ctx.add("lambda", name, Status.PASS, f"Enabled: reads {_short(source)} for {function}")
        elif state == "Disabled":
            ctx.add(
                "lambda",
                name,
                Status.FAIL,
                f"Disabled: {source} is not read, its messages wait",
                f"aws lambda update-event-source-mapping --uuid {uuid_} --enabled",
            )
        else:
            ctx.add("lambda", name, Status.WARN, f"{state}: {source} -> {function}", "run again in a minute")


def _check_dead_letter_queues(ctx: Context) -> None:
    for short, logical_id in DEAD_LETTER_QUEUES.items():
        url = ctx.stack.physical(logical_id)
        if not url:
            continue
        attributes = _call(
            "sqs:GetQueueAttributes",
            ctx.clients.sqs.get_queue_attributes,
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depth = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
        )
        if depth:
            ctx.add(
                "queues",
                f"dead letters: {short}",
                Status.WARN,
                f"{depth} message(s) in {logical_id}",
                f"why: contact-router dlq list --queue-url {url}; after the fix: contact-router dlq redrive",
            )
        else:
            ctx.add("queues", f"dead letters: {short}", Status.PASS, f"{logical_id} empty")


# ------------------------------------------------------------------------------------------------- output
STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "red"}


def checks_table(checks: Iterable[Check], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("status", "area", "check", "detail", "fix"):
        table.add_column(column, overflow="fold", no_wrap=column in ("status", "area"))
    for check in checks:
        style = STYLE[check.status]
        table.add_row(f"[{style}]{check.status.value}[/{style}]", check.area, check.name, check.detail, check.fix)
    return table


def report_json(stack_name: str, region: str, checks: Sequence[Check]) -> dict[str, Any]:
    counts = {status.value: sum(1 for c in checks if c.status is status) for status in Status}
    worst = Status.FAIL if counts["FAIL"] else Status.WARN if counts["WARN"] else Status.PASS
    return {
        "stack": stack_name,
        "region": region,
        "result": worst.value,
        "counts": counts,
        "checks": [{**asdict(c), "status": c.status.value} for c in checks],
    }


@click.command("preflight")
@click.option("--stack-name", required=True, help="The deployed stack (sam deploy's stack name).")
@click.option("--region", help="AWS Region of the stack (default: your AWS configuration).")
@click.option("--profile", help="AWS profile to use (default: your AWS configuration).")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON instead of a table.")
@click.pass_context
def preflight(ctx: click.Context, stack_name: str, region: str | None, profile: str | None, as_json: bool) -> None:
    """Read-only checks of a deployed stack, before the first contact.

    The stack's functions and settings, dry run, the Connect instance, the rules and every agent and queue they
    name, each function role's permissions (iam:SimulatePrincipalPolicy with the instance's ARNs and condition
    keys), the EventBridge rules, the event source mappings and the dead-letter queues. Each check is PASS, WARN
    or FAIL with its fix. Exit 0: no FAIL; 1: a FAIL; 2: cannot run (credentials, Region, stack, access).
    """
    factory: ClientsFactory = (ctx.obj or {}).get(CLIENTS_KEY, session_clients)
    clients = factory(region, profile)
    checks = run_preflight(stack_name, clients)
    if as_json:
        click.echo(json.dumps(report_json(stack_name, clients.region, checks), indent=2))
    else:
        out: Console = render.console()
        out.print(checks_table(checks, f"preflight: stack {stack_name} in {clients.region}"))
        counts = report_json(stack_name, clients.region, checks)["counts"]
        out.print(f"{counts['PASS']} PASS, {counts['WARN']} WARN, {counts['FAIL']} FAIL")
    if any(c.status is Status.FAIL for c in checks):
        ctx.exit(1)
