"""The ``agent_of`` source: the agent of the related or previous contact (one DescribeContact)."""

from __future__ import annotations

import pytest

from contact_router.errors import PermanentError
from contact_router.models.contact import Contact
from contact_router.models.decision import Verdict
from contact_router.routing.candidates import agent_of
from tests.fakes import DANA, FakeConnect, lookup, source


def test_the_agent_of_the_related_contact_is_the_candidate() -> None:
    # GIVEN an email related to a contact dana handled
    connect = FakeConnect(contacts={"r1": Contact(id="r1", channel="EMAIL", agent_id=DANA)})
    contact = Contact(id="c1", channel="EMAIL", related_contact_id="r1")
    # WHEN the source is resolved  THEN dana is eligible, after one DescribeContact of the related contact
    [found] = agent_of.resolve(source(agent_of="related"), contact, lookup(connect))
    assert (found.source, found.verdict, found.user_id) == ("agent_of:related", Verdict.ELIGIBLE, DANA)
    assert connect.calls == [("DescribeContact", "r1")]


@pytest.mark.parametrize(
    ("contacts", "contact", "verdict", "detail"),
    [
        ({}, Contact(id="c1", channel="TASK"), Verdict.SOURCE_EMPTY, "no previous contact"),
        (
            {},
            Contact(id="c1", channel="TASK", previous_contact_id="p1"),
            Verdict.SOURCE_EMPTY,
            "previous contact not found",
        ),
        (
            {"p1": Contact(id="p1", channel="TASK")},
            Contact(id="c1", channel="TASK", previous_contact_id="p1"),
            Verdict.NO_AGENT,
            "previous contact had no agent",
        ),
    ],
)
def test_no_previous_contact_an_unknown_one_or_one_without_agent_are_reasons(
    contacts: dict[str, Contact], contact: Contact, verdict: Verdict, detail: str
) -> None:
    [found] = agent_of.resolve(source(agent_of="previous"), contact, lookup(FakeConnect(contacts=contacts)))
    assert (found.verdict, found.detail) == (verdict, detail)


def test_any_other_connect_error_is_raised_for_the_record_policy() -> None:
    class Failing(FakeConnect):
        def describe_contact(self, contact_id: str) -> Contact:
            raise PermanentError("access_denied", "not allowed")

    contact = Contact(id="c1", channel="TASK", previous_contact_id="p1")
    with pytest.raises(PermanentError):
        agent_of.resolve(source(agent_of="previous"), contact, lookup(Failing()))
