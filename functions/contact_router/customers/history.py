"""What the router knows about a customer: last agents and owners of the contact's keys (one read)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from contact_router.customers.keys import KIND_PRIORITY, CustomerKey, KeyKind, customer_keys, digest
from contact_router.models.affinity import LastAgent, Owner
from contact_router.models.contact import Contact


class HistoryStore(Protocol):
    def lookup(self, key_hashes: Sequence[str]) -> tuple[dict[str, LastAgent], dict[str, Owner]]: ...


@dataclass(frozen=True)
class CustomerHistory:
    keys: tuple[KeyKind, ...] = ()
    last_agents: tuple[tuple[KeyKind, LastAgent], ...] = field(default_factory=tuple)
    owners: tuple[tuple[KeyKind, Owner], ...] = field(default_factory=tuple)

    def newest_last_agent(self) -> tuple[KeyKind, LastAgent] | None:
        return max(self.last_agents, key=lambda found: found[1].connected_at, default=None)

    def owner(self) -> tuple[KeyKind, Owner] | None:
        """The owner of the most specific key (CustomerId before profile before email before phone)."""
        ranked = sorted(self.owners, key=lambda found: KIND_PRIORITY.index(found[0]))
        return ranked[0] if ranked else None


class HistoryLookup:
    """Implements the router's customer-history port over the affinity table."""

    def __init__(
        self,
        store: HistoryStore,
        secret: Callable[[], bytes],
        profile_attribute: str | None,
        phone_region: str | None = None,
    ) -> None:
        self.store = store
        self.secret = secret
        self.profile_attribute = profile_attribute
        self.phone_region = phone_region

    def for_contact(self, contact: Contact) -> CustomerHistory:
        keys: list[CustomerKey] = customer_keys(contact, self.profile_attribute, self.phone_region)
        if not keys:
            return CustomerHistory()
        secret = self.secret()
        hashed = {digest(key, secret): key.kind for key in keys}
        last, owners = self.store.lookup(list(hashed))
        return CustomerHistory(
            keys=tuple(key.kind for key in keys),
            last_agents=tuple((hashed[h], found) for h, found in last.items()),
            owners=tuple((hashed[h], found) for h, found in owners.items()),
        )
