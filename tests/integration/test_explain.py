"""``explain`` runs the router's own decision code, read-only, with the deployed settings: the affinity table
and customer-key secret (last_agent), the rules source, the wait fallback; its decision record is the
router's."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from contact_router.adapters.aws import Clients
from contact_router.composition import build_router_app
from contact_router.config import Settings
from contact_router.handlers import router as router_handler
from contact_router.rules.loader import rules_version
from contact_router_cli import render
from contact_router_cli.explain import explain_contact
from contact_router_cli.main import main
from tests.conftest import SAMPLES_DIR
from tests.integration.conftest import TABLE, Harness, LambdaContext, event
from tests.integration.test_affinity import PHONE, record

SAM = "33333333-0000-4000-8000-000000000002"
# What the router's record has and explain's cannot: the event it came in.
EVENT_ONLY = {"event_type"}


def clients(harness: Harness) -> Clients:
    return Clients(
        connect=harness.emulator.client(role="RouterFunction"),
        dynamodb=harness.dynamodb,
        sqs=harness.sqs,
        secretsmanager=harness.secrets,
    )


def queued_sms(harness: Harness) -> tuple[str, dict[str, Any]]:
    """sam spoke to the customer by phone an hour ago; the customer now sends an SMS."""
    emulator = harness.emulator
    endpoint = {"type": "TELEPHONE_NUMBER", "address": PHONE}
    call = emulator.add_contact(channel="VOICE", state="QUEUED", queue="Support", customer_endpoint=endpoint)
    emulator.connect_contact(call.id, "sam")
    assert record(harness, call.id) == {"batchItemFailures": []}
    emulator.advance(3600)
    sms = emulator.add_contact(
        channel="CHAT",
        state="QUEUED",
        queue="Support",
        customer_endpoint=endpoint,
        segment_attributes={"connect:Subtype": "connect:SMS"},
    )
    body = event("queued-chat-returning-customer-sms.json")
    body["detail"]["contactId"] = sms.id
    return sms.id, body


def test_explain_json_on_a_last_agent_contact_agrees_with_the_routers_decision_record(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a returning customer whose last agent (sam) is in the affinity table, and a dry-run deployment
    contact_id, body = queued_sms(harness)
    settings = Settings.from_env({**harness.env, "DRY_RUN": "true"})
    # WHEN explain runs first (read-only), then the router decides the same contact from its event
    trace = explain_contact(
        contact_id,
        settings=settings,
        clients=clients(harness),
        out=render.console(),
        as_json=True,
        clock=harness.emulator.now,
    )
    assert trace is not None
    assert harness.dynamodb.scan(TableName=TABLE)["Count"] == 0  # explain wrote no idempotency record
    app = build_router_app(settings, clients(harness), clock=harness.emulator.now)
    caplog.set_level("INFO")
    assert router_handler.lambda_handler({"Records": [harness.record(body)]}, LambdaContext(), app=app) == {
        "batchItemFailures": []
    }
    (decision,) = [r.decision for r in caplog.records if hasattr(r, "decision")]  # type: ignore[attr-defined]
    # THEN explain's decision record is the router's, field for field: last agent sam, from the affinity table
    assert {k: v for k, v in trace["decision"].items() if k not in EVENT_ONLY} == {
        k: v for k, v in decision.items() if k not in EVENT_ONLY
    }
    assert (decision["outcome"], decision["rule"], decision["agent_id"]) == (
        "WouldAssociate",
        "returning-customer-sms",
        SAM,
    )
    assert decision["candidates"][0]["source"].startswith("last_agent:phone")
    # AND both name the rules that decided it: their source and the sha256 of the document
    expected_version = rules_version((SAMPLES_DIR / "rules.yaml").read_bytes())
    assert trace["rules_version"] == decision["rules_version"] == expected_version
    assert decision["rules_source"] == f"file:{SAMPLES_DIR / 'rules.yaml'}"
    assert trace["now"] == f"route to {SAM}: the function would only log it (DryRun=true)"
    assert harness.emulator.associations == []


def test_explain_never_associates_even_when_the_deployment_is_live(harness: Harness) -> None:
    contact_id, _ = queued_sms(harness)
    settings = Settings.from_env({**harness.env, "DRY_RUN": "false"})
    trace = explain_contact(contact_id, settings=settings, clients=clients(harness), out=render.console(), as_json=True)
    assert trace is not None
    assert trace["decision"]["outcome"] == "WouldAssociate"
    assert trace["now"] == f"route to {SAM}: the function would call AssociateContactWithUser"
    assert harness.emulator.associations == []
    calls = set(harness.emulator.call_counts())
    assert not calls & {"AssociateContactWithUser", "UpdateContactRoutingData"}, calls


def test_explain_on_a_wait_rule_says_when_the_router_would_recheck(harness: Harness) -> None:
    # GIVEN a chat for lee, who is offline: the rule waits (re-check every 10 s for up to 60 s)
    chat = harness.emulator.add_contact(
        channel="CHAT", state="QUEUED", queue="Support", attributes={"preferredAgent": "lee"}
    )
    router_queue = harness.sqs.create_queue(QueueName="contact-router")["QueueUrl"]
    settings = Settings.from_env({**harness.env, "ROUTER_QUEUE_URL": router_queue})
    # WHEN explain runs
    trace = explain_contact(chat.id, settings=settings, clients=clients(harness), out=render.console(), as_json=True)
    # THEN it says what the wait would do, and sends nothing
    assert trace is not None
    assert trace["decision"]["outcome"] == "Waiting"
    assert trace["decision"]["rule"] == "preferred-agent-attribute"
    assert trace["would_recheck_in_seconds"] == 10
    assert trace["now"] == "wait: would re-check in 10 s"
    assert "no ROUTER_QUEUE_URL" not in json.dumps(trace)
    counts = harness.sqs.get_queue_attributes(QueueUrl=router_queue, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesDelayed"]) == ("0", "0")


def test_explain_cli_prints_the_rules_version_and_what_the_function_would_do() -> None:
    result = CliRunner().invoke(
        main,
        [
            "explain",
            "--contact-id",
            "44444444-0000-4000-8000-000000000003",
            "--world",
            str(SAMPLES_DIR / "world.yaml"),
            "--rules",
            str(SAMPLES_DIR / "rules.yaml"),
            "--env",
            "DRY_RUN=true",
        ],
    )
    assert result.exit_code == 0, result.output
    version = rules_version((SAMPLES_DIR / "rules.yaml").read_bytes())
    assert f"(version {version})" in result.output
    assert "the function would: NoEligibleAgent" in result.output


def test_explain_cli_setting_without_a_value_is_a_usage_error() -> None:
    result = CliRunner().invoke(
        main, ["explain", "--contact-id", "x", "--world", str(SAMPLES_DIR / "world.yaml"), "--env", "DRY_RUN"]
    )
    assert result.exit_code == 2
    assert "--env 'DRY_RUN': expected NAME=VALUE" in result.output


def deployed_router(harness: Harness, name: str, env: dict[str, str]) -> None:
    """A router function in (moto's) Lambda with ``env`` as its environment, as `sam deploy` leaves it."""
    iam = boto3.client("iam", region_name="eu-west-2")
    role = iam.create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("contact_router/__init__.py", "")
    boto3.client("lambda", region_name="eu-west-2").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="contact_router.handlers.router.lambda_handler",
        Code={"ZipFile": package.getvalue()},
        Environment={"Variables": env},
    )


