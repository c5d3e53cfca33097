"""A new operator's first session, end to end and offline: the transcript issue #15 asks for.

    .venv/bin/python bench/operator_session.py [--out out/operator-session.txt]

It follows the deploy guide (README "Deploy", docs/operations.md "First deployment checklist") to a dry run,
printing each command and its output as a console session would show them, with moto and the Connect emulator
standing in for AWS (nothing leaves the machine: moto answers every AWS call, Connect is the emulator on
loopback):

1. ``contact-router rules validate`` on the rules about to be published;
2. ``sam deploy`` with ``DryRun=true``: template.yaml, SAM-transformed, created as a CloudFormation stack in moto
   (tests/support/preflight_account.py ``deploy``), the instance is the emulator's (samples/world.yaml), the rules
   in SSM; the functions' code is not run by moto, so each function is built in-process from the environment the
   stack gave it in Lambda (read back with GetFunctionConfiguration), its Connect calls authorized against its
   role in template.yaml (the emulator's IAM mode);
3. ``contact-router preflight`` on the stack (IAM decisions by the local stand-in for SimulatePrincipalPolicy,
   which moto lacks);
4. a returning customer: yesterday's call (omar) recorded by the affinity function, today's SMS decided by the
   router function in dry run; its decision record is the log line CloudWatch would hold;
5. ``contact-router explain --env-from-function <router> --json`` on that contact, compared with the record;
6. three deliberate mistakes (an unknown contact, no Region, no credentials), each one line and exit status 2.

Exit status 0 when explain agrees with the router's decision record and every mistake gives exactly one line
and exit 2; 1 otherwise, naming what went wrong. tests/integration/test_operator_session.py runs ``session``.
It is not a benchmark: it sits in bench/ beside the other scripts that produce figures for an issue's note.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.support (the moto deployment) lives in the repository, not the package

STACK = "contact-router"
REGION = "eu-west-2"
CALL = "44444444-0000-4000-8000-000000000040"  # samples/world.yaml: yesterday's call, handled by omar
SMS = "44444444-0000-4000-8000-000000000041"  # today's SMS from the same customer, queued
UNKNOWN_CONTACT = "99999999-0000-4000-8000-000000000099"
EVENT_ONLY = {"event_type"}  # what the router's record has and explain's cannot: the event it came in
# Offline: fake credentials, no profile or config file of the machine, no instance metadata.
OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": None,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_PROFILE": None,
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "contact-router",
}


@contextlib.contextmanager
def _environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """``values`` set (None: removed) for the block, the process's environment restored after it."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Console:
    """Writes the session: comments, commands and their output, as a terminal shows them."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.problems: list[str] = []

    def say(self, text: str) -> None:
        self.out.write("".join(f"# {line}\n" if line else "#\n" for line in text.splitlines()))

    def shell(self, command: str, output: str) -> None:
        self.out.write(f"$ {command}\n{output}")
        if output and not output.endswith("\n"):
            self.out.write("\n")

    def cli(
        self,
        argv: Sequence[str],
        *,
        obj: dict[str, Any] | None = None,
        env: Mapping[str, str | None] | None = None,
        shown_env: str = "",
    ) -> tuple[int, str]:
        """Runs ``contact-router ARGV`` through its click entry point; prints it, its output and its status."""
        from click.testing import CliRunner

        from contact_router.adapters import aws
        from contact_router_cli.main import main

        aws._session = None  # a new process: no botocore session (credentials, Region) cached from before
        result = CliRunner(env={"COLUMNS": "150", **(env or {})}).invoke(main, list(argv), obj=obj)
        output = result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            output += "".join(traceback.format_exception(result.exception))
        self.shell(f"{shown_env}contact-router {shlex.join(argv)}", output)
        self.out.write(f"$ echo $?\n{result.exit_code}\n")
        return result.exit_code, output

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)
            self.out.write(f"!! {problem}\n")


def session(out: IO[str]) -> list[str]:
    """Runs the whole session, writing the transcript to ``out``; returns the problems found (none: it passed)."""
    from contact_router.adapters import aws

    previous = aws._session  # the CLI's botocore session: each command below starts without one
    try:
        with _environment(OFFLINE_ENV):
            from moto import mock_aws

            with mock_aws():
                return _session(Console(out))
    finally:
        aws._session = previous


def _session(con: Console) -> list[str]:
    import boto3
    from tests.support.preflight_account import RULES, deploy

    from connect_emulator import Iam
    from contact_router_cli.roles import function_role_policies

    rules = os.path.relpath(RULES, ROOT)
    con.say("1. Validate the rules about to be published (docs/operations.md, first deployment checklist).")
    code, _ = con.cli(["rules", "validate", rules])
    con.check(code == 0, f"rules validate {rules} exited {code}")

    con.say(
        "2. Deploy in dry run: `sam deploy` with the default environment of samconfig.toml (DryRun=true).\n"
        "   Offline stand-in: template.yaml, SAM-transformed, created as a CloudFormation stack in moto; the\n"
        "   Connect instance is the emulator (samples/world.yaml); the rules go to the SSM parameter RulesSource\n"
        "   names (RulesSource=ssm)."
    )
    account = deploy(DryRun="true")
    emulator = account.emulator
    emulator.use_iam(Iam(function_role_policies(emulator.instance_arn, account.parameters)))
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    resources = cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    # moto lists each resource type it cannot create (alarms, queue policies, Connect ...) with an empty logical id
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in resources if r["LogicalResourceId"]}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    con.shell(
        f"sam deploy --stack-name {STACK} --region {REGION}    # stand-in: moto CloudFormation",
        f"{stack['StackStatus']}: {len(physical)} resources (those moto creates); DryRun={parameters.get('DryRun')}, "
        f"RulesSource={parameters.get('RulesSource')} ({parameters.get('RulesSsmParameterName')})\n"
        f"RouterFunctionName: {physical['RouterFunction']}\nAffinityFunctionName: {physical['AffinityFunction']}\n",
    )
    con.check(parameters.get("DryRun") == "true", "the stack is not in dry run")

    con.say(
        "3. Check the deployment before the first contact. moto has no iam:SimulatePrincipalPolicy: the\n"
        "   roles' stored policies are evaluated locally (tests/support/iam_policy.py, the emulator's evaluator)."
    )
    code, _ = con.cli(["preflight", "--stack-name", STACK, "--region", REGION], obj=account.obj)
    con.check(code == 0, f"preflight exited {code} (a FAIL on the stack deployed from template.yaml)")

    con.say(
        "4. A returning customer. Yesterday's call (handled by omar) reaches the affinity function; today the\n"
        "   same customer sends an SMS, which reaches the router function. Each function is built from the\n"
        "   environment the stack gave it in Lambda, as the Lambda runtime would; the decision record is the\n"
        "   log line CloudWatch Logs would hold."
    )
    record = _route_returning_customer(con, account, physical)

    con.say("5. Ask explain what the router would do with that contact now, with the router function's settings.")
    with emulator.serve() as url:
        code, output = con.cli(
            ["explain", "--contact-id", SMS, "--env-from-function", physical["RouterFunction"], "--json"],
            env={"AWS_ENDPOINT_URL_CONNECT": url},
            shown_env="AWS_ENDPOINT_URL_CONNECT=<emulator> ",
        )
    con.check(code == 0, f"explain exited {code}")
    _compare(con, output if code == 0 else "{}", record)

    con.say("6. Three deliberate mistakes: each must be one line saying what to do, and exit status 2.")
    with emulator.serve() as url:
        _mistake(
            con,
            ["explain", "--contact-id", UNKNOWN_CONTACT, "--env-from-function", physical["RouterFunction"]],
            {"AWS_ENDPOINT_URL_CONNECT": url},
            "AWS_ENDPOINT_URL_CONNECT=<emulator> ",
        )
    _mistake(
        con,
        ["owners", "export", "--table", physical["AffinityTable"]],
        {"AWS_DEFAULT_REGION": None, "AWS_REGION": None},
        "env -u AWS_DEFAULT_REGION -u AWS_REGION ",
    )
    queue_url = physical["DeadLetterQueue"]
    _mistake(
        con,
        ["dlq", "list", "--queue-url", queue_url],
        {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
        "env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY ",
    )
    con.say("PASS" if not con.problems else f"{len(con.problems)} problem(s): " + "; ".join(con.problems))
    return con.problems


def _function(physical: Mapping[str, str], logical_id: str) -> Any:
    """A deployed function's settings, from the environment the stack gave it (Lambda GetFunctionConfiguration)."""
    import boto3

    from contact_router.config import Settings

    name = physical[logical_id]
    config = boto3.client("lambda", region_name=REGION).get_function_configuration(FunctionName=name)
    env = {k: str(v) for k, v in config.get("Environment", {}).get("Variables", {}).items()}
    return Settings.from_env(env)


