"""Account owners: ``contact-router owners import|export|delete``.

CSV with a header ``key_type,key,owner``: key_type is phone, email, customer_id or profile; key the
customer's phone number (E.164 after normalisation; one written without its country code needs a phone region,
the router's PHONE_DEFAULT_REGION), email address, CustomerId or Customer Profiles id;
owner a user id, user ARN or username of the instance (resolved and checked). Keys are stored only as
keyed hashes, so an export gives hashes, never addresses.

An import runs in two passes. **Check**: the whole file is read and every line checked before anything is
written -- encoding (UTF-8, with or without a byte-order mark), line and cell sizes, quoting, control
characters, the key, the owner (resolved once per distinct owner), duplicate keys. Every bad line is
reported with its number and nothing at all is written if there is one. **Write**, 100 rows at a time: the
stored owners of the chunk's keys are read (BatchGetItem) and only new or changed mappings are written
(BatchWriteItem, 25 a request): a rerun writes nothing, and an interrupted import is resumed by running it
again. Once a read finds none of its 100 keys stored, the file has reached keys that are new (a first import,
or the part an interrupted one never wrote): the next chunks are written without reading them first, and
every ``PROBE_EVERY``-th chunk is read again to notice stored keys, which turns reading back on. Such a
chunk's rows all count as stored (written); a row counts as unchanged only when it was read and found equal.
Values are never echoed in a report: they are customer data.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from contact_router.adapters.affinity_store import AffinityStore
from contact_router.adapters.connect import ConnectGateway
from contact_router.customers.keys import CustomerKey, KeyKind, digester, parse_key
from contact_router.errors import ContactRouterError, PermanentError
from contact_router.models.affinity import Owner
from contact_router.routing.references import ReferenceKind, classify

HEADER = ("key_type", "key", "owner")
KINDS = ", ".join(kind.value for kind in KeyKind)
KIND_VALUES = frozenset(kind.value for kind in KeyKind)
# Limits: an email address has at most 254 characters, a CustomerId 128, a username 100, a user ARN ~150.
MAX_LINE_BYTES = 1024
MAX_KEY_CHARS = 256
MAX_OWNER_CHARS = 256
CHUNK = 100  # rows read (BatchGetItem) and then written (4 x BatchWriteItem) together
PROBE_EVERY = 10  # while reads find nothing stored, every 10th chunk is read again (9 of 10 reads saved)
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp"})  # NUL, tab, CR, LF, zero-width and direction marks, U+2028...

# progress(phase, advance, total): phase "checking" or "writing"; total is the phase's number of lines/rows.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class OwnerRow:
    line: int
    key_hash: str
    kind: str
    owner_id: str


@dataclass
class CheckedFile:
    rows: list[OwnerRow] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason), in line order
    lines: int = 0  # data lines (header and blank lines not counted)


@dataclass
class ImportReport:
    rows: int = 0  # data lines in the file
    stored: int = 0
    unchanged: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason); if any, nothing written
    last_line: int = 0  # the last line whose row is stored or unchanged


class OwnersWriteError(Exception):
    """Writing stopped part-way (DynamoDB refused or was unreachable); ``report`` says how far it got."""

    def __init__(self, report: ImportReport, cause: ContactRouterError) -> None:
        super().__init__(cause.message)
        self.report = report


class OwnerResolver:
    """User id, ARN or username -> user id of the instance, checked to exist (cached per run).

    An answer that the user does not exist (or that the reference is not valid) makes the line bad; an error
    that says nothing about the user (throttling, network) is raised, since the file cannot be checked.
    """

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
        except PermanentError:
            return None
        return ref.value


def check_file(
    path: Path,
    secret: bytes,
    resolve: Callable[[str], str | None],
    progress: Progress | None = None,
    phone_region: str | None = None,
) -> CheckedFile:
    """Every line of the file checked; good rows hashed, bad lines with their number and reason.

    ``phone_region`` (ISO 3166-1 alpha-2, e.g. GB) reads a phone number written without its country code
    (``020 7946 0000``) as a number of that country; without one, such a number is a bad line.
    Raises ``OSError`` if the file cannot be read."""
    data = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the file ends with a newline
    checked = CheckedFile()
    header = _cells(lines[0]) if lines else None
    if header is None or tuple(cell.strip().lower() for cell in header) != HEADER:
        checked.bad.append((1, f"the first line must be the header {','.join(HEADER)}"))
        return checked
    seen: dict[str, tuple[int, str]] = {}
    line_checker = _LineChecker(digester(secret), resolve, seen, phone_region)
    total = len(lines) - 1
    for number, raw in enumerate(lines[1:], start=2):
        if progress and (number - 1) % 1000 == 0:
            progress("checking", 1000, total)  # one tick per 1,000 lines: the bar costs nothing
        if not raw.strip(b" \t\r,"):
            continue  # a blank line, or a spreadsheet's empty row
        checked.lines += 1
        problem, row = line_checker(number, raw)
        if problem:
            checked.bad.append((number, problem))
        elif row:
            checked.rows.append(row)
    if progress and total % 1000:
        progress("checking", total % 1000, total)
    return checked


class _LineChecker:
    """One data line -> (reason it is bad, None) or (None, row); the state shared by a file's lines."""

    __slots__ = ("hash_key", "phone_region", "resolve", "seen")

    def __init__(
        self,
        hash_key: Callable[[CustomerKey], str],
        resolve: Callable[[str], str | None],
        seen: dict[str, tuple[int, str]],
        phone_region: str | None,
    ) -> None:
        self.hash_key = hash_key
        self.resolve = resolve
        self.seen = seen  # key hash -> (line, owner id) of its first line
        self.phone_region = phone_region

    def __call__(self, number: int, raw: bytes) -> tuple[str | None, OwnerRow | None]:
        if len(raw) > MAX_LINE_BYTES:
            return f"{len(raw)} bytes; a line has at most {MAX_LINE_BYTES}", None
        try:
            text = raw.removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"not UTF-8: byte 0x{raw[exc.start]:02X} at column {exc.start + 1} (save the file as UTF-8)", None
        if not text.isprintable() and (found := _invisible(text)):
            column, char = found
            return f"a control or invisible character (U+{ord(char):04X}) at column {column}", None
        cells = _cells(text)
        if cells is None:
            return "unbalanced quotes (a value cannot span lines)", None
        if len(cells) != len(HEADER):
            return f"expected 3 columns (key_type,key,owner), got {len(cells)}", None
        written_kind, raw_key, owner = (cell.strip() for cell in cells)
        kind = written_kind.lower()
        if kind not in KIND_VALUES:
            return f"unknown key_type {written_kind[:20]!r}; use one of {KINDS}", None
        if len(raw_key) > MAX_KEY_CHARS:
            return f"key of {len(raw_key)} characters; at most {MAX_KEY_CHARS}", None
        key = parse_key(kind, raw_key, self.phone_region)
        if key is None:
            return _invalid_key(kind, raw_key, self.phone_region), None  # the value is never echoed
        if not owner:
            return "owner is empty", None
        if len(owner) > MAX_OWNER_CHARS:
            return f"owner of {len(owner)} characters; at most {MAX_OWNER_CHARS}", None
        owner_id = self.resolve(owner)
        if owner_id is None:
            return f"owner {owner!r} is not a user of this instance", None
        key_hash = self.hash_key(key)
        if key_hash in self.seen:
            first, first_owner = self.seen[key_hash]
            same = "the same owner" if first_owner == owner_id else "another owner"
            return f"the same customer key as line {first} (with {same}); give each key once", None
        self.seen[key_hash] = (number, owner_id)
        return None, OwnerRow(number, key_hash, key.kind.value, owner_id)


