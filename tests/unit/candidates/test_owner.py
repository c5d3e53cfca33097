"""The ``owner`` source: the owner recorded for the customer's most specific key."""

from __future__ import annotations

from contact_router.customers.history import CustomerHistory
from contact_router.customers.keys import KeyKind
from contact_router.models.affinity import Owner
from contact_router.models.contact import Contact
from contact_router.models.decision import Verdict
from contact_router.routing.candidates import owner
from tests.fakes import DANA, SAM, FakeHistory, lookup, source

CONTACT = Contact(id="c1", channel="EMAIL")


def test_the_owner_of_the_most_specific_key_wins() -> None:
    # GIVEN sam owns the phone number and dana the email address
    port = FakeHistory(
        CustomerHistory(
            keys=(KeyKind.EMAIL, KeyKind.PHONE),
            owners=((KeyKind.PHONE, Owner(SAM, "phone")), (KeyKind.EMAIL, Owner(DANA, "email"))),
        )
    )
    # WHEN resolved  THEN dana (email is more specific than phone), labelled with the key kind
    [found] = owner.resolve(source(owner=True), CONTACT, lookup(history=port))
    assert (found.source, found.verdict, found.user_id) == ("owner:email", Verdict.ELIGIBLE, DANA)


def test_no_owner_recorded_is_an_empty_source() -> None:
    port = FakeHistory(CustomerHistory(keys=(KeyKind.EMAIL,)))
    [found] = owner.resolve(source(owner=True), CONTACT, lookup(history=port))
    assert (found.verdict, found.detail) == (Verdict.SOURCE_EMPTY, "no owner for this customer")
