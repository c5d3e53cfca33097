"""AppConfig for the tests: moto's client for what moto has (applications, configuration profiles, hosted
configuration versions), and in-process deployments for what it lacks (moto 5 has no environments,
StartDeployment, StopDeployment nor ListDeployments).

The deployment operations answer as the botocore model says the service does: each request is validated
against the operation's input shape (a bad parameter is botocore's ParamValidationError), errors are
ClientErrors with the documented codes (ResourceNotFoundException for an unknown environment, version or
deployment, ConflictException for a second deployment while one is in progress, BadRequestException for a
stop that is not allowed). A deployment starts DEPLOYING and completes when the test says so (``complete``);
StopDeployment with AllowRevert marks an in-progress deployment ROLLED_BACK and a completed one REVERTED, as the
StopDeployment documentation says. Strategies are not simulated (no growth, no bake time, no alarms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.model import StructureShape
from botocore.validate import validate_parameters

from tests.support.aws_errors import client_error

_MODEL = botocore.session.get_session().get_service_model("appconfig")
_IN_PROGRESS = {"VALIDATING", "DEPLOYING", "BAKING"}


def _validated(operation: str, params: dict[str, Any]) -> None:
    shape = _MODEL.operation_model(operation).input_shape
    assert shape is not None
    validate_parameters(params, shape)


@dataclass
class AppConfigWithDeployments:
    """moto's AppConfig client plus environments and deployments held in memory."""

    moto: Any
    environments: set[tuple[str, str]] = field(default_factory=set)
    deployments: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:  # every operation moto has
        return getattr(self.moto, name)

    def add_environment(self, application: str, environment: str) -> None:
        self.environments.add((application, environment))

    def complete(self, application: str, environment: str, number: int) -> None:
        """The deployment's strategy has run its course (growth and bake time)."""
        self._deployment("StopDeployment", application, environment, number)["State"] = "COMPLETE"

    def start_deployment(self, **params: Any) -> dict[str, Any]:
        _validated("StartDeployment", params)
        key = (params["ApplicationId"], params["EnvironmentId"])
        if key not in self.environments:
            raise client_error("StartDeployment", "ResourceNotFoundException", 404, f"Environment {key[1]} not found")
        # the hosted version must exist (moto answers ResourceNotFoundException otherwise)
        self.moto.get_hosted_configuration_version(
            ApplicationId=params["ApplicationId"],
            ConfigurationProfileId=params["ConfigurationProfileId"],
            VersionNumber=int(params["ConfigurationVersion"]),
        )
        history = self.deployments.setdefault(key, [])
        if any(d["State"] in _IN_PROGRESS for d in history):
            raise client_error(
                "StartDeployment", "ConflictException", 409, "A deployment is already in progress in this environment"
            )
        deployment = {
            "ApplicationId": key[0],
            "EnvironmentId": key[1],
            "DeploymentStrategyId": params["DeploymentStrategyId"],
            "ConfigurationProfileId": params["ConfigurationProfileId"],
            "ConfigurationVersion": params["ConfigurationVersion"],
            "Description": params.get("Description", ""),
            "DeploymentNumber": len(history) + 1,
            "State": "DEPLOYING",
            "StartedAt": datetime.now(UTC),
        }
        history.append(deployment)
        return dict(deployment)

    def stop_deployment(self, **params: Any) -> dict[str, Any]:
        _validated("StopDeployment", params)
        deployment = self._deployment(
            "StopDeployment", params["ApplicationId"], params["EnvironmentId"], params["DeploymentNumber"]
        )
        if deployment["State"] in _IN_PROGRESS:
            deployment["State"] = "ROLLED_BACK"
        elif deployment["State"] == "COMPLETE" and params.get("AllowRevert"):
            deployment["State"] = "REVERTED"
        else:
            raise client_error("StopDeployment", "BadRequestException", 400, f"Deployment is {deployment['State']}")
        return dict(deployment)

    def list_deployments(self, **params: Any) -> dict[str, Any]:
        _validated("ListDeployments", params)
        key = (params["ApplicationId"], params["EnvironmentId"])
        if key not in self.environments:
            raise client_error("ListDeployments", "ResourceNotFoundException", 404, f"Environment {key[1]} not found")
        items = sorted(self.deployments.get(key, []), key=lambda d: -d["DeploymentNumber"])  # newest first
        summary = _MODEL.shape_for("DeploymentSummary")
        assert isinstance(summary, StructureShape)
        fields = summary.members
        return {"Items": [{k: v for k, v in d.items() if k in fields} for d in items]}

    def _deployment(self, operation: str, application: str, environment: str, number: int) -> dict[str, Any]:
        for deployment in self.deployments.get((application, environment), []):
            if deployment["DeploymentNumber"] == number:
                found: dict[str, Any] = deployment
                return found
        raise client_error(operation, "ResourceNotFoundException", 404, f"Deployment {number} not found")
