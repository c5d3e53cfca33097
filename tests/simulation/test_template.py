"""The simulator reads the router path from the template as written (before the SAM transform): it must agree
with the SAM-transformed stack (tests/support/cfn.py) and with the EventBridge contract of events/catalog.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from contact_router_cli.simulate import template, workload
from tests.support.cfn import ROOT, TEST_INSTANCE_ARN, router_event_pattern, stack

EVENTS_DIR = ROOT / "events"
CATALOG = yaml.safe_load((EVENTS_DIR / "catalog.yaml").read_text())


@pytest.mark.parametrize("route_voice", ["false", "true"])
def test_event_pattern_equals_the_transformed_templates(route_voice: str) -> None:
    # Given the simulator's reading of template.yaml and the SAM-transformed stack, same parameters
    mine = template.router_deployment({"ConnectInstanceArn": TEST_INSTANCE_ARN, "RouteVoice": route_voice})
    # Then the router rule's pattern is the same
    assert mine.event_pattern == router_event_pattern(RouteVoice=route_voice)


def test_queue_and_event_source_settings_equal_the_transformed_templates() -> None:
    mine = template.router_deployment({"ConnectInstanceArn": TEST_INSTANCE_ARN})
    deployed = stack()
    queue = deployed.properties("RouterQueue")
    mapping = deployed.event_source_mapping("RouterFunction")
    function = deployed.properties("RouterFunction")
    assert mine.visibility_timeout == float(queue["VisibilityTimeout"])
    assert mine.max_receive_count == int(queue["RedrivePolicy"]["maxReceiveCount"])
    assert mine.batch_size == int(mapping["BatchSize"])
    assert mine.batching_window == float(mapping["MaximumBatchingWindowInSeconds"])
    assert mine.max_concurrency == int(mapping["ScalingConfig"]["MaximumConcurrency"])
    assert mine.timeout == float(function["Timeout"])
    table = deployed.properties("IdempotencyTable")
    assert [k["AttributeName"] for k in table["KeySchema"]] == [mine.idempotency_key]
    assert table["TimeToLiveSpecification"]["AttributeName"] == mine.idempotency_ttl_attribute


@pytest.fixture(scope="module")
def pattern() -> dict[str, Any]:
    return template.router_deployment({"ConnectInstanceArn": TEST_INSTANCE_ARN}).event_pattern


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_matcher_agrees_with_the_eventbridge_contract(name: str, pattern: dict[str, Any]) -> None:
    # Given a fixture and what the contract says the router rule does with it (checked on moto's matcher)
    event = json.loads((EVENTS_DIR / name).read_text())
    # Then the simulator's matcher says the same
    assert template.matches(pattern, event) is CATALOG[name]["router_rule"]


def test_generated_events_reach_the_queue_only_when_the_rule_matches() -> None:
    pattern = template.router_deployment({"ConnectInstanceArn": workload.INSTANCE_ARN}).event_pattern
    generated = workload.build(workload.WorkloadSpec(contacts=50, filtered_rate=0.2), 0.0, 600.0)
    for delivery in generated.deliveries:
        if not delivery.via_eventbridge:
            continue
        matched = template.matches(pattern, json.loads(delivery.body))
        assert matched is (delivery.kind != "filtered"), delivery


def test_unsupported_filters_are_refused_not_ignored() -> None:
    with pytest.raises(template.TemplateError, match="not supported"):
        template.matches({"detail": {"channel": [{"wildcard": "C*"}]}}, {"detail": {"channel": "CHAT"}})
    assert template.matches({"detail": {"channel": [{"prefix": "CH"}]}}, {"detail": {"channel": "CHAT"}})
    assert template.matches({"detail": {"x": [{"exists": False}]}}, {"detail": {}})
    assert not template.matches({"detail": {"channel": [{"anything-but": ["CHAT"]}]}}, {"detail": {"channel": "CHAT"}})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Resources:\n  A: [1, 2\n", "cannot read"),
        ("Resources:\n  A: 1\n  A: 2\n", "Duplicate"),
        ("{}\n", "no Resources"),
    ],
)
def test_a_broken_template_is_one_clear_error(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    with pytest.raises(template.TemplateError, match=problem):
        template.load(path)
