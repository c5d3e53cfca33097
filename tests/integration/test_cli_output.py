"""What the commands print: tables that fit the terminal, JSON wherever a command prints a table."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from contact_router_cli.main import main
from tests.conftest import EVENTS_DIR, SAMPLES_DIR

CATALOG = yaml.safe_load((EVENTS_DIR / "catalog.yaml").read_text())


def test_tables_fit_a_narrow_terminal(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--log", str(tmp_path / "run.jsonl")], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    table_lines = [line for line in result.output.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines
    assert max(len(line) for line in table_lines) <= 100


def test_run_json_has_one_decision_record_per_event_with_the_catalogs_outcome(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--json", "--log", str(tmp_path / "run.jsonl")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    by_event = {r["event"]: r for r in run["routing"] if not r["event"].lstrip().startswith("↻")}
    assert set(by_event) == set(CATALOG)
    for name, expected in CATALOG.items():
        record = by_event[name]
        # a waited contact's decision is its last re-check, which carries the same contact id
        contact = record.get("contact_id")
        same_contact = [
            r for r in run["routing"] if contact and r.get("contact_id") == contact and "re-check" in r["event"]
        ]
        final = same_contact[-1] if same_contact else record
        assert final["outcome"] == expected["outcome"], (name, final)
        if "agent" in expected:
            assert run["users"][final["agent_id"]] == expected["agent"], (name, final)
    assert {d["event"] for d in run["dead_letters"]} == {"malformed-missing-contact-id.json"}
    assert run["owners"] == {"stored": 3, "unchanged": 0, "bad": 0}
    assert run["api_calls"]["DescribeContact"] >= len([n for n in CATALOG if n.startswith("queued-")])


def test_explain_json_traces_the_rules_and_carries_the_decision_record() -> None:
    result = CliRunner().invoke(
        main,
        [
            "explain",
            "--json",
            "--contact-id",
            "44444444-0000-4000-8000-000000000003",
            "--world",
            str(SAMPLES_DIR / "world.yaml"),
            "--rules",
            str(SAMPLES_DIR / "rules.yaml"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    trace = json.loads(result.output)
    assert trace["state"] == "waiting in queue"
    assert trace["rules"][0] == {"rule": "vip-desk", "match": False, "why": "channel TASK not in ['CHAT']"}
    assert trace["rules"][-1] == {"rule": "preferred-agent-task", "match": True}
    assert (trace["decision"]["outcome"], trace["decision"]["reason"]) == ("NoEligibleAgent", "no_capacity")
    assert trace["decision"]["candidates"][0]["detail"] == "TASK slots: 0 free of 1"
    assert trace["decision"]["dry_run"] is True
