"""Write a copy of template.yaml whose parameter defaults switch every optional part on, for checkov.

checkov reads a CloudFormation template with its parameters' defaults and leaves out resources whose
Condition is then false: scanning template.yaml alone would never look at the sweep (SweepEnabled defaults to
false) nor at the statements that exist only with a KMS key, an alarm topic, SSM rules or barge. `make
security` scans template.yaml as it is and this copy.

Only the ``Default:`` lines of the named parameters change, in place, so line numbers (and the suppressions
in each resource's Metadata) are the same as in template.yaml. Standard library only: it runs with any
interpreter, the security scanners' included.

    python tests/support/template_variants.py template.yaml OUT.yaml [VARIANT]

Rules come from one source: SSM and AppConfig exclude each other, so the AppConfig-only resources (the rules
validator) are in a second variant, ``appconfig-rules``: everything on, rules from AppConfig.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

EVERYTHING_ON: dict[str, str] = {
    "SweepEnabled": '"true"',
    "SweepQueueIds": '"22222222-0000-4000-8000-000000000001,22222222-0000-4000-8000-000000000002"',
    "KmsKeyArn": "arn:aws:kms:eu-west-2:123456789012:key/0d3b7b43-0000-4000-8000-00000000c0de",
    "AlarmTopicArn": "arn:aws:sns:eu-west-2:123456789012:contact-router-alarms",
    "RulesSource": "ssm",
    "RulesSsmParameterName": "/contact-router/rules",
    "AllowBarge": '"true"',
    "RouteVoice": '"true"',
    "ActiveTracing": '"true"',
    "FlowIntegration": '"true"',
    "CustomerProfilesDomain": "acme-profiles",
}

APPCONFIG_RULES_ON: dict[str, str] = {
    **{name: value for name, value in EVERYTHING_ON.items() if name != "RulesSsmParameterName"},
    "RulesSource": "appconfig",
    "RulesAppConfigApplication": "abc1234",
    "RulesAppConfigEnvironment": "env5678",
    "RulesAppConfigProfile": "prf9012",
}
VARIANTS: dict[str, dict[str, str]] = {"everything": EVERYTHING_ON, "appconfig-rules": APPCONFIG_RULES_ON}

_TOP_LEVEL = re.compile(r"^\S")
_PARAMETER = re.compile(r"^  (\w+):\s*$")
_DEFAULT = re.compile(r"^    Default:.*$")


def with_defaults(text: str, defaults: dict[str, str]) -> str:
    """``text`` with the ``Default:`` line of each named parameter replaced (every one must exist)."""
    lines = text.splitlines(keepends=True)
    in_parameters = False
    current: str | None = None
    done: set[str] = set()
    for index, line in enumerate(lines):
        if _TOP_LEVEL.match(line):
            in_parameters = line.startswith("Parameters:")
            current = None
            continue
        if not in_parameters:
            continue
        parameter = _PARAMETER.match(line)
        if parameter:
            current = parameter.group(1)
            continue
        if current in defaults and _DEFAULT.match(line):
            lines[index] = f"    Default: {defaults[current]}\n"
            done.add(current)
    missing = sorted(set(defaults) - done)
    if missing:
        raise SystemExit(f"parameters without a Default: line in the template: {missing}")
    return "".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] not in VARIANTS):
        raise SystemExit(f"usage: template_variants.py TEMPLATE OUT [{'|'.join(VARIANTS)}]")
    source, target = Path(argv[0]), Path(argv[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(with_defaults(source.read_text(), VARIANTS[argv[2] if len(argv) == 3 else "everything"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
