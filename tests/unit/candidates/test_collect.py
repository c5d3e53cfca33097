"""The source table and ``collect``: every rule source kind has a resolver; exclusions and repeats keep
their place with their reason; the customer history is read once per contact whatever the sources."""

from __future__ import annotations

import typing

from contact_router.customers.history import CustomerHistory
from contact_router.customers.keys import KeyKind
from contact_router.models.contact import Contact
from contact_router.models.decision import Verdict
from contact_router.routing.candidates import RESOLVERS, collect
from contact_router.rules.model import SOURCE_KINDS, CandidateSource
from tests.fakes import DANA, SAM, TARIQ, FakeHistory, StaticRules, lookup


def test_every_source_kind_of_the_rules_schema_has_exactly_one_resolver() -> None:
    assert set(RESOLVERS) == set(SOURCE_KINDS)
    assert set(SOURCE_KINDS) <= set(typing.get_type_hints(CandidateSource))


def test_excluded_and_repeated_candidates_keep_their_place_with_the_reason() -> None:
    rules = StaticRules.of(
        f"""
version: 1
routing:
  - name: r
    when: {{channel: [CHAT]}}
    candidates: [{{users: [{DANA}, {TARIQ}]}}, {{attribute: preferredAgent}}, {{last_agent: {{max_age: 1d}}}}, {{owner: true}}]
    exclude_users: [{TARIQ}]
"""
    )
    contact = Contact(id="c1", channel="CHAT", attributes={"preferredAgent": DANA})
    port = FakeHistory(CustomerHistory(keys=(KeyKind.PHONE,)))
    found = collect(rules.rules.routing[0], contact, lookup(history=port))
    assert [(c.source, c.verdict) for c in found] == [
        ("users", Verdict.ELIGIBLE),
        ("users", Verdict.EXCLUDED),
        ("attribute:preferredAgent", Verdict.DUPLICATE),
        ("last_agent", Verdict.SOURCE_EMPTY),
        ("owner", Verdict.SOURCE_EMPTY),
    ]
    assert port.reads == 1  # last_agent and owner share one read
    assert SAM not in {c.user_id for c in found}
