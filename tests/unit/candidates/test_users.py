"""The ``users`` source: a static list, in order, each reference judged on its own."""

from __future__ import annotations

from contact_router.models.contact import Contact
from contact_router.models.decision import Verdict
from contact_router.routing.candidates import users
from tests.fakes import DANA, SAM, lookup, source


def test_each_reference_of_the_list_is_a_candidate_in_order() -> None:
    found = users.resolve(source(users=[SAM, DANA, "not a reference!"]), Contact(id="c1", channel="CHAT"), lookup())
    assert [(c.source, c.verdict, c.user_id) for c in found] == [
        ("users", Verdict.ELIGIBLE, SAM),
        ("users", Verdict.ELIGIBLE, DANA),
        ("users", Verdict.INVALID_REFERENCE, None),
    ]
