"""The ``attribute`` source: a contact attribute naming the agent."""

from __future__ import annotations

from contact_router.models.agent import UserRef
from contact_router.models.contact import Contact
from contact_router.models.decision import Verdict
from contact_router.routing.candidates import attribute
from tests.fakes import DANA, INSTANCE_ARN, FakeConnect, lookup, source


def test_an_attribute_holding_a_username_names_that_user() -> None:
    # GIVEN a contact whose flow set preferredAgent to a username the instance knows
    connect = FakeConnect(usernames={"dana": UserRef(DANA, f"{INSTANCE_ARN}/agent/{DANA}", "dana")})
    contact = Contact(id="c1", channel="CHAT", attributes={"preferredAgent": "dana"})
    # WHEN the source is resolved
    found = attribute.resolve(source(attribute="preferredAgent"), contact, lookup(connect))
    # THEN dana is the one eligible candidate, labelled with the attribute
    assert [(c.source, c.verdict, c.user_id, c.username) for c in found] == [
        ("attribute:preferredAgent", Verdict.ELIGIBLE, DANA, "dana")
    ]


def test_an_unset_attribute_is_an_empty_source_and_costs_no_call() -> None:
    connect = FakeConnect()
    found = attribute.resolve(source(attribute="preferredAgent"), Contact(id="c1", channel="CHAT"), lookup(connect))
    assert [(c.verdict, c.detail) for c in found] == [(Verdict.SOURCE_EMPTY, "attribute not set")]
    assert connect.calls == []


def test_an_unknown_username_and_an_agent_of_another_instance_say_why() -> None:
    other = "arn:aws:connect:eu-west-2:123456789012:instance/99999999-0000-4000-8000-000000000000/agent/" + DANA
    for value, verdict in (("nobody", Verdict.UNKNOWN_USER), (other, Verdict.NOT_ALLOWED)):
        contact = Contact(id="c1", channel="CHAT", attributes={"preferredAgent": value})
        [found] = attribute.resolve(source(attribute="preferredAgent"), contact, lookup())
        assert found.verdict is verdict, value
