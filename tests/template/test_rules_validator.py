"""The AppConfig rules validator in template.yaml: only with RulesSource=appconfig, a function of its own (log
group, role, alarms) that AppConfig of this account may invoke, its ARN an output; and every function built by
functions/Makefile has its target there, every handler its module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.cfn import ROOT, as_list, load_template, stack
from tests.support.guarantees import guarantee_problems

APPCONFIG = {
    "RulesSource": "appconfig",
    "RulesAppConfigApplication": "abc1234",
    "RulesAppConfigEnvironment": "env5678",
    "RulesAppConfigProfile": "prf9012",
}
KEY = "arn:aws:kms:eu-west-2:123456789012:key/0d3b7b43-0000-4000-8000-00000000c0de"
VALIDATOR_RESOURCES = {
    "RulesValidatorLogGroup",
    "RulesValidatorFunctionRole",
    "RulesValidatorFunction",
    "RulesValidatorInvokePermission",
    "RulesValidatorErrorsAlarm",
    "RulesValidatorThrottlesAlarm",
}


@pytest.mark.parametrize("parameters", [{}, {"RulesSource": "ssm", "RulesSsmParameterName": "/contact-router/rules"}])
def test_no_validator_unless_rules_come_from_appconfig(parameters: dict[str, str]) -> None:
    deployed = stack(**parameters)
    assert not VALIDATOR_RESOURCES & set(deployed.resources)
    assert "RulesValidatorArn" not in deployed.outputs


def test_with_appconfig_rules_the_validator_runs_the_validation_handler_and_appconfig_may_invoke_it() -> None:
    deployed = stack(**APPCONFIG)
    assert set(deployed.resources) >= VALIDATOR_RESOURCES
    function = deployed.properties("RulesValidatorFunction")
    assert function["Handler"] == "contact_router.handlers.rules_validator.lambda_handler"
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "RulesValidatorLogGroup"}}
    assert function["Environment"]["Variables"]["ALLOW_BARGE"] == "false"
    assert deployed.outputs["RulesValidatorArn"]["Value"] == {"Fn::GetAtt": ["RulesValidatorFunction", "Arn"]}
    (permission,) = deployed.of_type("AWS::Lambda::Permission").values()
    assert permission["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": ["RulesValidatorFunction", "Arn"]},
        "Principal": "appconfig.amazonaws.com",
        "SourceAccount": "123456789012",
    }
    # it reads nothing: AppConfig hands it the document; it only writes its own logs
    statements = deployed.role_statements("RulesValidatorFunction")
    assert [(s["Sid"], as_list(s["Action"])) for s in statements] == [
        ("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"])
    ]


@pytest.mark.parametrize("extra", [{}, {"KmsKeyArn": KEY, "AllowBarge": "true", "ActiveTracing": "true"}])
def test_the_validator_meets_every_guarantee_of_the_stack(extra: dict[str, str]) -> None:
    # alarms on errors and throttles, log retention, encryption with the key, KMS held to lambda
    assert guarantee_problems(stack(**APPCONFIG, **extra)) == []


def test_every_makefile_built_function_has_its_target_and_every_handler_its_module() -> None:
    makefile = (ROOT / "functions" / "Makefile").read_text()
    targets = set(re.findall(r"build-(\w+)", makefile))
    for name, spec in load_template()["Resources"].items():
        if spec["Type"] != "AWS::Serverless::Function":
            continue
        if spec.get("Metadata", {}).get("BuildMethod") == "makefile":
            assert name in targets, f"functions/Makefile has no build-{name} target"
        module, _, handler = spec["Properties"]["Handler"].rpartition(".")
        path = ROOT / "functions" / Path(*module.split(".")).with_suffix(".py")
        assert re.search(rf"^def {handler}\(", path.read_text(), re.MULTILINE), (name, path)
    assert "RulesValidatorFunction" in targets
