"""How sam build packages the functions: one layer holds the dependencies (DependenciesLayer), every function
carries only the contact_router code, and every build (functions/Makefile, Metadata BuildMethod: makefile)
ships compiled bytecode. /var/task and /opt are read-only, so a module shipped without its bytecode is
compiled again on every cold start. tests/integration/test_built_package.py runs these targets."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.support.cfn import load_template, stack

MAKE = shutil.which("make")


def resources_of(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in load_template()["Resources"].items() if r["Type"] == kind}


def make_dry_run(target: str, artifacts: str) -> str:
    """What ``sam build`` would run for ``target`` (make -n on functions/Makefile, nothing executed)."""
    assert MAKE, "make is not installed"
    result = subprocess.run(
        [MAKE, "-n", "--no-print-directory", "-C", str(ROOT / "functions"), target, f"ARTIFACTS_DIR={artifacts}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


FUNCTIONS = sorted(resources_of("AWS::Serverless::Function"))


def test_the_template_has_the_six_functions() -> None:
    # Given the template / Then the list below is every function (a new one gets the same checks)
    assert FUNCTIONS == [
        "AffinityFunction",
        "FlowFunction",
        "RouterFunction",
        "RulesValidatorFunction",
        "SupervisionFunction",
        "SweepFunction",
    ]


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


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_package_is_its_code_only(function: str) -> None:
    # Given what sam build runs for the function / Then it installs nothing: the dependencies are the layer's
    commands = make_dry_run(f"build-{function}", "/tmp/artifacts")
    assert "pip" not in commands
    assert "contact_router" in commands


def test_the_dependencies_layer_is_built_for_the_functions_runtime_and_architecture() -> None:
    # Given the layer and the functions' Globals
    template = load_template()
    layer = template["Resources"]["DependenciesLayer"]
    globals_ = template["Globals"]["Function"]
    # Then it is built by the Makefile for arm64 and declared for the functions' runtime and architecture
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"
    assert layer["Properties"]["ContentUri"].rstrip("/") == "functions"
    assert layer["Properties"]["CompatibleRuntimes"] == [globals_["Runtime"]]
    assert layer["Properties"]["CompatibleArchitectures"] == globals_["Architectures"]
    # And its target installs functions/requirements.txt for that platform under python/ (Lambda's /opt/python),
    # keeps only the botocore models the functions use, and compiles it all
    commands = make_dry_run("build-DependenciesLayer", "/tmp/layer").splitlines()
    [install] = [line for line in commands if "pip install" in line]
    assert "-r requirements.txt" in install
    assert '--target "/tmp/layer/python"' in install
    assert "--platform manylinux2014_aarch64" in install
    assert "--python-version 3.13" in install
    assert globals_["Runtime"] == "python3.13"
    steps = [line.split()[2] if "-m" in line.split()[:2] else line.split()[1] for line in commands]
    assert steps == ["pip", "prune_botocore_data.py", "compileall"], commands
    assert all(line.rstrip().endswith('"/tmp/layer/python"') for line in commands[1:]), commands


def test_every_function_runs_with_the_dependencies_layer() -> None:
    # Given the deployed stack with every function (the flow entry point and the sweep are optional)
    deployed = stack(FlowIntegration="true", SweepEnabled="true")
    [layer] = deployed.of_type("AWS::Lambda::LayerVersion")
    functions = deployed.of_type("AWS::Lambda::Function")
    # Then each of the five functions has exactly that layer
    assert len(functions) == 5
    for name, function in functions.items():
        assert function["Properties"]["Layers"] == [{"Ref": layer}], name
