"""Customer keys: who the customer is, normalised, then stored only as keyed hashes (pure).

A customer can be recognised by several keys: the customer endpoint (a phone number normalised to E.164,
an email address case-folded), Connect's CustomerId, and a Customer Profiles id where the contact carries
one (a contact attribute the flow sets; its name is configurable). Keys never leave this module in clear:
``digest`` turns each into an HMAC-SHA256 with the deployment's secret, which is what DynamoDB stores.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

from contact_router.models.contact import Contact

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_NOISE = re.compile(r"[\s().\-/]")


class KeyKind(StrEnum):
    CUSTOMER_ID = "customer_id"
    PROFILE = "profile"
    EMAIL = "email"
    PHONE = "phone"


# When several keys point at different owners, the most specific identity wins.
KIND_PRIORITY = (KeyKind.CUSTOMER_ID, KeyKind.PROFILE, KeyKind.EMAIL, KeyKind.PHONE)


@dataclass(frozen=True)
class CustomerKey:
    kind: KeyKind
    value: str  # normalised; never logged

    def __repr__(self) -> str:  # keep addresses out of tracebacks and debug logs
        return f"CustomerKey({self.kind.value}, <{len(self.value)} chars>)"


def normalise_phone(raw: str) -> str | None:
    """E.164 from common spellings: spaces, dashes, dots, parentheses, a leading 00. None if not E.164.

    A national number without a country code cannot be normalised without knowing the country: it is not
    used as a key rather than guessed.
    """
    candidate = _PHONE_NOISE.sub("", raw.strip())
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    return candidate if E164.match(candidate) else None


def normalise_email(raw: str) -> str | None:
    candidate = raw.strip().casefold()
    return candidate if EMAIL.match(candidate) else None


def parse_key(kind: str, raw: str) -> CustomerKey | None:
    """A key as written by a person (owners CSV): kind name and value; None if the value is not valid."""
    key_kind = KeyKind(kind.strip().lower())
    value: str | None
    if key_kind is KeyKind.PHONE:
        value = normalise_phone(raw)
    elif key_kind is KeyKind.EMAIL:
        value = normalise_email(raw)
    else:
        value = raw.strip() or None
    return CustomerKey(key_kind, value) if value else None


def customer_keys(contact: Contact, profile_attribute: str | None) -> list[CustomerKey]:
    """Every key this contact carries, most specific first."""
    keys: list[CustomerKey] = []
    if contact.customer_id:
        keys.append(CustomerKey(KeyKind.CUSTOMER_ID, contact.customer_id.strip()))
    profile = contact.attributes.get(profile_attribute) if profile_attribute else None
    if profile and profile.strip():
        keys.append(CustomerKey(KeyKind.PROFILE, profile.strip()))
    if contact.customer_endpoint is not None:
        endpoint_type, address = contact.customer_endpoint
        if endpoint_type == "EMAIL_ADDRESS" and (email := normalise_email(address)):
            keys.append(CustomerKey(KeyKind.EMAIL, email))
        elif endpoint_type == "TELEPHONE_NUMBER" and (phone := normalise_phone(address)):
            keys.append(CustomerKey(KeyKind.PHONE, phone))
    return keys


def digest(key: CustomerKey, secret: bytes) -> str:
    """Keyed hash of a customer key: stable for a deployment, useless without its secret."""
    return hmac.new(secret, f"{key.kind.value}:{key.value}".encode(), hashlib.sha256).hexdigest()
