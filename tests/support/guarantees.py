"""What a deployed stack must guarantee, checked on the transformed template, as a list of problems.

Lint catches a misspelt key in a resource it knows, not a missing one: a rule target without a RetryPolicy or
DeadLetterConfig, a queue without a RedrivePolicy, a role statement without its Condition are all valid
CloudFormation. So these checks read what SAM and CloudFormation would deploy.
``guarantee_problems(stack)`` is empty for template.yaml, whatever the parameters; tests break copies of the
template in memory and show that each breakage is named here.

Checked, for every resource of its kind (new ones are covered without editing this file):

- encryption at rest: queues (KmsKeyArn when given, else SSE-SQS), tables (SSE, with KmsKeyArn when given),
  point-in-time recovery, log groups (retention, KmsKeyArn), the secret and function environments (KmsKeyArn);
- delivery: each EventBridge target has a dead-letter queue and a retry policy; each SQS event source's queue
  redrives to a dead-letter queue with a receive count, its visibility timeout is at least 6 x the function's
  timeout plus the batching window, the mapping reports batch item failures and caps its concurrency;
  asynchronously invoked functions send failures to a queue (EventInvokeConfig on-failure destination);
- operations: every dead-letter queue has a depth alarm, every function Errors and Throttles alarms;
- queue policies: TLS only, and each service principal held to its source ARN;
- IAM: AssociateContactWithUser held to connect:PreferredUserArn, MonitorContact to connect:MonitorCapabilities
  (BARGE only with AllowBarge=true), KMS use to kms:ViaService on the key itself, Connect to the instance's ARNs.
"""

from __future__ import annotations

from typing import Any

from tests.support.cfn import Stack, as_list

