"""template.yaml, supervision path: after the SAM transform it deploys its own rule, queue, dead-letter queue,
alarms, log group and least-privilege role, and MonitorContact is held to silent monitoring unless AllowBarge.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.cfn import (
    ROOT,
    TEST_INSTANCE_ARN,
    Stack,
    actions_of,
    as_list,
    load_template,
    stack,
    statement_with,
    supervision_event_pattern,
)
from tests.support.samconfig import samconfig_overrides

SUPERVISION_HANDLER = "contact_router.handlers.supervision.lambda_handler"
SUPERVISION_ENV_NAMES = {
    "POWERTOOLS_TRACE_DISABLED",
    "CONNECT_INSTANCE_ARN",
    "RULES_SOURCE",
    "RULES_SSM_PARAMETER",
    "RULES_APPCONFIG_APPLICATION",
    "RULES_APPCONFIG_ENVIRONMENT",
    "RULES_APPCONFIG_PROFILE",
    "RULES_CACHE_SECONDS",
    "DRY_RUN",
    "ALLOW_BARGE",
    "SUPERVISED_CHANNELS",
    "IDEMPOTENCY_TABLE",
    "DEAD_LETTER_QUEUE_URL",
    "MAX_RECEIVE_COUNT",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}
GETATT_QUEUE = {"Fn::GetAtt": ["SupervisionQueue", "Arn"]}
GETATT_DLQ = {"Fn::GetAtt": ["SupervisionDeadLetterQueue", "Arn"]}
APPCONFIG_IDS = {
    "RulesSource": "appconfig",
    "RulesAppConfigApplication": "abc1234",
    "RulesAppConfigEnvironment": "env5678",
    "RulesAppConfigProfile": "prf9012",
}
SSM_RULES = {"RulesSource": "ssm", "RulesSsmParameterName": "/contact-router/rules"}
# The router path's resources; the supervision role must reach none of them (and the other way round).
ROUTER_RESOURCES = {"RouterQueue", "DeadLetterQueue", "RouterLogGroup", "RouterRule", "RouterFunction"}
SUPERVISION_RESOURCES = {
    "SupervisionQueue",
    "SupervisionDeadLetterQueue",
    "SupervisionLogGroup",
    "SupervisionRule",
    "SupervisionFunction",
}


def supervision_function(deployed: Stack) -> dict[str, Any]:
    return deployed.properties("SupervisionFunction")


def supervision_env(deployed: Stack) -> dict[str, Any]:
    variables: dict[str, Any] = supervision_function(deployed)["Environment"]["Variables"]
    return variables


def supervision_statements(deployed: Stack) -> list[dict[str, Any]]:
    return deployed.role_statements("SupervisionFunction")


def referenced_resources(node: Any) -> set[str]:
    """Logical ids a node points at through Ref / Fn::GetAtt."""
    if isinstance(node, list):
        return set().union(*(referenced_resources(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    if set(node) == {"Ref"} and isinstance(node["Ref"], str):
        return {node["Ref"]}
    if set(node) == {"Fn::GetAtt"}:
        return {node["Fn::GetAtt"][0]}
    return set().union(*(referenced_resources(value) for value in node.values())) if node else set()


def monitor_allowed(statement: dict[str, Any], requested: list[str]) -> bool:
    """Does this Allow statement's condition admit a MonitorContact asking for ``requested`` capabilities?

    IAM's ForAllValues:StringEquals: true when every requested value is in the list (and when none are asked).
    """
    ((operator, keys),) = statement["Condition"].items()
    assert operator == "ForAllValues:StringEquals"
    ((key, allowed),) = keys.items()
    assert key == "connect:MonitorCapabilities"
    return all(value in as_list(allowed) for value in requested)


# ---------------------------------------------------------------- the function


def test_supervision_function_runs_the_supervision_handler_on_python313_arm64() -> None:
    function = supervision_function(stack())
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == SUPERVISION_HANDLER
    assert function["FunctionName"] == "contact-router-supervision"
    assert load_template()["Resources"]["SupervisionFunction"]["Properties"]["CodeUri"].rstrip("/") == "functions"


def test_supervision_handler_module_defines_the_handler_once_it_exists() -> None:
    module, _, name = SUPERVISION_HANDLER.rpartition(".")
    path = ROOT / "functions" / Path(*module.split(".")).with_suffix(".py")
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} not written yet")
    assert re.search(rf"^(def {name}\(|{name} = )", path.read_text(), re.MULTILINE)


def test_supervision_queue_feeds_the_function_in_batches_with_capped_concurrency() -> None:
    deployed = stack()
    mapping = deployed.event_source_mapping("SupervisionFunction")
    assert mapping["EventSourceArn"] == GETATT_QUEUE
    assert mapping["BatchSize"] == 10
    assert 0 <= int(mapping["MaximumBatchingWindowInSeconds"]) <= 5
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert int(mapping["ScalingConfig"]["MaximumConcurrency"]) == 2
    # the router keeps its own queue and its own cap
    assert deployed.event_source_mapping("RouterFunction")["EventSourceArn"] == {"Fn::GetAtt": ["RouterQueue", "Arn"]}


def test_supervision_max_concurrency_parameter_drives_only_the_supervision_mapping() -> None:
    deployed = stack(SupervisionMaxConcurrency="7")
    assert int(deployed.event_source_mapping("SupervisionFunction")["ScalingConfig"]["MaximumConcurrency"]) == 7
    assert int(deployed.event_source_mapping("RouterFunction")["ScalingConfig"]["MaximumConcurrency"]) == 2
    spec = load_template()["Parameters"]["SupervisionMaxConcurrency"]
    assert (spec["Type"], spec["MinValue"], spec["Default"]) == ("Number", 2, 2)


def test_supervision_queue_visibility_timeout_covers_six_function_timeouts_plus_batching_window() -> None:
    deployed = stack()
    timeout = int(supervision_function(deployed)["Timeout"])
    window = int(deployed.event_source_mapping("SupervisionFunction")["MaximumBatchingWindowInSeconds"])
    assert int(deployed.properties("SupervisionQueue")["VisibilityTimeout"]) >= 6 * timeout + window


def test_supervision_logs_to_its_own_log_group_with_retention() -> None:
    deployed = stack(LogRetentionDays="90")
    function = supervision_function(deployed)
    log_group = deployed.properties("SupervisionLogGroup")
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "SupervisionLogGroup"}
    assert log_group["LogGroupName"] == f"/aws/lambda/{function['FunctionName']}"
    assert int(log_group["RetentionInDays"]) == 90
    assert int(stack().properties("SupervisionLogGroup")["RetentionInDays"]) == 30


# ---------------------------------------------------------------- environment


@pytest.mark.parametrize("variant", [{}, SSM_RULES, APPCONFIG_IDS], ids=["bundled", "ssm", "appconfig"])
def test_supervision_reads_the_same_rules_as_the_router(variant: dict[str, str]) -> None:
    deployed = stack(**variant)
    env = supervision_env(deployed)
    assert set(env) <= SUPERVISION_ENV_NAMES, set(env) - SUPERVISION_ENV_NAMES
    router_env = deployed.properties("RouterFunction")["Environment"]["Variables"]

    def rules(variables: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in variables.items() if name.startswith("RULES_")}

    assert rules(env) == rules(router_env)
    assert rules(env)["RULES_SOURCE"] == variant.get("RulesSource", "bundled")


def test_supervision_environment_reflects_parameters_and_its_own_resources() -> None:
    env = supervision_env(stack())
    assert env["CONNECT_INSTANCE_ARN"] == TEST_INSTANCE_ARN
    assert env["DRY_RUN"] == "true"
    assert env["ALLOW_BARGE"] == "false"
    assert env["SUPERVISED_CHANNELS"] == "VOICE,CHAT"
    assert env["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    assert env["DEAD_LETTER_QUEUE_URL"] == {"Ref": "SupervisionDeadLetterQueue"}
    assert env["POWERTOOLS_SERVICE_NAME"] == "contact-router-supervision"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ContactRouter"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"

    env = supervision_env(stack(DryRun="false", AllowBarge="true", LogLevel="DEBUG", SupervisedChannels="CHAT,TASK"))
    assert (env["DRY_RUN"], env["ALLOW_BARGE"], env["POWERTOOLS_LOG_LEVEL"]) == ("false", "true", "DEBUG")
    assert env["SUPERVISED_CHANNELS"] == "CHAT,TASK"


def test_the_router_keeps_its_own_service_name() -> None:
    router_env = stack().properties("RouterFunction")["Environment"]["Variables"]
    assert router_env["POWERTOOLS_SERVICE_NAME"] == "contact-router"
    assert router_env["DEAD_LETTER_QUEUE_URL"] == {"Ref": "DeadLetterQueue"}


# ---------------------------------------------------------------- the rule and the queues


def test_supervision_rule_selects_connected_contacts_of_the_instance_on_supervised_channels() -> None:
    assert supervision_event_pattern() == {
        "source": ["aws.connect"],
        "detail-type": ["Amazon Connect Contact Event"],
        "detail": {
            "eventType": ["CONNECTED_TO_AGENT"],
            "channel": ["VOICE", "CHAT"],
            "instanceArn": [TEST_INSTANCE_ARN],
        },
    }


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        ("CHAT", ["CHAT"]),
        ("TASK,EMAIL", ["TASK", "EMAIL"]),
        ("VOICE,CHAT,TASK,EMAIL", ["VOICE", "CHAT", "TASK", "EMAIL"]),
    ],
)
def test_supervision_pattern_and_environment_follow_supervised_channels(channels: str, expected: list[str]) -> None:
    deployed = stack(SupervisedChannels=channels)
    assert supervision_event_pattern(SupervisedChannels=channels)["detail"]["channel"] == expected
    assert supervision_env(deployed)["SUPERVISED_CHANNELS"] == ",".join(expected)
    # the router rule does not depend on it
    assert deployed.properties("RouterRule")["EventPattern"]["detail"]["channel"] == ["CHAT", "TASK", "EMAIL"]


def test_supervised_channels_parameter_is_a_list_of_connect_channels() -> None:
    spec = load_template()["Parameters"]["SupervisedChannels"]
    assert spec["Type"] == "CommaDelimitedList"
    assert spec["Default"] == "VOICE,CHAT"
    assert sorted(spec["AllowedValues"]) == ["CHAT", "EMAIL", "TASK", "VOICE"]


# ---------------------------------------------------------------- alarms


def test_supervision_dead_letter_queue_alarms_on_the_first_message() -> None:
    alarm = stack().alarm_on(
        "ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": ["SupervisionDeadLetterQueue", "QueueName"]}
    )
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert float(alarm["Threshold"]) == 1


def test_supervision_function_errors_are_alarmed() -> None:
    alarm = stack().alarm_on("Errors", {"Ref": "SupervisionFunction"})
    assert alarm["Namespace"] == "AWS/Lambda"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert float(alarm["Threshold"]) == 1


def test_supervision_backlog_is_alarmed() -> None:
    alarm = stack().alarm_on("ApproximateAgeOfOldestMessage", {"Fn::GetAtt": ["SupervisionQueue", "QueueName"]})
    assert alarm["Namespace"] == "AWS/SQS"
    assert 0 < float(alarm["Threshold"]) <= 300


def test_supervision_alarms_notify_the_alarm_topic_when_given() -> None:
    topic = "arn:aws:sns:eu-west-2:123456789012:ops"
    deployed = stack(AlarmTopicArn=topic)
    names = [name for name in deployed.of_type("AWS::CloudWatch::Alarm") if name.startswith("Supervision")]
    assert len(names) >= 2
    for name in names:
        assert deployed.properties(name)["AlarmActions"] == [topic]
        assert deployed.properties(name)["OKActions"] == [topic]


# ---------------------------------------------------------------- IAM


def test_supervision_connect_permissions_are_exact_actions_on_the_instance_only() -> None:
    statements = supervision_statements(stack())
    connect = [s for s in statements if any(a.startswith("connect:") for a in as_list(s["Action"]))]
    assert actions_of(connect) == {
        "connect:DescribeContact",
        "connect:GetCurrentUserData",
        "connect:SearchUsers",
        "connect:DescribeUser",
        "connect:MonitorContact",
    }
    for statement in connect:
        assert statement["Effect"] == "Allow"
        for resource in as_list(statement["Resource"]):
            assert resource == TEST_INSTANCE_ARN or resource.startswith(f"{TEST_INSTANCE_ARN}/"), resource
    assert as_list(statement_with(connect, "connect:DescribeContact")["Resource"]) == [f"{TEST_INSTANCE_ARN}/contact/*"]
    # each on the resources the Service Authorization Reference gives it (tests/template/test_iam_reference.py)
    assert as_list(statement_with(connect, "connect:SearchUsers")["Resource"]) == [TEST_INSTANCE_ARN]
    assert as_list(statement_with(connect, "connect:DescribeUser")["Resource"]) == [f"{TEST_INSTANCE_ARN}/agent/*"]
    assert sorted(as_list(statement_with(connect, "connect:GetCurrentUserData")["Resource"])) == sorted(
        f"{TEST_INSTANCE_ARN}/{kind}/*" for kind in ("agent", "agent-group", "queue", "routing-profile")
    )


@pytest.mark.parametrize(
    ("allow_barge", "capabilities"),
    [("false", ["SILENT_MONITOR"]), ("true", ["SILENT_MONITOR", "BARGE"])],
)
def test_monitor_contact_is_conditioned_on_capabilities_that_follow_allow_barge(
    allow_barge: str, capabilities: list[str]
) -> None:
    deployed = stack(AllowBarge=allow_barge)
    monitor = statement_with(supervision_statements(deployed), "connect:MonitorContact")
    assert monitor["Sid"]
    assert as_list(monitor["Action"]) == ["connect:MonitorContact"]
    assert sorted(as_list(monitor["Resource"])) == [
        TEST_INSTANCE_ARN,
        f"{TEST_INSTANCE_ARN}/agent/*",
        f"{TEST_INSTANCE_ARN}/contact/*",
    ]
    assert monitor["Condition"] == {"ForAllValues:StringEquals": {"connect:MonitorCapabilities": capabilities}}
    # the function is told the same thing IAM enforces
    assert supervision_env(deployed)["ALLOW_BARGE"] == allow_barge


@pytest.mark.parametrize(
    ("allow_barge", "requested", "allowed"),
    [
        ("false", [], True),
        ("false", ["SILENT_MONITOR"], True),
        ("false", ["SILENT_MONITOR", "BARGE"], False),
        ("false", ["BARGE"], False),
        ("true", ["SILENT_MONITOR"], True),
        ("true", ["SILENT_MONITOR", "BARGE"], True),
        ("true", ["BARGE"], True),
    ],
)
def test_barge_is_allowed_by_iam_only_when_allow_barge(allow_barge: str, requested: list[str], allowed: bool) -> None:
    monitor = statement_with(supervision_statements(stack(AllowBarge=allow_barge)), "connect:MonitorContact")
    assert monitor_allowed(monitor, requested) is allowed


def test_allow_barge_parameter_defaults_to_silent_monitoring() -> None:
    spec = load_template()["Parameters"]["AllowBarge"]
    assert spec["Default"] == "false"
    assert sorted(spec["AllowedValues"]) == ["false", "true"]


def test_supervision_role_reaches_only_its_own_queues_log_group_and_the_shared_table() -> None:
    statements = supervision_statements(stack())
    send = statement_with(statements, "sqs:SendMessage")
    assert as_list(send["Action"]) == ["sqs:SendMessage"]
    assert send["Resource"] == GETATT_DLQ
    poll = statement_with(statements, "sqs:ReceiveMessage")
    assert poll["Resource"] == GETATT_QUEUE
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} <= set(as_list(poll["Action"]))
    table = statement_with(statements, "dynamodb:PutItem")
    assert table["Resource"] == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}
    assert set(as_list(table["Action"])) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    logs = statement_with(statements, "logs:PutLogEvents")
    assert logs["Resource"] == {"Fn::GetAtt": ["SupervisionLogGroup", "Arn"]}
    assert set(as_list(logs["Action"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_the_two_paths_do_not_reach_each_others_resources() -> None:
    deployed = stack()
    supervision = referenced_resources(supervision_statements(deployed))
    router = referenced_resources(deployed.role_statements("RouterFunction"))
    assert not supervision & ROUTER_RESOURCES, supervision & ROUTER_RESOURCES
    assert not router & SUPERVISION_RESOURCES, router & SUPERVISION_RESOURCES
    assert "connect:MonitorContact" not in actions_of(deployed.role_statements("RouterFunction"))
    assert "connect:AssociateContactWithUser" not in actions_of(supervision_statements(deployed))
    assert "ManagedPolicyArns" not in deployed.properties("SupervisionFunctionRole")


def test_supervision_rules_store_permissions_follow_rules_source() -> None:
    assert not {a for a in actions_of(supervision_statements(stack())) if a.startswith(("ssm:", "appconfig:"))}

    ssm = statement_with(supervision_statements(stack(**SSM_RULES)), "ssm:GetParameter")
    assert as_list(ssm["Action"]) == ["ssm:GetParameter"]
    assert ssm["Resource"] == "arn:aws:ssm:eu-west-2:123456789012:parameter/contact-router/rules"

    appconfig = statement_with(supervision_statements(stack(**APPCONFIG_IDS)), "appconfig:GetLatestConfiguration")
    assert set(as_list(appconfig["Action"])) == {
        "appconfig:StartConfigurationSession",
        "appconfig:GetLatestConfiguration",
    }
    assert appconfig["Resource"] == (
        "arn:aws:appconfig:eu-west-2:123456789012:application/abc1234/environment/env5678/configuration/prf9012"
    )
    assert not {a for a in actions_of(supervision_statements(stack(**SSM_RULES))) if a.startswith("appconfig:")}


# ---------------------------------------------------------------- outputs and samconfig


def test_outputs_name_the_supervision_resources() -> None:
    assert {
        "SupervisionFunctionName",
        "SupervisionRuleArn",
        "SupervisionQueueUrl",
        "SupervisionQueueArn",
        "SupervisionDeadLetterQueueUrl",
        "SupervisionDeadLetterQueueArn",
    } <= set(stack().outputs)


def test_samconfig_prod_forbids_barge_explicitly_and_says_how_to_enable_it() -> None:
    text = (ROOT / "samconfig.toml").read_text()
    overrides = {env: samconfig_overrides(env) for env in ("default", "prod")}
    assert overrides["prod"]["AllowBarge"] == "false"
    assert overrides["default"].get("AllowBarge", "false") == "false"
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert any("AllowBarge=true" in line for line in comments)
