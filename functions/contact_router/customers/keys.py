"""Customer keys: who the customer is, normalised, then stored only as keyed hashes (pure).

A customer can be recognised by several keys: the customer endpoint (a phone number normalised to E.164 by
libphonenumber, an email address case-folded), Connect's CustomerId, and a Customer Profiles id where the
contact carries one (a contact attribute the flow sets; its name is configurable). Keys never leave this
module in clear: ``digest`` turns each into an HMAC-SHA256 with the deployment's secret, which is what
DynamoDB stores.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from contact_router.models.contact import Contact

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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


def is_supported_region(region: str) -> bool:
    """An ISO 3166-1 alpha-2 code libphonenumber has numbering metadata for (GB, US, FR...)."""
    import phonenumbers  # here, not at the top: a function that never reads a phone number never loads it

    return region in phonenumbers.SUPPORTED_REGIONS


def normalise_phone(raw: str, default_region: str | None = None) -> str | None:
    """E.164 (``+442079460000``) from any common spelling, or None if it is not a possible phone number.

    Parsing is libphonenumber's: spaces, dashes, dots, parentheses and a national trunk prefix written after
    the country code (``+44 (0)20 7946 0000``) are understood. A leading ``00`` is read as the international
    prefix. A number without a country code (``020 7946 0000``) is read in ``default_region``; without one it
    is not used as a key rather than guessed. Possible (the length fits the country's plan), not "valid": a
    newly allocated range must not stop matching a customer before the metadata catches up.
    """
    import phonenumbers  # at the first phone number (see is_supported_region)

    candidate = raw.strip()
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str | None:
    candidate = raw.strip().casefold()
    return candidate if EMAIL.match(candidate) else None


def parse_key(kind: str, raw: str, phone_region: str | None = None) -> CustomerKey | None:
    """A key as written by a person (owners CSV): kind name and value; None if the value is not valid."""
    key_kind = KeyKind(kind.strip().lower())
    value: str | None
    if key_kind is KeyKind.PHONE:
        value = normalise_phone(raw, phone_region)
    elif key_kind is KeyKind.EMAIL:
        value = normalise_email(raw)
    else:
        value = raw.strip() or None
    return CustomerKey(key_kind, value) if value else None


def customer_keys(
    contact: Contact, profile_attribute: str | None, phone_region: str | None = None
) -> list[CustomerKey]:
    """Every key this contact carries, most specific first (``phone_region``: see ``normalise_phone``)."""
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
        elif endpoint_type == "TELEPHONE_NUMBER" and (phone := normalise_phone(address, phone_region)):
            keys.append(CustomerKey(KeyKind.PHONE, phone))
    return keys


def digest(key: CustomerKey, secret: bytes) -> str:
    """Keyed hash of a customer key: stable for a deployment, useless without its secret."""
    return hmac.new(secret, f"{key.kind.value}:{key.value}".encode(), hashlib.sha256).hexdigest()


def digester(secret: bytes) -> Callable[[CustomerKey], str]:
    """``digest`` with the secret keyed in once: each key copies the keyed state instead of re-deriving it
    (what a bulk import of a million keys spends its hashing time on)."""
    keyed = hmac.new(secret, digestmod=hashlib.sha256)

    def of(key: CustomerKey) -> str:
        mac = keyed.copy()
        mac.update(f"{key.kind.value}:{key.value}".encode())
        return mac.hexdigest()

    return of
