"""contact-router rules publish / rollback: SSM Parameter Store on moto; AppConfig on moto for hosted versions
with deployments in process (tests/support/appconfig.py: moto has none). Every document written is validated
first; an operator's mistake or an expected AWS failure is one line and exit 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from contact_router.adapters import aws
from contact_router.adapters.rules_store import RulesProvider, remote_fetcher
from contact_router.config import Settings
from contact_router.rules.loader import rules_version
from contact_router_cli import rules_publish
from contact_router_cli.main import main
from tests.fakes import INSTANCE_ARN
from tests.support.appconfig import AppConfigWithDeployments

REGION = "eu-west-2"
PARAMETER = "/contact-router/rules"
V1 = "version: 1\nrouting:\n  - name: first\n    candidates: [{attribute: preferredAgent}]\n"
V2 = V1.replace("first", "second")
BROKEN = "version: 1\nrouting:\n  - name: broken\n    candidates: [{users: [mo]}]\n    fallback: {wait_seconds: -5}\n"


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, ["rules", *args, "--region", REGION])


def one_line_failure(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, text in {"v1": V1, "v2": V2, "broken": BROKEN}.items():
        paths[name] = tmp_path / f"{name}.yaml"
        paths[name].write_text(text)
    return paths


# ---------------------------------------------------------------------------------------------- SSM


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


def test_ssm_publish_writes_a_new_version_and_prints_the_rules_version_the_router_will_report(
    ssm: Any, files: dict[str, Path]
) -> None:
    # GIVEN no parameter yet WHEN a valid file is published
    result = cli("publish", "--ssm-parameter", PARAMETER, str(files["v1"]))
    # THEN the parameter holds the file, and the line names its version and the rules version
    assert result.exit_code == 0, result.output
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == V1
    (first,) = ssm.get_parameter_history(Name=PARAMETER)["Parameters"]
    assert first["Description"] == f"contact-router rules {rules_version(V1)}"  # the history maps versions to rules
    assert result.output.strip() == (
        f"published {files['v1']}: SSM parameter {PARAMETER} version 1, rules_version {rules_version(V1)}"
    )
    # ... the version every decision record of the router reading that parameter will carry
    settings = Settings.from_env(
        {"CONNECT_INSTANCE_ARN": INSTANCE_ARN, "RULES_SOURCE": "ssm", "RULES_SSM_PARAMETER": PARAMETER}
    )
    provider = RulesProvider(settings.rules, remote_fetcher(settings.rules, ssm_client=ssm))
    provider.current()
    assert provider.version == rules_version(V1)
    # WHEN a second file is published, as JSON THEN a new version
    second = json.loads(cli("publish", "--ssm-parameter", PARAMETER, "--json", str(files["v2"])).output)
    assert second == {
        "target": "ssm",
        "parameter": PARAMETER,
        "parameter_version": 2,
        "rules_version": rules_version(V2),
        "action": f"published {files['v2']}",
    }


def test_ssm_publish_refuses_what_the_router_would_refuse_and_writes_nothing(ssm: Any, files: dict[str, Path]) -> None:
    line = one_line_failure(cli("publish", "--ssm-parameter", PARAMETER, str(files["broken"])))
    assert line.startswith(f"Error: {files['broken']}: rule 'broken' (routing[0]): fallback")
    assert ssm.describe_parameters()["Parameters"] == []


def test_ssm_publish_refuses_a_document_larger_than_a_parameter(ssm: Any, tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(V1 + "".join(f"# {'x' * 76}\n" for _ in range(120)))  # valid, ~9.6 KB
    line = one_line_failure(cli("publish", "--ssm-parameter", PARAMETER, str(big)))
    assert "more than an SSM parameter holds (8192 bytes, advanced tier): publish to AppConfig instead" in line


def test_ssm_rollback_puts_the_previous_value_back_as_a_new_version(ssm: Any, files: dict[str, Path]) -> None:
    # GIVEN v1 then v2 published
    cli("publish", "--ssm-parameter", PARAMETER, str(files["v1"]))
    cli("publish", "--ssm-parameter", PARAMETER, str(files["v2"]))
    # WHEN rolled back
    result = cli("rollback", "--ssm-parameter", PARAMETER, "--json")
    # THEN v1's value is in force again, as version 3
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["parameter_version"] == 3
    assert report["restored_from_version"] == 1
    assert report["replaced_version"] == 2
    assert report["rules_version"] == rules_version(V1)
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == V1
    # ... and --to-version restores any version of the history
    assert cli("rollback", "--ssm-parameter", PARAMETER, "--to-version", "2").exit_code == 0
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == V2


def test_ssm_rollback_mistakes_are_one_line(ssm: Any, files: dict[str, Path]) -> None:
    # no such parameter: the AWS error, in one line
    line = one_line_failure(cli("rollback", "--ssm-parameter", PARAMETER))
    assert "ParameterNotFound" in line
    # one version only: nothing to roll back to
    cli("publish", "--ssm-parameter", PARAMETER, str(files["v1"]))
    line = one_line_failure(cli("rollback", "--ssm-parameter", PARAMETER))
    assert line == f"Error: SSM parameter {PARAMETER} has only version 1: nothing to roll back to"
    assert "has no version 9" in one_line_failure(cli("rollback", "--ssm-parameter", PARAMETER, "--to-version", "9"))
    # a previous value the router would now refuse is not restored
    ssm.put_parameter(Name=PARAMETER, Value=BROKEN, Overwrite=True)
    ssm.put_parameter(Name=PARAMETER, Value=V2, Overwrite=True)
    line = one_line_failure(cli("rollback", "--ssm-parameter", PARAMETER))
    assert line.startswith(f"Error: ssm:{PARAMETER} version 2: rule 'broken' (routing[0]): fallback")
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == V2


def test_choosing_the_target_and_the_environment_are_one_line_mistakes(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    both = one_line_failure(cli("publish", "--ssm-parameter", PARAMETER, "--appconfig", "a/b/c", str(files["v1"])))
    assert both == "Error: give exactly one of --ssm-parameter NAME or --appconfig APP/ENV/PROFILE"
    assert "exactly one of" in one_line_failure(cli("rollback"))
    assert "expected APPLICATION/ENVIRONMENT/PROFILE" in one_line_failure(
        cli("publish", "--appconfig", "app/profile", str(files["v1"]))
    )
    # no Region anywhere
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    result = CliRunner().invoke(main, ["rules", "publish", "--ssm-parameter", PARAMETER, str(files["v1"])])
    assert one_line_failure(result).startswith("Error: no AWS Region configured")
    # no credentials
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(aws, "_session", None)  # a new process: botocore's session caches credentials
    assert one_line_failure(cli("rollback", "--ssm-parameter", PARAMETER)).startswith("Error: no AWS credentials found")


# ----------------------------------------------------------------------------------------- AppConfig


@pytest.fixture
def appconfig(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[AppConfigWithDeployments, str]]:
    """An application with a hosted profile and an environment; the CLI's AppConfig client is this one."""
    with mock_aws():
        client = AppConfigWithDeployments(boto3.client("appconfig", region_name=REGION))
        app = client.create_application(Name="contact-router")["Id"]
        profile = client.create_configuration_profile(ApplicationId=app, Name="rules", LocationUri="hosted")["Id"]
        client.add_environment(app, "prod123")
        real_client = rules_publish.client
        monkeypatch.setattr(
            rules_publish,
            "client",
            lambda service, region: client if service == "appconfig" else real_client(service, region),
        )
        yield client, f"{app}/prod123/{profile}"