RETRY_KEYS = {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"}


def _queue_of(stack: Stack, arn: Any) -> str | None:
    """The queue's logical id when ``arn`` is ``GetAtt <queue>.Arn`` of a queue of the stack."""
    if isinstance(arn, dict) and set(arn) == {"Fn::GetAtt"}:
        name, attribute = arn["Fn::GetAtt"]
        if attribute == "Arn" and name in stack.of_type("AWS::SQS::Queue"):
            return str(name)
    return None


def _encryption_problems(stack: Stack, key: str) -> list[str]:
    problems = []
    for name in stack.of_type("AWS::SQS::Queue"):
        props = stack.properties(name)
        if key and props.get("KmsMasterKeyId") != key:
            problems.append(f"{name}: not encrypted with KmsKeyArn")
        elif not key and props.get("SqsManagedSseEnabled") is not True:
            problems.append(f"{name}: not encrypted (SqsManagedSseEnabled)")
    for name in stack.of_type("AWS::DynamoDB::Table"):
        props = stack.properties(name)
        sse = props.get("SSESpecification", {})
        if sse.get("SSEEnabled") is not True:
            problems.append(f"{name}: not encrypted (SSESpecification)")
        elif key and sse.get("KMSMasterKeyId") != key:
            problems.append(f"{name}: not encrypted with KmsKeyArn")
        if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is not True:
            problems.append(f"{name}: no point-in-time recovery")
    for name in stack.of_type("AWS::Logs::LogGroup"):
        props = stack.properties(name)
        if "RetentionInDays" not in props:
            problems.append(f"{name}: no retention")
        if key and props.get("KmsKeyId") != key:
            problems.append(f"{name}: not encrypted with KmsKeyArn")
    if key:
        for name in stack.of_type("AWS::SecretsManager::Secret"):
            if stack.properties(name).get("KmsKeyId") != key:
                problems.append(f"{name}: not encrypted with KmsKeyArn")
        for name in stack.of_type("AWS::Lambda::Function"):
            if stack.properties(name).get("KmsKeyArn") != key:
                problems.append(f"{name}: environment not encrypted with KmsKeyArn")
    return problems


def _delivery_problems(stack: Stack, dead_letter_queues: set[str]) -> list[str]:
    problems = []
    for rule, spec in stack.of_type("AWS::Events::Rule").items():
        for target in spec["Properties"].get("Targets", []):
            where = f"{rule} target {target.get('Id')}"
            dead_letter = _queue_of(stack, target.get("DeadLetterConfig", {}).get("Arn"))
            if dead_letter is None:
                problems.append(f"{where}: no dead-letter queue")
            else:
                dead_letter_queues.add(dead_letter)
            if not set(target.get("RetryPolicy", {})) >= RETRY_KEYS:
                problems.append(f"{where}: no retry policy")

    functions = stack.of_type("AWS::Lambda::Function")
    for mapping in stack.of_type("AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        function = props["FunctionName"]["Ref"]
        queue = _queue_of(stack, props["EventSourceArn"])
        if queue is None:
            problems.append(f"{function}: event source is not a queue of this stack")
            continue
        queue_props = stack.properties(queue)
        redrive = queue_props.get("RedrivePolicy", {})
        dead_letter = _queue_of(stack, redrive.get("deadLetterTargetArn"))
        if dead_letter is None:
            problems.append(f"{queue}: no redrive to a dead-letter queue")
        else:
            dead_letter_queues.add(dead_letter)
            env = functions[function]["Properties"].get("Environment", {}).get("Variables", {})
            if "DEAD_LETTER_QUEUE_URL" in env and env["DEAD_LETTER_QUEUE_URL"] != {"Ref": dead_letter}:
                problems.append(f"{function}: sends permanent failures to another queue than {queue}'s redrive")
        count = redrive.get("maxReceiveCount")
        if count is None or not 1 <= int(count) <= 10:
            problems.append(f"{queue}: no maxReceiveCount (1-10) in its redrive policy")
        timeout = int(functions[function]["Properties"].get("Timeout", 3))
        window = int(props.get("MaximumBatchingWindowInSeconds", 0))
        if int(queue_props.get("VisibilityTimeout", 30)) < 6 * timeout + window:
            problems.append(f"{queue}: visibility timeout below 6 x {function}'s timeout + batching window")
        if "ReportBatchItemFailures" not in props.get("FunctionResponseTypes", []):
            problems.append(f"{function}: no partial batch responses (ReportBatchItemFailures)")
        if "MaximumConcurrency" not in props.get("ScalingConfig", {}):
            problems.append(f"{function}: no maximum concurrency on its event source")

    # Functions invoked asynchronously (by EventBridge) must send failed invocations somewhere.
    configs = stack.of_type("AWS::Lambda::EventInvokeConfig").values()
    for permission in stack.of_type("AWS::Lambda::Permission").values():
        props = permission["Properties"]
        if props.get("Principal") != "events.amazonaws.com":
            continue
        function = props["FunctionName"]
        destinations = [
            _queue_of(stack, c["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"))
            for c in configs
            if c["Properties"]["FunctionName"] == function
        ]
        queues = [d for d in destinations if d]
        if not queues:
            problems.append(f"{function.get('Ref', function)}: asynchronous failures go nowhere (no on-failure queue)")
        dead_letter_queues.update(queues)
        if "SourceArn" not in props:
            problems.append(f"{function.get('Ref', function)}: invoke permission not held to its rule (SourceArn)")
    return problems


def _alarm_problems(stack: Stack, dead_letter_queues: set[str]) -> list[str]:
    problems = []
    alarms = [spec["Properties"] for spec in stack.of_type("AWS::CloudWatch::Alarm").values()]

    def alarmed(metric: str, dimension: Any) -> bool:
        return any(
            alarm.get("MetricName") == metric and [d["Value"] for d in alarm.get("Dimensions", [])] == [dimension]
            for alarm in alarms
        )

    for queue in sorted(dead_letter_queues):
        if not alarmed("ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": [queue, "QueueName"]}):
            problems.append(f"{queue}: no depth alarm on this dead-letter queue")
    for function in stack.of_type("AWS::Lambda::Function"):
        for metric in ("Errors", "Throttles"):
            if not alarmed(metric, {"Ref": function}):
                problems.append(f"{function}: no {metric} alarm")
    return problems


def _queue_policy_problems(stack: Stack) -> list[str]:
    problems = []
    tls_only: set[str] = set()
    for name, spec in stack.of_type("AWS::SQS::QueuePolicy").items():
        props = spec["Properties"]
        for statement in as_list(props["PolicyDocument"]["Statement"]):
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                tls_only.update(q["Ref"] for q in props["Queues"])
            principal = statement.get("Principal")
            if statement["Effect"] == "Allow" and isinstance(principal, dict) and "Service" in principal:
                condition = statement.get("Condition", {})
                if not any("aws:SourceArn" in keys for keys in condition.values()):
                    problems.append(f"{name}: Allow {statement.get('Sid')} without an aws:SourceArn condition")
    problems.extend(
        f"{queue}: no Deny of insecure transport in its policy"
        for queue in stack.of_type("AWS::SQS::Queue")
        if queue not in tls_only
    )
    return problems


def _iam_problems(stack: Stack, key: str) -> list[str]:
    problems = []
    instance = stack.parameters["ConnectInstanceArn"]
    barge_allowed = stack.parameters.get("AllowBarge") == "true"
    for role, statement in stack.iam_statements():
        where = f"{role} {statement.get('Sid')}"
        actions = set(as_list(statement["Action"]))
        condition = statement.get("Condition", {})
        if "connect:AssociateContactWithUser" in actions:
            allowed = condition.get("ArnLike", {}).get("connect:PreferredUserArn")
            if not allowed or not all(str(a).startswith(f"{instance}/agent/") for a in as_list(allowed)):
                problems.append(f"{where}: AssociateContactWithUser not conditioned on connect:PreferredUserArn")
        if "connect:MonitorContact" in actions:
            capabilities = condition.get("ForAllValues:StringEquals", {}).get("connect:MonitorCapabilities")
            if not capabilities:
                problems.append(f"{where}: MonitorContact not conditioned on connect:MonitorCapabilities")
            elif "BARGE" in as_list(capabilities) and not barge_allowed:
                problems.append(f"{where}: MonitorContact allows BARGE although AllowBarge=false")
        if any(action.startswith("kms:") for action in actions):
            if not condition.get("StringEquals", {}).get("kms:ViaService"):
                problems.append(f"{where}: KMS use not held to kms:ViaService")
            if as_list(statement["Resource"]) != [key]:
                problems.append(f"{where}: KMS use on another resource than KmsKeyArn")
        if any(action.startswith("connect:") for action in actions):
            for resource in as_list(statement["Resource"]):
                if not (isinstance(resource, str) and (resource == instance or resource.startswith(f"{instance}/"))):
                    problems.append(f"{where}: Connect resource {resource!r} not scoped to the instance")
    return problems


def guarantee_problems(stack: Stack) -> list[str]:
    """Everything the deployed stack fails to guarantee (empty when all holds)."""
    key = stack.parameters.get("KmsKeyArn", "")
    dead_letter_queues: set[str] = set()
    problems = _encryption_problems(stack, key)
    problems += _delivery_problems(stack, dead_letter_queues)
    problems += _alarm_problems(stack, dead_letter_queues)
    problems += _queue_policy_problems(stack)
    problems += _iam_problems(stack, key)
    return problems