def _invalid_key(kind: str, raw_key: str, phone_region: str | None) -> str:
    if kind != KeyKind.PHONE.value:
        return f"invalid {kind} key"
    national = not raw_key.startswith(("+", "00"))
    if national and phone_region is None:
        return "phone number without a country code: write it in E.164 (e.g. +447700900123) or pass --phone-region"
    where = f" for --phone-region {phone_region}" if national else ""
    return f"invalid phone key{where} (E.164, e.g. +447700900123)"


def _cells(line: bytes | str) -> list[str] | None:
    """The cells of one physical line; None if its quoting is broken (e.g. a value running onto the next)."""
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    if '"' not in text:
        return text.split(",")  # what the csv module gives for a line without quotes, at a tenth of its cost
    try:
        return next(csv.reader([text], strict=True), [])
    except csv.Error:
        return None


def _invisible(text: str) -> tuple[int, str] | None:
    """(column, character) of the first control or invisible character: NUL, tab, CR, a zero-width space..."""
    for column, char in enumerate(text, start=1):
        if unicodedata.category(char) in _INVISIBLE:
            return column, char
    return None


def import_owners(
    path: Path,
    store: AffinityStore,
    secret: bytes,
    resolve: Callable[[str], str | None],
    progress: Progress | None = None,
    phone_region: str | None = None,
) -> ImportReport:
    """Check the whole file, then write what is new or changed; nothing is written if a line is bad.

    Raises ``OwnersWriteError`` (with the report so far) if DynamoDB stops the write part-way.
    """
    checked = check_file(path, secret, resolve, progress, phone_region)
    report = ImportReport(rows=checked.lines, bad=checked.bad)
    if checked.bad:
        return report
    unread: int | None = None  # chunks written unread since a read found nothing stored; None: read each chunk
    for chunk in _chunks(checked.rows):
        try:
            if unread is None or unread + 1 >= PROBE_EVERY:
                stored = store.owner_ids_of([row.key_hash for row in chunk])
                changed: Sequence[OwnerRow] = [row for row in chunk if stored.get(row.key_hash) != row.owner_id]
                unread = None if stored else 0
            else:
                changed = chunk  # the keys before these were new: write without reading first
                unread += 1
            store.put_owners((row.key_hash, Owner(row.owner_id, row.kind)) for row in changed)
        except ContactRouterError as exc:
            raise OwnersWriteError(report, exc) from exc
        report.stored += len(changed)
        report.unchanged += len(chunk) - len(changed)
        report.last_line = chunk[-1].line
        if progress:
            progress("writing", len(chunk), len(checked.rows))
    return report


