"""``customer_profile: {attribute: NAME}``: a user named on the contact's Amazon Connect Customer Profiles profile
(an attribute such as ``preferredAgent`` or ``accountOwner``), found with one SearchProfiles call.

The profile is searched by the first identity the contact carries among the rule's ``search_by``: the profile id
(a contact attribute the flow sets from ``$.Customer.ProfileId``, named by CUSTOMER_PROFILE_ATTRIBUTE; DescribeContact
returns user-defined attributes only, not the Customer namespace), else the customer's email address, else the
phone number (in E.164, as the customer keys normalise it). An address shared by several profiles names nobody: the
router cannot tell which customer is writing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from contact_router.customers.keys import normalise_email, normalise_phone
from contact_router.models.contact import Contact
from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.routing.candidates.lookup import Lookup
from contact_router.rules.model import CandidateSource

KIND = "customer_profile"
# Customer Profiles' predefined search keys for each identity a rule may search by.
SEARCH_KEYS = {"profile_id": "_profileId", "email": "_email", "phone": "_phone"}


class ProfileSearch(Protocol):
    def search(self, key_name: str, value: str) -> Sequence[Mapping[str, str]]:
        """The Attributes of the profiles whose ``key_name`` is ``value`` (at most two: one, or "ambiguous")."""
        ...


@dataclass(frozen=True)
class ProfilesPort:
    """What ``lookup.ports["customer_profile"]`` holds: the search, and how to read the contact's identities."""

    profiles: ProfileSearch
    profile_id_attribute: str | None = "customerProfileId"
    phone_region: str | None = None


def resolve(source: CandidateSource, contact: Contact, lookup: Lookup) -> list[CandidateVerdict]:
    spec = source.customer_profile
    if spec is None:  # not this kind: RESOLVERS dispatches by kind
        return []
    label = f"{KIND}:{spec.attribute}"
    port = lookup.ports.get(KIND)
    if not isinstance(port, ProfilesPort):
        return [
            CandidateVerdict(
                label, Verdict.SOURCE_EMPTY, detail="Customer Profiles not configured (CUSTOMER_PROFILES_DOMAIN unset)"
            )
        ]
    found = search_key(contact, spec.search_by, port)
    if found is None:
        return [
            CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail=f"no {' or '.join(spec.search_by)} on the contact")
        ]
    by, key_name, value = found
    profiles = port.profiles.search(key_name, value)
    if not profiles:
        return [CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail=f"no profile with this {by}")]
    if len(profiles) > 1:
        return [CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail=f"several profiles share this {by}")]
    raw = profiles[0].get(spec.attribute, "")
    if not raw.strip():
        return [CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail=f"profile (by {by}) has no {spec.attribute}")]
    return [lookup.reference(label, raw)]


def search_key(contact: Contact, search_by: Sequence[str], port: ProfilesPort) -> tuple[str, str, str] | None:
    """(identity, Customer Profiles key name, value) of the first identity in ``search_by`` the contact carries."""
    endpoint_type, address = contact.customer_endpoint or ("", "")
    for by in search_by:
        value: str | None = None
        if by == "profile_id" and port.profile_id_attribute:
            value = contact.attributes.get(port.profile_id_attribute, "").strip() or None
        elif by == "email" and endpoint_type == "EMAIL_ADDRESS":
            # As Connect has it (checked, not case-folded): whether the _email key ignores case is not documented.
            value = address.strip() if normalise_email(address) else None
        elif by == "phone" and endpoint_type == "TELEPHONE_NUMBER":
            value = normalise_phone(address, port.phone_region)
        if value:
            return by, SEARCH_KEYS[by], value
    return None
