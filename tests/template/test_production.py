"""template.yaml, production grade: least privilege, encryption (with an optional customer-managed key), delivery
guarantees wired end to end, alarms, the operations dashboard and the optional sweep, read after the SAM
transform. The guarantees are checked for every resource of their kind (tests/support/guarantees.py), and each
one is shown to fail on a copy of the template broken in memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.cfn import (
    TEST_INSTANCE_ARN,
    Stack,
    actions_of,
    as_list,
    load_template,
    stack,
    stack_of,
    statement_with,
)
from tests.support.guarantees import guarantee_problems

KEY = "arn:aws:kms:eu-west-2:123456789012:key/0d3b7b43-0000-4000-8000-00000000c0de"
TOPIC = "arn:aws:sns:eu-west-2:123456789012:ops"
SWEEP = {
    "SweepEnabled": "true",
    "SweepQueueIds": "22222222-0000-4000-8000-000000000001,22222222-0000-4000-8000-00000000000b",
}
WITH_KEY = {"KmsKeyArn": KEY}
EVERYTHING = {
    **SWEEP,
    **WITH_KEY,
    "AlarmTopicArn": TOPIC,
    "AllowBarge": "true",
    "RouteVoice": "true",
    "FlowIntegration": "true",
}
VARIANTS = {
    "defaults": {},
    "sweep": SWEEP,
    "kms": WITH_KEY,
    "everything": EVERYTHING,
    "ssm-rules": {**SWEEP, "RulesSource": "ssm", "RulesSsmParameterName": "/contact-router/rules"},
    "appconfig-rules": {
        "RulesSource": "appconfig",
        "RulesAppConfigApplication": "abc1234",
        "RulesAppConfigEnvironment": "env5678",
        "RulesAppConfigProfile": "prf9012",
    },
    "narrow-agents": {"AllowedAgentArnPattern": f"{TEST_INSTANCE_ARN}/agent/a*"},
}
FUNCTIONS = {"RouterFunction", "SupervisionFunction", "AffinityFunction", "SweepFunction", "FlowFunction"}
ROUTING_DECISIONS = {
    "Associated",
    "WouldAssociate",
    "NoRuleMatched",
    "NoEligibleAgent",
    "RoutingCriteriaSet",
    "Parked",
    "NotWaiting",
    "Ignored",
    "Rejected",
    "Failed",
}
ROUTING_OUTCOMES = ROUTING_DECISIONS | {"Waiting", "Duplicate"}
# The contact-flow entry point (FlowIntegration) answers a flow: it never associates, waits or replays.
FLOW_OUTCOMES = {"Preferred", "NoRuleMatched", "NoEligibleAgent", "Ignored", "Failed"}
SUPERVISION_OUTCOMES = {
    "MonitoringStarted",
    "WouldMonitor",
    "AlreadyMonitored",
    "NoSupervisorAvailable",
    "NotSampled",
    "NoRuleMatched",
    "NotConnected",
    "Ignored",
    "Duplicate",
    "Rejected",
    "Failed",
}
AFFINITY_OUTCOMES = {"Recorded", "Stale", "NoCustomerKey", "NotConnected", "Ignored", "Rejected", "Failed"}


# ---------------------------------------------------------------- the guarantees hold


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_the_deployed_stack_guarantees_encryption_delivery_alarms_and_iam_conditions(variant: str) -> None:
    # GIVEN template.yaml with these parameters WHEN transformed THEN nothing it must guarantee is missing
    assert guarantee_problems(stack(**VARIANTS[variant])) == []


# ---------------------------------------------------------------- ... and each check catches its breakage


def properties(template: dict[str, Any], name: str) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"][name]["Properties"]
    return props


def role_statement(template: dict[str, Any], role: str, sid: str) -> dict[str, Any]:
    """The statement ``sid`` of ``role``'s inline policy, also when it sits in an ``Fn::If``."""
    for statement in properties(template, role)["Policies"][0]["PolicyDocument"]["Statement"]:
        candidate = statement["Fn::If"][1] if "Fn::If" in statement else statement
        if candidate.get("Sid") == sid:
            found: dict[str, Any] = candidate
            return found
    raise KeyError(f"{role} has no statement {sid}")


