"""The whole pipeline under load, faults and bad input (contact-router simulate): the invariants hold for the
router as it is, and break when a bug is injected -- so the checks are real."""

from __future__ import annotations

import json
import struct
import zlib
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from contact_router.models.decision import Outcome
from contact_router_cli.main import main
from contact_router_cli.simulate import invariants, metrics, report
from contact_router_cli.simulate.pipeline import SimulationConfig, SimulationResult, run_simulation
from contact_router_cli.simulate.workload import WorkloadSpec

# CI-sized: a few hundred contacts, every fault on.
EVERY_FAULT = SimulationConfig(
    workload=WorkloadSpec(
        contacts=300, agents=60, arrival_seconds=60, duplicates=3, stale_rate=0.05, malformed_rate=0.04
    ),
    throttle_rate=0.2,
    error_rate=0.05,
    crash_rate=0.02,
    seed=7,
)


def broken(result: SimulationResult) -> dict[str, list[str]]:
    return {inv.name: inv.violations for inv in invariants.check(result) if not inv.ok}


@pytest.fixture(scope="module")
def faulty_run() -> SimulationResult:
    return run_simulation(EVERY_FAULT)


def test_every_invariant_holds_with_every_fault_on(faulty_run: SimulationResult) -> None:
    assert broken(faulty_run) == {}


def test_the_faults_really_happened(faulty_run: SimulationResult) -> None:
    # Given the CI-sized run, Then each fault it claims to inject shows in what happened
    errors = Counter(call.error_code for call in faulty_run.calls)
    assert errors["ThrottlingException"] > 100
    assert errors["InternalServiceException"] > 10
    assert faulty_run.workers.crashes >= 1
    assert faulty_run.queue_stats.received > faulty_run.queue_stats.sent  # redeliveries
    outcomes = Counter(r.decision.outcome for r in faulty_run.records if r.decision)
    assert outcomes[Outcome.DUPLICATE] > 0  # duplicates replayed from the idempotency store
    assert outcomes[Outcome.REJECTED] >= faulty_run.workload.spec.contacts * 0.04 * 0.9
    kinds = Counter(r.origin.kind for r in faulty_run.records)
    assert min(kinds["stale"], kinds["recheck"], kinds["junk"]) > 0
    assert faulty_run.filtered > 0


def test_a_crashed_association_is_not_repeated(faulty_run: SimulationResult) -> None:
    # Given workers that died right after AssociateContactWithUser succeeded (batch not acknowledged)
    assert faulty_run.crashed_contacts
    associated = Counter(a.contact_id for a in faulty_run.associations)
    for contact_id in faulty_run.crashed_contacts:
        # Then the contact was associated once, and its redelivered event saw the agent (DescribeContact)
        assert associated[contact_id] == 1
        later = [r.decision for r in faulty_run.records if r.origin.contact_id == contact_id and r.decision]
        assert later, contact_id
        assert all(d.outcome is not Outcome.ASSOCIATED for d in later), contact_id


def test_summary_figures_and_chart(faulty_run: SimulationResult, tmp_path: Path) -> None:
    figures = report.figures(faulty_run, invariants.check(faulty_run))
    assert figures["associations"] == len(faulty_run.associations) > 0
    assert 0 < figures["quota_efficiency"] <= 1.05
    assert figures["calls_per_association"]["AssociateContactWithUser"] == 1.0
    assert all(v["held"] for v in figures["invariants"].values())
    png = report.chart(faulty_run, tmp_path / "chart.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    raw = zlib.decompress(png[png.index(b"IDAT") + 4 : png.index(b"IEND") - 8])
    assert len(raw) == height * (1 + 3 * width)
    assert len(set(raw)) > 3  # something was drawn


@pytest.mark.parametrize("bug", ["no-idempotency", "skip-waiting-check"])
def test_an_injected_bug_breaks_an_invariant(bug: str) -> None:
    # Given the router with idempotency disabled, or with the DescribeContact waiting check skipped
    config = SimulationConfig(
        workload=WorkloadSpec(contacts=120, agents=40, arrival_seconds=20, seed=3),
        throttle_rate=0.2,
        error_rate=0.05,
        crash_rate=0.05,
        inject_bug=bug,  # type: ignore[arg-type]
        seed=3,
    )
    # When the pipeline runs
    failures = broken(run_simulation(config))
    # Then contacts are associated twice (a second AssociateContactWithUser for an associated contact)
    assert "no contact associated twice" in failures, failures


def test_runs_are_reproducible() -> None:
    config = SimulationConfig(workload=WorkloadSpec(contacts=60, agents=20, seed=5), throttle_rate=0.1, seed=5)
    first, second = run_simulation(config), run_simulation(config)
    assert [(a.contact_id, a.user_id, a.time) for a in first.associations] == [
        (a.contact_id, a.user_id, a.time) for a in second.associations
    ]
    assert metrics.calls_by_operation(first) == metrics.calls_by_operation(second)


def test_cli_exits_zero_when_invariants_hold_and_one_when_a_bug_breaks_them(tmp_path: Path) -> None:
    common = ["--no-progress", "--log", str(tmp_path / "sim.jsonl"), "--plot", str(tmp_path / "sim.png")]
    runner = CliRunner()
    ok = runner.invoke(
        main, ["simulate", "--contacts", "40", "--agents", "20", *common, "--json", str(tmp_path / "f.json")]
    )
    assert ok.exit_code == 0, ok.output
    assert "every invariant held" in ok.output
    assert json.loads((tmp_path / "f.json").read_text())["associations"] > 0
    assert (tmp_path / "sim.png").read_bytes().startswith(b"\x89PNG")

    bad = runner.invoke(
        main,
        [
            "simulate",
            "--contacts",
            "120",
            "--agents",
            "40",
            "--arrival-seconds",
            "20",
            "--seed",
            "3",
            "--throttle-rate",
            "0.2",
            "--crash-rate",
            "0.05",
            "--inject-bug",
            "no-idempotency",
            *common,
        ],
    )
    assert bad.exit_code == 1, bad.output
    assert "BROKEN" in bad.output
