"""samconfig.toml: every environment carries every template parameter, with values the template accepts.

A command-line `--parameter-overrides` replaces samconfig's whole list, and SAM asks CloudFormation to keep
the previous value (or, on a first deploy, the template default) of each parameter left out. With every
parameter in the file, the file is the whole configuration of its stack, reviewed in one place.
"""

from __future__ import annotations

import re

import pytest

from tests.support.cfn import load_template
from tests.support.samconfig import ENVIRONMENTS, ROOT, samconfig_overrides

PARAMETERS = load_template()["Parameters"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_template_parameter_is_set_in_each_environment(env: str) -> None:
    overrides = samconfig_overrides(env)
    missing = sorted(set(PARAMETERS) - set(overrides))
    assert not missing, f"samconfig.toml [{env}] does not set {missing}"
    assert not set(overrides) - set(PARAMETERS), "only real parameters"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_value_is_one_the_template_accepts(env: str) -> None:
    # The instance ARN placeholder is the one value meant to fail (nothing deploys until it is replaced).
    for name, value in samconfig_overrides(env).items():
        spec = PARAMETERS[name]
        if name == "ConnectInstanceArn":
            assert not re.fullmatch(spec["AllowedPattern"], value)
            continue
        items = value.split(",") if spec["Type"] == "CommaDelimitedList" and value else [value]
        for item in items:
            if "AllowedValues" in spec:
                assert item in [str(v) for v in spec["AllowedValues"]], (env, name, item)
            if "AllowedPattern" in spec:
                assert re.fullmatch(spec["AllowedPattern"], item), (env, name, item)
            if spec["Type"] == "Number":
                number = float(item)
                assert number >= spec.get("MinValue", number), (env, name, item)
                assert number <= spec.get("MaxValue", number), (env, name, item)


def test_the_docs_say_why_every_parameter_is_in_the_file() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    assert "replaces samconfig.toml's whole list" in text
    assert "tests/template/test_samconfig.py" in (ROOT / "samconfig.toml").read_text()
