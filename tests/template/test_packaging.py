"""How sam build packages the functions: every function's build (functions/Makefile, Metadata BuildMethod:
makefile) ships compiled bytecode. /var/task is read-only, so a module shipped without its bytecode is
compiled again on every cold start."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.support.cfn import load_template

MAKE = shutil.which("make")


def resources_of(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in load_template()["Resources"].items() if r["Type"] == kind}


def make_dry_run(target: str, artifacts: str) -> str:
    """What ``sam build`` would run for ``target`` (make -n on functions/Makefile, nothing executed)."""
    assert MAKE, "make is not installed"
    result = subprocess.run(
        [MAKE, "-n", "-C", str(ROOT / "functions"), target, f"ARTIFACTS_DIR={artifacts}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


FUNCTIONS = sorted(resources_of("AWS::Serverless::Function"))


def test_the_template_has_the_five_functions() -> None:
    # Given the template / Then the list below is every function (a new one gets the same checks)
    assert FUNCTIONS == ["AffinityFunction", "FlowFunction", "RouterFunction", "SupervisionFunction", "SweepFunction"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_is_built_by_the_makefile_and_ships_its_bytecode(function: str) -> None:
    # Given the function's resource
    resource = resources_of("AWS::Serverless::Function")[function]
    # Then sam build runs functions/Makefile for it
    assert resource.get("Metadata", {}).get("BuildMethod") == "makefile", function
    assert resource["Properties"]["CodeUri"].rstrip("/") == "functions"
    # And its target compiles what it ships, bytecode used as shipped (unchecked-hash)
    commands = make_dry_run(f"build-{function}", "/tmp/artifacts-of-" + function)
    compile_lines = [line for line in commands.splitlines() if "compileall" in line]
    assert compile_lines, commands
    assert all("--invalidation-mode unchecked-hash" in line for line in compile_lines)
    assert any(line.rstrip().endswith('"/tmp/artifacts-of-' + function + '"') for line in compile_lines), commands
