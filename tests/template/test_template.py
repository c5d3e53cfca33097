"""template.yaml: lint-clean, and after the SAM transform it deploys what the router needs, least privilege.

Lint alone is not enough (a misspelt key can pass it), so most checks read the transformed template.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import cfnlint.api
import pytest

from tests.support.cfn import (
    ROOT,
    TEMPLATE,
    TEST_INSTANCE_ARN,
    Stack,
    actions_of,
    as_list,
    load_template,
    stack,
    statement_with,
)
from tests.support.samconfig import samconfig_overrides

ROUTER_ENV_NAMES = {
    "CONNECT_INSTANCE_ARN",
    "POWERTOOLS_TRACE_DISABLED",
    "RULES_SOURCE",
    "RULES_SSM_PARAMETER",
    "RULES_APPCONFIG_APPLICATION",
    "RULES_APPCONFIG_ENVIRONMENT",
    "RULES_APPCONFIG_PROFILE",
    "RULES_CACHE_SECONDS",
    "DRY_RUN",
    "ROUTE_VOICE",
    "ALLOWED_AGENT_ARN_PATTERN",
    "IDEMPOTENCY_TABLE",
    "DEAD_LETTER_QUEUE_URL",
    "MAX_RECEIVE_COUNT",
    "ROUTER_QUEUE_URL",
    "CONNECT_API_QUOTAS",
    "MAX_CONCURRENCY",
    "AFFINITY_TABLE",
    "CUSTOMER_KEY_SECRET_ARN",
    "CUSTOMER_PROFILE_ATTRIBUTE",
    "CUSTOMER_PROFILES_DOMAIN",
    "PHONE_DEFAULT_REGION",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}
ROUTER_HANDLER = "contact_router.handlers.router.lambda_handler"
GETATT_QUEUE = {"Fn::GetAtt": ["RouterQueue", "Arn"]}
GETATT_DLQ = {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
APPCONFIG_IDS = {
    "RulesSource": "appconfig",
    "RulesAppConfigApplication": "abc1234",
    "RulesAppConfigEnvironment": "env5678",
    "RulesAppConfigProfile": "prf9012",
}


def router_function(deployed: Stack) -> dict[str, Any]:
    return deployed.properties("RouterFunction")


def router_env(deployed: Stack) -> dict[str, Any]:
    variables: dict[str, Any] = router_function(deployed)["Environment"]["Variables"]
    return variables


def router_role_statements(deployed: Stack) -> list[dict[str, Any]]:
    return deployed.role_statements("RouterFunction")


def event_source_mapping(deployed: Stack) -> dict[str, Any]:
    return deployed.event_source_mapping("RouterFunction")


# ---------------------------------------------------------------- lint


def test_cfn_lint_reports_no_errors_or_warnings() -> None:
    # GIVEN the template, linted for the default Region and us-east-1
    config = cfnlint.api.ManualArgs(regions=["eu-west-2", "us-east-1"])
    # WHEN cfn-lint runs
    matches = cfnlint.api.lint_file(TEMPLATE, config=config)
    # THEN nothing at error or warning level is reported
    problems = [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches if m.rule.id[0] in ("E", "W")]
    assert problems == []


# ---------------------------------------------------------------- the function


def test_router_function_runs_the_router_handler_on_python313_arm64() -> None:
    deployed = stack()
    function = router_function(deployed)
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == ROUTER_HANDLER
    assert load_template()["Resources"]["RouterFunction"]["Properties"]["CodeUri"].rstrip("/") == "functions"
    assert (ROOT / "functions" / "requirements.txt").is_file()


def test_router_handler_module_defines_the_handler_once_it_exists() -> None:
    module, _, name = ROUTER_HANDLER.rpartition(".")
    path = ROOT / "functions" / Path(*module.split(".")).with_suffix(".py")
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} not written yet")
    assert re.search(rf"^(def {name}\(|{name} = )", path.read_text(), re.MULTILINE)


def test_sqs_event_source_reports_batch_failures_and_caps_concurrency() -> None:
    mapping = event_source_mapping(stack())
    assert mapping["FunctionName"] == {"Ref": "RouterFunction"}
    assert mapping["EventSourceArn"] == GETATT_QUEUE
    assert mapping["BatchSize"] == 10
    assert 0 <= int(mapping["MaximumBatchingWindowInSeconds"]) <= 5
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert int(mapping["ScalingConfig"]["MaximumConcurrency"]) == 2


def test_max_concurrency_parameter_drives_the_scaling_config() -> None:
    mapping = event_source_mapping(stack(MaxConcurrency="5"))
    assert int(mapping["ScalingConfig"]["MaximumConcurrency"]) == 5
    spec = load_template()["Parameters"]["MaxConcurrency"]
    assert (spec["Type"], spec["MinValue"], spec["Default"]) == ("Number", 2, 2)


def test_queue_visibility_timeout_covers_six_function_timeouts_plus_batching_window() -> None:
    deployed = stack()
    timeout = int(router_function(deployed)["Timeout"])
    window = int(event_source_mapping(deployed)["MaximumBatchingWindowInSeconds"])
    assert timeout <= 60
    assert int(deployed.properties("RouterQueue")["VisibilityTimeout"]) >= 6 * timeout + window


def test_router_logs_to_its_own_log_group_with_retention() -> None:
    deployed = stack(LogRetentionDays="90")
    function = router_function(deployed)
    log_group = deployed.properties("RouterLogGroup")
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "RouterLogGroup"}
    assert log_group["LogGroupName"] == f"/aws/lambda/{function['FunctionName']}"
    assert int(log_group["RetentionInDays"]) == 90
    assert int(stack().properties("RouterLogGroup")["RetentionInDays"]) == 30


# ---------------------------------------------------------------- environment


def test_function_gets_only_the_environment_variables_the_config_reads() -> None:
    for variant in ({}, {"RulesSource": "ssm", "RulesSsmParameterName": "/contact-router/rules"}, APPCONFIG_IDS):
        env = router_env(stack(**variant))
        assert set(env) <= ROUTER_ENV_NAMES, set(env) - ROUTER_ENV_NAMES


def test_function_environment_reflects_parameters_and_resources() -> None:
    # GIVEN default parameters WHEN the stack is built THEN the environment points at this stack's resources
    env = router_env(stack())
    assert env["CONNECT_INSTANCE_ARN"] == TEST_INSTANCE_ARN
    assert env["RULES_SOURCE"] == "bundled"
    assert env["DRY_RUN"] == "true", "a first deployment never acts on live contacts"
    assert env["ROUTE_VOICE"] == "false"
    assert env["ALLOWED_AGENT_ARN_PATTERN"] == f"{TEST_INSTANCE_ARN}/agent/*"
    assert env["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    assert env["DEAD_LETTER_QUEUE_URL"] == {"Ref": "DeadLetterQueue"}  # Ref of a queue is its URL
    assert env["ROUTER_QUEUE_URL"] == {"Ref": "RouterQueue"}  # the "wait" fallback's delayed re-checks go here
    assert env["AFFINITY_TABLE"] == {"Ref": "AffinityTable"}  # last_agent and owner candidates
    assert env["CUSTOMER_KEY_SECRET_ARN"] == {"Ref": "CustomerKeySecret"}  # Ref of a secret is its ARN
    assert env["CUSTOMER_PROFILE_ATTRIBUTE"] == "customerProfileId"
    assert env["POWERTOOLS_SERVICE_NAME"] == "contact-router"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ContactRouter"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert not {"RULES_SSM_PARAMETER", "RULES_APPCONFIG_APPLICATION"} & set(env)

    env = router_env(stack(DryRun="false", RouteVoice="true", LogLevel="DEBUG", **APPCONFIG_IDS))
    assert (env["DRY_RUN"], env["ROUTE_VOICE"], env["POWERTOOLS_LOG_LEVEL"]) == ("false", "true", "DEBUG")
    assert env["RULES_SOURCE"] == "appconfig"
    assert env["RULES_APPCONFIG_APPLICATION"] == "abc1234"
    assert env["RULES_APPCONFIG_ENVIRONMENT"] == "env5678"
    assert env["RULES_APPCONFIG_PROFILE"] == "prf9012"


# ---------------------------------------------------------------- queues and the rule


ROUTER_ROLE_ARN = {"Fn::GetAtt": ["RouterFunctionRole", "Arn"]}


def deny_applies(statement: dict[str, Any], action: str, resource: Any, context: dict[str, str]) -> bool:
    """Could this Deny statement of a queue policy match a request from the router's role?

    Conservative: an element this small evaluator does not understand counts as matching, so the test fails
    and someone looks, rather than passing on a policy it cannot read.
    """
    assert statement["Effect"] == "Deny"
    if "NotPrincipal" in statement or "NotAction" in statement or "NotResource" in statement:
        return True
    principal = statement["Principal"]
    if principal != "*" and principal != {"AWS": "*"}:
        aws = as_list(principal.get("AWS", [])) if isinstance(principal, dict) else []
        if ROUTER_ROLE_ARN not in aws and "*" not in aws:
            return False  # a service or another principal: not the role
    if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in as_list(statement["Action"])):
        return False
    if not any(r in ("*", resource) for r in as_list(statement["Resource"])):
        return False
    # Every condition must hold for the statement to match; one that surely fails rules it out.
    for operator, keys in statement.get("Condition", {}).items():
        for key, expected in keys.items():
            if operator == "Bool" and key in context:
                if context[key] not in [str(v).lower() for v in as_list(expected)]:
                    return False
            elif operator in ("StringEquals", "ArnEquals", "ArnLike", "StringLike") and key not in context:
                return False  # the key is absent from the request: the condition does not match
    return True


@pytest.mark.parametrize("action", ["sqs:SendMessage"])
def test_router_queue_policy_denies_nothing_the_router_role_sends_over_tls(action: str) -> None:
    # GIVEN the router queue's policy (it Allows only the rule; the role's identity policy Allows SendMessage)
    statements = stack().queue_policy("RouterQueue")["Statement"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    # WHEN the router role sends its delayed re-check over TLS, as boto3 does
    tls = {"aws:SecureTransport": "true"}
    # THEN no Deny statement matches it (so the same-account identity Allow decides)
    assert [s["Sid"] for s in denies if deny_applies(s, action, GETATT_QUEUE, tls)] == []
    # and plain HTTP is still refused, for the role as for anyone
    assert [s["Sid"] for s in denies if deny_applies(s, action, GETATT_QUEUE, {"aws:SecureTransport": "false"})]
    allow = [s for s in router_role_statements(stack()) if s["Resource"] == GETATT_QUEUE and action in s["Action"]]
    assert allow, "the router role itself must be allowed to send to its queue"


def test_rule_selects_queued_contacts_of_the_instance_on_routed_channels() -> None:
    pattern = stack().properties("RouterRule")["EventPattern"]
    assert pattern == {
        "source": ["aws.connect"],
        "detail-type": ["Amazon Connect Contact Event"],
        "detail": {
            "eventType": ["QUEUED"],
            "channel": ["CHAT", "TASK", "EMAIL"],
            "instanceArn": [TEST_INSTANCE_ARN],
        },
    }


def test_route_voice_adds_voice_to_the_rule() -> None:
    channels = stack(RouteVoice="true").properties("RouterRule")["EventPattern"]["detail"]["channel"]
    assert sorted(channels) == ["CHAT", "EMAIL", "TASK", "VOICE"]


# ---------------------------------------------------------------- state and alarms


def test_idempotency_table_matches_powertools_defaults() -> None:
    table = stack().properties("IdempotencyTable")
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def dead_letter_alarm(deployed: Stack) -> dict[str, Any]:
    return deployed.alarm_on("ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]})


def test_dead_letter_queue_alarms_on_the_first_message() -> None:
    alarm = dead_letter_alarm(stack())
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}]
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert float(alarm["Threshold"]) == 1
    assert "AlarmActions" not in alarm


def test_alarms_notify_the_alarm_topic_when_given() -> None:
    topic = "arn:aws:sns:eu-west-2:123456789012:ops"
    alarms = stack(AlarmTopicArn=topic).of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 2
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [topic]


# ---------------------------------------------------------------- IAM


def test_every_identity_statement_is_named_and_scoped() -> None:
    statements = [s for _, s in stack(**APPCONFIG_IDS).iam_statements()]
    statements += [s for _, s in stack(RulesSource="ssm", RulesSsmParameterName="/r").iam_statements()]
    for statement in statements:
        assert statement.get("Sid"), statement
        assert "*" not in as_list(statement["Resource"]), statement
        assert not any("*" in action for action in as_list(statement["Action"])), statement
    assert not stack().of_type("AWS::IAM::ManagedPolicy")
    assert "ManagedPolicyArns" not in stack().properties("RouterFunctionRole")


def test_connect_permissions_are_exact_actions_on_the_instance_only() -> None:
    statements = router_role_statements(stack())
    connect = [s for s in statements if any(a.startswith("connect:") for a in as_list(s["Action"]))]
    assert actions_of(connect) == {
        "connect:DescribeContact",
        "connect:GetContactAttributes",
        "connect:GetCurrentUserData",
        "connect:SearchUsers",
        "connect:DescribeUser",
        "connect:ListRoutingProfileQueues",
        "connect:AssociateContactWithUser",
        "connect:UpdateContactRoutingData",
        "connect:TransferContact",
    }
    for statement in connect:
        for resource in as_list(statement["Resource"]):
            assert resource == TEST_INSTANCE_ARN or resource.startswith(f"{TEST_INSTANCE_ARN}/"), resource
    describe = statement_with(connect, "connect:DescribeContact")
    assert as_list(describe["Resource"]) == [f"{TEST_INSTANCE_ARN}/contact/*"]
    profiles = statement_with(connect, "connect:ListRoutingProfileQueues")
    assert as_list(profiles["Resource"]) == [f"{TEST_INSTANCE_ARN}/routing-profile/*"]
    attributes = statement_with(connect, "connect:GetContactAttributes")
    assert as_list(attributes["Resource"]) == [f"{TEST_INSTANCE_ARN}/contact/*"]


@pytest.mark.parametrize(
    "pattern",
    ["", "arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555/agent/a*"],
)
def test_association_is_conditioned_on_the_allowed_agent_pattern(pattern: str) -> None:
    deployed = stack(AllowedAgentArnPattern=pattern)
    associate = statement_with(router_role_statements(deployed), "connect:AssociateContactWithUser")
    expected = pattern or f"{TEST_INSTANCE_ARN}/agent/*"
    assert associate["Condition"] == {"ArnLike": {"connect:PreferredUserArn": expected}}
    # the function enforces the same pattern it is held to by IAM
    assert router_env(deployed)["ALLOWED_AGENT_ARN_PATTERN"] == expected
    assert sorted(as_list(associate["Resource"])) == [
        TEST_INSTANCE_ARN,
        f"{TEST_INSTANCE_ARN}/agent/*",
        f"{TEST_INSTANCE_ARN}/contact/*",
    ]


def test_default_agent_pattern_admits_instance_agents_only() -> None:
    pattern = router_env(stack())["ALLOWED_AGENT_ARN_PATTERN"]
    assert fnmatch.fnmatchcase(f"{TEST_INSTANCE_ARN}/agent/33333333-0000-4000-8000-000000000001", pattern)
    other = TEST_INSTANCE_ARN.replace("11111111", "99999999")
    assert not fnmatch.fnmatchcase(f"{other}/agent/33333333-0000-4000-8000-000000000001", pattern)


def test_routing_criteria_fallback_may_update_routing_data_of_instance_contacts_only() -> None:
    statements = router_role_statements(stack())
    update = statement_with(statements, "connect:UpdateContactRoutingData")
    assert update["Sid"]
    assert update["Effect"] == "Allow"
    assert as_list(update["Action"]) == ["connect:UpdateContactRoutingData"]
    assert as_list(update["Resource"]) == [f"{TEST_INSTANCE_ARN}/contact/*"]


def test_role_sends_only_to_its_dead_letter_queue_and_its_own_queue() -> None:
    statements = router_role_statements(stack())
    senders = [s for s in statements if "sqs:SendMessage" in as_list(s["Action"])]
    # one named statement per queue, each allowing SendMessage alone
    assert sorted(s["Sid"] for s in senders) == sorted({s["Sid"] for s in senders})
    for statement in senders:
        assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert sorted(json.dumps(s["Resource"]) for s in senders) == sorted(
        json.dumps(arn) for arn in (GETATT_DLQ, GETATT_QUEUE)
    )


def test_role_reaches_only_this_stacks_queues_table_and_log_group() -> None:
    statements = router_role_statements(stack())
    poll = statement_with(statements, "sqs:ReceiveMessage")
    assert poll["Resource"] == GETATT_QUEUE
    # what the SQS event source mapping needs (SAM adds it only to roles it generates)
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} <= set(as_list(poll["Action"]))
    table = statement_with(statements, "dynamodb:PutItem")
    assert table["Resource"] == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}
    # the episode claims (adapters/episodes.py): claim, association guard, give back -- never a plain read
    assert set(as_list(table["Action"])) == {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    logs = statement_with(statements, "logs:PutLogEvents")
    assert logs["Resource"] == {"Fn::GetAtt": ["RouterLogGroup", "Arn"]}
    assert set(as_list(logs["Action"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_rules_store_permissions_follow_rules_source() -> None:
    # GIVEN bundled rules THEN no SSM or AppConfig access
    assert not {a for a in actions_of(router_role_statements(stack())) if a.startswith(("ssm:", "appconfig:"))}

    # GIVEN SSM rules THEN GetParameter on that parameter only
    deployed = stack(RulesSource="ssm", RulesSsmParameterName="/contact-router/rules")
    ssm = statement_with(router_role_statements(deployed), "ssm:GetParameter")
    assert as_list(ssm["Action"]) == ["ssm:GetParameter"]
    assert ssm["Resource"] == "arn:aws:ssm:eu-west-2:123456789012:parameter/contact-router/rules"
    assert router_env(deployed)["RULES_SSM_PARAMETER"] == "/contact-router/rules"
    assert not {a for a in actions_of(router_role_statements(deployed)) if a.startswith("appconfig:")}

    # GIVEN AppConfig rules THEN a configuration session on that profile only
    appconfig = statement_with(router_role_statements(stack(**APPCONFIG_IDS)), "appconfig:GetLatestConfiguration")
    assert set(as_list(appconfig["Action"])) == {
        "appconfig:StartConfigurationSession",
        "appconfig:GetLatestConfiguration",
    }
    assert appconfig["Resource"] == (
        "arn:aws:appconfig:eu-west-2:123456789012:application/abc1234/environment/env5678/configuration/prf9012"
    )


# ---------------------------------------------------------------- parameters, outputs, samconfig


def test_parameter_defaults_are_the_safe_ones() -> None:
    parameters = load_template()["Parameters"]
    assert parameters["DryRun"]["Default"] == "true"
    assert parameters["RouteVoice"]["Default"] == "false"
    assert parameters["RulesSource"]["Default"] == "bundled"
    assert set(parameters["RulesSource"]["AllowedValues"]) == {"bundled", "ssm", "appconfig"}
    assert re.fullmatch(parameters["ConnectInstanceArn"]["AllowedPattern"], TEST_INSTANCE_ARN)
    assert not re.fullmatch(parameters["ConnectInstanceArn"]["AllowedPattern"], f"{TEST_INSTANCE_ARN}/x")


def test_outputs_name_the_operational_resources() -> None:
    outputs = stack().outputs
    assert {
        "RouterFunctionName",
        "RouterQueueUrl",
        "RouterQueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "IdempotencyTableName",
    } <= set(outputs)


def test_samconfig_deploys_dry_run_first_and_names_only_real_parameters() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    parameters = load_template()["Parameters"]
    assert config["default"]["global"]["parameters"]["region"]
    for env in ("default", "prod"):
        deploy = config[env]["deploy"]["parameters"]
        assert deploy["capabilities"] == "CAPABILITY_IAM"
        overrides = samconfig_overrides(env)
        assert set(overrides) <= set(parameters)
        # the placeholder instance ARN must fail validation until someone replaces it
        placeholder = overrides["ConnectInstanceArn"]
        assert "REPLACE" in placeholder
        assert not re.fullmatch(parameters["ConnectInstanceArn"]["AllowedPattern"], placeholder)
        # going live is a deliberate edit after reading the dry-run decisions, in every environment
        assert overrides["DryRun"] == "true", env
    assert config["default"]["deploy"]["parameters"]["stack_name"] == "contact-router"
    assert config["prod"]["deploy"]["parameters"]["stack_name"] == "contact-router-prod"


# ---------------------------------------------------------------- tracing

TRACED_ROLES = ("RouterFunctionRole", "SupervisionFunctionRole", "AffinityFunctionRole", "SweepFunctionRole")


@pytest.mark.parametrize("on", [False, True])
def test_active_tracing_is_a_parameter_off_by_default_with_its_permission_only_when_on(on: bool) -> None:
    # GIVEN the template's default, or ActiveTracing=true (the sweep on, so every function exists)
    assert load_template()["Parameters"]["ActiveTracing"]["Default"] == "false"
    deployed = stack(SweepEnabled="true", SweepQueueIds="q-1", **({"ActiveTracing": "true"} if on else {}))
    # THEN every function traces actively only when asked, and its role may send segments only then
    functions = deployed.of_type("AWS::Lambda::Function")
    assert len(functions) == 4
    for name, function in functions.items():
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active" if on else "PassThrough"}, name
    for function in functions.values():
        assert function["Properties"]["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == str(not on).lower()
    for role in TRACED_ROLES:
        names = [policy["PolicyName"] for policy in deployed.properties(role)["Policies"]]
        assert ("xray-tracing" in names) is on, role
