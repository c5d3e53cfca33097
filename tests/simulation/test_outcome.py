"""The outcome against Connect's native routing (contact-router simulate --scenario reference): every mode runs
the same seeded workload, every invariant holds in each, and the figures mean what docs/simulation.md says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from contact_router_cli.main import main
from contact_router_cli.simulate import invariants, outcome, workload
from contact_router_cli.simulate.flow import deployed_step_seconds, routing_criteria
from contact_router_cli.simulate.outcome import Busy, had_free_slot, percentile
from contact_router_cli.simulate.pipeline import MODES, SimulationConfig, SimulationResult, run_simulation

# A small reference workload: 200 chats, 8 agents, arrivals spread to keep the reference occupancy.
SMALL = workload.reference_spec(3, contacts=200, agents=8, arrival_seconds=3530.0)


@pytest.fixture(scope="module")
def runs() -> dict[str, SimulationResult]:
    return {
        mode: run_simulation(SimulationConfig(workload=SMALL, mode=mode, cold_start=(0.8, 2.0), seed=3))
        for mode in MODES
    }


@pytest.mark.parametrize("mode", MODES)
def test_every_invariant_holds_in_every_mode(runs: dict[str, SimulationResult], mode: str) -> None:
    assert {inv.name: inv.violations for inv in invariants.check(runs[mode]) if not inv.ok} == {}


def test_every_mode_serves_the_same_workload(runs: dict[str, SimulationResult]) -> None:
    # Given the same seed, Then each mode sees the same contacts, arrivals, handle times and patience
    native, events = (runs[m].workload.contacts for m in ("native", "events"))
    assert [(p.id, p.at, p.handle, p.patience, p.preferred) for p in native] == [
        (p.id, p.at, p.handle, p.patience, p.preferred) for p in events
    ]


def test_the_flow_puts_the_preferred_agent_first_and_native_routing_does_not(runs: dict[str, SimulationResult]) -> None:
    # Given the same workload, When the flow sets routing criteria before the chat is queued
    found = {mode: outcome.measure(run) for mode, run in runs.items()}
    # Then a chat whose preferred agent had a free slot within the window reaches them; without it, by chance
    for mode in ("flow", "flow+events"):
        assert found[mode].preferred_hit_rate_when_available >= 0.95
        assert found[mode].preferred_hit_rate > 2 * found["native"].preferred_hit_rate
    assert found["native"].preferred_hit_rate_when_available < 0.5
    # And the flow Lambda's own calls are counted (it checks the preferred agent's availability)
    assert found["flow"].connect_calls_per_contact > 0


def test_the_flow_sets_one_step_per_agent_from_the_lambdas_answer() -> None:
    answer = {"agentCount": "2", "agent1": "a-1", "agent2": "a-2", "stepSeconds": "10,20", "preferredAgentIds": ""}
    criteria = routing_criteria(answer)
    assert criteria is not None
    steps = criteria["Steps"]
    agents = [s["Expression"]["AttributeCondition"]["MatchCriteria"]["AgentsCriteria"]["AgentIds"] for s in steps]
    assert agents == [["a-1"], ["a-2"]]
    assert [s["Expiry"]["DurationInSeconds"] for s in steps] == [10, 20]
    # A failed or empty answer: the flow transfers to the queue as it is
    assert routing_criteria({"agentCount": "0", "outcome": "Failed", "reason": "deadline"}) is None


def test_the_deployed_flows_step_durations_are_read_from_the_flow_itself() -> None:
    # Given the flow that ships (flows/preferred-agent.json), Then its "Set routing criteria" blocks give the
    # durations the simulated flow uses by default, whatever the answer's stepSeconds say
    deployed = deployed_step_seconds()
    assert sorted(deployed) == [1, 2, 3]
    answer = {"agentCount": "2", "agent1": "a-1", "agent2": "a-2", "stepSeconds": "10,10"}
    criteria = routing_criteria(answer, deployed)
    assert criteria is not None
    assert [s["Expiry"]["DurationInSeconds"] for s in criteria["Steps"]] == deployed[2]


def test_native_routing_alone_makes_no_connect_call_and_the_router_does(runs: dict[str, SimulationResult]) -> None:
    native, events = outcome.measure(runs["native"]), outcome.measure(runs["events"])
    assert native.connect_calls_per_contact == 0
    assert events.connect_calls_per_contact >= 1  # at least DescribeContact for every QUEUED event
    assert runs["events"].workers.cold_starts >= 1


def test_every_contact_ends_answered_or_abandoned_and_occupancy_is_near_the_reference(
    runs: dict[str, SimulationResult],
) -> None:
    found = outcome.measure(runs["native"])
    assert found.contacts == 200
    assert 0.5 < found.preferred / found.contacts < 0.7
    assert 0.75 < found.occupancy < 0.95
    contacts = runs["native"].emulator.contacts()
    assert all(c.state == "DISCONNECTED" for c in contacts)
    assert 0 <= found.preferred_hit_rate <= 1
    assert found.preferred_available <= found.preferred


def test_a_free_slot_counts_at_enqueue_or_when_freed_within_the_window_and_left_free() -> None:
    # Given an agent with 2 slots, busy with a and b until 100 s
    full = [Busy(0, 100, "a"), Busy(0, 100, "b")]
    # Then a contact queued at 60 s had no free slot within a 10 s window (both slots taken throughout)
    assert not had_free_slot(full, 2, "x", 60.0, 1000.0, 10.0)
    # And a contact queued at 95 s did, within 10 s: at 100 s both end and c takes only one
    assert had_free_slot([*full, Busy(100, 300, "c")], 2, "x", 95.0, 1000.0, 10.0)
    # But not when the freed slot was taken at once (b goes on; c takes a's slot at 100 s)
    assert not had_free_slot([Busy(0, 100, "a"), Busy(0, 200, "b"), Busy(100, 300, "c")], 2, "x", 95.0, 1000.0, 10.0)
    # Nor when the contact had left the queue (answered at 97 s) before the slot freed
    assert not had_free_slot([*full, Busy(100, 300, "c")], 2, "x", 95.0, 97.0, 10.0)
    # And the contact's own offer never counts against the agent's slots
    assert had_free_slot([Busy(0, 500, "a"), Busy(30, 200, "x")], 2, "x", 30.0, 30.0, 10.0)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 90) == 0.0
    assert percentile([float(i) for i in range(1, 11)], 90) == 9.0
    assert percentile([float(i) for i in range(1, 11)], 50) == 5.0


def test_event_delays_follow_the_stated_distribution() -> None:
    # Given the default assumption (median 0.5 s, p99 2 s), Then the first copies of the events match it
    built = workload.build(workload.reference_spec(1), 0.0, 10_000.0)
    queued_at = {p.id: p.at for p in built.contacts}
    delays = sorted(d.at - queued_at[str(d.contact_id)] for d in built.deliveries)
    assert 0.45 < percentile(delays, 50) < 0.55
    assert 1.6 < percentile(delays, 99) < 2.5


def test_cli_reference_scenario_writes_the_outcome_of_every_mode(tmp_path: Path) -> None:
    figures = tmp_path / "outcome.json"
    args = ["simulate", "--scenario", "reference", "--contacts", "100", "--agents", "6", "--modes", "native,events"]
    args += ["--json", str(figures), "--log", str(tmp_path / "log.jsonl"), "--no-progress"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(figures.read_text(encoding="utf-8"))
    for mode in ("native", "events"):
        assert set(outcome.FIGURES) <= set(data["outcome"][mode])
        assert all(data["invariants"][mode].values())
    assert data["scenario"]["contacts"] == 100


def test_cli_rejects_an_unknown_mode(tmp_path: Path) -> None:
    args = ["simulate", "--scenario", "reference", "--modes", "native,psychic", "--log", str(tmp_path / "l")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "psychic" in result.output
