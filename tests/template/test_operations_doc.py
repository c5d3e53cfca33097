"""docs/operations.md keeps up with template.yaml: every alarm has its entry, every dead-letter queue its redrive
row, every inline suppression its line in the security review, and the runbook names the commands that exist.
"""

from __future__ import annotations

import re

import pytest

from tests.support.cfn import ROOT, load_template

DOC = ROOT / "docs" / "operations.md"


def doc() -> str:
    return DOC.read_text()


def alarms() -> list[str]:
    return sorted(
        name for name, spec in load_template()["Resources"].items() if spec["Type"] == "AWS::CloudWatch::Alarm"
    )


def test_the_template_defines_the_alarms_this_test_reads() -> None:
    assert len(alarms()) >= 15
    assert "RoutingFailureShareAlarm" in alarms()


@pytest.mark.parametrize("alarm", alarms())
def test_every_alarm_has_an_entry_saying_what_it_means_and_what_to_do(alarm: str) -> None:
    # GIVEN an alarm defined in template.yaml WHEN docs/operations.md is read THEN it has its own section
    sections = [s.split("\n#", 1)[0] for s in re.split(r"^### ", doc(), flags=re.MULTILINE)]
    (section,) = [s for s in sections if s.startswith(f"`{alarm}`\n")] or [None]
    assert section is not None, f"docs/operations.md has no '### `{alarm}`' section"
    assert len(section.split()) >= 25, f"the section on {alarm} is too short to say what to do"


def test_no_section_describes_an_alarm_the_template_no_longer_has() -> None:
    documented = re.findall(r"^### `(\w+Alarm)`$", doc(), flags=re.MULTILINE)
    assert sorted(documented) == alarms()


def test_every_dead_letter_queue_has_its_redrive_row() -> None:
    queues = [
        name
        for name, spec in load_template()["Resources"].items()
        if spec["Type"] == "AWS::SQS::Queue" and name.endswith("DeadLetterQueue")
    ]
    assert len(queues) == 4
    for queue in queues:
        assert f"`{queue}Url`" in doc(), queue


def test_the_runbook_names_both_ways_to_redrive_and_the_decision_fields() -> None:
    text = doc()
    assert "contact-router dlq redrive --queue-url" in text
    assert "aws sqs start-message-move-task --source-arn" in text
    assert 'filter message = "routing decision"' in text
    assert 'filter message = "supervision decision"' in text
    assert "decision.outcome" in text
    assert "supervision.outcome" in text
    assert "DryRun=true" in text


def test_every_inline_suppression_is_listed_for_the_security_review() -> None:
    suppressed: set[str] = set()
    for spec in load_template()["Resources"].values():
        metadata = spec.get("Metadata", {})
        suppressed |= {skip["id"] for skip in metadata.get("checkov", {}).get("skip", [])}
        suppressed |= set(metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", []))
    review = doc()[doc().index("## For the security review") :]
    for check in sorted(suppressed):
        assert f"`{check}`" in review, check
