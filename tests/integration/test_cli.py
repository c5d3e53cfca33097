"""The contact-router command line, as a user runs it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from contact_router_cli.main import main
from tests.conftest import EVENTS_DIR, SAMPLES_DIR

CATALOG = yaml.safe_load((EVENTS_DIR / "catalog.yaml").read_text())


def invoke(*args: str) -> tuple[int, str]:
    # Tables fit the terminal; these tests read whole rows, so they run on a wide one.
    result = CliRunner().invoke(main, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    return result.exit_code, result.output


def table_rows(text: str) -> dict[str, str]:
    """First column -> the whole row, for the rows of the rich tables in ``text``."""
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.startswith("│ ") and "│" in line[2:]}
    rows.pop("", None)  # continuation lines of wrapped cells
    return rows


def test_run_shows_every_promised_case(tmp_path: Path) -> None:
    # WHEN `make run` runs (the sample world, rules and events/)
    code, out = invoke("run", "--log", str(tmp_path / "run.jsonl"))
    # THEN it exits 0 and its table has one row per event with the catalog's outcome, agent and reason
    assert code == 0, out
    routing_part, supervision_part = out.split("supervision decisions", 1)
    rows = table_rows(routing_part.split("routing decisions", 1)[1])
    rechecks = [line for line in routing_part.splitlines() if line.startswith("│   ↻ re-check")]
    for name, expected in CATALOG.items():
        row = rows[name.removesuffix(".json")]
        contact = row.split("│")[2].strip()
        later = [line for line in rechecks if line.split("│")[2].strip() == contact]
        row = later[-1] if later else row  # a waited contact's decision is its last re-check
        assert f" {expected['outcome']} " in row, (name, row)
        if "agent" in expected:
            assert f" {expected['agent']} " in row, (name, row)
        if "reason" in expected:
            assert expected["reason"] in row, (name, row)
    affinity_rows = table_rows(routing_part.split("routing decisions", 1)[0])
    recorded = {name: e["affinity"] for name, e in CATALOG.items() if "affinity" in e}
    assert len(affinity_rows) == len(recorded)
    for name, expected in recorded.items():
        row = affinity_rows[name.removesuffix(".json")]
        assert f" {expected['outcome']} " in row, (name, row)
        assert all(f" {expected[k]}" in row for k in ("agent", "reason") if k in expected), (name, row)
    assert "owners: " in out
    assert "3 stored, 0 bad row(s)" in out
    supervision_rows = table_rows(supervision_part.split("summary", 1)[0])
    supervised = {name: e["supervision"] for name, e in CATALOG.items() if "supervision" in e}
    assert len(supervision_rows) == len(supervised)
    for name, expected in supervised.items():
        row = supervision_rows[name.removesuffix(".json")]
        assert f" {expected['outcome']} " in row, (name, row)
        for key in ("supervisor", "rule", "reason"):
            if key in expected:
                assert f" {expected[key]}" in row, (name, key, row)
    assert "dead-letter queue: malformed-missing-contact-id.json: malformed_event" in out
    assert (tmp_path / "run.jsonl").read_text().count("routing decision") == len(CATALOG) + len(rechecks)
    assert len(rechecks) == 8, "priya: 2 re-checks; mo: 6 (60 s of waiting) before the routing criteria"


def test_run_in_dry_run_associates_nothing(tmp_path: Path) -> None:
    code, out = invoke("run", "--dry-run", "--log", str(tmp_path / "run.jsonl"))
    assert code == 0
    assert "WouldAssociate" in out
    assert " Associated " not in out
    assert "Connect AssociateContactWithUser" not in out


def test_replay_given_events_in_order(tmp_path: Path) -> None:
    code, out = invoke(
        "replay",
        "--world",
        str(SAMPLES_DIR / "world.yaml"),
        "--rules",
        str(SAMPLES_DIR / "rules.yaml"),
        "--log",
        str(tmp_path / "log.jsonl"),
        str(EVENTS_DIR / "queued-chat-attribute.json"),
        str(EVENTS_DIR / "queued-chat-attribute.json"),
    )
    assert code == 0, out
    assert "Associated" in out
    assert "already_claimed" in out, "the copy is settled by the episode claim, before any Connect call"
    assert re.search(r"Connect AssociateContactWithUser │ +1 │", out)


def test_rules_validate_reports_every_problem_with_rule_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrouting:\n  - name: vip\n    candidates: [{users: []}]\n    colour: red\n")
    code, out = invoke("rules", "validate", str(SAMPLES_DIR / "rules.yaml"))
    assert code == 0
    assert "OK, 7 routing rule(s): vip-desk, key-accounts, returning-customer-sms, preferred-agent-task" in out
    result = CliRunner().invoke(main, ["rules", "validate", str(bad)])
    assert result.exit_code == 1
    assert (
        f"error: {bad}: rule 'vip' (routing[0]): candidates[0].users: List should have at least 1 item" in result.output
    )
    assert f"error: {bad}: rule 'vip' (routing[0]): colour: Extra inputs are not permitted" in result.output


def test_rules_validate_gives_one_line_per_hostile_or_empty_file(tmp_path: Path) -> None:
    # GIVEN files that raised tracebacks or were accepted before: deep, a huge number, latin-1, empty
    files = {
        "deep.yaml": b"version: 1\nrouting: " + b"[" * 600 + b"]" * 600 + b"\n",
        "number.yaml": b"version: 1\nrouting: []\nallow_empty: " + b"9" * 5000 + b"\n",
        "latin1.yaml": b"version: 1\nrouting:\n  - name: caf\xe9\n",
        "empty.yaml": b"",
        "none.yaml": b"version: 1\nrouting: []\nallow_empty: true\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = CliRunner().invoke(main, ["rules", "validate", *(str(tmp_path / name) for name in files)])
    # THEN one line each, naming the file and the place; the empty file on purpose is OK and says so
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: {tmp_path / 'deep.yaml'}: line 2, column 29: nested more than 20 levels deep (the limit)",
        f"error: {tmp_path / 'number.yaml'}: line 3, column 14: a number of 5000 characters; at most 20 "
        "(quote it if it is text)",
        f"error: {tmp_path / 'latin1.yaml'}: not UTF-8: byte 0xE9 at line 3, column 14",
        f"error: {tmp_path / 'empty.yaml'}: the document is empty; expected a mapping with 'version' and 'routing'",
        f"{tmp_path / 'none.yaml'}: OK, no rules (allow_empty: true): nothing is routed or monitored",
    ]


def test_rules_schema_is_the_published_one() -> None:
    code, out = invoke("rules", "schema")
    assert code == 0
    assert out == (Path(__file__).parents[2] / "schemas" / "rules.schema.json").read_text()


def test_explain_is_read_only_and_says_why() -> None:
    code, out = invoke(
        "explain",
        "--contact-id",
        "44444444-0000-4000-8000-000000000003",
        "--world",
        str(SAMPLES_DIR / "world.yaml"),
        "--rules",
        str(SAMPLES_DIR / "rules.yaml"),
    )
    assert code == 0, out
    assert "rule vip-desk: no match (channel TASK not in ['CHAT'])" in out
    assert "rule preferred-agent-task: match" in out
    assert "no_capacity" in out
    assert "TASK slots: 0 free of 1" in out
    assert "decision now: NoEligibleAgent" in out


def test_explain_needs_exactly_one_target() -> None:
    result = CliRunner().invoke(main, ["explain", "--contact-id", "x"])
    assert result.exit_code == 2
    assert "exactly one of --world" in result.output


def test_invalid_rules_fail_the_run_with_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("version: 1\nrouting:\n  - name: x\n")
    result = CliRunner().invoke(main, ["run", "--rules", str(bad), "--log", str(tmp_path / "l.jsonl")])
    assert result.exit_code == 1
    assert "rule 'x' (routing[0]): candidates: Field required" in result.output


def test_explain_against_an_instance_by_arn_uses_the_aws_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a "real" instance reached through AWS_ENDPOINT_URL_CONNECT (the HTTP emulator on loopback)
    from connect_emulator import ConnectEmulator, World

    emulator = ConnectEmulator(World.from_file(SAMPLES_DIR / "world.yaml"))
    with emulator.serve() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CONNECT", url)
        code, out = invoke(
            "explain", "--contact-id", "44444444-0000-4000-8000-000000000001", "--instance-arn", emulator.instance_arn
        )
    # THEN the bundled rules are explained, and nothing is associated
    assert code == 0, out
    assert "rule preferred-agent-attribute: match" in out
    assert "decision now: WouldAssociate would associate with dana" in out
    assert emulator.associations == []
    assert set(emulator.call_counts()) <= {
        "DescribeContact",
        "SearchUsers",
        "GetCurrentUserData",
        "ListRoutingProfileQueues",
    }


def test_monitor_on_demand_prints_the_monitoring_contact_and_is_idempotent() -> None:
    args = ["monitor", "--contact-id", "44444444-0000-4000-8000-000000000004", "--supervisor", "lead.one"]
    code, out = invoke(*args, "--world", str(SAMPLES_DIR / "world.yaml"))
    assert code == 0, out
    assert re.match(r"monitoring contact \S+ \(supervisor 33333333-0000-4000-8000-000000000008, contact 4444", out)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--capability", "SILENT_MONITOR", "--capability", "BARGE", "--capability", "BARGE"],
            "at most 2 capabilities, got 3",
        ),
        (["--capability", "WHISPER"], "unknown capability 'WHISPER'"),
    ],
)
def test_monitor_rejects_bad_capabilities_before_any_api_call(extra: list[str], message: str) -> None:
    # An --instance-arn target would need the network (blocked in tests): failing with *this* message
    # proves nothing was called.
    arn = "arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555"
    result = CliRunner().invoke(
        main, ["monitor", "--contact-id", "c-1", "--supervisor", "lead.one", "--instance-arn", arn, *extra]
    )
    assert result.exit_code == 1
    assert f"Error: MonitorContact request not sent: {message}" in result.output


def test_monitor_of_a_contact_not_connected_says_so() -> None:
    result = CliRunner().invoke(
        main,
        [
            "monitor",
            "--contact-id",
            "44444444-0000-4000-8000-000000000007",
            "--supervisor",
            "lead.one",
            "--world",
            str(SAMPLES_DIR / "world.yaml"),
        ],
    )
    # an expected failure: one line, exit 2 (as every command's)
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "Error: AWS refused MonitorContact: InvalidRequestException (Contact 44444444-0000-4000-8000-000000000007 "
        "is not connected to an agent (state QUEUED): it cannot be monitored)"
    ]


def test_rules_validate_rejects_barge_when_the_deployment_forbids_it() -> None:
    result = CliRunner().invoke(main, ["rules", "validate", "--forbid-barge", str(SAMPLES_DIR / "rules.yaml")])
    assert result.exit_code == 1
    assert "rule 'vip-voice-escalation' (supervision[0]): capabilities: BARGE is not allowed" in result.output
    code, out = invoke("rules", "validate", "--allow-barge", str(SAMPLES_DIR / "rules.yaml"))
    assert code == 0
    assert "2 supervision rule(s): vip-voice-escalation, new-hire-chats" in out


def test_explain_reads_attributes_describe_contact_leaves_out(tmp_path: Path) -> None:
    # GIVEN an instance whose DescribeContact has no Attributes key (emulator switch), and a chat naming dana
    world = yaml.safe_load((SAMPLES_DIR / "world.yaml").read_text(encoding="utf-8"))
    world["instance"]["attributes_in_describe_contact"] = "never"
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(world), encoding="utf-8")
    # WHEN the chat is explained
    code, out = invoke(
        "explain",
        "--contact-id",
        "44444444-0000-4000-8000-000000000001",
        "--world",
        str(path),
        "--rules",
        str(SAMPLES_DIR / "rules.yaml"),
    )
    # THEN the rules (and the misses shown) see the attributes GetContactAttributes gave, as the router would
    assert code == 0, out
    assert "rule preferred-agent-attribute: match" in out
    assert "would associate with dana" in out
