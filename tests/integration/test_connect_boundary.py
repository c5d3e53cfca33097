"""The Connect boundary through the real handlers on the emulator (IAM mode on), under the switches for what
AWS's documents leave open (docs/emulator.md): attributes missing from DescribeContact, voice association,
how a customer-first callback shows; and refusals explained by a contact that moved on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from contact_router.adapters.aws import Clients
from contact_router.composition import build_router_app, build_supervision_app
from contact_router.config import Settings
from contact_router.handlers import supervision as supervision_handler
from tests.conftest import SAMPLES_DIR
from tests.integration.conftest import Harness, LambdaContext, event

DANA = "33333333-0000-4000-8000-000000000001"
CHAT_BY_ATTRIBUTE = "queued-chat-attribute.json"
NEW_HIRE = "connected-to-agent-new-hire-chat.json"
ATTRIBUTE_RULES = "version: 1\nrouting:\n  - name: named\n    candidates: [{attribute: preferredAgent}]\n"
CONDITION_RULES = (
    "version: 1\nrouting:\n  - name: named\n    when: {attributes: {preferredAgent: {present: true}}}\n"
    "    candidates: [{attribute: preferredAgent}]\n"
)


@pytest.fixture
def world_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The sample world with the `instance` switches a test names (indirect parametrization)."""
    data = yaml.safe_load((SAMPLES_DIR / "world.yaml").read_text(encoding="utf-8"))
    data["instance"].update(getattr(request, "param", {}))
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def decisions(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.decision for r in caplog.records if hasattr(r, "decision")]  # type: ignore[attr-defined]


def supervisions(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.supervision for r in caplog.records if hasattr(r, "supervision")]  # type: ignore[attr-defined]


def queued_event(contact_id: str, channel: str = "CHAT", **detail: Any) -> dict[str, Any]:
    body = event(CHAT_BY_ATTRIBUTE)
    body["detail"].update({"contactId": contact_id, "channel": channel, **detail})
    body["detail"].pop("initialContactId", None)
    return body


def rules_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def router_app(harness: Harness, client: Any | None = None, **env: str) -> Any:
    return build_router_app(
        Settings.from_env({**harness.env, **env}),
        Clients(
            connect=client or harness.emulator.client(role="RouterFunction"),
            dynamodb=harness.dynamodb,
            sqs=harness.sqs,
            secretsmanager=harness.secrets,
        ),
    )


# ------------------------------------------------------------------------ attributes (issue 16, item 3)

# The happy path's calls; a fresh app also reads the candidate's routing profile once (cached per profile).
THREE_CALLS = {
    "DescribeContact": 1,
    "GetCurrentUserData": 1,
    "ListRoutingProfileQueues": 1,
    "AssociateContactWithUser": 1,
}


@pytest.mark.parametrize(
    ("world_path", "extra"),
    [
        ({"attributes_in_describe_contact": "always"}, {}),
        ({"attributes_in_describe_contact": "when_set"}, {}),
        ({"attributes_in_describe_contact": "never"}, {"GetContactAttributes": 1}),
    ],
    indirect=["world_path"],
)
def test_attributes_are_read_with_get_contact_attributes_only_when_describe_contact_lacks_the_key(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture, extra: dict[str, int]
) -> None:
    # GIVEN an attribute rule and a chat whose attribute names dana, under each setting of the switch
    caplog.set_level("INFO")
    contact = harness.emulator.add_contact(
        channel="CHAT", state="QUEUED", queue="Support", attributes={"preferredAgent": DANA}
    )
    harness.emulator.reset_calls()
    # WHEN it is routed through the handler
    app = router_app(harness, RULES_FILE=rules_file(tmp_path, ATTRIBUTE_RULES))
    assert harness.invoke([harness.record(queued_event(contact.id))], app) == {"batchItemFailures": []}
    # THEN dana gets it either way; GetContactAttributes only when DescribeContact had no Attributes key, so the
    # happy path keeps its three calls
    (decision,) = decisions(caplog)
    assert (decision["outcome"], decision["agent_id"]) == ("Associated", DANA)
    assert dict(harness.emulator.call_counts()) == {**THREE_CALLS, **extra}
    if extra:
        (read,) = [c for c in harness.emulator.calls if c.operation == "GetContactAttributes"]
        assert (read.params["InitialContactId"], read.status) == (contact.id, 200)


