"""`make security`: what it scans and how it is set up.

checkov leaves out resources whose Condition is false with the parameters' defaults, so `make security` also
scans a copy of template.yaml whose defaults switch every optional part on (tests/support/template_variants.py).
These tests keep that copy complete and the scanners' setup honest (pinned, no global suppression).
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.support.cfn import ROOT, load_template, stack
from tests.support.template_variants import EVERYTHING_ON, VARIANTS, with_defaults


def everything_on(variant: str = "everything") -> dict[str, str]:
    return {name: value.strip('"') for name, value in VARIANTS[variant].items()}


def test_the_variant_changes_only_the_named_defaults_and_keeps_line_numbers() -> None:
    original = (ROOT / "template.yaml").read_text().splitlines()
    variant = with_defaults("\n".join(original) + "\n", EVERYTHING_ON).splitlines()
    assert len(variant) == len(original)
    changed = [(a, b) for a, b in zip(original, variant, strict=True) if a != b]
    assert len(changed) == len(EVERYTHING_ON)
    assert all(b.startswith("    Default: ") for _, b in changed)


def test_the_variant_switches_on_every_condition_a_resource_or_output_depends_on() -> None:
    template = load_template()
    used = {spec["Condition"] for spec in template["Resources"].values() if "Condition" in spec}
    used |= {spec["Condition"] for spec in template.get("Outputs", {}).values() if "Condition" in spec}
    assert used, "no conditional resource: the variant scan has nothing to add"
    # rules come from SSM or AppConfig, never both: each condition is on in one variant or the other
    on = {name for variant in VARIANTS for name, value in stack(**everything_on(variant)).conditions.items() if value}
    assert used <= on, used - on


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_variant_satisfies_the_parameters_constraints(variant: str) -> None:
    parameters = load_template()["Parameters"]
    for name, value in everything_on(variant).items():
        spec = parameters[name]
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), name
        if "AllowedValues" in spec:
            assert value in spec["AllowedValues"], name


def test_a_parameter_without_a_default_line_is_an_error() -> None:
    with pytest.raises(SystemExit, match="NoSuchParameter"):
        with_defaults((ROOT / "template.yaml").read_text(), {"NoSuchParameter": "x"})


def test_checkov_skips_nothing_globally() -> None:
    # every suppression sits in template.yaml, on its resource, with its reason
    config = yaml.safe_load((ROOT / ".checkov.yaml").read_text())
    assert not {"skip-check", "skip-path", "skip-framework", "soft-fail-on"} & set(config)
    assert config["soft-fail"] is False
    assert config["skip-download"] is True


def test_every_inline_suppression_gives_its_reason() -> None:
    for name, spec in load_template()["Resources"].items():
        metadata = spec.get("Metadata", {})
        for skip in metadata.get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 40, (name, skip)
        if "cfn-lint" in metadata:
            # cfn-lint's config has no comment field: the reason is the YAML comment above ignore_checks
            text = (ROOT / "template.yaml").read_text()
            block = text[text.index(f"\n  {name}:\n") :]
            block = block[: block.index("ignore_checks")]
            for check in metadata["cfn-lint"]["config"]["ignore_checks"]:
                assert f"# {check} (" in block, (name, check)


def test_scanners_are_pinned_and_share_cfn_lint_with_the_dev_environment() -> None:
    def pins(name: str) -> dict[str, str]:
        lines = (ROOT / "requirements" / name).read_text().splitlines()
        entries = [line for line in lines if line and not line.startswith(("#", "-r"))]
        assert all("==" in line for line in entries), name
        return dict(line.split("==", 1) for line in entries)

    security = pins("security.txt")
    assert {"checkov", "cfn-lint", "cfn_lint_serverless"} <= set(security)
    assert security["cfn-lint"] == pins("dev.txt")["cfn-lint"]
