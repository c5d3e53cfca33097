"""Account owners: ``contact-router owners import|export|delete``.

CSV with a header ``key_type,key,owner``: key_type is phone, email, customer_id or profile; key the
customer's phone number (E.164 after normalisation), email address, CustomerId or Customer Profiles id;
owner a user id, user ARN or username of the instance (resolved and checked). Keys are stored only as
keyed hashes, so an export gives hashes, never addresses.

Every bad row is reported with its line number and reason and nothing is written for it; each good row is
one conditional PutItem (atomic), and a row whose owner is already stored is left alone, so a rerun is a
no-op and an interrupted import is resumed by running it again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from contact_router.adapters.affinity_store import AffinityStore
from contact_router.adapters.connect import ConnectGateway
from contact_router.customers.keys import KeyKind, digest, parse_key
from contact_router.errors import ContactRouterError
from contact_router.routing.references import ReferenceKind, classify

HEADER = ("key_type", "key", "owner")
KINDS = ", ".join(kind.value for kind in KeyKind)


@dataclass
class ImportReport:
    stored: int = 0
    unchanged: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    @property
    def rows(self) -> int:
        return self.stored + self.unchanged + len(self.bad)


@dataclass(frozen=True)
class OwnerRow:
    line: int
    key_hash: str
    kind: str
    owner_id: str


class OwnerResolver:
    """User id, ARN or username -> user id of the instance, checked to exist (cached per run)."""

    def __init__(self, connect: ConnectGateway, instance_arn: str) -> None:
        self.connect = connect
        self.instance_arn = instance_arn
        self._cache: dict[str, str | None] = {}

    def __call__(self, reference: str) -> str | None:
        if reference not in self._cache:
            self._cache[reference] = self._resolve(reference)
        return self._cache[reference]

    def _resolve(self, reference: str) -> str | None:
        ref = classify(reference)
        if ref.kind is ReferenceKind.USERNAME:
            user = self.connect.find_by_username(ref.value)
            return user.id if user else None
        if ref.kind is ReferenceKind.INVALID:
            return None
        if ref.kind is ReferenceKind.ARN and not reference.strip().startswith(f"{self.instance_arn}/agent/"):
            return None
        try:
            self.connect.describe_user_exists(ref.value)
        except ContactRouterError:
            return None
        return ref.value


def read_rows(
    lines: Iterable[str], secret: bytes, resolve: Callable[[str], str | None], report: ImportReport
) -> Iterator[OwnerRow]:
    """Validated rows; bad ones go to ``report.bad`` with their line number and reason."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != HEADER:
        report.bad.append((1, f"the first line must be the header {','.join(HEADER)}"))
        return
    seen: dict[str, tuple[int, str]] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            report.bad.append((line, f"expected 3 columns (key_type,key,owner), got {len(row)}"))
            continue
        kind, raw_key, owner = (cell.strip() for cell in row)
        if kind.lower() not in {k.value for k in KeyKind}:
            report.bad.append((line, f"unknown key_type {kind!r}; use one of {KINDS}"))
            continue
        key = parse_key(kind, raw_key)
        if key is None:
            hint = " (E.164, e.g. +447700900123)" if kind.lower() == "phone" else ""
            report.bad.append((line, f"invalid {kind.lower()} key{hint}"))  # the value is never echoed
            continue
        if not owner:
            report.bad.append((line, "owner is empty"))
            continue
        owner_id = resolve(owner)
        if owner_id is None:
            report.bad.append((line, f"owner {owner!r} is not a user of this instance"))
            continue
        key_hash = digest(key, secret)
        if key_hash in seen and seen[key_hash][1] != owner_id:
            report.bad.append((line, f"the same customer key has another owner on line {seen[key_hash][0]}"))
            continue
        seen[key_hash] = (line, owner_id)
        yield OwnerRow(line, key_hash, key.kind.value, owner_id)


def import_owners(
    path: Path, store: AffinityStore, secret: bytes, resolve: Callable[[str], str | None]
) -> ImportReport:
    report = ImportReport()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in read_rows(handle, secret, resolve, report):
            if store.put_owner(row.key_hash, row.kind, row.owner_id):
                report.stored += 1
            else:
                report.unchanged += 1
    report.bad.sort()
    return report


def delete_owners(path: Path, store: AffinityStore, secret: bytes) -> tuple[int, int, list[tuple[int, str]]]:
    """Delete the owner mappings of the keys in a CSV (the owner column is ignored).
    Returns (deleted, not found, bad rows)."""
    report = ImportReport()
    deleted = missing = 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in read_rows(handle, secret, lambda _owner: "-", report):
            if store.delete_owner(row.key_hash):
                deleted += 1
            else:
                missing += 1
    return deleted, missing, sorted(report.bad)


def export_owners(store: AffinityStore) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("key_hash", "key_type", "owner_id"))
    for key_hash, owner in sorted(store.owners(), key=lambda item: item[0]):
        writer.writerow((key_hash, owner.kind, owner.owner_id))
    return out.getvalue()


__all__ = ["ImportReport", "OwnerResolver", "delete_owners", "export_owners", "import_owners", "read_rows"]
