"""template.yaml, returning customers: after the SAM transform the affinity recorder has its own rule (every
channel), queue, dead-letter queue, alarms, log group and least-privilege role; the affinity table and the HMAC
secret are encrypted and kept; and the router may only read them.
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
    affinity_event_pattern,
    as_list,
    load_template,
    stack,
    statement_with,
)

AFFINITY_HANDLER = "contact_router.handlers.affinity.lambda_handler"
AFFINITY_ENV = {
    "CONNECT_INSTANCE_ARN",
    "AFFINITY_TABLE",
    "AFFINITY_RETENTION_DAYS",
    "CUSTOMER_KEY_SECRET_ARN",
    "CUSTOMER_PROFILE_ATTRIBUTE",
    "PHONE_DEFAULT_REGION",
    "DEAD_LETTER_QUEUE_URL",
    "MAX_RECEIVE_COUNT",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_TRACE_DISABLED",
}
GETATT_TABLE = {"Fn::GetAtt": ["AffinityTable", "Arn"]}
REF_SECRET = {"Ref": "CustomerKeySecret"}
GETATT_QUEUE = {"Fn::GetAtt": ["AffinityQueue", "Arn"]}
GETATT_DLQ = {"Fn::GetAtt": ["AffinityDeadLetterQueue", "Arn"]}
DYNAMODB_WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:TransactWriteItems",
}
AFFINITY_RESOURCES = {
    "AffinityQueue",
    "AffinityDeadLetterQueue",
    "AffinityLogGroup",
    "AffinityRule",
    "AffinityFunction",
}
OTHER_PATHS = {
    "RouterQueue",
    "DeadLetterQueue",
    "RouterLogGroup",
    "SupervisionQueue",
    "SupervisionDeadLetterQueue",
    "SupervisionLogGroup",
    "IdempotencyTable",
}


def affinity_env(deployed: Stack) -> dict[str, Any]:
    variables: dict[str, Any] = deployed.properties("AffinityFunction")["Environment"]["Variables"]
    return variables


def affinity_statements(deployed: Stack) -> list[dict[str, Any]]:
    return deployed.role_statements("AffinityFunction")


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


def statements_on(statements: list[dict[str, Any]], resource: Any) -> list[dict[str, Any]]:
    return [s for s in statements if resource in as_list(s["Resource"])]


# ---------------------------------------------------------------- the function


def test_affinity_function_runs_the_affinity_handler_on_python313_arm64() -> None:
    function = stack().properties("AffinityFunction")
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == AFFINITY_HANDLER
    assert function["FunctionName"] == "contact-router-affinity"
    assert load_template()["Resources"]["AffinityFunction"]["Properties"]["CodeUri"].rstrip("/") == "functions"


def test_affinity_handler_module_defines_the_handler_once_it_exists() -> None:
    module, _, name = AFFINITY_HANDLER.rpartition(".")
    path = ROOT / "functions" / Path(*module.split(".")).with_suffix(".py")
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} not written yet")
    assert re.search(rf"^(def {name}\(|{name} = )", path.read_text(), re.MULTILINE)


def test_affinity_queue_feeds_the_function_in_batches_with_capped_concurrency() -> None:
    deployed = stack()
    mapping = deployed.event_source_mapping("AffinityFunction")
    assert mapping["EventSourceArn"] == GETATT_QUEUE
    assert mapping["BatchSize"] == 10
    assert 0 <= int(mapping["MaximumBatchingWindowInSeconds"]) <= 5
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert int(mapping["ScalingConfig"]["MaximumConcurrency"]) == 2


def test_affinity_max_concurrency_parameter_drives_only_the_affinity_mapping() -> None:
    deployed = stack(AffinityMaxConcurrency="4")
    assert int(deployed.event_source_mapping("AffinityFunction")["ScalingConfig"]["MaximumConcurrency"]) == 4
    assert int(deployed.event_source_mapping("RouterFunction")["ScalingConfig"]["MaximumConcurrency"]) == 2
    assert int(deployed.event_source_mapping("SupervisionFunction")["ScalingConfig"]["MaximumConcurrency"]) == 2
    spec = load_template()["Parameters"]["AffinityMaxConcurrency"]
    assert (spec["Type"], spec["MinValue"], spec["Default"]) == ("Number", 2, 2)


def test_affinity_queue_visibility_timeout_covers_six_function_timeouts_plus_batching_window() -> None:
    deployed = stack()
    timeout = int(deployed.properties("AffinityFunction")["Timeout"])
    window = int(deployed.event_source_mapping("AffinityFunction")["MaximumBatchingWindowInSeconds"])
    assert int(deployed.properties("AffinityQueue")["VisibilityTimeout"]) >= 6 * timeout + window


def test_affinity_logs_to_its_own_log_group_with_retention() -> None:
    deployed = stack(LogRetentionDays="90")
    function = deployed.properties("AffinityFunction")
    log_group = deployed.properties("AffinityLogGroup")
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "AffinityLogGroup"}
    assert log_group["LogGroupName"] == f"/aws/lambda/{function['FunctionName']}"
    assert int(log_group["RetentionInDays"]) == 90


# ---------------------------------------------------------------- environment


def test_affinity_environment_names_its_own_resources_and_the_parameters() -> None:
    env = affinity_env(stack())
    assert set(env) == AFFINITY_ENV
    assert env["CONNECT_INSTANCE_ARN"] == TEST_INSTANCE_ARN
    assert env["AFFINITY_TABLE"] == {"Ref": "AffinityTable"}
    assert env["AFFINITY_RETENTION_DAYS"] == "90"
    assert env["CUSTOMER_KEY_SECRET_ARN"] == REF_SECRET
    assert env["CUSTOMER_PROFILE_ATTRIBUTE"] == "customerProfileId"
    assert env["DEAD_LETTER_QUEUE_URL"] == {"Ref": "AffinityDeadLetterQueue"}
    assert env["POWERTOOLS_SERVICE_NAME"] == "contact-router-affinity"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ContactRouter"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"

    assert env["PHONE_DEFAULT_REGION"] == ""  # national numbers are no key unless a country is given

    deployed = stack(
        AffinityRetentionDays="7", CustomerProfileAttribute="crmProfile", PhoneDefaultRegion="GB", LogLevel="DEBUG"
    )
    env = affinity_env(deployed)
    assert (env["AFFINITY_RETENTION_DAYS"], env["CUSTOMER_PROFILE_ATTRIBUTE"]) == ("7", "crmProfile")
    assert env["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    # the router hashes customer keys with the same attribute, phone country and secret
    router = deployed.properties("RouterFunction")["Environment"]["Variables"]
    assert router["CUSTOMER_PROFILE_ATTRIBUTE"] == "crmProfile"
    assert router["PHONE_DEFAULT_REGION"] == env["PHONE_DEFAULT_REGION"] == "GB"
    assert router["CUSTOMER_KEY_SECRET_ARN"] == env["CUSTOMER_KEY_SECRET_ARN"]
    assert router["AFFINITY_TABLE"] == env["AFFINITY_TABLE"]


def test_affinity_parameters_have_the_documented_defaults() -> None:
    parameters = load_template()["Parameters"]
    retention = parameters["AffinityRetentionDays"]
    assert (retention["Type"], retention["Default"], retention["MinValue"]) == ("Number", 90, 1)
    attribute = parameters["CustomerProfileAttribute"]
    assert attribute["Default"] == "customerProfileId"
    assert re.fullmatch(attribute["AllowedPattern"], "")  # empty: no Customer Profiles id
    assert not re.fullmatch(attribute["AllowedPattern"], "a b")


# ---------------------------------------------------------------- the rule and the queues


def test_affinity_rule_selects_connected_contacts_of_the_instance_on_every_channel() -> None:
    assert affinity_event_pattern() == {
        "source": ["aws.connect"],
        "detail-type": ["Amazon Connect Contact Event"],
        "detail": {
            "eventType": ["CONNECTED_TO_AGENT"],
            "channel": ["VOICE", "CHAT", "TASK", "EMAIL"],
            "instanceArn": [TEST_INSTANCE_ARN],
        },
    }


def test_affinity_rule_does_not_follow_the_supervised_or_routed_channels() -> None:
    narrow = affinity_event_pattern(SupervisedChannels="CHAT", RouteVoice="false")
    assert sorted(narrow["detail"]["channel"]) == ["CHAT", "EMAIL", "TASK", "VOICE"]


# ---------------------------------------------------------------- alarms


def test_affinity_dead_letter_queue_errors_and_throttles_are_alarmed() -> None:
    deployed = stack()
    dlq = deployed.alarm_on(
        "ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": ["AffinityDeadLetterQueue", "QueueName"]}
    )
    assert (dlq["Namespace"], float(dlq["Threshold"])) == ("AWS/SQS", 1)
    for metric in ("Errors", "Throttles"):
        alarm = deployed.alarm_on(metric, {"Ref": "AffinityFunction"})
        assert alarm["Namespace"] == "AWS/Lambda"
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert float(alarm["Threshold"]) == 1


# ---------------------------------------------------------------- the table and the secret


def test_affinity_table_is_keyed_by_pk_with_ttl_encryption_and_point_in_time_recovery() -> None:
    deployed = stack()
    table = deployed.properties("AffinityTable")
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert "GlobalSecondaryIndexes" not in table
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    # imported owner mappings and months of last agents survive a stack deletion, and so does their key
    for name in ("AffinityTable", "CustomerKeySecret"):
        resource = deployed.resources[name]
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_customer_key_secret_is_generated_64_alphanumerics_and_never_rotated() -> None:
    deployed = stack()
    secret = deployed.properties("CustomerKeySecret")
    generate = secret["GenerateSecretString"]
    assert generate["PasswordLength"] == 64
    assert generate["ExcludePunctuation"] is True
    assert "SecretString" not in secret  # never in the template
    # rotating it would orphan every stored key: no rotation schedule, and the template says why
    assert not deployed.of_type("AWS::SecretsManager::RotationSchedule")
    assert "rotating it would orphan every stored" in (ROOT / "template.yaml").read_text()
    # no output or environment carries the value, only the ARN
    assert "resolve:secretsmanager" not in (ROOT / "template.yaml").read_text()


# ---------------------------------------------------------------- IAM


def test_affinity_role_has_exact_actions_on_its_own_resources() -> None:
    statements = affinity_statements(stack())
    assert actions_of(statements) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
        "sqs:SendMessage",
        "connect:DescribeContact",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "secretsmanager:GetSecretValue",
    }
    assert statement_with(statements, "sqs:SendMessage")["Resource"] == GETATT_DLQ
    assert statement_with(statements, "sqs:ReceiveMessage")["Resource"] == GETATT_QUEUE
    assert as_list(statement_with(statements, "connect:DescribeContact")["Resource"]) == [
        f"{TEST_INSTANCE_ARN}/contact/*"
    ]
    table = statement_with(statements, "dynamodb:PutItem")
    assert table["Resource"] == GETATT_TABLE
    assert set(as_list(table["Action"])) == {"dynamodb:GetItem", "dynamodb:PutItem"}  # conditional puts only
    secret = statement_with(statements, "secretsmanager:GetSecretValue")
    assert (as_list(secret["Action"]), secret["Resource"]) == (["secretsmanager:GetSecretValue"], REF_SECRET)
    assert statement_with(statements, "logs:PutLogEvents")["Resource"] == {"Fn::GetAtt": ["AffinityLogGroup", "Arn"]}
    assert "ManagedPolicyArns" not in stack().properties("AffinityFunctionRole")


def test_the_router_gets_read_access_only() -> None:
    deployed = stack()
    router = deployed.role_statements("RouterFunction")
    # GIVEN the router's role WHEN its statements on the affinity table are collected
    on_table = statements_on(router, GETATT_TABLE)
    # THEN one statement allows the two reads last_agent and owner need, and nothing else
    assert len(on_table) == 1
    assert set(as_list(on_table[0]["Action"])) == {"dynamodb:GetItem", "dynamodb:BatchGetItem"}
    assert on_table[0]["Effect"] == "Allow"
    assert not any(s.get("Condition") for s in on_table)
    # and the secret is only read
    on_secret = statements_on(router, REF_SECRET)
    assert [as_list(s["Action"]) for s in on_secret] == [["secretsmanager:GetSecretValue"]]
    # no dynamodb write anywhere in the router's role reaches the affinity table
    for statement in router:
        if DYNAMODB_WRITES & set(as_list(statement["Action"])):
            assert GETATT_TABLE not in as_list(statement["Resource"]), statement


def test_only_the_affinity_recorder_writes_the_affinity_table() -> None:
    deployed = stack(SweepEnabled="true", SweepQueueIds="q1")
    writers = {
        role
        for role, statement in deployed.iam_statements()
        if GETATT_TABLE in as_list(statement["Resource"]) and DYNAMODB_WRITES & set(as_list(statement["Action"]))
    }
    assert writers == {"AffinityFunctionRole"}
    readers_of_secret = {
        role for role, statement in deployed.iam_statements() if REF_SECRET in as_list(statement["Resource"])
    }
    assert readers_of_secret == {"RouterFunctionRole", "AffinityFunctionRole"}


def test_the_affinity_path_and_the_others_do_not_reach_each_others_resources() -> None:
    deployed = stack()
    affinity = referenced_resources(affinity_statements(deployed))
    assert not affinity & OTHER_PATHS, affinity & OTHER_PATHS
    for function in ("RouterFunction", "SupervisionFunction"):
        other = referenced_resources(deployed.role_statements(function))
        assert not other & AFFINITY_RESOURCES, (function, other & AFFINITY_RESOURCES)
    supervision = referenced_resources(deployed.role_statements("SupervisionFunction"))
    assert not supervision & {"AffinityTable", "CustomerKeySecret"}


# ---------------------------------------------------------------- outputs


def test_outputs_name_the_affinity_resources() -> None:
    outputs = stack().outputs
    assert {
        "AffinityTableName",
        "CustomerKeySecretArn",
        "AffinityFunctionName",
        "AffinityQueueUrl",
        "AffinityDeadLetterQueueUrl",
        "AffinityDeadLetterQueueArn",
    } <= set(outputs)
    assert outputs["AffinityTableName"]["Value"] == {"Ref": "AffinityTable"}
    assert outputs["CustomerKeySecretArn"]["Value"] == REF_SECRET