def delete_owners(
    path: Path,
    store: AffinityStore,
    secret: bytes,
    progress: Progress | None = None,
    phone_region: str | None = None,
) -> tuple[int, int, list[tuple[int, str]]]:
    """Delete the owner mappings of the keys in a CSV (the owner column is ignored); checked first like an
    import, nothing is deleted if a line is bad. Returns (deleted, not found, bad lines)."""
    checked = check_file(path, secret, lambda _owner: "-", progress, phone_region)
    if checked.bad:
        return 0, 0, checked.bad
    deleted = missing = 0
    for chunk in _chunks(checked.rows):
        stored = store.owner_ids_of([row.key_hash for row in chunk])
        store.delete_owners(row.key_hash for row in chunk if row.key_hash in stored)
        deleted += len(stored)
        missing += len(chunk) - len(stored)
        if progress:
            progress("writing", len(chunk), len(checked.rows))
    return deleted, missing, []


def _chunks(rows: Sequence[OwnerRow]) -> Iterator[Sequence[OwnerRow]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def export_owners(store: AffinityStore) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("key_hash", "key_type", "owner_id"))
    for key_hash, owner in sorted(store.owners(), key=lambda item: item[0]):
        writer.writerow((key_hash, owner.kind, owner.owner_id))
    return out.getvalue()


__all__ = [
    "CheckedFile",
    "ImportReport",
    "OwnerResolver",
    "OwnersWriteError",
    "check_file",
    "delete_owners",
    "export_owners",
    "import_owners",
]
