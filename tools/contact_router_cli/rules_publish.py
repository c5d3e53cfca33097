"""``contact-router rules publish`` and ``rules rollback``: ship a rules file to SSM Parameter Store or AppConfig,
or put the previous rules back, always through the router's own validation first.

Every document written is first parsed exactly as the router will parse it (``rules/loader.py``): a document the
router would refuse is never published, and a previous version that no longer validates is never restored.
``rules_version`` (the first 12 hex digits of the document's sha256) is what every decision record carries, so
"which rules decided this contact?" is answered by matching the two.

SSM: PutParameter (Overwrite) writes a new parameter version; rollback reads GetParameterHistory and writes the
value of the version before the newest again (a new version: SSM has no "current version" pointer). AppConfig:
CreateHostedConfigurationVersion (the profile's validators run there too), then StartDeployment; rollback stops
a deployment still in progress (StopDeployment with AllowRevert: AppConfig puts the previous version back) or,
when the newest deployment is complete, deploys the version deployed before it again.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contact_router.adapters import aws
from contact_router.rules.loader import MAX_RULES_BYTES, RulesError, parse_rules, rules_version

# SSM's parameter tiers (Standard holds 4 KB, Advanced 8 KB); the loader's own limit is higher.
SSM_STANDARD_BYTES = 4096
SSM_ADVANCED_BYTES = 8192
DEFAULT_STRATEGY = "AppConfig.AllAtOnce"
# AppConfig's predefined deployment strategies (any other strategy ID of the account is accepted as well).
PREDEFINED_STRATEGIES = (
    "AppConfig.AllAtOnce",
    "AppConfig.Linear50PercentEvery30Seconds",
    "AppConfig.Linear20PercentEvery6Minutes",
    "AppConfig.Canary10Percent20Minutes",
)
if TYPE_CHECKING:
    from types_boto3_appconfig import AppConfigClient
    from types_boto3_ssm import SSMClient

IN_PROGRESS = frozenset({"VALIDATING", "DEPLOYING", "BAKING"})
CONTENT_TYPE = "application/x-yaml"
MAX_FILE_BYTES = MAX_RULES_BYTES  # larger files are refused before they are read


def client(service: str, region: str | None) -> Any:
    """The SSM or AppConfig client the commands use (tests hand in AppConfig's stand-in here: moto lacks
    deployments)."""
    return aws.client(service, region)


class PublishError(Exception):
    """An operator's mistake or a state that allows no action: one line, exit 2 (main.py)."""


def checked(data: bytes, source: str) -> str:
    """The rules version of ``data`` if the router would load it; ``PublishError`` naming each problem else."""
    try:
        parse_rules(data, source)
    except RulesError as exc:
        raise PublishError("; ".join(exc.problems)) from exc
    return rules_version(data)


# ---------------------------------------------------------------------------------------------- SSM


