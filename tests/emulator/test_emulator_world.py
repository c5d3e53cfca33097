"""The world file: the sample loads, defaults apply, and every mistake names its entry and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connect_emulator import World, WorldError
from connect_emulator.world import stable_id
from tests.emulator.support import BACK_OFFICE, NEW_HIRES, SAMPLE_WORLD, TARIQ, sample_world_dict


def test_sample_world_loads(sample_world: World) -> None:
    # GIVEN samples/world.yaml
    # THEN every section is read, with names resolved to ids
    assert sample_world.instance.arn == (
        "arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555"
    )
    assert sample_world.instance.voice_association is False
    assert [u.username for u in sample_world.users] == [
        "dana",
        "sam",
        "tariq",
        "lee",
        "mo",
        "nina",
        "omar",
        "lead.one",
        "lead.two",
    ]
    assert sample_world.instance.max_monitors_per_supervisor == 2
    assert [(g.id, g.name) for g in sample_world.hierarchy_groups] == [(NEW_HIRES, "New hires")]
    nina = sample_world.user("nina")
    assert nina is not None
    assert nina.hierarchy_group_id == NEW_HIRES
    assert len(sample_world.contacts) == len(sample_world_dict()["contacts"])
    tariq = sample_world.user("TARIQ")
    assert tariq is not None
    assert (tariq.id, tariq.routing_profile_id, dict(tariq.busy)) == (TARIQ, BACK_OFFICE, {"TASK": 1})
    chat = sample_world.contacts[0]
    assert chat.segment_attributes == {"connect:Subtype": {"ValueString": "connect:Chat"}}


def test_minimal_world_gets_defaults() -> None:
    # GIVEN a world with only names
    world = World.from_dict(
        {
            "instance": {"id": "inst-1"},
            "queues": [{"name": "Support"}],
            "routing_profiles": [{"name": "Chat", "concurrency": {"chat": 2}}],
            "users": [{"username": "ana", "routing_profile": "Chat"}],
            "contacts": [{"id": "c-1", "channel": "chat", "queue": "Support"}],
        }
    )

    # THEN ids are stable UUIDs and defaults are filled in
    assert (world.instance.region, world.instance.account) == ("eu-west-2", "123456789012")
    assert world.queues[0].id == stable_id("queue", "Support")
    assert world.queues[0].type == "STANDARD"
    assert world.routing_profiles[0].concurrency == {"CHAT": 2}
    assert world.routing_profiles[0].queue_ids is None
    assert world.users[0].status == "Available"
    contact = world.contacts[0]
    assert (contact.channel, contact.initiation_method, contact.state) == ("CHAT", "API", "QUEUED")


def _broken(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = sample_world_dict()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("users", 2, "routing_profile"), "Nope", "users[2] (tariq): routing_profile 'Nope' is not defined"),
        (("users", 0, "busy"), {"FAX": 1}, "users[0] (dana): busy channel 'FAX' is not one of"),
        (("users", 1, "busy"), {"CHAT": -1}, "users[1] (sam): busy CHAT must be a whole number >= 0"),
        (("users", 1, "username"), "DANA", "users[1]: username 'DANA' is already used by users[0]"),
        (("users", 0, "nickname"), "D", "users[0] (dana): unknown field 'nickname'"),
        (("contacts", 0, "queue"), "Nowhere", "contacts[0] (44444444-0000-4000-8000-000000000001): queue 'Nowhere'"),
        (("contacts", 0, "channel"), "FAX", "contacts[0] (44444444-0000-4000-8000-000000000001): channel 'FAX'"),
        (("contacts", 0, "agent"), "dana", "agent must not be set on a QUEUED contact"),
        (("contacts", 4, "agent"), "ghost", "contacts[4] (44444444-0000-4000-8000-000000000004): agent 'ghost'"),
        (("contacts", 0, "state"), "RINGING", "state 'RINGING' is not one of"),
        (("contacts", 0, "initiation_method"), "CARRIER_PIGEON", "initiation_method 'CARRIER_PIGEON'"),
        (("contacts", 0, "tags"), {f"k{n}": "v" for n in range(7)}, "tags does not fit the Connect model"),
        (("contacts", 0, "customer_endpoint"), {"type": "FAX", "address": "1"}, "customer_endpoint does not fit"),
        (("contacts", 0, "enqueued_at"), "yesterday", "enqueued_at 'yesterday' is not an ISO 8601 timestamp"),
        (("contacts", 0, "attributes"), {"a": ["x"]}, "attributes 'a' must be a string"),
        (("routing_profiles", 1, "queues"), ["Nope"], "routing_profiles[1] (Back office): queues 'Nope'"),
        (("queues", 0, "type"), "VIRTUAL", "queues[0] (Support): type 'VIRTUAL' is not one of STANDARD, AGENT"),
        (("instance", "account"), "12345", "instance: account '12345' must be 12 digits"),
        (("instance", "voice_association"), "yes", "instance: voice_association must be true or false"),
        (
            ("instance", "max_monitors_per_supervisor"),
            0,
            "instance: max_monitors_per_supervisor must be a whole number >= 1",
        ),
        (("users", 5, "hierarchy_group"), "Veterans", "users[5] (nina): hierarchy_group 'Veterans' is not a defined"),
        (
            ("hierarchy_groups", 0, "name"),
            None,
            "hierarchy_groups[0] (66666666-0000-4000-8000-000000000001): name is required",
        ),
        (("hierarchy_groups", 0, "level"), 2, "hierarchy_groups[0] (New hires): unknown field 'level'"),
        (
            ("contacts", 18, "queue"),
            "Support",
            "contacts[18] (44444444-0000-4000-8000-000000000026): queue must not be set",
        ),
        (("contacts", 18, "state"), "QUEUED", "state must be CONNECTED or DISCONNECTED for a MONITOR contact"),
        (("contacts", 18, "related_contact"), None, "related_contact is required for a MONITOR contact"),
        (
            ("contacts", 18, "related_contact"),
            "nope",
            "contacts[18] (44444444-0000-4000-8000-000000000026): related_contact 'nope' is not a defined contact",
        ),
        (("contacts", 18, "related_contact"), "44444444-0000-4000-8000-000000000027", "is itself a monitoring leg"),
        (
            ("contacts", 18, "related_contact"),
            "44444444-0000-4000-8000-000000000009",
            "is DISCONNECTED: a CONNECTED leg monitors a CONNECTED contact",
        ),
        (("contacts", 18, "agent"), "omar", "is handled by the leg's own agent"),
    ],
)
def test_mistakes_name_the_entry_and_field(path: tuple[Any, ...], value: Any, message: str) -> None:
    # GIVEN the sample world with one mistake
    data = _broken(path, value)

    # WHEN it is loaded
    with pytest.raises(WorldError) as caught:
        World.from_dict(data)

    # THEN the error says where
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ({"rate_quotas": {"DescribeContacts": {"rate": 1}}}, "rate_quotas.DescribeContacts is not a Connect"),
        ({"rate_quotas": {"DescribeContact": {"rate": 0}}}, "rate_quotas.DescribeContact: rate must be"),
        ({"error_rates": {"DescribeContact": {"Boom": 0.1}}}, "unknown field 'Boom'"),
        ({"error_rates": {"DescribeContact": {"ThrottlingException": 2}}}, "must be a probability"),
        ({"latency": {"*": [0.3, 0.1]}}, "latency.*: must be seconds"),
        ({"documented_quotas": "lots"}, "documented_quotas must be true or a scale factor"),
    ],
)
def test_fault_mistakes_are_reported(faults: dict[str, Any], message: str) -> None:
    data = sample_world_dict()
    data["faults"] = faults
    with pytest.raises(WorldError, match=None) as caught:
        World.from_dict(data)
    assert message in str(caught.value)


def test_missing_instance_and_non_mapping_entries() -> None:
    with pytest.raises(WorldError, match="world: instance is required"):
        World.from_dict({"users": []})
    with pytest.raises(WorldError, match=r"queues\[0\]: must be a mapping"):
        World.from_dict({"instance": {"id": "i"}, "queues": ["Support"]})


def test_from_file_prefixes_errors_with_the_path(tmp_path: Path) -> None:
    # GIVEN a world file with a mistake
    path = tmp_path / "world.yaml"
    path.write_text(SAMPLE_WORLD.read_text().replace("routing_profile: Back office", "routing_profile: Nope"))

    # WHEN it is loaded
    with pytest.raises(WorldError) as caught:
        World.from_file(path)

    # THEN the path and the entry are named
    assert str(caught.value).startswith(f"{path}: users[2] (tariq): routing_profile 'Nope' is not defined")


def test_timestamps_and_yaml_datetimes(tmp_path: Path) -> None:
    # GIVEN ISO timestamps, one quoted and one parsed by YAML as a datetime
    path = tmp_path / "world.yaml"
    path.write_text(
        "instance: {id: i}\n"
        "queues: [{name: Q}]\n"
        "contacts:\n"
        "  - {id: c, channel: CHAT, queue: Q, initiated_at: '2026-01-01T09:00:00Z', enqueued_at: 2026-01-01T09:00:05Z}\n"
    )

    # WHEN it is loaded
    contact = World.from_file(path).contacts[0]

    # THEN both are epoch seconds
    assert contact.initiated_at == 1_767_258_000.0
    assert contact.enqueued_at == 1_767_258_005.0


def test_duplicate_hierarchy_group_names_are_refused() -> None:
    data = sample_world_dict()
    data["hierarchy_groups"].append({"name": "New hires"})
    with pytest.raises(
        WorldError, match=r"hierarchy_groups\[1\]: name 'New hires' is already used by hierarchy_groups\[0\]"
    ):
        World.from_dict(data)


def test_hierarchy_group_by_id_and_default_id() -> None:
    world = World.from_dict(
        {
            "instance": {"id": "i"},
            "hierarchy_groups": [{"name": "Team A"}],
            "routing_profiles": [{"name": "P"}],
            "users": [
                {"username": "ana", "routing_profile": "P", "hierarchy_group": stable_id("hierarchy-group", "Team A")}
            ],
        }
    )
    assert world.users[0].hierarchy_group_id == world.hierarchy_groups[0].id == stable_id("hierarchy-group", "Team A")
    assert world.instance.max_monitors_per_supervisor == 1


def test_the_product_sample_world_loads() -> None:
    # GIVEN samples/world.yaml, the world of `make run` (it grows with the product; the tests above use a
    # frozen copy)  THEN it loads, with its timeline
    world = World.from_file(Path(__file__).resolve().parents[2] / "samples" / "world.yaml")
    assert world.user("priya") is not None
    assert len(world.contacts) >= 20
