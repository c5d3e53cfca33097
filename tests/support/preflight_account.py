"""A deployed contact-router on a local account, for `contact-router preflight`: moto and the Connect emulator.

``deploy()`` (inside ``mock_aws()``) does what ``sam deploy`` does: template.yaml, SAM-transformed offline
(tests/support/cfn.py), is created as a CloudFormation stack in moto, which creates the roles with their policies,
the functions with their environment, the EventBridge rules, the queues and the event source mappings. The Connect
instance is the emulator's, seeded from samples/world.yaml (its ARN is the stack's ConnectInstanceArn). The rules
are samples/rules.yaml, read from an SSM parameter (RulesSource=ssm), as a deployment keeps them.

``break_associate_permission(template)`` is the deliberate mistake of the demo and the tests: the router role's
AssociateContactWithUser statement loses its agent resource, so every association would be denied.

Run ``python -m tests.support.preflight_account`` to print preflight's report on that account, with the broken
permission (``--fixed`` without it, ``--json`` as JSON).
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import warnings
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3

from connect_emulator import ConnectEmulator, World
from contact_router_cli.preflight import CLIENTS_KEY, Clients
from contact_router_cli.simulate.template import Resolver
from tests.support.cfn import REGION, load_template, parameter_values, transform_template
from tests.support.iam_policy import LocalPolicySimulator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORLD = os.path.join(ROOT, "samples", "world.yaml")
RULES = os.path.join(ROOT, "samples", "rules.yaml")
STACK_NAME = "contact-router"


def rules_parameter(stack_name: str) -> str:
    return f"/{stack_name}/rules"


ARTIFACTS_BUCKET = "artifacts-bucket"  # where tests/support/cfn.packaged_template puts the code


@dataclass
class Account:
    emulator: ConnectEmulator
    clients: Clients
    simulator: LocalPolicySimulator
    parameters: dict[str, str]
    stack_name: str = STACK_NAME

    def factory(self, region: str | None, profile: str | None) -> Clients:
        """The `ClientsFactory` the CLI is given (ctx.obj[CLIENTS_KEY]): --region and --profile are the test's."""
        del region, profile
        return self.clients

    @property
    def obj(self) -> dict[str, Any]:
        return {CLIENTS_KEY: self.factory}


def break_associate_permission(template: dict[str, Any]) -> dict[str, Any]:
    """The router role may associate contacts only on contact ARNs: the agent resource is gone."""
    policy = template["Resources"]["RouterFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    statement = next(s for s in policy["Statement"] if s.get("Sid") == "AssociateContactWithAllowedAgents")
    statement["Resource"] = [r for r in statement["Resource"] if "/agent/" not in json.dumps(r)]
    return template


def deploy(
    *,
    stack_name: str = STACK_NAME,
    template: dict[str, Any] | None = None,
    rules_text: str | None = None,
    emulator: ConnectEmulator | None = None,
    **overrides: str,
) -> Account:
    """Deploy template.yaml (or ``template``) into moto's CloudFormation; call inside ``mock_aws()``. Several
    stacks can live side by side in one account (their names, rules parameters and secrets differ)."""
    emulator = emulator or ConnectEmulator(World.from_file(WORLD))
    parameters = parameter_values(
        **{
            "ConnectInstanceArn": emulator.instance_arn,
            "RulesSource": "ssm",
            "RulesSsmParameterName": rules_parameter(stack_name),
            "AllowBarge": "true",  # samples/rules.yaml lets one supervision rule barge in
            "DryRun": "false",  # a stack switched to live routing (the template's default is a dry run)
            **overrides,
        }
    )
    s3 = boto3.client("s3", region_name=REGION)
    if not any(b["Name"] == ARTIFACTS_BUCKET for b in s3.list_buckets()["Buckets"]):
        s3.create_bucket(Bucket=ARTIFACTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("contact_router/__init__.py", "")
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key="functions.zip", Body=package.getvalue())
    ssm = boto3.client("ssm", region_name=REGION)
    if parameters["RulesSource"] == "ssm":
        text = rules_text if rules_text is not None else open(RULES, encoding="utf-8").read()  # noqa: SIM115
        ssm.put_parameter(Name=parameters["RulesSsmParameterName"], Value=text, Type="String", Tier="Advanced")
    # moto creates no alarms, queue policies nor secrets from a template (it says so, on every read of the stack);
    # preflight reads none of them. The secret is made directly and its ARN stands in for its Ref.
    warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
    logging.getLogger("moto").addFilter(_NoUnsupportedResourceNotes())
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=f"{stack_name}-customer-key", SecretString="k" * 64
    )["ARN"]
    transformed = transform_template(parameters, template)
    del transformed["Resources"]["CustomerKeySecret"]
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(
            _drop_no_value(
                _replace_ref(transformed, "CustomerKeySecret", secret),
                Resolver(parameters, transformed.get("Conditions") or {}),
            )
        ),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    iam = boto3.client("iam", region_name=REGION)
    simulator = LocalPolicySimulator(iam)
    clients = Clients(
        region=REGION,
        cloudformation=cloudformation,
        lambda_=boto3.client("lambda", region_name=REGION),
        events=boto3.client("events", region_name=REGION),
        sqs=boto3.client("sqs", region_name=REGION),
        connect=emulator.client(),
        ssm=ssm,
        appconfigdata=None,
        simulator=simulator,
    )
    return Account(emulator, clients, simulator, parameters, stack_name)


class _NoUnsupportedResourceNotes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No Moto CloudFormation support")


def _drop_no_value(node: Any, resolver: Resolver) -> Any:
    """List members ``!If [Cond, X, !Ref AWS::NoValue]`` whose condition is false, removed: CloudFormation drops
    them, moto's IAM passes them on as None (the optional X-Ray policy of each role)."""
    if isinstance(node, dict):
        return {key: _drop_no_value(value, resolver) for key, value in node.items()}
    if not isinstance(node, list):
        return node
    kept = []
    for item in node:
        branches = item.get("Fn::If") if isinstance(item, dict) and len(item) == 1 else None
        if branches and branches[2] == {"Ref": "AWS::NoValue"} and not resolver.condition(branches[0]):
            continue
        kept.append(_drop_no_value(item, resolver))
    return kept


def _replace_ref(node: Any, logical_id: str, value: str) -> Any:
    if node == {"Ref": logical_id}:
        return value
    if isinstance(node, dict):
        return {k: _replace_ref(v, logical_id, value) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_ref(v, logical_id, value) for v in node]
    return node


def main(argv: list[str]) -> int:
    """Print preflight's report on the local account (python -m tests.support.preflight_account [--fixed] [--json])."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        os.environ.setdefault(name, value)
    from moto import mock_aws

    from contact_router_cli.main import main as cli

    with mock_aws():
        template = None if "--fixed" in argv else break_associate_permission(load_template())
        account = deploy(template=template)
        args = [
            "preflight",
            "--stack-name",
            account.stack_name,
            "--region",
            REGION,
            *(a for a in argv if a == "--json"),
        ]
        result: int = cli.main(args=args, prog_name="contact-router", obj=account.obj, standalone_mode=False) or 0
        return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