def hosted(client: AppConfigWithDeployments, spec: str, number: int) -> str:
    app, _, profile = spec.split("/")
    answer = client.get_hosted_configuration_version(
        ApplicationId=app, ConfigurationProfileId=profile, VersionNumber=number
    )
    text: str = answer["Content"].read().decode()
    return text


def test_appconfig_publish_creates_a_hosted_version_and_deploys_it(
    appconfig: tuple[AppConfigWithDeployments, str], files: dict[str, Path]
) -> None:
    client, spec = appconfig
    app, env, profile = spec.split("/")
    # WHEN a valid file is published
    result = cli("publish", "--appconfig", spec, "--json", str(files["v1"]))
    # THEN hosted version 1 holds it and deployment 1 deploys it with the default strategy
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "target": "appconfig",
        "application": app,
        "environment": env,
        "profile": profile,
        "configuration_version": 1,
        "rules_version": rules_version(V1),
        "action": f"published {files['v1']}",
        "deployment_number": 1,
        "deployment_strategy": "AppConfig.AllAtOnce",
        "deployment_state": "DEPLOYING",
    }
    assert hosted(client, spec, 1) == V1
    # its description maps the hosted version to its rules_version (list-hosted-configuration-versions shows it)
    assert (
        client.get_hosted_configuration_version(ApplicationId=app, ConfigurationProfileId=profile, VersionNumber=1)[
            "Description"
        ]
        == f"contact-router rules {rules_version(V1)}"
    )
    (deployment,) = client.deployments[(app, env)]
    assert (deployment["ConfigurationVersion"], deployment["DeploymentStrategyId"]) == ("1", "AppConfig.AllAtOnce")
    # WHEN the next one is published with another strategy, without deploying THEN a version and no deployment
    client.complete(app, env, 1)
    quiet = cli("publish", "--appconfig", spec, "--no-deploy", str(files["v2"]))
    assert quiet.output.strip() == (
        f"published {files['v2']}: AppConfig {spec} configuration version 2, rules_version {rules_version(V2)}"
    )
    assert len(client.deployments[(app, env)]) == 1
    canary = cli(
        "publish", "--appconfig", spec, "--deployment-strategy", "AppConfig.Canary10Percent20Minutes", str(files["v2"])
    )
    assert canary.exit_code == 0, canary.output
    assert client.deployments[(app, env)][-1]["DeploymentStrategyId"] == "AppConfig.Canary10Percent20Minutes"