def _route_returning_customer(con: Console, account: Any, physical: Mapping[str, str]) -> dict[str, Any]:
    from contact_router.adapters.aws import Clients
    from contact_router.composition import build_affinity_app, build_router_app
    from contact_router.handlers import affinity as affinity_handler
    from contact_router.handlers import router as router_handler
    from contact_router_cli.local import LocalLambdaContext, lambda_output_to

    emulator = account.emulator
    affinity_settings = _function(physical, "AffinityFunction")
    router_settings = _function(physical, "RouterFunction")
    affinity_app = build_affinity_app(
        affinity_settings, Clients(REGION, connect=emulator.client(role="AffinityFunction"))
    )
    router_app = build_router_app(router_settings, Clients(REGION, connect=emulator.client(role="RouterFunction")))
    logs = io.StringIO()
    with lambda_output_to(logs):
        affinity_result = affinity_handler.lambda_handler(
            {"Records": [_sqs_record("connected-to-agent-returning-customer-call.json", 1)]},
            LocalLambdaContext(),
            app=affinity_app,
        )
        router_result = router_handler.lambda_handler(
            {"Records": [_sqs_record("queued-chat-returning-customer-sms.json", 2)]},
            LocalLambdaContext(),
            app=router_app,
        )
    con.check(affinity_result == {"batchItemFailures": []}, f"the affinity function failed: {affinity_result}")
    con.check(router_result == {"batchItemFailures": []}, f"the router function failed: {router_result}")
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    recorded = [line for line in lines if line.get("message") == "affinity decision"]
    decisions = [line for line in lines if line.get("message") == "routing decision"]
    con.shell(
        f"aws logs tail /aws/lambda/{physical['AffinityFunction']}    # stand-in: the function's log, its record",
        "".join(json.dumps(r, sort_keys=True) + "\n" for r in recorded),
    )
    con.shell(
        f"aws logs tail /aws/lambda/{physical['RouterFunction']}    # stand-in: the routing decision line",
        "".join(json.dumps(d, sort_keys=True) + "\n" for d in decisions),
    )
    con.check(len(decisions) == 1, f"expected one routing decision, got {len(decisions)}")
    record: dict[str, Any] = decisions[0]["decision"] if decisions else {}
    con.check(record.get("contact_id") == SMS, "the decision record is not the SMS's")
    names = {user.id: user.username for user in emulator.world.users}
    con.say(f"the router would offer the SMS to {names.get(str(record.get('agent_id')), 'nobody')} (dry run)")
    return record


