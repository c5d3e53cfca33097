"""Rules from SSM Parameter Store (moto) and AppConfig (botocore Stubber: moto has no appconfigdata)."""

from __future__ import annotations

import io
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from contact_router.adapters.rules_store import RulesProvider, remote_fetcher
from contact_router.config import Settings
from contact_router.rules.loader import RulesError
from tests.fakes import INSTANCE_ARN

GOOD = "version: 1\nrouting:\n  - name: from-remote\n    candidates: [{attribute: preferredAgent}]\n"
GOOD_V2 = GOOD.replace("from-remote", "from-remote-v2")
BAD = "version: 1\nrouting:\n  - name: broken\n"


def ssm_provider(ssm: Any, cache_seconds: str = "0") -> RulesProvider:
    settings = Settings.from_env(
        {
            "CONNECT_INSTANCE_ARN": INSTANCE_ARN,
            "RULES_SOURCE": "ssm",
            "RULES_SSM_PARAMETER": "/contact-router/rules",
            "RULES_CACHE_SECONDS": cache_seconds,
        }
    )
    return RulesProvider(settings.rules, remote_fetcher(settings.rules, ssm_client=ssm))


@mock_aws
def test_rules_from_ssm_are_reloaded_and_a_bad_update_keeps_the_last_good_rules(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-2")
    ssm.put_parameter(Name="/contact-router/rules", Value=GOOD, Type="String")
    provider = ssm_provider(ssm)
    assert provider.current().routing[0].name == "from-remote"
    assert provider.source == "ssm:/contact-router/rules"
    # WHEN the parameter is updated  THEN the next read sees it (cache 0 s here)
    ssm.put_parameter(Name="/contact-router/rules", Value=GOOD_V2, Type="String", Overwrite=True)
    assert provider.current().routing[0].name == "from-remote-v2"
    # WHEN someone publishes an invalid file  THEN the last good rules stay, loudly
    ssm.put_parameter(Name="/contact-router/rules", Value=BAD, Type="String", Overwrite=True)
    assert provider.current().routing[0].name == "from-remote-v2"
    assert "rules reload failed; keeping the last good rules" in caplog.text


@mock_aws
def test_first_load_failure_is_a_configuration_error_naming_the_rule() -> None:
    ssm = boto3.client("ssm", region_name="eu-west-2")
    ssm.put_parameter(Name="/contact-router/rules", Value=BAD, Type="String")
    with pytest.raises(RulesError) as err:
        ssm_provider(ssm).current()
    assert err.value.problems == ["ssm:/contact-router/rules: rule 'broken' (routing[0]): candidates: Field required"]


@mock_aws
def test_missing_parameter_is_reported() -> None:
    with pytest.raises(RulesError) as err:
        ssm_provider(boto3.client("ssm", region_name="eu-west-2")).current()
    assert "cannot load rules" in err.value.problems[0]


def test_rules_from_appconfig() -> None:
    client = boto3.client("appconfigdata", region_name="eu-west-2")
    stubber = Stubber(client)
    stubber.add_response(
        "start_configuration_session",
        {"InitialConfigurationToken": "t" * 20},
        {"ApplicationIdentifier": "app1", "EnvironmentIdentifier": "prod", "ConfigurationProfileIdentifier": "rules"},
    )
    body = GOOD.encode()
    stubber.add_response(
        "get_latest_configuration",
        {
            "Configuration": StreamingBody(io.BytesIO(body), len(body)),
            "NextPollConfigurationToken": "n" * 20,
            "ContentType": "application/x-yaml",
        },
        {"ConfigurationToken": "t" * 20},
    )
    settings = Settings.from_env(
        {
            "CONNECT_INSTANCE_ARN": INSTANCE_ARN,
            "RULES_SOURCE": "appconfig",
            "RULES_APPCONFIG_APPLICATION": "app1",
            "RULES_APPCONFIG_ENVIRONMENT": "prod",
            "RULES_APPCONFIG_PROFILE": "rules",
        }
    )
    with stubber:
        provider = RulesProvider(settings.rules, remote_fetcher(settings.rules, appconfig_client=client))
        assert provider.current().routing[0].name == "from-remote"
    assert provider.source == "appconfig:app1/prod/rules"
