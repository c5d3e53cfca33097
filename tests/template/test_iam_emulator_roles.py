"""The roles the Connect emulator's IAM mode evaluates (contact_router_cli.roles, a small loader of its own)
are the SAM-transformed template's: the same Connect statements for every function, whatever the parameters."""

from __future__ import annotations

from typing import Any

import pytest

from contact_router_cli.roles import function_role_policies
from tests.support.cfn import TEST_INSTANCE_ARN, as_list, stack

FUNCTIONS = ["RouterFunction", "SupervisionFunction", "AffinityFunction", "SweepFunction"]
VARIANTS = {
    "defaults": {},
    "barge-sweep": {
        "AllowBarge": "true",
        "SweepEnabled": "true",
        "SweepQueueIds": "22222222-0000-4000-8000-000000000001",
    },
    "narrow-agents": {"AllowedAgentArnPattern": f"{TEST_INSTANCE_ARN}/agent/a*"},
}


def connect_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if any(str(a).startswith("connect:") for a in as_list(s["Action"]))]


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_the_emulator_evaluates_the_deployed_roles(variant: str) -> None:
    parameters = VARIANTS[variant]
    deployed = stack(**parameters)
    roles = function_role_policies(TEST_INSTANCE_ARN, parameters)
    functions = [f for f in FUNCTIONS if f in deployed.resources]
    assert sorted(roles) == sorted(functions)
    for function in functions:
        assert roles[function] == connect_statements(deployed.role_statements(function)), function
