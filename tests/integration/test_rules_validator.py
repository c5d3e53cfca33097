"""The AppConfig rules validator Lambda in-process: AppConfig's validation event (base64 ``content``) through the
real handler. It returns to accept and raises to refuse, with one line naming each problem (the loader's words)."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest

from contact_router.handlers import rules_validator
from contact_router.rules.loader import rules_version
from contact_router.rules.validator import MAX_PROBLEMS_SHOWN, RulesRejected
from tests.conftest import SAMPLES_DIR
from tests.integration.conftest import LambdaContext

BROKEN = b"""version: 1
routing:
  - name: vip
    candidates: [{users: [mo]}]
    fallback: {wait_seconds: -5}
"""
BARGE = b"""version: 1
routing:
  - name: vip
    candidates: [{users: [mo]}]
supervision:
  - name: listen
    supervisors: [lead.one]
    capabilities: [SILENT_MONITOR, BARGE]
"""


def appconfig_event(content: bytes, version: str = "7") -> dict[str, Any]:
    """The event AppConfig sends a LAMBDA validator (AppConfig user guide, "Understanding validators")."""
    return {
        "applicationId": "abc1234",
        "configurationProfileId": "prf9012",
        "configurationVersion": version,
        "content": base64.b64encode(content).decode("ascii"),
        "uri": "hosted",
    }


def log_lines(output: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.getvalue().splitlines() if line.startswith("{")]


def test_valid_rules_are_accepted_with_their_rules_version(
    lambda_output: io.StringIO, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the sample rules (one supervision rule barges in: AllowBarge=true), as AppConfig would hand them over
    monkeypatch.setenv("ALLOW_BARGE", "true")
    content = (SAMPLES_DIR / "rules.yaml").read_bytes()
    # WHEN the validator runs
    answer = rules_validator.lambda_handler(appconfig_event(content), LambdaContext())
    # THEN it returns (AppConfig accepts) and logs the version decision records will carry
    assert answer == {"rules_version": rules_version(content)}
    accepted = [line for line in log_lines(lambda_output) if line.get("message") == "rules accepted"]
    assert accepted[0]["rules_version"] == rules_version(content)
    assert accepted[0]["rules_source"] == "AppConfig abc1234/prf9012 version 7"
    assert '"RulesAccepted":[1.0]' in capsys.readouterr().out  # the EMF metric line


def test_invalid_rules_are_refused_with_one_line_naming_the_rule_and_field(
    lambda_output: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a document the router would refuse WHEN the validator runs THEN it raises (AppConfig refuses)
    with pytest.raises(RulesRejected) as refused:
        rules_validator.lambda_handler(appconfig_event(BROKEN), LambdaContext())
    message = str(refused.value)
    # ... with one line, naming the version, the rule and the field
    assert "\n" not in message
    assert message.startswith("rules rejected: AppConfig abc1234/prf9012 version 7: rule 'vip' (routing[0]): fallback")
    assert any(line.get("message") == "rules rejected" for line in log_lines(lambda_output))
    assert '"RulesRejected":[1.0]' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"version: 1\nrouting: [\n", "not valid YAML: line"),
        (b"", "the document is empty"),
        (b"version: 1\n\xc3routing: []\n", "not UTF-8: byte 0xC3 at line 2, column 1"),
    ],
)
def test_unreadable_documents_are_refused_with_the_loaders_words(content: bytes, expected: str) -> None:
    with pytest.raises(RulesRejected) as refused:
        rules_validator.lambda_handler(appconfig_event(content), LambdaContext())
    assert expected in str(refused.value)
    assert "\n" not in str(refused.value)


def test_barge_is_refused_unless_the_deployment_allows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a supervision rule that barges in, AllowBarge=false (the template's default)
    monkeypatch.setenv("ALLOW_BARGE", "false")
    with pytest.raises(RulesRejected, match=r"BARGE is not allowed by this deployment"):
        rules_validator.lambda_handler(appconfig_event(BARGE), LambdaContext())
    # WHEN the deployment allows barging THEN the same document is accepted
    monkeypatch.setenv("ALLOW_BARGE", "true")
    assert rules_validator.lambda_handler(appconfig_event(BARGE), LambdaContext())["rules_version"]


def test_not_an_appconfig_event_is_refused_not_crashed() -> None:
    with pytest.raises(RulesRejected, match="no base64 'content'"):
        rules_validator.lambda_handler({"applicationId": "abc1234"}, LambdaContext())
    with pytest.raises(RulesRejected, match="'content' is not base64"):
        rules_validator.lambda_handler({"content": "%%%"}, LambdaContext())


def test_many_problems_stay_one_line_and_say_how_many_more() -> None:
    # GIVEN a document with more problems than the message shows
    rules = "version: 1\nrouting:\n" + "".join(
        f"  - name: r{i}\n    candidates: [{{users: [mo]}}]\n    fallback: {{wait_seconds: -1}}\n" for i in range(15)
    )
    with pytest.raises(RulesRejected) as refused:
        rules_validator.lambda_handler(appconfig_event(rules.encode()), LambdaContext())
    # THEN the first ones are named and the rest counted; every one is kept for the log
    assert len(refused.value.problems) == 15
    assert str(refused.value).endswith(f"; and {15 - MAX_PROBLEMS_SHOWN} more problem(s)")