@pytest.mark.parametrize(
    ("world_path", "reads"),
    [({"attributes_in_describe_contact": "always"}, 0), ({"attributes_in_describe_contact": "when_set"}, 1)],
    indirect=["world_path"],
)
def test_a_chat_without_attributes_costs_a_read_only_when_the_key_is_left_out(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture, reads: int
) -> None:
    # GIVEN a rule conditioned on an attribute and a chat without attributes
    caplog.set_level("INFO")
    contact = harness.emulator.add_contact(channel="CHAT", state="QUEUED", queue="Support")
    harness.emulator.reset_calls()
    # WHEN it is routed
    app = router_app(harness, RULES_FILE=rules_file(tmp_path, CONDITION_RULES))
    harness.invoke([harness.record(queued_event(contact.id))], app)
    # THEN no rule matches either way; an empty map ({}) is an answer, a missing key costs one read
    assert [d["outcome"] for d in decisions(caplog)] == ["NoRuleMatched"]
    assert harness.emulator.call_counts()["GetContactAttributes"] == reads


# ------------------------------------------------------------------------------ voice (issue 16, item 5)


@pytest.mark.parametrize(
    ("world_path", "route_voice", "outcome"),
    [
        ({"voice_association": True}, "true", "Associated"),
        ({"voice_association": False}, "true", "Rejected"),
        ({"voice_association": True}, "false", "Ignored"),
        ({"voice_association": False}, "false", "Ignored"),
    ],
    indirect=["world_path"],
)
def test_inbound_voice_under_both_voice_association_settings(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture, route_voice: str, outcome: str
) -> None:
    # GIVEN an inbound call naming dana (free for voice), with voice routing on or off, and an instance that does or
    # does not accept voice associations (the API reference's older and newest versions disagree)
    caplog.set_level("INFO")
    call = harness.emulator.add_contact(
        channel="VOICE", initiation_method="INBOUND", queue="Support", attributes={"preferredAgent": DANA}
    )
    app = router_app(harness, RULES_FILE=rules_file(tmp_path, ATTRIBUTE_RULES), ROUTE_VOICE=route_voice)
    # WHEN it is routed
    harness.invoke([harness.record(queued_event(call.id, "VOICE", initiationMethod="INBOUND"))], app)
    # THEN with voice routing off it is ignored without a call to associate; on, it is associated where the instance
    # accepts voice, and dead-lettered with Connect's refusal (after a re-read shows it still waiting) where not
    associations = [c for c in harness.emulator.calls if c.operation == "AssociateContactWithUser"]
    if outcome == "Ignored":
        assert [d["reason"] for d in decisions(caplog)] == ["channel_not_routed"]
        assert associations == []
    elif outcome == "Associated":
        assert [(d["outcome"], d["agent_id"]) for d in decisions(caplog)] == [("Associated", DANA)]
    else:
        assert [letter["reason"] for letter in harness.dead_letters()] == ["invalid_request"]
        assert [c.error_code for c in associations] == ["InvalidRequestException"]