def _sqs_record(event_file: str, number: int) -> dict[str, Any]:
    body = (ROOT / "events" / event_file).read_text(encoding="utf-8")
    return {
        "messageId": f"m-{number}",
        "receiptHandle": f"r-{number}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1763629200000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{STACK}-events",
        "awsRegion": REGION,
    }


def _compare(con: Console, explain_output: str, record: Mapping[str, Any]) -> None:
    """explain's decision record must be the router's, field for field (but the event it came in)."""
    try:
        trace = json.loads(explain_output)
    except json.JSONDecodeError:
        con.check(False, "explain --json did not print JSON")
        return
    explained = {k: v for k, v in trace.get("decision", {}).items() if k not in EVENT_ONLY}
    routed = {k: v for k, v in record.items() if k not in EVENT_ONLY}
    differing = sorted(k for k in explained.keys() | routed.keys() if explained.get(k) != routed.get(k))
    con.check(not differing, f"explain disagrees with the router's decision record on {differing}")
    con.check(record.get("outcome") == "WouldAssociate", f"the router did not decide WouldAssociate: {record}")
    last_agent = any(str(c.get("source", "")).startswith("last_agent") for c in record.get("candidates", []))
    con.check(last_agent, "the decision did not come from the customer's last agent")
    if not differing:
        con.say(
            f"explain agrees with the router's decision record, field for field: {record.get('outcome')} "
            f"(rule {record.get('rule')}, agent {record.get('agent_id')}, from {record['candidates'][0]['source']}; "
            f"rules {record.get('rules_source')} version {str(record.get('rules_version'))[:12]})"
        )


def _mistake(con: Console, argv: Sequence[str], env: Mapping[str, str | None], shown: str) -> None:
    code, output = con.cli(argv, env=env, shown_env=shown)
    lines = output.splitlines()
    con.check(code == 2, f"`{shlex.join(argv)}` exited {code}, not 2")
    con.check(len(lines) == 1, f"`{shlex.join(argv)}` printed {len(lines)} lines, not one")
    con.check("Traceback" not in output, f"`{shlex.join(argv)}` printed a traceback")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the transcript to this file")
    args = parser.parse_args(argv)
    out = io.StringIO()
    problems = session(out)
    sys.stdout.write(out.getvalue())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(out.getvalue(), encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
