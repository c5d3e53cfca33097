"""The whole pipeline under load, faults and bad input (contact-router simulate): the invariants hold for the
router as it is, and break when a bug is injected -- so the checks are real."""

from __future__ import annotations

import csv
import io
import json
import struct
import sys
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


def test_summary_figures(faulty_run: SimulationResult) -> None:
    figures = report.figures(faulty_run, invariants.check(faulty_run))
    assert figures["associations"] == len(faulty_run.associations) > 0
    assert 0 < figures["quota_efficiency"] <= 1.05
    assert figures["calls_per_association"]["AssociateContactWithUser"] == 1.0
    assert all(v["held"] for v in figures["invariants"].values())


def test_series_csv_counts_every_contact_against_the_quota(faulty_run: SimulationResult, tmp_path: Path) -> None:
    # Given the run's time series written as CSV
    path = report.write_series(tmp_path / "series.csv", report.time_series(faulty_run))
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    # Then it starts at zero and ends with every contact that reached the queue and every association
    assert list(rows[0]) == ["seconds", "contacts_queued", "contacts_associated", "quota_allows"]
    assert (rows[0]["seconds"], rows[0]["contacts_associated"]) == ("0.0", "0")
    assert int(rows[-1]["contacts_queued"]) == len(faulty_run.first_sent)
    assert int(rows[-1]["contacts_associated"]) == len(faulty_run.associations)
    # And no moment has more associations than the quota allows by then
    quota = faulty_run.emulator.faults.rate_quota("AssociateContactWithUser")
    assert quota is not None
    for row in rows:
        assert float(row["quota_allows"]) == pytest.approx(quota.burst + quota.rate * float(row["seconds"]), abs=1e-3)
        assert int(row["contacts_associated"]) <= float(row["quota_allows"])


def test_chart_draws_the_series(faulty_run: SimulationResult, tmp_path: Path) -> None:
    # Given the plot extra (matplotlib, pinned in requirements/dev.txt)
    points = report.time_series(faulty_run)
    # When the chart is drawn
    png = report.write_chart(tmp_path / "chart.png", points).read_bytes()
    # Then it is a PNG of the size asked for (9.6 x 5.4 inches at matplotlib's 100 dpi)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", png[16:24]) == (960, 540)


def test_plot_without_matplotlib_is_one_line_before_any_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given a machine without the plot extra
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    # When simulate is asked for a chart
    result = CliRunner().invoke(main, ["simulate", "--no-progress", "--plot", str(tmp_path / "sim.png")])
    # Then it says what to install, in one line, and exits 2 without simulating
    assert result.exit_code == 2, result.output
    assert result.output == report.PLOT_MISSING + "\n"
    assert not (tmp_path / "sim.png").exists()


@pytest.mark.parametrize(
    ("bug", "invariant"),
    [
        ("no-idempotency", "no contact associated twice"),
        # The association claim still stops a second attempt; the skipped check shows as attempts on contacts
        # that no longer wait, which Connect refuses and the router dead-letters.
        ("skip-waiting-check", "dead-letter queue holds only permanent failures"),
    ],
)
def test_an_injected_bug_breaks_an_invariant(bug: str, invariant: str) -> None:
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
    # Then the invariant that bug breaks says so (without idempotency, nor its claims: contacts associated
    # twice)
    assert invariant in failures, failures


def test_each_log_line_carries_its_own_worker_s_record() -> None:
    # GIVEN two workers handling batches side by side, logging to one stream as CloudWatch would receive it
    config = SimulationConfig(
        workload=WorkloadSpec(contacts=120, agents=30, arrival_seconds=30, duplicates=2),
        workers=2,
        throttle_rate=0.1,
        seed=3,
    )
    out = io.StringIO()
    run_simulation(config, log_stream=out)

    # THEN every decision line's contact_id key names the contact its decision is about (the keys are
    # per thread: with process-wide keys, a line could carry the other worker's contact)
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    decided = [line for line in lines if isinstance(line.get("decision"), dict) and line["decision"].get("contact_id")]
    assert len(decided) > 100
    assert [line for line in decided if line.get("contact_id") != line["decision"]["contact_id"]] == []
    assert all(line.get("message_id") for line in decided)


def test_runs_are_reproducible() -> None:
    config = SimulationConfig(workload=WorkloadSpec(contacts=60, agents=20, seed=5), throttle_rate=0.1, seed=5)
    first, second = run_simulation(config), run_simulation(config)
    assert [(a.contact_id, a.user_id, a.time) for a in first.associations] == [
        (a.contact_id, a.user_id, a.time) for a in second.associations
    ]
    assert metrics.calls_by_operation(first) == metrics.calls_by_operation(second)


def test_cli_exits_zero_when_invariants_hold_and_one_when_a_bug_breaks_them(tmp_path: Path) -> None:
    common = ["--no-progress", "--log", str(tmp_path / "sim.jsonl"), "--series", str(tmp_path / "sim.csv")]
    chart = ["--plot", str(tmp_path / "sim.png")]
    runner = CliRunner()
    ok = runner.invoke(
        main,
        ["simulate", "--contacts", "40", "--agents", "20", *common, "--json", str(tmp_path / "f.json"), *chart],
    )
    assert ok.exit_code == 0, ok.output
    assert "every invariant held" in ok.output
    assert json.loads((tmp_path / "f.json").read_text())["associations"] > 0
    assert (tmp_path / "sim.csv").read_text().startswith("seconds,contacts_queued,contacts_associated,quota_allows")
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