def test_appconfig_publish_refuses_invalid_rules_before_creating_a_version(
    appconfig: tuple[AppConfigWithDeployments, str], files: dict[str, Path]
) -> None:
    client, spec = appconfig
    line = one_line_failure(cli("publish", "--appconfig", spec, str(files["broken"])))
    assert line.startswith(f"Error: {files['broken']}: rule 'broken' (routing[0]): fallback")
    app, _, profile = spec.split("/")
    with pytest.raises(client.moto.exceptions.ResourceNotFoundException):
        client.get_hosted_configuration_version(ApplicationId=app, ConfigurationProfileId=profile, VersionNumber=1)


def test_appconfig_rollback_stops_a_deployment_in_progress(
    appconfig: tuple[AppConfigWithDeployments, str], files: dict[str, Path]
) -> None:
    client, spec = appconfig
    app, env, _ = spec.split("/")
    cli("publish", "--appconfig", spec, str(files["v1"]))
    client.complete(app, env, 1)
    cli("publish", "--appconfig", spec, str(files["v2"]))  # deployment 2, still DEPLOYING
    # WHEN rolled back THEN deployment 2 is stopped and AppConfig keeps version 1
    result = cli("rollback", "--appconfig", spec)
    assert result.exit_code == 0, result.output
    assert "stopped deployment 2 (version 2)" in result.output
    assert [d["State"] for d in client.deployments[(app, env)]] == ["COMPLETE", "ROLLED_BACK"]


def test_appconfig_rollback_deploys_the_version_deployed_before_the_current_one(
    appconfig: tuple[AppConfigWithDeployments, str], files: dict[str, Path]
) -> None:
    client, spec = appconfig
    app, env, _ = spec.split("/")
    # GIVEN v1 then v2 deployed and complete
    for number, name in ((1, "v1"), (2, "v2")):
        cli("publish", "--appconfig", spec, str(files[name]))
        client.complete(app, env, number)
    # WHEN rolled back THEN version 1 is deployed again, validated first
    result = cli("rollback", "--appconfig", spec, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["configuration_version"], report["deployment_number"]) == (1, 3)
    assert report["rules_version"] == rules_version(V1)
    assert client.deployments[(app, env)][-1]["ConfigurationVersion"] == "1"


def test_appconfig_rollback_mistakes_are_one_line(
    appconfig: tuple[AppConfigWithDeployments, str], files: dict[str, Path]
) -> None:
    client, spec = appconfig
    app, env, profile = spec.split("/")
    assert "no completed deployment of this profile" in one_line_failure(cli("rollback", "--appconfig", spec))
    cli("publish", "--appconfig", spec, str(files["v1"]))
    client.complete(app, env, 1)
    assert "version 1 is the only one ever deployed here" in one_line_failure(cli("rollback", "--appconfig", spec))
    # an unknown environment: AWS's not-found, in one line
    line = one_line_failure(cli("rollback", "--appconfig", f"{app}/nope123/{profile}"))
    assert "ListDeployments found nothing" in line
    # a version that does not exist
    line = one_line_failure(cli("rollback", "--appconfig", spec, "--to-version", "7"))
    assert "GetHostedConfigurationVersion" in line
