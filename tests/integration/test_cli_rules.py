"""contact-router rules validate: warnings for rules that never decide and names the instance lacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from contact_router_cli.main import main
from tests.conftest import SAMPLES_DIR

WORLD = SAMPLES_DIR / "world.yaml"
RULES = """version: 1
routing:
  - name: vip
    when: {channel: [CHAT], tags: {Segment: {one_of: [vip, gold]}}}
    candidates: [{users: [mo, nobody.here]}]
  - name: vip-support
    when: {channel: [CHAT], tags: {Segment: {equals: vip}}, queue: [22222222-0000-4000-8000-000000000001]}
    candidates: [{users: [sam]}]
  - name: everyone
    candidates: [{users: [dana]}]
  - name: after-everyone
    when: {queue: [22222222-0000-4000-8000-0000000000ff]}
    candidates: [{users: [dana]}]
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return path


def test_the_sample_rules_have_no_warnings_against_the_sample_world() -> None:
    result = CliRunner().invoke(main, ["rules", "validate", "--instance", str(WORLD), str(SAMPLES_DIR / "rules.yaml")])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


def test_warnings_name_the_rule_and_leave_the_file_valid(rules_file: Path) -> None:
    result = CliRunner().invoke(main, ["rules", "validate", "--instance", str(WORLD), str(rules_file)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: {rules_file}: rule 'vip-support' (routing[1]): shadowed by rule 'vip' (routing[0]): "
        "it matches every contact this rule matches, and comes first",
        f"warning: {rules_file}: rule 'after-everyone' (routing[3]): unreachable: catch-all rule 'everyone' "
        "(routing[2]) before it has no conditions and takes every contact",
        f"warning: {rules_file}: rule 'vip' (routing[0]): candidates[0].users: no user 'nobody.here' in {WORLD}",
        f"warning: {rules_file}: rule 'after-everyone' (routing[3]): when.queue: no queue "
        f"'22222222-0000-4000-8000-0000000000ff' in {WORLD}",
    ]
    strict = CliRunner().invoke(main, ["rules", "validate", "--strict", str(rules_file)])
    assert strict.exit_code == 1


def test_json_carries_errors_and_warnings_per_file(rules_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrouting:\n  - name: x\n")
    result = CliRunner().invoke(main, ["rules", "validate", "--json", str(rules_file), str(bad)])
    assert result.exit_code == 1
    good, broken = json.loads(result.output)
    assert good["ok"] is True
    assert [r["name"] for r in good["routing"]] == ["vip", "vip-support", "everyone", "after-everyone"]
    assert [(w["rule"], w["kind"]) for w in good["warnings"]] == [
        ("vip-support", "shadowed"),
        ("after-everyone", "unreachable"),
    ]
    assert broken["ok"] is False
    assert broken["errors"] == [f"{bad}: rule 'x' (routing[0]): candidates: Field required"]


def test_names_are_checked_against_a_real_instance_by_arn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # GIVEN an instance reached through AWS_ENDPOINT_URL_CONNECT (the HTTP emulator on loopback)
    from connect_emulator import ConnectEmulator, World

    rules = tmp_path / "users.yaml"
    rules.write_text(
        "version: 1\nrouting:\n  - name: r\n    candidates: [{users: [dana, ghost, 33333333-0000-4000-8000-000000000001,"
        " 33333333-0000-4000-8000-0000000000ff]}]\n"
    )
    emulator = ConnectEmulator(World.from_file(WORLD))
    with emulator.serve() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CONNECT", url)
        result = CliRunner().invoke(
            main, ["rules", "validate", "--json", "--instance", emulator.instance_arn, str(rules)]
        )
    # THEN the unknown username and the unknown user id are reported, read-only
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)
    assert [w["message"] for w in report["warnings"]] == [
        f"candidates[0].users: no user 'ghost' in {emulator.instance_arn}",
        f"candidates[0].users: no user '33333333-0000-4000-8000-0000000000ff' in {emulator.instance_arn}",
    ]
    assert set(emulator.call_counts()) <= {"SearchUsers", "DescribeUser"}