def test_explain_env_from_function_reads_the_deployed_functions_environment(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a returning customer whose last agent (sam) is in the affinity table, and a router function deployed
    # with the harness's settings (affinity table, customer-key secret, rules file) and dry run on
    contact_id, _ = queued_sms(harness)
    deployed_router(harness, "contact-router-router", {**harness.env, "DRY_RUN": "true"})
    with harness.emulator.serve() as url:
        # AND Connect reached over loopback as a user would (`emulator serve`), nothing injected into the CLI
        monkeypatch.setenv("AWS_ENDPOINT_URL_CONNECT", url)
        # WHEN explain runs with only the function's name
        result = CliRunner().invoke(
            main,
            ["explain", "--contact-id", contact_id, "--env-from-function", "contact-router-router", "--json"],
            catch_exceptions=False,
        )
    # THEN it used that environment: the last agent from its affinity table and secret, its rules, its dry run
    assert result.exit_code == 0, result.output
    trace = json.loads(result.output)
    decision = trace["decision"]
    assert (decision["outcome"], decision["rule"], decision["agent_id"]) == (
        "WouldAssociate",
        "returning-customer-sms",
        SAM,
    )
    assert decision["candidates"][0]["source"].startswith("last_agent:phone")
    assert decision["rules_source"] == f"file:{SAMPLES_DIR / 'rules.yaml'}"
    assert trace["now"] == f"route to {SAM}: the function would only log it (DryRun=true)"
    assert harness.emulator.associations == []


@pytest.mark.usefixtures("harness")  # moto's Lambda, with no such function
def test_explain_env_from_a_function_that_does_not_exist_is_one_line() -> None:
    result = CliRunner().invoke(
        main,
        ["explain", "--contact-id", SAM, "--env-from-function", "no-such-function", "--json"],
        catch_exceptions=False,
    )
    lines = result.output.splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith(
        "Error: no such Lambda function: check --env-from-function (stack output RouterFunctionName) and the Region"
    ), lines
