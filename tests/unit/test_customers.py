"""Customer keys (normalised, hashed) and the last_agent / owner candidate sources."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from contact_router.customers.history import HistoryLookup
from contact_router.customers.keys import (
    CustomerKey,
    KeyKind,
    customer_keys,
    digest,
    digester,
    normalise_email,
    normalise_phone,
)
from contact_router.models.affinity import LastAgent, Owner
from contact_router.models.contact import Contact
from contact_router.models.decision import Outcome, Verdict
from contact_router.routing.router import Router, RouterOptions
from tests.fakes import DANA, INSTANCE_ARN, SAM, Clock, FakeConnect, StaticRules, available

SECRET = b"unit-test-secret-unit-test-secret"
NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+44 7700 900123", "+447700900123"),
        ("0044 (7700) 900-123", "+447700900123"),
        ("+1.415.555.0100", "+14155550100"),
        ("+44 (0)20 7946 0000", "+442079460000"),  # the national trunk 0 after the country code is dropped
        ("+44 020 7946 0000", "+442079460000"),
        ("+33 (0)6 12 34 56 78", "+33612345678"),
        ("07700 900123", None),  # national number and no default country: not a key rather than a guess
        ("020 7946 0000", None),
        ("+0123", None),
        ("+44 20", None),  # too short for the country's plan
        ("not a number", None),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("020 7946 0000", "GB", "+442079460000"),
        ("07700 900123", "GB", "+447700900123"),
        ("(415) 555-0132", "US", "+14155550132"),
        ("415.555.0132", "US", "+14155550132"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("030 1234567", "DE", "+49301234567"),
        ("+33 6 12 34 56 78", "GB", "+33612345678"),  # an international number keeps its own country
        ("0033 6 12 34 56 78", "GB", "+33612345678"),
        ("12", "GB", None),
    ],
)
def test_national_formats_use_the_default_country(raw: str, region: str, expected: str | None) -> None:
    assert normalise_phone(raw, region) == expected


def test_the_same_customer_gets_the_same_key_however_the_number_is_written() -> None:
    spellings = ["+44 (0)20 7946 0000", "+442079460000", "0044 20 7946 0000", "020-7946-0000", "(020) 7946 0000"]
    assert {normalise_phone(raw, "GB") for raw in spellings} == {"+442079460000"}
    contact = Contact(id="c", channel="CHAT", customer_endpoint=("TELEPHONE_NUMBER", "020 7946 0000"))
    assert customer_keys(contact, None) == []
    assert customer_keys(contact, None, "GB") == [CustomerKey(KeyKind.PHONE, "+442079460000")]


def test_emails_are_case_folded_and_keys_never_print_their_value() -> None:
    assert normalise_email("  Jo.Bloggs@Example.COM ") == "jo.bloggs@example.com"
    assert normalise_email("no-at-sign") is None
    assert "example" not in repr(CustomerKey(KeyKind.EMAIL, "jo@example.com"))


def test_every_key_of_a_contact_most_specific_first() -> None:
    contact = Contact(
        id="c",
        channel="EMAIL",
        attributes={"customerProfileId": "prof-1"},
        customer_endpoint=("EMAIL_ADDRESS", "Jo@Example.com"),
        customer_id="CUST-1",
    )
    assert [(k.kind, k.value) for k in customer_keys(contact, "customerProfileId")] == [
        (KeyKind.CUSTOMER_ID, "CUST-1"),
        (KeyKind.PROFILE, "prof-1"),
        (KeyKind.EMAIL, "jo@example.com"),
    ]
    assert customer_keys(contact, None)[1].kind is KeyKind.EMAIL


def test_digests_depend_on_kind_value_and_secret() -> None:
    key = CustomerKey(KeyKind.PHONE, "+447700900123")
    assert digest(key, SECRET) == digest(CustomerKey(KeyKind.PHONE, "+447700900123"), SECRET)
    assert digest(key, SECRET) != digest(key, b"another-secret-another-secret-xx")
    assert digest(key, SECRET) != digest(CustomerKey(KeyKind.CUSTOMER_ID, "+447700900123"), SECRET)
    assert "447700900123" not in digest(key, SECRET)


@dataclass
class MemoryStore:
    last: dict[str, LastAgent] = field(default_factory=dict)
    owners: dict[str, Owner] = field(default_factory=dict)
    lookups: int = 0

    def lookup(self, key_hashes: Sequence[str]) -> tuple[dict[str, LastAgent], dict[str, Owner]]:
        self.lookups += 1
        return (
            {h: v for h, v in self.last.items() if h in key_hashes},
            {h: v for h, v in self.owners.items() if h in key_hashes},
        )


PHONE = CustomerKey(KeyKind.PHONE, "+447700900111")
EMAIL = CustomerKey(KeyKind.EMAIL, "cfo@bigcorp.example")
RULES = StaticRules.of(
    """
version: 1
routing:
  - name: chat
    when: {channel: [CHAT]}
    candidates: [{last_agent: {max_age: 24h}}, {owner: true}]
  - name: email
    when: {channel: [EMAIL]}
    candidates: [{last_agent: {max_age: 7d}}]