def target(template: dict[str, Any], rule: str) -> dict[str, Any]:
    (only,) = properties(template, rule)["Targets"]
    found: dict[str, Any] = only
    return found


def misspell_dead_letter_config(template: dict[str, Any]) -> None:
    # an unknown key where DeadLetterConfig should be: the deployed target simply has no dead-letter queue
    rule_target = target(template, "SupervisionRule")
    rule_target["DeadLetterConfg"] = rule_target.pop("DeadLetterConfig")


def widen_connect_resource(template: dict[str, Any]) -> None:
    role_statement(template, "AffinityFunctionRole", "DescribeInstanceContacts")["Resource"] = "*"


def drop_source_arn(template: dict[str, Any]) -> None:
    statement = properties(template, "RouterQueuePolicy")["PolicyDocument"]["Statement"][0]
    del statement["Condition"]


def drop_tls_deny(template: dict[str, Any]) -> None:
    document = properties(template, "AffinityQueuePolicy")["PolicyDocument"]
    document["Statement"] = [s for s in document["Statement"] if s["Effect"] != "Deny"]


def allow_barge_always(template: dict[str, Any]) -> None:
    statement = role_statement(template, "SupervisionFunctionRole", "MonitorInstanceContacts")
    statement["Condition"]["ForAllValues:StringEquals"]["connect:MonitorCapabilities"] = ["SILENT_MONITOR", "BARGE"]


