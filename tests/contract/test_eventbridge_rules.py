"""Contract: the router's, the supervision's and the affinity recorder's EventBridge rules in template.yaml
match exactly the fixtures events/catalog.yaml says (``router_rule``, ``supervision_rule``, ``affinity_rule``).

The pattern is read from the transformed template (parameters substituted) and evaluated by moto's EventBridge:
the rule is put on moto's default bus with an SQS target, each fixture is put on the bus, and a message in the
queue means "matched". (moto 5.2.5 answers ``test_event_pattern`` with an empty response, so that call cannot
be used; put_events runs moto's real pattern matcher.) Every rule put so far stays on the bus, so after each
event every queue is drained: only the asked-for rule's queue decides, and nothing is left for the next event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from tests.support.cfn import (
    ROOT,
    TEST_INSTANCE_ARN,
    affinity_event_pattern,
    router_event_pattern,
    supervision_event_pattern,
)

EVENTS_DIR = ROOT / "events"
CATALOG = yaml.safe_load((EVENTS_DIR / "catalog.yaml").read_text())
FIXTURES = sorted(path.name for path in EVENTS_DIR.glob("*.json"))

Matcher = Callable[[dict[str, Any], dict[str, Any]], bool]


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


@pytest.fixture(scope="module")
def matches() -> Iterator[Matcher]:
    """``matches(pattern, event)``: does an EventBridge rule with this pattern deliver this event?"""
    with mock_aws():
        events = boto3.client("events", region_name="eu-west-2")
        sqs = boto3.client("sqs", region_name="eu-west-2")
        rules: dict[str, str] = {}

        def queue_for(pattern: dict[str, Any]) -> str:
            key = json.dumps(pattern, sort_keys=True)
            if key not in rules:
                name = f"router-{len(rules)}"
                url = sqs.create_queue(QueueName=name)["QueueUrl"]
                arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
                events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
                rules[key] = url
            return rules[key]

        def drain(url: str) -> list[dict[str, Any]]:
            received: list[dict[str, Any]] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            for message in received:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return received

        def match(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
            url = queue_for(pattern)
            entry = {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event.get("resources", []),
            }
            assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
            received = {queue: drain(queue) for queue in rules.values()}[url]
            for message in received:
                assert json.loads(message["Body"])["detail"] == event["detail"]
            assert len(received) <= 1
            return len(received) == 1

        yield match


def test_catalog_and_fixtures_list_the_same_events() -> None:
    assert sorted(CATALOG) == FIXTURES
    for name, entry in CATALOG.items():
        assert isinstance(entry.get("router_rule"), bool), f"{name}: router_rule must be true or false"
        assert isinstance(entry.get("supervision_rule"), bool), f"{name}: supervision_rule must be true or false"
        assert isinstance(entry.get("affinity_rule"), bool), f"{name}: affinity_rule must be true or false"


@pytest.mark.parametrize("name", FIXTURES)
def test_router_rule_matches_fixture_as_catalogued(name: str, matches: Matcher) -> None:
    # GIVEN the deployed router rule (default parameters) and a fixture from events/
    pattern = router_event_pattern(ConnectInstanceArn=TEST_INSTANCE_ARN)
    event = load_event(name)
    # WHEN the fixture is put on the bus THEN it reaches the router queue iff the catalog says so
    assert matches(pattern, event) is CATALOG[name]["router_rule"], CATALOG[name]["description"]


def test_route_voice_lets_voice_contacts_through(matches: Matcher) -> None:
    voice = load_event("queued-voice-routing-off.json")
    assert not matches(router_event_pattern(), voice)
    assert matches(router_event_pattern(RouteVoice="true"), voice)


@pytest.mark.parametrize("route_voice", ["true", "false"])
@pytest.mark.parametrize("channel", ["CHAT", "TASK", "EMAIL", "VOICE"])
def test_the_router_rule_takes_voice_only_when_voice_routing_is_on(
    route_voice: str, channel: str, matches: Matcher
) -> None:
    # GIVEN the router rule deployed with RouteVoice on or off, and a QUEUED event on each channel
    event = load_event("queued-voice-routing-off.json")
    event["detail"]["channel"] = channel
    # WHEN it is put on the bus THEN chat, task and email always reach the router; voice only with RouteVoice=true
    expected = channel != "VOICE" or route_voice == "true"
    assert matches(router_event_pattern(RouteVoice=route_voice), event) is expected


def test_rule_ignores_contacts_of_other_instances(matches: Matcher) -> None:
    # GIVEN a fixture the default rule matches, re-addressed to another instance
    event = load_event("queued-chat-minimal.json")
    other = TEST_INSTANCE_ARN.replace("11111111-2222", "99999999-2222")
    event["detail"]["instanceArn"] = other
    # THEN the rule for the configured instance leaves it out, and a rule for that instance takes it
    assert not matches(router_event_pattern(), event)
    assert matches(router_event_pattern(ConnectInstanceArn=other), event)


# ---------------------------------------------------------------- supervision


@pytest.mark.parametrize("name", FIXTURES)
def test_supervision_rule_matches_fixture_as_catalogued(name: str, matches: Matcher) -> None:
    # GIVEN the deployed supervision rule (default parameters: VOICE and CHAT) and a fixture from events/
    pattern = supervision_event_pattern(ConnectInstanceArn=TEST_INSTANCE_ARN)
    event = load_event(name)
    # WHEN the fixture is put on the bus THEN it reaches the supervision queue iff the catalog says so
    assert matches(pattern, event) is CATALOG[name]["supervision_rule"], CATALOG[name]["description"]


def test_no_fixture_feeds_both_functions() -> None:
    # QUEUED goes to the router and CONNECTED_TO_AGENT to supervision: one event never reaches both
    both = [name for name, entry in CATALOG.items() if entry["router_rule"] and entry["supervision_rule"]]
    assert both == []


def test_supervised_channels_decide_which_connected_contacts_reach_supervision(matches: Matcher) -> None:
    voice = load_event("connected-to-agent-vip-voice.json")
    chat = load_event("connected-to-agent-chat.json")
    assert matches(supervision_event_pattern(), voice)
    assert matches(supervision_event_pattern(), chat)
    # GIVEN only CHAT is supervised THEN the voice call is left out and the chat still reaches supervision
    assert not matches(supervision_event_pattern(SupervisedChannels="CHAT"), voice)
    assert matches(supervision_event_pattern(SupervisedChannels="CHAT"), chat)
    # GIVEN only TASK and EMAIL THEN neither does
    assert not matches(supervision_event_pattern(SupervisedChannels="TASK,EMAIL"), voice)
    assert not matches(supervision_event_pattern(SupervisedChannels="TASK,EMAIL"), chat)


def test_supervision_rule_ignores_contacts_of_other_instances(matches: Matcher) -> None:
    event = load_event("connected-to-agent-chat.json")
    other = TEST_INSTANCE_ARN.replace("11111111-2222", "99999999-2222")
    event["detail"]["instanceArn"] = other
    assert not matches(supervision_event_pattern(), event)
    assert matches(supervision_event_pattern(ConnectInstanceArn=other), event)


# ---------------------------------------------------------------- affinity recorder


@pytest.mark.parametrize("name", FIXTURES)
def test_affinity_rule_matches_fixture_as_catalogued(name: str, matches: Matcher) -> None:
    # GIVEN the deployed affinity rule (CONNECTED_TO_AGENT, every channel) and a fixture from events/
    pattern = affinity_event_pattern(ConnectInstanceArn=TEST_INSTANCE_ARN)
    event = load_event(name)
    # WHEN the fixture is put on the bus THEN it reaches the affinity queue iff the catalog says so
    assert matches(pattern, event) is CATALOG[name]["affinity_rule"], CATALOG[name]["description"]


@pytest.mark.parametrize("channel", ["VOICE", "CHAT", "TASK", "EMAIL"])
def test_affinity_rule_records_every_channel_whatever_is_supervised(channel: str, matches: Matcher) -> None:
    # GIVEN a connected contact on any channel (a voice call counts for a later chat)
    event = load_event("connected-to-agent-chat.json")
    event["detail"]["channel"] = channel
    # WHEN only CHAT is supervised and voice is not routed THEN the affinity rule still takes it
    assert matches(affinity_event_pattern(SupervisedChannels="CHAT", RouteVoice="false"), event)
    # and a QUEUED event of the same contact is not an affinity event
    event["detail"]["eventType"] = "QUEUED"
    assert not matches(affinity_event_pattern(), event)


def test_every_fixture_supervision_sees_is_recorded_for_affinity() -> None:
    # supervision takes some channels of CONNECTED_TO_AGENT; the affinity rule takes all of them
    missing = [name for name, entry in CATALOG.items() if entry["supervision_rule"] and not entry["affinity_rule"]]
    assert missing == []
    assert not [name for name, entry in CATALOG.items() if entry["router_rule"] and entry["affinity_rule"]]


def test_affinity_rule_ignores_contacts_of_other_instances(matches: Matcher) -> None:
    event = load_event("connected-to-agent-vip-voice.json")
    other = TEST_INSTANCE_ARN.replace("11111111-2222", "99999999-2222")
    event["detail"]["instanceArn"] = other
    assert not matches(affinity_event_pattern(), event)
    assert matches(affinity_event_pattern(ConnectInstanceArn=other), event)