"""
)


def make(connect: FakeConnect, store: MemoryStore, clock: Clock) -> Router:
    return Router(
        RouterOptions(instance_arn=INSTANCE_ARN),
        connect=connect,
        users=connect,
        rules=RULES,
        clock=clock,
        history=HistoryLookup(store, lambda: SECRET, "customerProfileId"),
    )


def chat(channel: str = "CHAT", **kw: object) -> Contact:
    base: dict[str, object] = {
        "id": "c1",
        "channel": channel,
        "queue_id": "q",
        "customer_endpoint": ("TELEPHONE_NUMBER", "+44 7700 900111"),
    }
    base.update(kw)
    return Contact(**base)  # type: ignore[arg-type]


def test_last_agent_within_max_age_is_the_candidate_and_one_read_serves_both_sources() -> None:
    store = MemoryStore(last={digest(PHONE, SECRET): LastAgent(SAM, "old", "VOICE", NOW - 3600)})
    connect = FakeConnect(states={SAM: available(SAM)})
    decision = make(connect, store, Clock(NOW)).decide(chat())
    assert (decision.outcome, decision.agent_id) == (Outcome.ASSOCIATED, SAM)
    assert decision.candidates[0].source == "last_agent:phone, 1.0 h ago on VOICE"
    assert decision.candidates[1].detail == "no owner for this customer"
    assert store.lookups == 1


def test_last_agent_older_than_max_age_is_ignored_and_the_record_says_so() -> None:
    store = MemoryStore(last={digest(PHONE, SECRET): LastAgent(SAM, "old", "VOICE", NOW - 2 * 86_400)})
    decision = make(FakeConnect(states={SAM: available(SAM)}), store, Clock(NOW)).decide(chat())
    assert decision.outcome is Outcome.NO_ELIGIBLE_AGENT
    first = decision.candidates[0]
    assert (first.verdict, first.user_id) == (Verdict.TOO_OLD, SAM)
    assert first.detail == "older than the rule's max_age 1.0 d"
    # THEN the same affinity is young enough for a rule with a 7-day max_age
    email = make(FakeConnect(states={SAM: available(SAM, "EMAIL")}), store, Clock(NOW)).decide(chat("EMAIL"))
    assert (email.outcome, email.agent_id) == (Outcome.ASSOCIATED, SAM)


def test_the_newest_last_agent_across_keys_wins() -> None:
    store = MemoryStore(
        last={
            digest(PHONE, SECRET): LastAgent(SAM, "a", "VOICE", NOW - 7200),
            digest(CustomerKey(KeyKind.CUSTOMER_ID, "CUST-1"), SECRET): LastAgent(DANA, "b", "CHAT", NOW - 60),
        }
    )
    connect = FakeConnect(states={SAM: available(SAM), DANA: available(DANA)})
    assert make(connect, store, Clock(NOW)).decide(chat(customer_id="CUST-1")).agent_id == DANA


def test_owner_of_the_most_specific_key() -> None:
    store = MemoryStore(
        owners={
            digest(PHONE, SECRET): Owner(DANA, "phone"),
            digest(CustomerKey(KeyKind.CUSTOMER_ID, "CUST-1"), SECRET): Owner(SAM, "customer_id"),
        }
    )
    connect = FakeConnect(states={SAM: available(SAM), DANA: available(DANA)})
    decision = make(connect, store, Clock(NOW)).decide(chat(customer_id="CUST-1"))
    assert (decision.agent_id, decision.candidates[1].source) == (SAM, "owner:customer_id")


def test_no_key_and_no_history_are_reasons_not_errors() -> None:
    store = MemoryStore()
    decision = make(FakeConnect(), store, Clock(NOW)).decide(chat(customer_endpoint=None))
    assert [c.detail for c in decision.candidates] == ["no customer key on this contact"] * 2
    assert store.lookups == 0, "no key, no read"
    router = Router(RouterOptions(instance_arn=INSTANCE_ARN), connect=FakeConnect(), users=FakeConnect(), rules=RULES)
    assert router.decide(chat()).candidates[0].detail == "no customer history (AFFINITY_TABLE unset)"


def test_a_national_number_finds_its_last_agent_only_with_the_default_country() -> None:
    # GIVEN a last agent recorded under the E.164 form, and a contact whose endpoint is written nationally
    store = MemoryStore(last={digest(PHONE, SECRET): LastAgent(SAM, "old", "VOICE", NOW - 3600)})
    contact = chat(customer_endpoint=("TELEPHONE_NUMBER", "07700 900111"))
    # WHEN the deployment names no default country THEN the number is no key and nothing is looked up
    assert HistoryLookup(store, lambda: SECRET, None).for_contact(contact).keys == ()
    # WHEN it names GB THEN the same customer is found
    found = HistoryLookup(store, lambda: SECRET, None, "GB").for_contact(contact)
    assert found.keys == (KeyKind.PHONE,)
    assert found.last_agents[0][1].agent_id == SAM


def test_the_default_phone_country_is_a_validated_setting() -> None:
    from contact_router.config import Settings
    from contact_router.errors import ConfigurationError

    assert Settings.from_env({"CONNECT_INSTANCE_ARN": INSTANCE_ARN}).phone_default_region is None
    settings = Settings.from_env({"CONNECT_INSTANCE_ARN": INSTANCE_ARN, "PHONE_DEFAULT_REGION": "gb"})
    assert settings.phone_default_region == "GB"
    with pytest.raises(ConfigurationError) as err:
        Settings.from_env({"CONNECT_INSTANCE_ARN": INSTANCE_ARN, "PHONE_DEFAULT_REGION": "UK"})
    assert err.value.problems == [
        "PHONE_DEFAULT_REGION must be an ISO 3166-1 alpha-2 country code such as GB or US, got 'UK'"
    ]


def test_the_bulk_digester_gives_the_routers_hashes() -> None:
    # The owners import hashes with ``digester``, the router with ``digest``: a difference would match no one.
    keys = [CustomerKey(kind, f"value-{kind.value}-{n}") for kind in KeyKind for n in range(3)]
    hash_key = digester(SECRET)
    assert [hash_key(key) for key in keys] == [digest(key, SECRET) for key in keys]
    assert digester(b"another-secret")(keys[0]) != digest(keys[0], SECRET)