@pytest.mark.parametrize(
    "world_path",
    [
        {"voice_association": True},
        {"voice_association": True, "customer_first_callback_method": "CALLBACK_CUSTOMER_FIRST_QUEUED"},
        {"voice_association": False},
    ],
    indirect=True,
)
@pytest.mark.parametrize("mode", ["customer_first", "agent_first"])
def test_voice_callbacks_are_never_associated_whatever_the_emulator_says(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    # GIVEN voice routing on and a queued voice callback naming dana, under every setting of the voice switches
    caplog.set_level("INFO")
    callback = harness.emulator.add_contact(
        channel="VOICE",
        initiation_method="CALLBACK",
        callback_mode=mode,
        queue="Support",
        attributes={"preferredAgent": DANA},
    )
    app = router_app(harness, RULES_FILE=rules_file(tmp_path, ATTRIBUTE_RULES), ROUTE_VOICE="true")
    # WHEN its (minimal) QUEUED event is routed
    harness.invoke([harness.record(queued_event(callback.id, "VOICE"))], app)
    # THEN it is ignored with a reason naming the callback, and AssociateContactWithUser is never called
    (decision,) = decisions(caplog)
    assert decision["outcome"] == "Ignored"
    assert decision["reason"] in {"customer_first_callback", "callback_mode_unknown"}
    assert harness.emulator.call_counts()["AssociateContactWithUser"] == 0
    assert harness.dead_letters() == []


# --------------------------------------------------------------------- refusals re-read (issue 16, item 6)


@pytest.mark.parametrize("injected", [None, "ResourceNotFoundException", "InvalidParameterException"])
def test_a_contact_that_ends_between_describe_and_associate_is_not_waiting_not_dead_lettered(
    harness: Harness, caplog: pytest.LogCaptureFixture, injected: str | None
) -> None:
    # GIVEN the customer leaves just as the router associates (Connect refuses: its own InvalidRequest for a contact
    # no longer queued, or, injected, the codes the real service may use instead)
    caplog.set_level("INFO")
    contact_id = event(CHAT_BY_ATTRIBUTE)["detail"]["contactId"]
    client = harness.emulator.client(role="RouterFunction")

    def customer_leaves(**_: Any) -> None:  # a handler that returns a value would stand in for the response
        harness.emulator.abandon_contact(contact_id)

    client.meta.events.register("before-call.connect.AssociateContactWithUser", customer_leaves)
    if injected:
        harness.emulator.faults.fail_next("AssociateContactWithUser", injected, times=1)
    # WHEN the chat is routed
    assert harness.invoke([harness.record(event(CHAT_BY_ATTRIBUTE))], router_app(harness, client)) == {
        "batchItemFailures": []
    }
    # THEN one re-read shows it ended: NotWaiting with the reason, nothing dead-lettered
    (decision,) = decisions(caplog)
    assert (decision["outcome"], decision["reason"]) == ("NotWaiting", "disconnected")
    assert harness.dead_letters() == []
    assert harness.emulator.call_counts()["DescribeContact"] == 2


def test_a_refused_association_of_a_contact_still_waiting_is_dead_lettered_with_the_refusal(harness: Harness) -> None:
    # GIVEN Connect answers ResourceNotFound although the chat is still waiting
    harness.emulator.faults.fail_next("AssociateContactWithUser", "ResourceNotFoundException", times=1)
    # WHEN it is routed THEN it is dead-lettered with that refusal, after one re-read
    harness.invoke([harness.record(event(CHAT_BY_ATTRIBUTE))])
    assert [letter["reason"] for letter in harness.dead_letters()] == ["not_found"]
    assert harness.emulator.call_counts()["DescribeContact"] == 2


@pytest.mark.parametrize("injected", [None, "ResourceNotFoundException"])
def test_a_call_that_ends_before_monitor_contact_is_not_connected_not_dead_lettered(
    harness: Harness, caplog: pytest.LogCaptureFixture, injected: str | None
) -> None:
    # GIVEN the chat ends just as MonitorContact is sent (the emulator refuses a contact no longer connected)
    caplog.set_level("INFO")
    contact_id = event(NEW_HIRE)["detail"]["contactId"]
    client = harness.emulator.client(role="SupervisionFunction")

    def call_ends(**_: Any) -> None:
        harness.emulator.disconnect_contact(contact_id)

    client.meta.events.register("before-call.connect.MonitorContact", call_ends)
    if injected:
        harness.emulator.faults.fail_next("MonitorContact", injected, times=1)
    app = build_supervision_app(
        Settings.from_env({**harness.env, "ALLOW_BARGE": "true"}),
        Clients(connect=client, dynamodb=harness.dynamodb, sqs=harness.sqs),
    )
    # WHEN it is supervised
    response = supervision_handler.lambda_handler(
        {"Records": [harness.record(event(NEW_HIRE))]}, LambdaContext(), app=app
    )
    # THEN one re-read shows it ended: NotConnected, nothing dead-lettered
    assert response == {"batchItemFailures": []}
    (decision,) = supervisions(caplog)
    assert (decision["outcome"], decision["reason"]) == ("NotConnected", "disconnected")
    assert harness.dead_letters() == []