Breakage = tuple[str, dict[str, str], Callable[[dict[str, Any]], None], str]
BREAKAGES: list[Breakage] = [
    # dead-letter queues
    (
        "router rule without its dead-letter queue",
        {},
        lambda t: target(t, "RouterRule").pop("DeadLetterConfig"),
        "RouterRule target RouterQueue: no dead-letter queue",
    ),
    (
        "supervision rule with a misspelt DeadLetterConfig",
        {},
        misspell_dead_letter_config,
        "SupervisionRule target SupervisionQueue: no dead-letter queue",
    ),
    (
        "sweep schedule without its dead-letter queue",
        SWEEP,
        lambda t: target(t, "SweepScheduleRule").pop("DeadLetterConfig"),
        "SweepScheduleRule target SweepFunction: no dead-letter queue",
    ),
    (
        "router queue without its redrive policy",
        {},
        lambda t: properties(t, "RouterQueue").pop("RedrivePolicy"),
        "RouterQueue: no redrive to a dead-letter queue",
    ),
    (
        "affinity queue redrive without a receive count",
        {},
        lambda t: properties(t, "AffinityQueue")["RedrivePolicy"].pop("maxReceiveCount"),
        "AffinityQueue: no maxReceiveCount",
    ),
    (
        "sweep without an on-failure destination",
        SWEEP,
        lambda t: properties(t, "SweepEventInvokeConfig").pop("DestinationConfig"),
        "SweepFunction: asynchronous failures go nowhere",
    ),
    (
        "affinity dead-letter queue without its alarm",
        {},
        lambda t: t["Resources"].pop("AffinityDeadLetterQueueAlarm"),
        "AffinityDeadLetterQueue: no depth alarm",
    ),
    (
        "router without its throttles alarm",
        {},
        lambda t: t["Resources"].pop("RouterThrottlesAlarm"),
        "RouterFunction: no Throttles alarm",
    ),
    # retry policies, visibility, concurrency
    (
        "affinity rule without its retry policy",
        {},
        lambda t: target(t, "AffinityRule").pop("RetryPolicy"),
        "AffinityRule target AffinityQueue: no retry policy",
    ),
    (
        "sweep schedule without its retry policy",
        SWEEP,
        lambda t: target(t, "SweepScheduleRule").pop("RetryPolicy"),
        "SweepScheduleRule target SweepFunction: no retry policy",
    ),
    (
        "supervision queue visibility shorter than 6 function timeouts",
        {},
        lambda t: properties(t, "SupervisionQueue").update(VisibilityTimeout=60),
        "SupervisionQueue: visibility timeout below 6 x",
    ),
    (
        "router event source without maximum concurrency",
        {},
        lambda t: properties(t, "RouterFunction")["Events"]["RouterQueue"]["Properties"].pop("ScalingConfig"),
        "RouterFunction: no maximum concurrency",
    ),
    # encryption
    (
        "dead-letter queue without SSE",
        {},
        lambda t: properties(t, "DeadLetterQueue").pop("SqsManagedSseEnabled"),
        "DeadLetterQueue: not encrypted",
    ),
    (
        "affinity queue without the customer-managed key",
        WITH_KEY,
        lambda t: properties(t, "AffinityQueue").pop("KmsMasterKeyId"),
        "AffinityQueue: not encrypted with KmsKeyArn",
    ),
    (
        "affinity table without SSE",
        {},
        lambda t: properties(t, "AffinityTable").pop("SSESpecification"),
        "AffinityTable: not encrypted",
    ),
    (
        "idempotency table without the customer-managed key",
        WITH_KEY,
        lambda t: properties(t, "IdempotencyTable")["SSESpecification"].pop("KMSMasterKeyId"),
        "IdempotencyTable: not encrypted with KmsKeyArn",
    ),
    (
        "idempotency table without point-in-time recovery",
        {},
        lambda t: properties(t, "IdempotencyTable").pop("PointInTimeRecoverySpecification"),
        "IdempotencyTable: no point-in-time recovery",
    ),
    (
        "supervision log group without retention",
        {},
        lambda t: properties(t, "SupervisionLogGroup").pop("RetentionInDays"),
        "SupervisionLogGroup: no retention",
    ),
    (
        "secret without the customer-managed key",
        WITH_KEY,
        lambda t: properties(t, "CustomerKeySecret").pop("KmsKeyId"),
        "CustomerKeySecret: not encrypted with KmsKeyArn",
    ),
    (
        "affinity queue policy without its TLS-only Deny",
        {},
        drop_tls_deny,
        "AffinityQueue: no Deny of insecure transport",
    ),
    # IAM conditions
    (
        "AssociateContactWithUser without connect:PreferredUserArn",
        {},
        lambda t: role_statement(t, "RouterFunctionRole", "AssociateContactWithAllowedAgents").pop("Condition"),
        "AssociateContactWithUser not conditioned on connect:PreferredUserArn",
    ),
    (
        "MonitorContact without connect:MonitorCapabilities",
        {},
        lambda t: role_statement(t, "SupervisionFunctionRole", "MonitorInstanceContacts").pop("Condition"),
        "MonitorContact not conditioned on connect:MonitorCapabilities",
    ),
    (
        "MonitorContact allowing BARGE whatever AllowBarge says",
        {},
        allow_barge_always,
        "MonitorContact allows BARGE although AllowBarge=false",
    ),
    (
        "KMS use without kms:ViaService",
        WITH_KEY,
        lambda t: role_statement(t, "RouterFunctionRole", "UseDeploymentKeyThroughServices").pop("Condition"),
        "KMS use not held to kms:ViaService",
    ),
    (
        "queue policy Allow without aws:SourceArn",
        {},
        drop_source_arn,
        "RouterQueuePolicy: Allow AllowRouterRuleOnly without an aws:SourceArn condition",
    ),
    (
        "Connect action on every resource",
        {},
        widen_connect_resource,
        "Connect resource '*' not scoped to the instance",
    ),
]


