"""Rules from SSM Parameter Store (moto) and AppConfig (botocore Stubber: moto has no appconfigdata)."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from contact_router.adapters.rules_store import RELOAD_FAILED_METRIC, RulesProvider, remote_fetcher
from contact_router.config import Settings
from contact_router.observability import metrics
from contact_router.rules.loader import RulesError
from tests.fakes import INSTANCE_ARN
from tests.integration.conftest import Harness, event

GOOD = "version: 1\nrouting:\n  - name: from-remote\n    candidates: [{attribute: preferredAgent}]\n"
GOOD_V2 = GOOD.replace("from-remote", "from-remote-v2")
BAD = "version: 1\nrouting:\n  - name: broken\n"


PARAMETER = "/contact-router/rules"
SOURCE = f"ssm:{PARAMETER}"
# What a careless or hostile update can publish; each was an unhandled error or accepted before.
HOSTILE = {
    "600 levels deep": GOOD + "    description: " + "[" * 600 + "]" * 600 + "\n",
    "5,000-digit integer": GOOD + "    ignore_capacity: " + "9" * 5000 + "\n",
    "blank": "# rules\n",
    "no rules": "version: 1\n",
    "wrong types": "version: 1\nrouting: {name: x}\n",
}


@pytest.fixture
def reload_metrics() -> Iterator[None]:
    """Metrics added while the test runs start from nothing and are dropped after it."""
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


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
def test_the_rules_version_is_the_hash_of_the_document_in_force_and_a_rollback_restores_it() -> None:
    ssm = boto3.client("ssm", region_name="eu-west-2")
    ssm.put_parameter(Name=PARAMETER, Value=GOOD, Type="String")
    provider = ssm_provider(ssm)
    assert provider.version is None  # nothing loaded yet
    provider.current()
    v1 = provider.version
    assert v1 == hashlib.sha256(GOOD.encode()).hexdigest()[:12]
    # WHEN v2 is published  THEN the version follows it
    ssm.put_parameter(Name=PARAMETER, Value=GOOD_V2, Type="String", Overwrite=True)
    provider.current()
    assert provider.version == hashlib.sha256(GOOD_V2.encode()).hexdigest()[:12] != v1
    # WHEN an invalid document is published  THEN the version stays that of the rules still in force
    ssm.put_parameter(Name=PARAMETER, Value=BAD, Type="String", Overwrite=True)
    provider.current()
    assert provider.version == hashlib.sha256(GOOD_V2.encode()).hexdigest()[:12]
    # WHEN the operator rolls back by putting the first document again (docs/rules.md)  THEN it is v1 again
    ssm.put_parameter(Name=PARAMETER, Value=GOOD, Type="String", Overwrite=True)
    provider.current()
    assert provider.version == v1


@mock_aws
@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_a_hostile_reload_keeps_the_last_good_rules_with_a_log_line_and_a_metric(
    hostile: str, caplog: pytest.LogCaptureFixture, reload_metrics: None
) -> None:
    # GIVEN good rules loaded from SSM
    ssm = boto3.client("ssm", region_name="eu-west-2")
    ssm.put_parameter(Name=PARAMETER, Value=GOOD, Type="String")
    provider = ssm_provider(ssm)
    assert provider.current().routing[0].name == "from-remote"
    # WHEN a hostile document is published and read by many records
    ssm.put_parameter(Name=PARAMETER, Value=HOSTILE[hostile], Type="String", Tier="Advanced", Overwrite=True)
    for _ in range(3):
        assert provider.current().routing[0].name == "from-remote"
    # THEN one ERROR line naming the source and the problem, and one metric: the document is refused once
    failures = [r for r in caplog.records if r.getMessage() == "rules reload failed; keeping the last good rules"]
    assert len(failures) == 1
    assert failures[0].levelname == "ERROR"
    problems = failures[0].__dict__["problems"]
    assert len(problems) == 1
    assert problems[0].startswith(f"{SOURCE}: ")
    assert "\n" not in problems[0]
    assert metrics.metric_set[RELOAD_FAILED_METRIC]["Value"] == [1.0]
    # WHEN the document is fixed  THEN it is loaded again
    ssm.put_parameter(Name=PARAMETER, Value=GOOD_V2, Type="String", Overwrite=True)
    assert provider.current().routing[0].name == "from-remote-v2"


def test_a_failed_fetch_keeps_the_last_good_rules_and_counts(reload_metrics: None) -> None:
    # GIVEN a provider whose source answers once, then fails
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetParameter")
    answers: list[Any] = [GOOD, throttled]

    def fetch() -> str:
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    settings = Settings.from_env(
        {"CONNECT_INSTANCE_ARN": INSTANCE_ARN, "RULES_SOURCE": "ssm", "RULES_SSM_PARAMETER": PARAMETER}
    )
    provider = RulesProvider(settings.rules, fetch)
    assert provider.current().routing[0].name == "from-remote"
    # WHEN every later fetch fails  THEN the good rules stay and each failure is counted
    assert provider.current().routing[0].name == "from-remote"
    assert provider.current().routing[0].name == "from-remote"
    assert metrics.metric_set[RELOAD_FAILED_METRIC]["Value"] == [1.0, 1.0]


def test_records_are_routed_with_the_last_good_rules_after_hostile_updates(
    harness: Harness, lambda_output: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the router reading its rules from SSM (no cache) and agents with room for a chat
    ssm = boto3.client("ssm", region_name="eu-west-2")
    ssm.put_parameter(Name=PARAMETER, Value=GOOD, Type="String")
    app = harness.app(RULES_SOURCE="ssm", RULES_SSM_PARAMETER=PARAMETER, RULES_CACHE_SECONDS="0")
    agents = [u.id for u in harness.emulator.world.users if u.username in ("dana", "sam", "omar", "priya", "lead.one")]
    for agent in agents:
        harness.emulator.set_busy(agent, "CHAT", 0)
    # WHEN each hostile document is published, then a chat naming an agent arrives
    for text, agent in zip(HOSTILE.values(), agents, strict=True):
        ssm.put_parameter(Name=PARAMETER, Value=text, Type="String", Tier="Advanced", Overwrite=True)
        contact = harness.emulator.add_contact(
            channel="CHAT", state="QUEUED", queue="Support", attributes={"preferredAgent": agent}
        )
        body = event("queued-chat-attribute.json")
        body["detail"]["contactId"] = contact.id
        # THEN no record fails: the last good rule routes it
        assert harness.invoke([harness.record(body)], app) == {"batchItemFailures": []}
    assert [a.user_id for a in harness.emulator.associations] == agents
    lines = [json.loads(line) for line in lambda_output.getvalue().splitlines() if line.startswith("{")]
    decisions = [line["decision"] for line in lines if line.get("message") == "routing decision"]
    assert {(d["rule"], d["outcome"]) for d in decisions} == {("from-remote", "Associated")}
    failures = [line for line in lines if line.get("message") == "rules reload failed; keeping the last good rules"]
    assert [f["rules_source"] for f in failures] == [SOURCE] * len(HOSTILE)
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    emf = [doc for doc in printed + lines if "_aws" in doc and RELOAD_FAILED_METRIC in doc]
    assert sum(sum(doc[RELOAD_FAILED_METRIC]) for doc in emf) == len(HOSTILE)


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
