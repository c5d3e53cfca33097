"""The ``last_agent`` source: the customer's most recent agent on any channel, if recent enough."""

from __future__ import annotations

from contact_router.customers.history import CustomerHistory
from contact_router.customers.keys import KeyKind
from contact_router.models.affinity import LastAgent
from contact_router.models.contact import Contact
from contact_router.models.decision import Verdict
from contact_router.routing.candidates import last_agent
from tests.fakes import DANA, SAM, FakeHistory, lookup, source

NOW = 1_800_000_000.0
CONTACT = Contact(id="c1", channel="CHAT")


def history(*found: tuple[KeyKind, LastAgent]) -> FakeHistory:
    return FakeHistory(CustomerHistory(keys=(KeyKind.PHONE, KeyKind.EMAIL), last_agents=found))


def test_the_newest_last_agent_within_max_age_is_the_candidate() -> None:
    # GIVEN sam two hours ago by phone and dana one hour ago by email
    found_history = history(
        (KeyKind.PHONE, LastAgent(SAM, "old", "VOICE", NOW - 7200)),
        (KeyKind.EMAIL, LastAgent(DANA, "new", "EMAIL", NOW - 3600)),
    )
    # WHEN a 24 h last_agent source is resolved  THEN dana, with where and when in the label
    [found] = last_agent.resolve(source(last_agent={"max_age": "24h"}), CONTACT, lookup(history=found_history, now=NOW))
    assert (found.source, found.verdict, found.user_id) == (
        "last_agent:email, 1.0 h ago on EMAIL",
        Verdict.ELIGIBLE,
        DANA,
    )


def test_a_last_agent_older_than_max_age_is_too_old() -> None:
    old = history((KeyKind.PHONE, LastAgent(SAM, "old", "VOICE", NOW - 3 * 86_400)))
    [found] = last_agent.resolve(source(last_agent={"max_age": "1d"}), CONTACT, lookup(history=old, now=NOW))
    assert (found.verdict, found.user_id, found.detail) == (Verdict.TOO_OLD, SAM, "older than the rule's max_age 1.0 d")


def test_no_table_no_key_and_no_record_are_reasons_not_errors() -> None:
    spec = source(last_agent={"max_age": "1d"})
    cases = [
        (None, "no customer history (AFFINITY_TABLE unset)"),
        (FakeHistory(), "no customer key on this contact"),
        (history(), "no last agent recorded for this customer"),
    ]
    for port, detail in cases:
        [found] = last_agent.resolve(spec, CONTACT, lookup(history=port))
        assert (found.verdict, found.detail) == (Verdict.SOURCE_EMPTY, detail)