@pytest.mark.parametrize(
    ("parameters", "breakage", "expected"),
    [(parameters, breakage, expected) for _, parameters, breakage, expected in BREAKAGES],
    ids=[name for name, *_ in BREAKAGES],
)
def test_a_broken_copy_of_the_template_is_caught(
    parameters: dict[str, str], breakage: Callable[[dict[str, Any]], None], expected: str
) -> None:
    # GIVEN the real template passes
    assert guarantee_problems(stack(**parameters)) == []
    # WHEN a copy loses one guarantee, in memory
    broken = load_template()
    breakage(broken)
    # THEN the transformed copy is reported, naming what is missing
    problems = guarantee_problems(stack_of(broken, **parameters))
    assert [p for p in problems if expected in p], problems


# ---------------------------------------------------------------- least privilege


def everything() -> Stack:
    return stack(**EVERYTHING, RulesSource="ssm", RulesSsmParameterName="/contact-router/rules")


def test_every_function_has_its_own_role_and_no_managed_policy() -> None:
    deployed = everything()
    functions = deployed.of_type("AWS::Lambda::Function")
    assert set(functions) == FUNCTIONS
    roles = [deployed.properties(name)["Role"] for name in functions]
    assert roles == [{"Fn::GetAtt": [f"{name}Role", "Arn"]} for name in functions]
    assert set(deployed.of_type("AWS::IAM::Role")) == {f"{name}Role" for name in functions}
    for role in deployed.of_type("AWS::IAM::Role"):
        assert "ManagedPolicyArns" not in deployed.properties(role), role
        trust = deployed.properties(role)["AssumeRolePolicyDocument"]["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    assert not deployed.of_type("AWS::IAM::Policy")
    assert not deployed.of_type("AWS::IAM::ManagedPolicy")


def test_every_statement_is_named_exact_and_on_exact_resources() -> None:
    deployed = everything()
    sids: dict[str, list[str]] = {}
    for role, statement in deployed.iam_statements():
        assert statement["Effect"] == "Allow", (role, statement)
        assert statement.get("Sid"), (role, statement)
        sids.setdefault(role, []).append(statement["Sid"])
        assert not any("*" in action for action in as_list(statement["Action"])), (role, statement)
        for resource in as_list(statement["Resource"]):
            # a Ref/GetAtt of this stack's resource, or an ARN with nothing wider than a path wildcard
            if isinstance(resource, str):
                assert resource != "*", (role, statement)
                assert resource.startswith("arn:aws:"), (role, resource)
                assert ":*" not in resource, (role, resource)
    for role, names in sids.items():
        assert len(names) == len(set(names)), (role, names)


def test_connect_is_scoped_to_the_instance_by_resource_so_no_instance_condition_is_needed() -> None:
    # connect:InstanceId is for statements whose resource cannot name the instance; every Connect statement here
    # names the instance's own ARNs (SearchContacts authorizes on the instance itself).
    deployed = everything()
    connect = [
        (role, s)
        for role, s in deployed.iam_statements()
        if any(a.startswith("connect:") for a in as_list(s["Action"]))
    ]
    assert {role for role, _ in connect} == {f"{name}Role" for name in FUNCTIONS}
    for _, statement in connect:
        for resource in as_list(statement["Resource"]):
            assert resource == TEST_INSTANCE_ARN or resource.startswith(f"{TEST_INSTANCE_ARN}/"), resource
    sweep = statement_with(deployed.role_statements("SweepFunction"), "connect:SearchContacts")
    assert as_list(sweep["Resource"]) == [TEST_INSTANCE_ARN]


# ---------------------------------------------------------------- encryption with an optional customer-managed key


def test_without_a_key_everything_uses_aws_managed_encryption() -> None:
    deployed = stack(**SWEEP)
    for name in deployed.of_type("AWS::SQS::Queue"):
        assert deployed.properties(name)["SqsManagedSseEnabled"] is True
        assert "KmsMasterKeyId" not in deployed.properties(name)
    for name in deployed.of_type("AWS::DynamoDB::Table"):
        assert "KMSMasterKeyId" not in deployed.properties(name)["SSESpecification"]
    for kind, key in (("AWS::Logs::LogGroup", "KmsKeyId"), ("AWS::Lambda::Function", "KmsKeyArn")):
        for name in deployed.of_type(kind):
            assert key not in deployed.properties(name), name
    assert not {a for a in actions_of([s for _, s in deployed.iam_statements()]) if a.startswith("kms:")}


def test_with_a_key_every_queue_table_secret_log_group_and_environment_uses_it() -> None:
    deployed = stack(**SWEEP, **WITH_KEY)
    assert guarantee_problems(deployed) == []  # which checks each resource of each kind for the key
    for name in deployed.of_type("AWS::SQS::Queue"):
        assert "SqsManagedSseEnabled" not in deployed.properties(name)
    for name in deployed.of_type("AWS::DynamoDB::Table"):
        assert deployed.properties(name)["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": KEY,
        }


@pytest.mark.parametrize(
    ("function", "actions", "services"),
    [
        (
            "RouterFunction",
            {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"},
            {"sqs", "dynamodb", "secretsmanager", "lambda"},
        ),
        (
            "SupervisionFunction",
            {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"},
            {"sqs", "dynamodb", "lambda"},
        ),
        (
            "AffinityFunction",
            {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"},
            {"sqs", "dynamodb", "secretsmanager", "lambda"},
        ),
        ("SweepFunction", {"kms:Decrypt", "kms:GenerateDataKey"}, {"sqs", "lambda"}),
    ],
)
def test_each_role_uses_the_key_only_through_the_services_it_calls(
    function: str, actions: set[str], services: set[str]
) -> None:
    statements = stack(**SWEEP, **WITH_KEY).role_statements(function)
    (kms,) = [s for s in statements if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert set(as_list(kms["Action"])) == actions
    assert kms["Resource"] == KEY
    assert set(kms["Condition"]["StringEquals"]["kms:ViaService"]) == {
        f"{service}.eu-west-2.amazonaws.com" for service in services
    }


def test_kms_key_parameter_takes_a_key_arn_not_an_alias() -> None:
    pattern = load_template()["Parameters"]["KmsKeyArn"]["AllowedPattern"]
    assert re.fullmatch(pattern, "")
    assert re.fullmatch(pattern, KEY)
    assert re.fullmatch(pattern, "arn:aws:kms:eu-west-2:123456789012:key/mrk-1234567890abcdef1234567890abcdef")
    assert not re.fullmatch(pattern, "arn:aws:kms:eu-west-2:123456789012:alias/contact-router")
    assert not re.fullmatch(pattern, "alias/aws/sqs")


# ---------------------------------------------------------------- alarms


def test_alarms_cover_every_dead_letter_queue_function_error_and_throttle() -> None:
    deployed = stack(**SWEEP)
    assert guarantee_problems(deployed) == []
    for name, alarm in deployed.of_type("AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name
        assert props["TreatMissingData"] == "notBreaching", name
        assert props["AlarmDescription"].startswith("contact-router"), name


@pytest.mark.parametrize("parameters", [{"AlarmTopicArn": TOPIC}, {"AlarmTopicArn": TOPIC, **SWEEP}])
def test_every_alarm_notifies_the_topic_on_alarm_and_recovery(parameters: dict[str, str]) -> None:
    deployed = stack(**parameters)
    for name, alarm in deployed.of_type("AWS::CloudWatch::Alarm").items():
        assert alarm["Properties"]["AlarmActions"] == [TOPIC], name
        assert alarm["Properties"]["OKActions"] == [TOPIC], name
    for alarm in stack().of_type("AWS::CloudWatch::Alarm").values():
        assert "AlarmActions" not in alarm["Properties"]


def failure_share_alarm(deployed: Stack) -> dict[str, Any]:
    props: dict[str, Any] = deployed.properties("RoutingFailureShareAlarm")
    return props


def test_failure_share_alarm_divides_failed_and_rejected_by_every_routing_decision() -> None:
    alarm = failure_share_alarm(stack())
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    stats = {query["Id"]: query["MetricStat"] for query in alarm["Metrics"] if "MetricStat" in query}
    # every routing decision, from the router's own service dimension
    assert {stat["Metric"]["MetricName"] for stat in stats.values()} == ROUTING_DECISIONS
    for stat in stats.values():
        assert stat["Metric"]["Namespace"] == "ContactRouter"
        assert stat["Metric"]["Dimensions"] == [{"Name": "service", "Value": "contact-router"}]
        assert (stat["Stat"], stat["Period"]) == ("Sum", 300)
    ids = {stat["Metric"]["MetricName"]: query_id for query_id, stat in stats.items()}
    # the denominator adds them all; the returned share puts Failed and Rejected over it
    decided = queries["decided"]["Expression"]
    assert all(f"FILL({query_id}, 0)" in decided for query_id in stats)
    (returned,) = [query for query in alarm["Metrics"] if query["ReturnData"]]
    assert f"FILL({ids['Failed']}, 0)" in returned["Expression"]
    assert f"FILL({ids['Rejected']}, 0)" in returned["Expression"]
    assert "/ decided" in returned["Expression"]
    assert len(stats) <= 10  # CloudWatch's limit of metrics per alarm
    assert 0 < float(alarm["Threshold"]) <= 25
    assert "MetricName" not in alarm


# ---------------------------------------------------------------- dashboard


def dashboard_metrics() -> list[list[Any]]:
    body = json.loads(stack().properties("OperationsDashboard")["DashboardBody"])
    metrics: list[list[Any]] = []
    for widget in body["widgets"]:
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "eu-west-2"
            metrics.extend(widget["properties"]["metrics"])
    return metrics


@pytest.mark.parametrize(
    ("service", "outcomes"),
    [
        ("contact-router", ROUTING_OUTCOMES),
        ("contact-router-supervision", SUPERVISION_OUTCOMES),
        ("contact-router-affinity", AFFINITY_OUTCOMES),
        ("contact-router-flow", FLOW_OUTCOMES),
    ],
)
def test_dashboard_shows_every_outcome_of_every_function(service: str, outcomes: set[str]) -> None:
    shown = {
        metric[1]
        for metric in dashboard_metrics()
        if isinstance(metric[0], str) and metric[0] == "ContactRouter" and metric[2:4] == ["service", service]
    }
    assert shown == outcomes


def test_the_dashboard_and_alarm_know_every_outcome_the_code_emits() -> None:
    # a new outcome in the code must be added to the dashboard (and considered for the failure-share alarm)
    from contact_router.models.affinity import AffinityOutcome
    from contact_router.models.decision import Outcome
    from contact_router.models.supervision import SupervisionOutcome

    assert {o.value for o in Outcome} == ROUTING_OUTCOMES | FLOW_OUTCOMES
    assert {o.value for o in SupervisionOutcome} == SUPERVISION_OUTCOMES
    assert {o.value for o in AffinityOutcome} == AFFINITY_OUTCOMES


def test_dashboard_shows_dead_letter_queues_queue_ages_and_function_health() -> None:
    metrics = [m for m in dashboard_metrics() if isinstance(m[0], str)]
    depth = {m[3] for m in metrics if m[1] == "ApproximateNumberOfMessagesVisible"}
    assert depth == {
        f"${{{q}.QueueName}}" for q in ("DeadLetterQueue", "SupervisionDeadLetterQueue", "AffinityDeadLetterQueue")
    }
    age = {m[3] for m in metrics if m[1] == "ApproximateAgeOfOldestMessage"}
    assert age == {f"${{{q}.QueueName}}" for q in ("RouterQueue", "SupervisionQueue", "AffinityQueue")}
    for metric in ("Errors", "Throttles"):
        functions = {m[3] for m in metrics if m[1] == metric}
        assert {
            "${RouterFunction}",
            "${SupervisionFunction}",
            "${AffinityFunction}",
            "contact-router-sweep",
        } == functions
    # the share the alarm watches, with the same formula
    expressions = [m[0]["expression"] for m in dashboard_metrics() if isinstance(m[0], dict)]
    assert any("(mfailed + mrejected) / decided" in e for e in expressions)


# ---------------------------------------------------------------- the optional sweep


def test_the_sweep_is_off_by_default_and_leaves_nothing_behind() -> None:
    spec = load_template()["Parameters"]
    assert spec["SweepEnabled"]["Default"] == "false"
    assert spec["SweepQueueIds"]["Type"] == "CommaDelimitedList"
    assert (spec["SweepMinWaitSeconds"]["Type"], spec["SweepMinWaitSeconds"]["Default"]) == ("Number", 120)
    deployed = stack()
    assert not [name for name in deployed.resources if "Sweep" in name]
    assert not [name for name in deployed.outputs if "Sweep" in name]
    # every sweep resource hangs on the one condition
    for name, resource in load_template()["Resources"].items():
        if name.startswith("Sweep"):
            assert resource.get("Condition") == "SweepOn", name


def test_the_sweep_runs_every_5_minutes_with_a_dead_letter_queue_and_no_retries() -> None:
    deployed = stack(**SWEEP)
    rule = deployed.properties("SweepScheduleRule")
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    (rule_target,) = rule["Targets"]
    assert rule_target["Arn"] == {"Fn::GetAtt": ["SweepFunction", "Arn"]}
    assert int(rule_target["RetryPolicy"]["MaximumEventAgeInSeconds"]) < 300
    assert rule_target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]}}
    permission = deployed.properties("SweepInvokePermission")
    assert permission["SourceArn"] == {"Fn::GetAtt": ["SweepScheduleRule", "Arn"]}
    config = deployed.properties("SweepEventInvokeConfig")
    assert config["MaximumRetryAttempts"] == 2, "a retried run sweeps the same window"
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]}


def test_the_sweep_environment_and_role() -> None:
    deployed = stack(**SWEEP, SweepMinWaitSeconds="300")
    function = deployed.properties("SweepFunction")
    assert function["Handler"] == "contact_router.handlers.sweep.lambda_handler"
    assert function["FunctionName"] == "contact-router-sweep"
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "SweepLogGroup"}
    env = function["Environment"]["Variables"]
    assert env == {
        "CONNECT_INSTANCE_ARN": TEST_INSTANCE_ARN,
        "SWEEP_QUEUE_IDS": SWEEP["SweepQueueIds"],
        "SWEEP_MIN_WAIT_SECONDS": "300",
        "ROUTER_QUEUE_URL": {"Ref": "RouterQueue"},
        "POWERTOOLS_SERVICE_NAME": "contact-router-sweep",
        "POWERTOOLS_METRICS_NAMESPACE": "ContactRouter",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    statements = deployed.role_statements("SweepFunction")
    assert actions_of(statements) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "connect:SearchContacts",
        "sqs:SendMessage",
    }
    senders = [s for s in statements if "sqs:SendMessage" in as_list(s["Action"])]
    assert sorted(json.dumps(s["Resource"]) for s in senders) == sorted(
        json.dumps({"Fn::GetAtt": [queue, "Arn"]}) for queue in ("RouterQueue", "SweepDeadLetterQueue")
    )


def test_the_sweep_needs_at_least_one_queue_id() -> None:
    rule = load_template()["Rules"]["SweepNeedsQueues"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "SweepEnabled"}, "true"]}
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Contains": [{"Ref": "SweepQueueIds"}, ""]}]}
