"""Condition keys missing from the request, case by case, with what IAM does and where that is written.

Read by tests/emulator/test_emulator_iam.py (the evaluator itself, ``connect_emulator.iam.evaluate``) and
tests/unit/test_preflight_iam.py (preflight's local simulator, which must give the same answers: it uses that
evaluator). Sources: IAM User Guide, "IAM JSON policy elements: Condition operators" (OPERATORS) and
"Single-valued vs. multivalued context keys" (MULTIVALUED).
"""

from __future__ import annotations

from typing import NamedTuple

OPERATORS = "IAM User Guide: Condition operators"
MULTIVALUED = "IAM User Guide: Single-valued vs. multivalued context keys"
KEY = "connect:PreferredUserArn"
AGENT = "arn:aws:connect:eu-west-2:123456789012:instance/i/agent/a"


class MissingKeyCase(NamedTuple):
    operator: str
    policy_value: str
    holds: bool  # the condition's value when the request has no such key (default switches)
    source: str


MISSING_KEY_CASES = [
    # "If the key that you specify in a policy condition is not present in the request context, the values do not
    # match and the condition is false."
    MissingKeyCase("ArnLike", AGENT, False, OPERATORS),
    MissingKeyCase("StringEquals", AGENT, False, OPERATORS),
    # "If the policy condition requires that the key is not matched, such as StringNotLike or ArnNotLike, and the
    # right key is not present, the condition is true."
    MissingKeyCase("StringNotEquals", AGENT, True, OPERATORS),
    MissingKeyCase("ArnNotLike", AGENT, True, OPERATORS),
    # ...IfExists: "If the key is not present, evaluate the condition element as true."
    MissingKeyCase("ArnLikeIfExists", AGENT, True, OPERATORS),
    MissingKeyCase("StringEqualsIfExists", AGENT, True, OPERATORS),
    # Null: "true" holds when the key is absent, "false" when it is present.
    MissingKeyCase("Null", "true", True, OPERATORS),
    MissingKeyCase("Null", "false", False, OPERATORS),
    # ForAllValues "also returns true if there are no context keys in the request"; ForAnyValue returns false.
    MissingKeyCase("ForAllValues:StringEquals", AGENT, True, MULTIVALUED),
    MissingKeyCase("ForAnyValue:StringEquals", AGENT, False, MULTIVALUED),
    # Open (the two pages' rules disagree): IamSwitches.for_any_value_missing_key_holds, off by default.
    MissingKeyCase("ForAnyValue:StringEqualsIfExists", AGENT, False, "switch for_any_value_missing_key_holds"),
    MissingKeyCase("ForAnyValue:StringNotEquals", AGENT, False, "switch for_any_value_missing_key_holds"),
]
# Under IamSwitches(for_any_value_missing_key_holds=True) these hold instead.
SWITCHED = {"ForAnyValue:StringEqualsIfExists", "ForAnyValue:StringNotEquals"}


def statement(operator: str, policy_value: str) -> dict[str, object]:
    """An Allow of AssociateContactWithUser on any resource, with one condition on connect:PreferredUserArn."""
    return {
        "Effect": "Allow",
        "Action": "connect:AssociateContactWithUser",
        "Resource": "*",
        "Condition": {operator: {KEY: policy_value}},
    }