@dataclass
class SsmTarget:
    """One SSM parameter holding the rules (RulesSsmParameterName)."""

    client: SSMClient
    name: str

    def publish(self, data: bytes, source: str) -> dict[str, Any]:
        checked(data, source)
        if len(data) > SSM_ADVANCED_BYTES:
            raise PublishError(
                f"{source}: {len(data)} bytes, more than an SSM parameter holds ({SSM_ADVANCED_BYTES} bytes, "
                "advanced tier): publish to AppConfig instead (--appconfig)"
            )
        value = (
            data.decode("utf-16")
            if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
            else data.decode("utf-8-sig")
        )
        # The router hashes the parameter's value as SSM returns it (text, UTF-8): the same here.
        return self._put(value, rules_version(value), f"published {source}")

    def rollback(self, to_version: int | None = None) -> dict[str, Any]:
        history = self._history()
        if not history:
            raise PublishError(f"SSM parameter {self.name} has no history")
        current = history[-1]
        if to_version is None:
            if len(history) < 2:
                raise PublishError(
                    f"SSM parameter {self.name} has only version {current['Version']}: nothing to roll back to"
                )
            target = history[-2]
        else:
            found = [h for h in history if h["Version"] == to_version]
            if not found:
                raise PublishError(f"SSM parameter {self.name} has no version {to_version} in its history")
            target = found[0]
        value = str(target["Value"])
        source = f"ssm:{self.name} version {target['Version']}"
        version = checked(value.encode("utf-8"), source)
        result = self._put(value, version, f"rolled back to version {target['Version']}")
        return {**result, "restored_from_version": target["Version"], "replaced_version": current["Version"]}

    def _put(self, value: str, version: str, action: str) -> dict[str, Any]:
        # GetParameterHistory returns each version's Description: "which version is rules_version X?"
        params: dict[str, Any] = {
            "Name": self.name,
            "Value": value,
            "Overwrite": True,
            "Description": f"contact-router rules {version}",
        }
        if not self._exists():
            params["Type"] = "String"
        if len(value.encode("utf-8")) > SSM_STANDARD_BYTES:
            params["Tier"] = "Advanced"
        answer = self.client.put_parameter(**params)
        return {
            "target": "ssm",
            "parameter": self.name,
            "parameter_version": answer["Version"],
            "rules_version": version,
            "action": action,
        }

    def _exists(self) -> bool:
        found = self.client.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [self.name]}])
        return bool(found.get("Parameters"))

    def _history(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator("get_parameter_history").paginate(Name=self.name, WithDecryption=True):
            items.extend(dict(h) for h in page.get("Parameters", []))
        return sorted(items, key=lambda h: int(h["Version"]))


# ----------------------------------------------------------------------------------------- AppConfig


def parse_appconfig(spec: str) -> tuple[str, str, str]:
    """``app/env/profile`` (the IDs the template's RulesAppConfig* parameters take)."""
    parts = spec.split("/")
    if len(parts) != 3 or not all(parts):
        raise PublishError(f"--appconfig {spec!r}: expected APPLICATION/ENVIRONMENT/PROFILE (their IDs)")
    return parts[0], parts[1], parts[2]


@dataclass
class AppConfigTarget:
    """One hosted configuration profile deployed to one environment."""

    client: AppConfigClient
    application: str
    environment: str
    profile: str

    @property
    def name(self) -> str:
        return f"{self.application}/{self.environment}/{self.profile}"

    def publish(
        self, data: bytes, source: str, strategy: str = DEFAULT_STRATEGY, deploy: bool = True
    ) -> dict[str, Any]:
        version = checked(data, source)
        created = self.client.create_hosted_configuration_version(
            ApplicationId=self.application,
            ConfigurationProfileId=self.profile,
            Content=data,
            ContentType=CONTENT_TYPE,
            Description=f"contact-router rules {version}"[:1024],
        )
        number = int(created["VersionNumber"])
        result: dict[str, Any] = {
            "target": "appconfig",
            "application": self.application,
            "environment": self.environment,
            "profile": self.profile,
            "configuration_version": number,
            "rules_version": version,
            "action": f"published {source}",
        }
        if deploy:
            result.update(self._deploy(number, strategy, f"contact-router rules {version}"))
        return result

    def rollback(self, strategy: str = DEFAULT_STRATEGY, to_version: int | None = None) -> dict[str, Any]:
        deployments = self._deployments()
        base = {
            "target": "appconfig",
            "application": self.application,
            "environment": self.environment,
            "profile": self.profile,
        }
        latest = deployments[-1] if deployments else None
        if to_version is None and latest is not None and latest.get("State") in IN_PROGRESS:
            number = int(latest["DeploymentNumber"])
            stopped = self.client.stop_deployment(
                ApplicationId=self.application,
                EnvironmentId=self.environment,
                DeploymentNumber=number,
                AllowRevert=True,
            )
            return {
                **base,
                "action": f"stopped deployment {number} (version {latest['ConfigurationVersion']}); AppConfig puts "
                "the previous version back",
                "deployment_number": number,
                "deployment_state": stopped.get("State"),
                "configuration_version": int(latest["ConfigurationVersion"]),
            }
        if to_version is None:
            to_version = self._previous_version(deployments)
        content = self.client.get_hosted_configuration_version(
            ApplicationId=self.application, ConfigurationProfileId=self.profile, VersionNumber=to_version
        )["Content"].read()
        version = checked(content, f"appconfig:{self.application}/{self.profile} version {to_version}")
        deployed = self._deploy(to_version, strategy, f"contact-router rollback to rules {version}")
        return {
            **base,
            **deployed,
            "configuration_version": to_version,
            "rules_version": version,
            "action": f"rolled back to version {to_version}",
        }

    def _previous_version(self, deployments: list[dict[str, Any]]) -> int:
        complete = [d for d in deployments if d.get("State") == "COMPLETE"]
        if not complete:
            raise PublishError(f"AppConfig {self.name}: no completed deployment of this profile: nothing to roll back")
        current = str(complete[-1]["ConfigurationVersion"])
        earlier = [d for d in complete if str(d["ConfigurationVersion"]) != current]
        if not earlier:
            raise PublishError(
                f"AppConfig {self.name}: version {current} is the only one ever deployed here: "
                "pass --to-version N to deploy another hosted version"
            )
        return int(earlier[-1]["ConfigurationVersion"])

    def _deploy(self, number: int, strategy: str, description: str) -> dict[str, Any]:
        started = self.client.start_deployment(
            ApplicationId=self.application,
            EnvironmentId=self.environment,
            DeploymentStrategyId=strategy,
            ConfigurationProfileId=self.profile,
            ConfigurationVersion=str(number),
            Description=description,
        )
        return {
            "deployment_number": started["DeploymentNumber"],
            "deployment_strategy": strategy,
            "deployment_state": started.get("State"),
        }

    def _deployments(self) -> list[dict[str, Any]]:
        """This profile's deployments to the environment, oldest first (the environment may carry others)."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = (
                self.client.list_deployments(
                    ApplicationId=self.application, EnvironmentId=self.environment, NextToken=token
                )
                if token
                else self.client.list_deployments(ApplicationId=self.application, EnvironmentId=self.environment)
            )
            items.extend(dict(d) for d in page.get("Items", []))
            token = page.get("NextToken")
            if not token:
                break
        mine = [d for d in items if d.get("ConfigurationProfileId", self.profile) == self.profile]
        return sorted(mine, key=lambda d: int(d["DeploymentNumber"]))


def describe(result: dict[str, Any]) -> str:
    """One line for people: what was done and which rules version is now published or deploying."""
    if result["target"] == "ssm":
        return (
            f"{result['action']}: SSM parameter {result['parameter']} version {result['parameter_version']}, "
            f"rules_version {result['rules_version']}"
        )
    where = f"AppConfig {result['application']}/{result['environment']}/{result['profile']}"
    line = f"{result['action']}: {where} configuration version {result['configuration_version']}"
    if "rules_version" in result:
        line += f", rules_version {result['rules_version']}"
    if "deployment_strategy" in result:
        line += (
            f"; deployment {result['deployment_number']} ({result['deployment_strategy']}) "
            f"{str(result.get('deployment_state') or '').lower()}"
        )
    return line
